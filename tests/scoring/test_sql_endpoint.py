"""The SQL endpoint: a real Thrift server process queried by a real JDBC client (beeline)."""
from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyspark
import pytest
from pyspark.sql import functions as F

from segrec_spark.tables import table_path

D = dt.date(2026, 4, 1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve-sql exited early with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(1)
    raise AssertionError(f"serve-sql did not listen on {port} within {timeout} s")


def _beeline(port: int, query: str, cwd: Path) -> tuple[list[str], str]:
    """``query`` through pyspark's beeline (CSV); the output lines, and all it printed."""
    beeline = Path(pyspark.__file__).parent / "bin" / "beeline"
    out = subprocess.run(
        [str(beeline), "-u", f"jdbc:hive2://127.0.0.1:{port}/", "--silent=true",
         "--outputformat=csv2", "-e", query],
        capture_output=True, text=True, timeout=300, cwd=cwd)
    # beeline may echo its prompt ("0: jdbc:hive2://...> ") before the header line
    lines = [re.sub(r"^\d+: jdbc:hive2://\S+> ", "", ln).strip() for ln in out.stdout.splitlines()]
    return lines, out.stdout + out.stderr


@pytest.mark.integration  # a Thrift server process and beeline: `make test-slow`
def test_top_clients_through_jdbc(spark, tmp_path):
    root = tmp_path / "lake"
    rows = [(D, "MORTGAGE", f"{i:064x}", round(1 - i / 20, 3), i + 1, "contact", i + 1)
            for i in range(20)]
    rows += [(D, "SAVINGS", f"{i:064x}", 0.5, i + 1, "contact", i + 1) for i in range(5)]
    df = spark.createDataFrame(
        rows, "as_of_date date, product_code string, identity_id_hash string, probability double, "
              "rank int, contact_status string, audience_rank int").withColumns(
        {c: F.lit(None).cast("string") for c in ("propensity_tier", "segment_name",
                                                 "recommended_action", "model_version")}
    ).withColumn("top_reasons", F.array().cast("array<string>"))
    df.write.format("delta").partitionBy("as_of_date", "product_code").save(
        table_path(str(root), "gold", "product_rankings"))
    plan = spark.createDataFrame([(D, "MORTGAGE", 0.1, 2, True, "1")],
                                 "as_of_date date, product_code string, audience_share double, "
                                 "clients long, best_size boolean, model_version string")
    plan.write.format("delta").save(table_path(str(root), "gold", "campaign_plan"))

    port = _free_port()
    with open(tmp_path / "serve.log", "w") as log:  # the server writes to its own copy of the fd
        proc = subprocess.Popen(
            [sys.executable, "-m", "segrec_spark.cli", "serve-sql", "--set", f"paths.root={root}",
             "--port", str(port),
             "--set", f"spark.conf={{spark.sql.warehouse.dir: '{tmp_path}/wh'}}"],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
            env={**os.environ, "SEGREC_SUBMITTED": ""})
    try:
        _wait_for_port(port, proc, timeout=300)
        query = ("SELECT identity_id_hash, probability FROM gold.product_rankings "
                 "WHERE product_code = 'MORTGAGE' ORDER BY rank LIMIT 10")
        lines, output = _beeline(port, query, tmp_path)
        lines = [ln for ln in lines if "," in ln]
        assert lines[0] == "identity_id_hash,probability", output
        got = [tuple(ln.split(",")) for ln in lines[1:]]
        assert got == [(f"{i:064x}", str(round(1 - i / 20, 3))) for i in range(10)]
        # the BI view of an audience at a planned size (scoring.views), served like a table
        view = ("SELECT identity_id_hash FROM gold.v_campaign_audience WHERE product_code = "
                "'MORTGAGE' AND audience_share = 0.1 ORDER BY audience_rank")
        lines, output = _beeline(port, view, tmp_path)
        keys = [ln for ln in lines if re.fullmatch(r"[0-9a-f]{64}", ln)]
        assert keys == [f"{i:064x}" for i in range(2)], output
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode is not None
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "server still listening after stop"
