"""The most common own data: one labelled file, no split column, no held-out file, no dates.

``segrec run`` holds out a share of the clients itself (``holdout_share``, by a hash of the
key), trains on the rest, evaluates on them and scores every client. Before, training stopped:
one as-of date and no held-out row left nothing to evaluate on."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from pyspark.sql import functions as F

from segrec_spark import cli
from segrec_spark.generate.marketing import write_marketing
from segrec_spark.tables import read_table, table_path
from tests.snapshot.own_config import own_data_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def single_file_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("single")
    files = write_marketing(tmp / "files", n=2500, seed=3)
    contract = yaml.safe_load((ROOT / "conf/contracts/example_snapshot.yaml").read_text())
    contract["sources"]["calls"]["location"] = str(files.train)
    del contract["sources"]["calls"]["evaluation_location"]
    config = own_data_config(tmp, contract, {
        "learners": ["logistic_regression", "random_forest"], "num_trees": [40],
        "max_depth": [5], "lr_reg_param": [0.01]})
    code = cli.main(["run", "--config", str(config)])
    return code, tmp, files


@pytest.mark.integration  # snapshot -> train -> score through the CLI
def test_one_file_is_split_trained_evaluated_and_scored(spark, single_file_run):
    code, tmp, files = single_file_run
    assert code == 0
    root = str(tmp / "lake")
    with files.train.open() as handle:
        outcome = {row["customer_id"]: int(row["y"] == "yes")
                   for row in csv.DictReader(handle, delimiter=";")}
    labels = read_table(spark, table_path(root, "gold", "labels"))
    split = {r["identity_id_hash"]: r["split"] for r in labels.collect()}
    assert set(split) == set(outcome)
    held = [k for k, v in split.items() if v == "evaluation"]
    assert 0.1 * len(outcome) < len(held) < 0.3 * len(outcome)
    rankings = read_table(spark, table_path(root, "gold", "product_rankings"))
    scores = {r["identity_id_hash"]: r["probability"] for r in
              rankings.where(F.col("product_code") == "TERM_DEPOSIT").collect()}
    assert set(scores) == set(outcome)  # every client is scored
    # fitted on the training clients, the segments' sizes count every client, as segmented
    profiles = read_table(spark, table_path(root, "gold", "segment_profiles")).collect()
    assert sum(r["size"] for r in profiles) == len(outcome)
    metrics = {(r["role"], r["metric"]): r["value"] for r in
               read_table(spark, table_path(root, "gold", "model_metrics")).collect()}
    # Evaluated on the held-out clients only, and better than the naive baseline there.
    positives = [scores[k] for k in held if outcome[k]]
    negatives = [scores[k] for k in held if not outcome[k]]
    auc = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives) / (
        len(positives) * len(negatives))
    assert metrics[("champion", "roc_auc")] == pytest.approx(auc, abs=0.005)
    assert metrics[("champion", "roc_auc")] > metrics[("baseline", "roc_auc")] + 0.05
