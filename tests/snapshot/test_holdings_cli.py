"""Monthly product holdings with no outcome column, through the CLI: snapshot -> train -> score.

The table is shaped like the public Santander recommendation data (one row per client and
month, a 0/1 column per product; ``segrec_spark.generate.holdings``) and goes through the
contract shipped as ``conf/contracts/example_holdings.yaml``. The test checks what the own-data
guide promises for it: a take-up is a product held at the next month's date and not at this
one (checked against the file, row by row), the latest month is scored for every product the
client does not hold and for none they hold, and the models recover the planted signal
(relative to the planted truth and the naive baseline, not a floor copied from a run)."""
from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from pyspark.sql import functions as F

from segrec_spark import cli
from segrec_spark.generate.holdings import PRODUCTS, write_holdings
from segrec_spark.tables import read_table, table_path
from tests.snapshot.own_config import ROOT, own_data_config
from tests.snapshot.test_snapshot_cli import _auc

CONTRACT = ROOT / "conf/contracts/example_holdings.yaml"


@pytest.fixture(scope="module")
def holdings_run(tmp_path_factory, spark):
    tmp = tmp_path_factory.mktemp("holdings")
    files = write_holdings(tmp / "files", clients=1500, months=4, seed=5)
    contract = yaml.safe_load(CONTRACT.read_text())
    contract["sources"]["holdings"]["location"] = str(files.table)
    config = own_data_config(tmp, contract, {
        "validation": "split", "pooled": "never",
        "learners": ["logistic_regression", "random_forest"], "num_trees": [40],
        "max_depth": [5], "lr_reg_param": [0.01]})
    code = cli.main(["run", "--config", str(config)])
    return code, tmp, files, {c["name"]: c["product"] for c in contract["sources"]["holdings"]
                              ["columns"] if c.get("role") == "holding"}


def _holdings(path: Path) -> dict[tuple[str, str], dict[str, int]]:
    """(month, client) -> product column -> 1 when held (``NA`` and empty: not held)."""
    with path.open() as handle:
        return {(row["fecha_dato"], row["ncodpers"]): {p: int(row[p] == "1") for p in PRODUCTS}
                for row in csv.DictReader(handle)}


@pytest.mark.integration  # snapshot -> train -> score through the CLI
def test_run_exits_cleanly(holdings_run):
    assert holdings_run[0] == 0


@pytest.mark.integration
def test_take_up_is_a_product_held_next_month_and_not_this_one(spark, holdings_run):
    _, tmp, files, product_of = holdings_run
    held = _holdings(files.table)
    months = [m.isoformat() for m in files.months]
    expected = {(month, client, product_of[p]): held[(nxt, client)][p]
                for month, nxt in zip(months, months[1:], strict=False)
                for (m, client), products in held.items() if m == month
                and (nxt, client) in held
                for p in PRODUCTS if not products[p]}
    labels = read_table(spark, table_path(str(tmp / "lake"), "gold", "labels"))
    written = {(str(r["as_of_date"]), r["identity_id_hash"], r["product_code"]): r["label"]
               for r in labels.collect()}
    assert written == expected
    assert sum(expected.values()) > 0


@pytest.mark.integration
def test_the_latest_month_is_scored_for_what_the_client_does_not_hold(spark, holdings_run):
    _, tmp, files, product_of = holdings_run
    latest = files.months[-1].isoformat()
    held = {client: products for (month, client), products in _holdings(files.table).items()
            if month == latest}
    rankings = read_table(spark, table_path(str(tmp / "lake"), "gold", "product_rankings"))
    scored = {(r["identity_id_hash"], r["product_code"]) for r in
              rankings.where(F.col("as_of_date") == F.lit(latest)).collect()}
    wanted = {(client, product_of[p]) for client, products in held.items()
              for p in PRODUCTS if not products[p]}
    assert scored == wanted


@pytest.mark.integration
def test_models_recover_the_planted_take_up(spark, holdings_run):
    _, tmp, files, product_of = holdings_run
    lake = str(tmp / "lake")
    metrics = read_table(spark, table_path(lake, "gold", "model_metrics")).where(
        F.col("metric") == "roc_auc").collect()
    evaluated = {r["as_of_date"] for r in metrics}
    assert evaluated == {files.months[-2]}  # the latest month with a next month
    auc = defaultdict(dict)
    for r in metrics:
        auc[r["role"]][r["product_code"]] = r["value"]
    labels = read_table(spark, table_path(lake, "gold", "labels")).where(
        F.col("as_of_date") == F.lit(files.months[-2])).collect()
    with files.truth.open() as handle:
        truth = {(row["ncodpers"], product_of[row["product"]]): float(row["true_probability"])
                 for row in csv.DictReader(handle) if row["fecha_dato"] ==
                 files.months[-2].isoformat()}
    oracle = {}
    for product in auc["champion"]:
        pairs = [(truth[(r["identity_id_hash"], product)], r["label"]) for r in labels
                 if r["product_code"] == product and (r["identity_id_hash"], product) in truth]
        oracle[product] = _auc(pairs)
    assert len(auc["champion"]) == len(PRODUCTS)  # every product had enough take-ups
    model = statistics.mean(auc["champion"].values())
    assert model > statistics.mean(auc["baseline"].values()) + 0.05, auc
    assert model > statistics.mean(oracle.values()) - 0.08, (auc["champion"], oracle)
