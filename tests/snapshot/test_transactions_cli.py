"""A transaction log without any outcome (one row per purchase, many per client): ``segrec
run`` through conf/contracts/example_transactions.yaml sums each client's transactions up and
segments the clients; no product is scored.

The log (segrec_spark.generate.transactions) has three planted kinds of client (weekly small
buyers, a few large purchases, lapsed since spring): each must land in a segment of its own,
and its rows without a client or with an impossible date in quarantine."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml
from pyspark.sql import functions as F

from segrec_spark import cli
from segrec_spark.generate.transactions import (
    DORMANT,
    KINDS,
    read_kinds,
    write_client_table,
    write_transactions,
)
from segrec_spark.tables import delta_exists, read_table, table_path
from tests.snapshot.own_config import own_data_config, segment_of_each_kind

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def transactions_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("transactions")
    written = write_transactions(tmp / "files", per_kind=60)
    contract = yaml.safe_load((ROOT / "conf/contracts/example_transactions.yaml").read_text())
    contract["sources"]["purchases"]["location"] = str(written.table)
    config = own_data_config(tmp, contract, {})
    code = cli.main(["run", "--config", str(config)])
    return code, tmp, written, read_kinds(written.kinds)


@pytest.mark.integration  # snapshot (transactions) -> train (segmentation) -> score
def test_each_planted_kind_of_client_gets_a_segment_of_its_own(spark, transactions_run):
    code, tmp, _, kinds = transactions_run
    assert code == 0
    root = str(tmp / "lake")
    segments = read_table(spark, table_path(root, "gold", "client_segments"))
    found = {r["identity_id_hash"]: r["segment_id"]
             for r in segments.select("identity_id_hash", "segment_id").collect()}
    assert set(found) == set(kinds)  # one row per client, not per transaction
    majority = segment_of_each_kind(found, kinds, KINDS)
    profiles = {r["segment_id"]: r["description"].lower()
                for r in read_table(spark, table_path(root, "gold", "segment_profiles")).collect()}
    assert "high recency days" in profiles[majority["lapsed"]]
    assert "high transactions" in profiles[majority["regulars"]] or \
        "high active days" in profiles[majority["regulars"]]
    for table in ("product_rankings", "model_metrics", "campaign_plan"):
        assert not delta_exists(spark, table_path(root, "gold", table)), table


@pytest.mark.integration  # every line is accepted, or quarantined with its reason
def test_rows_without_a_client_or_a_date_are_quarantined_and_counts_add_up(spark,
                                                                           transactions_run):
    _, tmp, written, _ = transactions_run
    quarantine = read_table(spark, table_path(str(tmp / "lake"), "ops", "snapshot_quarantine"))
    reasons = Counter(r["reason"] for r in quarantine.collect())
    assert reasons == {"MISSING_KEY": 5, "BAD_TIMESTAMP": 1}
    assert sum(reasons.values()) == written.rejected
    features = read_table(spark, table_path(str(tmp / "lake"), "gold", "client_features"))
    accepted = features.agg(F.sum("transactions")).first()[0]
    assert accepted + sum(reasons.values()) == written.rows
    report = next((tmp / "reports").glob("run_report_*.html")).read_text()
    assert "per client: days from the last transaction to the as-of date" in report


@pytest.fixture(scope="module")
def buy_again_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("buy_again")
    written = write_transactions(tmp / "files", per_kind=60)
    contract = yaml.safe_load((ROOT / "conf/contracts/example_transactions.yaml").read_text())
    contract["products"] = [{"code": "BUYS_AGAIN", "name": "Buys again within 60 days",
                             "margin": 20, "contact_cost": 1},
                            {"code": "ONLINE", "name": "Buys online within 60 days",
                             "margin": 5, "contact_cost": 1}]
    log = contract["sources"]["purchases"]
    log.update({"location": str(written.table), "outcome_product": "BUYS_AGAIN",
                "outcome_days": 60, "outcome_column": "Channel",
                "outcome_values": {"ONLINE": ["online"]}})
    config = own_data_config(tmp, contract, {})
    code = cli.main(["run", "--config", str(config)])
    return code, tmp, read_kinds(written.kinds)


@pytest.mark.integration  # snapshot (transactions, buy-again outcome) -> train -> score
def test_a_buy_again_outcome_is_trained_out_of_time_and_ranks_the_regulars_first(
        spark, buy_again_run):
    code, tmp, kinds = buy_again_run
    assert code == 0
    root = str(tmp / "lake")
    metrics = read_table(spark, table_path(root, "gold", "model_metrics"))
    assert metrics.where("product_code = 'BUYS_AGAIN'").count() > 0
    rankings = read_table(spark, table_path(root, "gold", "product_rankings"))
    assert {str(r[0]) for r in rankings.select("as_of_date").distinct().collect()} == {
        "2025-01-01"}  # scored the day after the last transaction
    p = {r["identity_id_hash"]: r["probability"]
         for r in rankings.where("product_code = 'BUYS_AGAIN'").collect()}
    assert set(p) == set(kinds)  # every client with an accepted transaction is ranked
    online = {r["identity_id_hash"]: r["probability"]
              for r in rankings.where("product_code = 'ONLINE'").collect()}

    def mean(kind, scores=p):
        mine = [scores[c] for c, k in kinds.items() if k == kind]
        return sum(mine) / len(mine)
    # weekly buyers come back, clients lapsed since spring do not
    assert mean("regulars") > mean("big_spenders") > mean("lapsed")
    # ONLINE is labelled from the channel of the later transactions: big spenders buy online
    # most (a few purchases, mostly online), weekly buyers now and then, the lapsed never
    online_labels = read_table(spark, table_path(root, "gold", "labels")).where(
        "product_code = 'ONLINE'").collect()
    rate = {kind: sum(r["label"] for r in online_labels if kinds[r["identity_id_hash"]] == kind)
            / sum(1 for r in online_labels if kinds[r["identity_id_hash"]] == kind)
            for kind in KINDS}
    assert rate["big_spenders"] > rate["regulars"] > rate["lapsed"] == 0
    assert mean("lapsed", online) < min(mean("regulars", online), mean("big_spenders", online))
    auc = {(r["product_code"], r["role"]): r["value"] for r in metrics.collect()
           if r["metric"] == "roc_auc"}
    assert auc[("ONLINE", "champion")] > auc[("ONLINE", "baseline")]
    labels = read_table(spark, table_path(root, "gold", "labels"))
    assert sorted(str(r[0]) for r in labels.select("as_of_date").distinct().collect()) == [
        "2024-05-06", "2024-07-05", "2024-09-03", "2024-11-02"]


@pytest.fixture(scope="module")
def table_and_log_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("table_and_log")
    written = write_transactions(tmp / "files", per_kind=100)
    clients = write_client_table(written)
    contract = yaml.safe_load(
        (ROOT / "conf/contracts/example_clients_and_log.yaml").read_text())
    contract["sources"]["clients"]["location"] = str(clients)
    contract["sources"]["purchases"]["location"] = str(written.table)
    config = own_data_config(tmp, contract, {"learners": ["logistic_regression"]})
    code = cli.main(["run", "--config", str(config)])
    return code, tmp, written, read_kinds(written.kinds)


@pytest.mark.integration  # snapshot (client table + log) -> train -> score
def test_a_client_table_learns_from_the_log_beside_it(spark, table_and_log_run):
    code, tmp, written, kinds = table_and_log_run
    assert code == 0
    root = str(tmp / "lake")
    features = read_table(spark, table_path(root, "gold", "client_features"))
    rows = {r["identity_id_hash"]: r for r in features.collect()}
    assert set(rows) == set(kinds)  # every client of the table, the dormant ones included
    dormant = [c for c, k in kinds.items() if k == "dormant"]
    assert len(dormant) == DORMANT
    assert all(rows[c]["transactions"] == 0 for c in dormant)
    assert {str(r["as_of_date"]) for r in rows.values()} == {"2025-01-01"}
    rankings = read_table(spark, table_path(root, "gold", "product_rankings"))
    p = {r["identity_id_hash"]: r["probability"] for r in rankings.collect()}

    def mean(kind):
        scores = [p[c] for c, k in kinds.items() if k == kind]
        return sum(scores) / len(scores)
    # the response depends on the kind only, which only the log tells
    assert mean("big_spenders") > mean("regulars") > mean("lapsed")
    quarantine = read_table(spark, table_path(root, "ops", "snapshot_quarantine"))
    reasons = Counter((r["source"], r["reason"]) for r in quarantine.collect())
    assert reasons == {("purchases", "MISSING_KEY"): 5, ("purchases", "BAD_TIMESTAMP"): 1}
    accepted = features.agg(F.sum("transactions")).first()[0]
    assert accepted + sum(reasons.values()) == written.rows
