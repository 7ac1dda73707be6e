"""A client table without any outcome (a card portfolio to segment, no campaign response):
``segrec run`` through conf/contracts/example_segments.yaml segments the clients, names the
segments from what sets them apart and writes the report; no product is scored.

The table (segrec_spark.generate.portfolio) has three planted kinds of client (revolvers who
draw cash, instalment buyers, dormant cards): each must land in a segment of its own."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pyspark.sql import functions as F

from segrec_spark import cli
from segrec_spark.generate.portfolio import KINDS, read_kinds, write_portfolio
from segrec_spark.tables import delta_exists, read_table, table_path
from tests.snapshot.own_config import own_data_config, segment_of_each_kind

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def segments_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("segments_only")
    written = write_portfolio(tmp / "files")
    kinds = read_kinds(written.kinds)
    contract = yaml.safe_load((ROOT / "conf/contracts/example_segments.yaml").read_text())
    contract["sources"]["cards"]["location"] = str(written.table)
    config = own_data_config(tmp, contract, {})
    code = cli.main(["run", "--config", str(config)])
    return code, tmp, kinds, config


@pytest.mark.integration  # snapshot -> train (segmentation only) -> score through the CLI
def test_every_client_gets_one_segment_and_the_planted_kinds_are_found(spark, segments_run):
    code, tmp, kinds, _ = segments_run
    assert code == 0
    segments = read_table(spark, table_path(str(tmp / "lake"), "gold", "client_segments"))
    rows = segments.select("identity_id_hash", "segment_id").collect()
    assert len(rows) == len(kinds)
    assert {r["identity_id_hash"] for r in rows} == set(kinds)
    found = {r["identity_id_hash"]: r["segment_id"] for r in rows}
    # Each planted kind lands (almost) whole in a segment of its own.
    segment_of_each_kind(found, kinds, KINDS)


@pytest.mark.integration  # snapshot -> train (segmentation only) -> score through the CLI
def test_segments_are_named_by_what_sets_them_apart_and_no_product_is_scored(spark,
                                                                             segments_run):
    _, tmp, kinds, _ = segments_run
    root = str(tmp / "lake")
    profiles = read_table(spark, table_path(root, "gold", "segment_profiles")).collect()
    segments = read_table(spark, table_path(root, "gold", "client_segments"))
    cash_clients = [c for c, k in kinds.items() if k == "cash"]
    cash_segment = (segments.where(F.col("identity_id_hash").isin(cash_clients))
                    .groupBy("segment_id").count().orderBy(F.desc("count")).first()[0])
    described = {r["segment_id"]: r["description"] for r in profiles}
    assert "high cash advance" in described[cash_segment].lower()
    assert sum(r["size"] for r in profiles) == len(kinds)
    for table in ("product_rankings", "model_metrics", "campaign_plan", "next_best_offer"):
        assert not delta_exists(spark, table_path(root, "gold", table)), table
    report = next((tmp / "reports").glob("run_report_*.html")).read_text()
    assert "Segments only" in report
    assert "Snapshot columns" in report  # what each delivered column was used as
    assert described[cash_segment] in report


@pytest.mark.integration  # a second scoring of the same date replaces its slice
def test_scoring_again_replaces_the_segments_of_its_date(spark, segments_run):
    _, tmp, kinds, config = segments_run
    assert cli.main(["score", "--config", str(config)]) == 0
    segments = read_table(spark, table_path(str(tmp / "lake"), "gold", "client_segments"))
    assert segments.count() == len(kinds)
