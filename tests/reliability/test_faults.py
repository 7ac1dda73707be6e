"""Faults and concurrency (issue 9): a SIGKILLed job, two writers at once, re-runs.

* A features job submitted with spark-submit.sh and killed with SIGKILL (its whole process group:
  spark-submit's JVM, the Python driver, Python workers) while it writes a table leaves every
  table at a committed version that reads; re-running the stage completes and gives the same gold
  tables as the uninterrupted run before it (Delta time travel to that run's versions).
* Two threads writing different ``as_of_date`` slices of one partitioned table at the same time
  both commit, without any retry; two threads replacing the SAME slice at the same time: one
  commits, the other fails loudly with a Delta concurrency exception, and the table holds exactly
  the winner's rows for that slice.
* Running the features stage twice for the same as_of_date advances every table it writes by
  exactly one replacing commit and leaves identical contents.

Re-runs covered elsewhere: ingest unchanged re-run (no commit) and forced re-run
(tests/ingest/test_ingest_job.py), features slice re-run without duplicates
(tests/features/test_definitions_and_job.py), re-scoring (tests/test_end_to_end.py).

The data is hand-written bronze (a few hundred clients), so the features stage runs on bronze
Delta tables without a generate + ingest run first.
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from chispa import assert_df_equality
from delta import exceptions as delta_exc
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from segrec_spark.features import job as features_job
from segrec_spark.tables import read_table, table_path, write_slice
from tests.conftest import make_config
from tests.features.conftest import APP_SOURCES, bronze

pytestmark = pytest.mark.faults  # spark-submit processes killed mid-write: `make test-slow`
ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2026, 3, 1)  # labelled: its 30-day window ends inside the data (Jan-Mar, E = Apr 1)
N_CLIENTS = 300
STAGE_TABLES = (("silver", "events"), ("silver", "identity_map"), ("gold", "feature_dictionary"),
                ("gold", "client_features"), ("gold", "labels"))
CONCURRENCY_ERRORS = tuple(getattr(delta_exc, name) for name in delta_exc.__all__
                           if name.startswith("Concurrent") or name.endswith("ChangedException")
                           or name == "DeltaConcurrentModificationException")


def version(spark, path: str) -> int:
    return DeltaTable.forPath(spark, path).history(1).select("version").first()[0]


def versions(spark, root: str) -> dict[str, int]:
    return {f"{layer}.{name}": version(spark, table_path(root, layer, name))
            for layer, name in STAGE_TABLES}


def _write_bronze(spark, root: str) -> None:
    products = ("MORTGAGE", "SAVINGS", "CREDIT_CARD")
    rows: dict[str, list[dict]] = {s: [] for s in ("web", *APP_SOURCES, "ib", "prodeje", "camp")}
    for i in range(N_CLIENTS):
        key = f"{i:064x}"
        for day in range(1, 90, 1 + i % 7):  # the last day, Mar 31, completes March
            stamp = (dt.datetime(2026, 1, 1, 9) + dt.timedelta(days=day, minutes=i)).isoformat(" ")
            rows["web"].append(dict(user_id=f"u{i}", identity_id_hash=key if day % 3 else None,
                                    event_ts=stamp, page_category=products[(i + day) % 3]))
            rows["app_screens" if i % 2 else "app_logins"].append(
                dict(identity_id_hash=key, event_ts=stamp))
            rows["ib"].append(dict(identity_id_hash=key, event_ts=stamp))
        rows["prodeje"].append(dict(identity_id_hash=key, product_code=products[i % 3],
                                    signed_date=f"2026-0{1 + i % 3}-{1 + i % 27:02d}"))
    for source, data in rows.items():
        bronze(spark, source, data).write.format("delta").mode("overwrite").save(
            table_path(root, "bronze", source))


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    """Bronze tables and one uninterrupted features run for AS_OF: (tmp, config, its versions)."""
    tmp = tmp_path_factory.mktemp("faults")
    cfg = make_config(tmp, "generator.months=3")
    _write_bronze(spark, cfg.paths.root)
    features_job.run(spark, cfg, [AS_OF])
    return tmp, cfg, versions(spark, cfg.paths.root)


def _gold(spark, root: str, name: str, at: int | None = None):
    return read_table(spark, table_path(root, "gold", name), at).filter(F.col("as_of_date") == AS_OF)


# --- 1. killed mid-write ------------------------------------------------------------------------

def _submit_features(tmp: Path, root: str) -> subprocess.Popen:
    args = [str(ROOT / "spark-submit.sh"), "--driver-memory", "1g",
            "--conf", "spark.default.parallelism=2", "features", "--as-of", AS_OF.isoformat(),
            "--set", f"paths.root={root}", "--set", f"paths.landing={tmp}/landing",
            "--set", f"paths.ground_truth={tmp}/ground_truth",
            "--set", f"paths.reports={tmp}/reports", "--set", "generator.months=3",
            "--set", "spark.shuffle_partitions=2",
            "--set", f"spark.conf={{spark.sql.warehouse.dir: '{tmp}/wh'}}"]
    env = {k: v for k, v in os.environ.items() if k != "SEGREC_SUBMITTED"}
    with open(tmp / "killed_job.log", "w") as log:  # the job writes to its own copy of the fd
        return subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def _data_files(path: str) -> set[str]:
    return {str(p) for p in Path(path).rglob("*.parquet") if "_delta_log" not in p.parts}


def _session_pids(sid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == sid:
                    stat = (entry / "stat").read_text()
                    if stat.rsplit(")", 1)[1].split()[0] != "Z":
                        pids.append(int(entry.name))
            except (ProcessLookupError, PermissionError, FileNotFoundError):
                continue
    return pids


def _kill_while_writing(tmp: Path, root: str, target: str, timeout: float = 600) -> str:
    """Submit the features job; SIGKILL its process group as soon as a data file of ``target``
    that no commit has referenced yet appears. Returns the job's log; fails if the job ended first.
    """
    before = _data_files(target)
    log_dir = Path(target) / "_delta_log"
    commits_before = set(log_dir.glob("*.json"))
    proc = _submit_features(tmp, root)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if _data_files(target) - before:
                os.killpg(proc.pid, signal.SIGKILL)
                break
            if proc.poll() is not None:
                pytest.fail(f"the features job ended (exit {proc.returncode}) before it wrote "
                            f"{target}; log: {(tmp / 'killed_job.log').read_text()[-3000:]}")
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail(f"the features job wrote nothing to {target} in {timeout} s")
            time.sleep(0.02)
    finally:
        proc.wait(timeout=60)
    # Nothing of the job survives: spark-submit's JVM, the Python driver and its workers.
    deadline = time.monotonic() + 30
    while _session_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _session_pids(proc.pid) == [], "processes of the killed job still run"
    assert proc.returncode == -signal.SIGKILL
    committed = set(log_dir.glob("*.json")) - commits_before
    return "late" if committed else "in time"


@pytest.mark.parametrize(("layer", "name", "committed_before"), [
    # the stage's first write: nothing of the stage is committed when it dies
    ("silver", "events", ()),
    # a gold write: silver and the dictionary, written earlier in the stage, are already new
    ("gold", "client_features", ("silver.events", "silver.identity_map", "gold.feature_dictionary")),
])
def test_sigkill_mid_write_keeps_committed_versions_and_rerun_completes(
        spark, lake, layer, name, committed_before):
    tmp, cfg, uninterrupted = lake
    root = cfg.paths.root
    target = table_path(root, layer, name)
    for attempt in range(3):  # noqa: B007 - read after the loop: which attempt got in time
        previous = versions(spark, root)
        counts = {t: read_table(spark, table_path(root, *t.split("."))).count() for t in previous}
        files_before = _data_files(target)
        if _kill_while_writing(tmp, root, target) == "in time":
            break
        # The commit landed between seeing the file and the kill: a whole commit, try again.
        assert version(spark, target) == previous[f"{layer}.{name}"] + 1
    else:
        pytest.fail(f"three kills in a row came after {layer}.{name} had committed")

    after = versions(spark, root)
    print(f"killed in {layer}.{name} write (attempt {attempt + 1}): before {previous}, after {after}")
    expected = {t: v + (1 if t in committed_before else 0) for t, v in previous.items()}
    assert after == expected
    for t in after:  # every table reads, with its committed row count
        assert read_table(spark, table_path(root, *t.split("."))).count() == counts[t]
    # The killed write left data files behind that no commit references.
    orphans = _data_files(target) - files_before
    assert orphans
    referenced = {Path(f).name for f in read_table(spark, target).inputFiles()}
    assert not {Path(f).name for f in orphans} & referenced

    features_job.run(spark, cfg, [AS_OF])  # the re-run completes ...
    assert versions(spark, root) == {t: v + 1 for t, v in after.items()}
    for gold in ("client_features", "labels"):  # ... with the uninterrupted run's result
        assert_df_equality(_gold(spark, root, gold),
                           _gold(spark, root, gold, uninterrupted[f"gold.{gold}"]),
                           ignore_row_order=True)


# --- 2. concurrent writers ----------------------------------------------------------------------

D1, D2, D3 = dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)


def _slice(spark, as_of: dt.date, writer: str, rows: int = 2000, slow_s: float = 0.0):
    """A slice of a gold-like table; ``slow_s`` delays its one task so two writes overlap."""
    # Thread.sleep in the JVM (java_method), on the first row only: no Python worker needed.
    pause = F.expr(f"java_method('java.lang.Thread', 'sleep', cast({int(slow_s * 1000)} as bigint))")
    value = F.when((F.col("id") == 0) & F.lit(slow_s > 0), F.length(pause) * 0).otherwise(0)
    return (spark.range(0, rows, 1, 1).select(
        F.lit(as_of).alias("as_of_date"), F.format_string("c%05d", F.col("id")).alias("client"),
        (F.col("id") + value).alias("value"), F.lit(writer).alias("writer")))


def _race(spark, path: str, jobs: list[tuple[dt.date, str]]) -> dict[str, BaseException | None]:
    barrier = threading.Barrier(len(jobs))
    outcome: dict[str, BaseException | None] = {}

    def write(as_of: dt.date, writer: str) -> None:
        df = _slice(spark, as_of, writer, slow_s=3.0)
        barrier.wait()
        try:
            write_slice(df, path, f"as_of_date = '{as_of}'", partition_by=["as_of_date"])
            outcome[writer] = None
        except Exception as exc:  # noqa: BLE001 - recorded and checked by the caller
            outcome[writer] = exc

    threads = [threading.Thread(target=write, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return outcome


@pytest.fixture
def gold_like(spark, tmp_path):
    path = str(tmp_path / "gold" / "slices")
    for as_of in (D1, D2, D3):
        write_slice(_slice(spark, as_of, f"seed-{as_of}", rows=500), path,
                    f"as_of_date = '{as_of}'", partition_by=["as_of_date"])
    return path


def _writers(spark, path: str, as_of: dt.date) -> list[tuple[str, int]]:
    rows = (read_table(spark, path).filter(F.col("as_of_date") == as_of)
            .groupBy("writer").agg(F.count("*").alias("n"), F.countDistinct("client").alias("k"))
            .collect())
    assert all(r.n == r.k for r in rows), "duplicate rows in a slice"
    return sorted((r.writer, r.n) for r in rows)


def test_writers_of_different_slices_both_commit_without_retry(spark, gold_like):
    start = version(spark, gold_like)
    outcome = _race(spark, gold_like, [(D1, "A"), (D2, "B")])
    assert outcome == {"A": None, "B": None}
    assert version(spark, gold_like) == start + 2
    assert _writers(spark, gold_like, D1) == [("A", 2000)]
    assert _writers(spark, gold_like, D2) == [("B", 2000)]
    assert _writers(spark, gold_like, D3) == [(f"seed-{D3}", 500)]
    # Both transactions read the same version: they really overlapped.
    reads = [r.readVersion for r in DeltaTable.forPath(spark, gold_like).history(2).collect()]
    assert reads == [start, start]


def test_writers_of_the_same_slice_one_fails_loudly_and_nothing_is_corrupt(spark, gold_like):
    start = version(spark, gold_like)
    outcome = _race(spark, gold_like, [(D1, "A"), (D1, "B")])
    winners = [w for w, exc in outcome.items() if exc is None]
    losers = {w: exc for w, exc in outcome.items() if exc is not None}
    assert len(winners) == 1, outcome
    assert len(losers) == 1, outcome
    (loser, exc), = losers.items()
    assert isinstance(exc, CONCURRENCY_ERRORS), repr(exc)
    print(f"same-slice race: {winners[0]} committed, {loser} failed with {type(exc).__module__}."
          f"{type(exc).__name__}")
    assert version(spark, gold_like) == start + 1
    assert _writers(spark, gold_like, D1) == [(winners[0], 2000)]  # the winner's rows only
    assert _writers(spark, gold_like, D2) == [(f"seed-{D2}", 500)]
    assert _writers(spark, gold_like, D3) == [(f"seed-{D3}", 500)]
    # The loser re-run on its own commits and replaces the slice whole.
    write_slice(_slice(spark, D1, loser), gold_like, f"as_of_date = '{D1}'",
                partition_by=["as_of_date"])
    assert _writers(spark, gold_like, D1) == [(loser, 2000)]


# --- 3. idempotent re-run -----------------------------------------------------------------------

def test_features_rerun_for_the_same_as_of_is_one_replacing_commit_per_table(spark, lake):
    _, cfg, _ = lake
    root = cfg.paths.root
    before = versions(spark, root)
    snapshots = {g: _gold(spark, root, g).localCheckpoint() for g in ("client_features", "labels")}
    features_job.run(spark, cfg, [AS_OF])
    assert versions(spark, root) == {t: v + 1 for t, v in before.items()}
    for g, snap in snapshots.items():
        assert_df_equality(_gold(spark, root, g), snap, ignore_row_order=True)
    for layer, name in STAGE_TABLES:  # a replacing overwrite, not an append
        op = DeltaTable.forPath(spark, table_path(root, layer, name)).history(1).first()
        assert op.operation in ("WRITE", "CREATE OR REPLACE TABLE AS SELECT")
        assert op.operationParameters["mode"] == "Overwrite"
