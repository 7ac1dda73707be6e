"""A bank's own client snapshot through the CLI: snapshot -> train -> score, nothing generated.

The table is shaped like the public bank-marketing sets (``;``, quoted text, dotted names,
empty numbers, ``yes``/``no`` outcome) with a planted probability written aside; the test
checks what the own-data guide promises: every held-out client is scored, the model is
evaluated on the held-out rows only and recovers the planted signal (relative to the planted
truth and the naive baseline, not a floor copied from a run)."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from pyspark.sql import functions as F

from segrec_spark import cli
from segrec_spark.generate.marketing import write_marketing
from segrec_spark.snapshot.job import with_row_numbers
from segrec_spark.tables import read_table, table_path
from tests.snapshot.own_config import own_data_config

ROOT = Path(__file__).resolve().parents[2]


def _auc(pairs: list[tuple[float, int]]) -> float:
    """ROC-AUC by the rank-sum formula (ties count one half)."""
    positives = [s for s, y in pairs if y == 1]
    negatives = [s for s, y in pairs if y == 0]
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


@pytest.fixture(scope="module")
def own_run(tmp_path_factory, spark):
    tmp = tmp_path_factory.mktemp("own")
    files = write_marketing(tmp / "files", n=3000, seed=11)
    contract = yaml.safe_load((ROOT / "conf/contracts/example_snapshot.yaml").read_text())
    contract["sources"]["calls"]["location"] = str(files.train)
    contract["sources"]["calls"]["evaluation_location"] = str(files.test)
    config = own_data_config(tmp, contract, {
        "validation": "split", "num_trees": [40], "max_depth": [6], "gbt_max_iter": [40],
        "gbt_max_depth": [3], "lr_reg_param": [0.01]})
    code = cli.main(["run", "--config", str(config)])
    return code, tmp, files


@pytest.mark.integration  # snapshot -> train -> score through the CLI
def test_run_exits_cleanly(own_run):
    code, _, _ = own_run
    assert code == 0


@pytest.mark.integration  # snapshot -> train -> score through the CLI
def test_every_held_out_client_is_scored_and_the_signal_recovered(spark, own_run):
    _, tmp, files = own_run
    with files.test.open() as handle:
        held_out = {row["customer_id"]: int(row["y"] == "yes")
                    for row in csv.DictReader(handle, delimiter=";")}
    with files.truth.open() as handle:
        truth = {row["customer_id"]: float(row["true_probability"])
                 for row in csv.DictReader(handle, delimiter=";")}
    rankings = read_table(spark, table_path(str(tmp / "lake"), "gold", "product_rankings"))
    scores = {r["identity_id_hash"]: r["probability"] for r in
              rankings.where(F.col("product_code") == "TERM_DEPOSIT")
              .select("identity_id_hash", "probability").collect()}
    assert set(held_out) <= set(scores)
    model_auc = _auc([(scores[k], y) for k, y in held_out.items()])
    oracle_auc = _auc([(truth[k], y) for k, y in held_out.items()])
    metrics = {(r["role"], r["metric"]): r["value"] for r in
               read_table(spark, table_path(str(tmp / "lake"), "gold", "model_metrics")).collect()}
    # The published champion is the evaluated model: its held-out AUC is the one we compute.
    assert metrics[("champion", "roc_auc")] == pytest.approx(model_auc, abs=0.005)
    assert model_auc > metrics[("baseline", "roc_auc")] + 0.05
    assert model_auc > oracle_auc - 0.08, (model_auc, oracle_auc)


@pytest.mark.integration  # snapshot -> train -> score through the CLI
def test_columns_report_says_what_each_column_became(spark, own_run):
    _, tmp, _ = own_run
    used = {r["column"]: (r["feature"], r["used_as"]) for r in
            read_table(spark, table_path(str(tmp / "lake"), "ops", "snapshot_columns")).collect()}
    assert used["customer_id"] == (None, "key")
    assert used["emp.var.rate"] == ("emp_var_rate", "numeric")
    assert used["month"] == ("month", "categorical")  # inferred
    assert used["y"][1] == "label of TERM_DEPOSIT"


def test_row_numbers_follow_the_file_order(spark, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("v\n" + "\n".join(f"r{i}" for i in range(1, 501)) + "\n")
    key = "spark.sql.files.maxPartitionBytes"
    before = spark.conf.get(key)
    spark.conf.set(key, "600")  # several splits of one small file
    try:
        df = spark.read.option("header", True).csv(str(path))
        assert df.rdd.getNumPartitions() > 1
        numbered = {r["v"]: r["_row_number"] for r in with_row_numbers(df, "e-").collect()}
    finally:
        spark.conf.set(key, before)
    assert numbered == {f"r{i}": f"e-{i}" for i in range(1, 501)}
