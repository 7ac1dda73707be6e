"""The pipeline on a real Spark standalone cluster (master + 2 workers on 127.0.0.1).

The same jobs are submitted with spark-submit.sh, once to the cluster and once in local mode,
with the same seed; the published tables must be equal (ranks may differ only where
probabilities tie). The cluster processes are stopped by the process ids this test started.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from segrec_spark.tables import read_table, table_path

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from standalone import standalone_cluster as start_cluster  # noqa: E402 (bench/standalone.py)

SCALE = os.environ.get("SEGREC_CLUSTER_SCALE", "tiny")
# tiny's 300 clients give 0-4 buyers per product, too few to train on: 3,000 clients at tiny's
# low activity give every product enough positives at min_positives=5, and stay quick.
TRAINABLE = ("--n-clients", "3000", "--set", "propensity.min_positives=5") if SCALE == "tiny" else ()
# Two products are enough to compare the cluster with local mode (each product is trained and
# scored by the same code); all eight would double the test's time.
PRODUCTS = ("--set", "propensity.products=[MORTGAGE, CREDIT_CARD]")


@pytest.fixture(scope="module")
def standalone_cluster(tmp_path_factory):
    with start_cluster(tmp_path_factory.mktemp("cluster_logs"), workers=2, cores=1,
                       memory="2g") as master_url:
        yield master_url


def _submit(master: str, work: Path) -> subprocess.CompletedProcess:
    args = [str(ROOT / "spark-submit.sh"), "--master", master, "--driver-memory", "2g",
            "--conf", "spark.executor.memory=1g", "--conf", "spark.default.parallelism=2",
            "jobs/run_pipeline.py", "--scale", SCALE, *TRAINABLE, *PRODUCTS,
            "--set", f"paths.root={work}/lake", "--set", f"paths.landing={work}/landing",
            "--set", f"paths.ground_truth={work}/gt", "--set", f"paths.reports={work}/reports",
            "--set", f"mlflow.tracking_uri=sqlite:///{work}/mlflow.db",
            "--set", f"mlflow.artifact_location={work}/artifacts",
            "--set", f"spark.conf={{spark.sql.warehouse.dir: '{work}/wh'}}"]
    env = {k: v for k, v in os.environ.items() if k != "SEGREC_SUBMITTED"}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=3600, env=env)


def _published(spark, work: Path, name: str):
    return read_table(spark, table_path(f"{work}/lake", "gold", name)).drop("scored_at", "run_id")


def test_pipeline_on_standalone_cluster_equals_local_run(spark, standalone_cluster, tmp_path):
    on_cluster = _submit(standalone_cluster, tmp_path / "cluster")
    assert on_cluster.returncode == 0, on_cluster.stderr[-3000:]
    assert "segrec_spark pipeline finished" in on_cluster.stdout
    local = _submit("local[2]", tmp_path / "local")
    assert local.returncode == 0, local.stderr[-3000:]

    for name in ("client_segments", "next_best_offer"):
        assert_df_equality(_published(spark, tmp_path / "cluster", name),
                           _published(spark, tmp_path / "local", name),
                           ignore_row_order=True, ignore_nullable=True)
    # Rankings: same clients and probabilities; a rank may differ only among tied probabilities.
    cols = ["as_of_date", "product_code", "identity_id_hash", "probability", "decile", "propensity_tier"]
    c = _published(spark, tmp_path / "cluster", "product_rankings")
    loc = _published(spark, tmp_path / "local", "product_rankings")
    assert_df_equality(c.select(*cols[:4]), loc.select(*cols[:4]), ignore_row_order=True, ignore_nullable=True)
    joined = c.alias("c").join(loc.alias("l"), ["as_of_date", "product_code", "identity_id_hash"], "inner")
    moved = joined.filter(F.col("c.rank") != F.col("l.rank")).select(
        "as_of_date", "product_code", F.col("l.probability").alias("probability"))
    ties = loc.groupBy("as_of_date", "product_code", "probability").count().filter("count > 1")
    untied_moves = moved.join(ties, ["as_of_date", "product_code", "probability"], "left_anti")
    assert untied_moves.count() == 0
