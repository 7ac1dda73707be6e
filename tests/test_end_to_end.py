"""The shared end-to-end run: published tables honour their contracts and are readable by BI."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from segrec_spark.scoring.publish import RANKING_COLUMNS
from segrec_spark.tables import read_table, table_path

# The shared run is a whole pipeline: `make test-slow` (CI runs both suites).
pytestmark = [pytest.mark.e2e, pytest.mark.integration]
ROOT = Path(__file__).resolve().parent.parent


def _gold(spark, cfg, name):
    return read_table(spark, table_path(cfg.paths.root, "gold", name))


def _latest_rankings(spark, cfg):
    rankings = _gold(spark, cfg, "product_rankings")
    latest = rankings.agg(F.max("as_of_date")).first()[0]
    return rankings.filter(F.col("as_of_date") == latest), latest


def test_rankings_contract(spark, e2e):
    cfg, _ = e2e
    rankings, as_of = _latest_rankings(spark, cfg)
    assert tuple(rankings.columns) == RANKING_COLUMNS
    per_product = rankings.groupBy("product_code").agg(
        F.count(F.lit(1)).alias("n"), F.min("rank").alias("lo"), F.max("rank").alias("hi"),
        F.countDistinct("rank").alias("distinct_ranks"), F.countDistinct("identity_id_hash").alias("clients"),
        F.min("decile").alias("dmin"), F.max("decile").alias("dmax"),
        F.min("probability").alias("pmin"), F.max("probability").alias("pmax")).collect()
    assert {r["product_code"] for r in per_product} == set(
        cfg.propensity.products or cfg.contract.product_codes)
    for r in per_product:
        assert r["lo"] == 1
        assert r["hi"] == r["n"] == r["distinct_ranks"] == r["clients"]
        assert (r["dmin"], r["dmax"]) == (1, 10)
        assert 0.0 <= r["pmin"] <= r["pmax"] <= 1.0
    # a higher rank never has a higher probability, nor a better tier (every tier mode is
    # monotone in the probability within a product)
    from pyspark.sql import Window

    from segrec_spark.scoring.publish import TIERS
    w = Window.partitionBy("product_code").orderBy("rank")
    inversions = rankings.withColumn("prev", F.lag("probability").over(w)).filter(F.col("prev") < F.col("probability"))
    assert inversions.count() == 0
    order = F.array_position(F.array(*[F.lit(t) for t in TIERS]), F.col("propensity_tier"))
    tiered = rankings.withColumn("tier_order", order)
    assert tiered.filter(F.col("tier_order") == 0).count() == 0
    worse_first = tiered.withColumn("prev", F.lag("tier_order").over(w)).filter(F.col("prev") > F.col("tier_order"))
    assert worse_first.count() == 0


def test_holders_are_never_ranked_or_offered(spark, e2e):
    cfg, _ = e2e
    rankings, as_of = _latest_rankings(spark, cfg)
    features = _gold(spark, cfg, "client_features").filter(F.col("as_of_date") == as_of)
    holds = [c for c in features.columns if c.startswith("holds_")]
    held = features.select("identity_id_hash", F.explode(F.array(*[
        F.when(F.col(c) == 1, F.lit(c.removeprefix("holds_").upper())) for c in holds])).alias("product_code")
    ).filter(F.col("product_code").isNotNull())
    assert held.count() > 0, "generated data should have some product holders"
    assert rankings.join(held, ["identity_id_hash", "product_code"], "inner").count() == 0
    offers = _gold(spark, cfg, "next_best_offer").filter(F.col("as_of_date") == as_of)
    assert offers.join(held, ["identity_id_hash", "product_code"], "inner").count() == 0
    too_many = offers.groupBy("identity_id_hash").count().filter(F.col("count") > cfg.scoring.top_n_offers)
    assert too_many.count() == 0


def test_every_client_gets_a_named_segment(spark, e2e):
    cfg, _ = e2e
    rankings, as_of = _latest_rankings(spark, cfg)
    features = _gold(spark, cfg, "client_features").filter(F.col("as_of_date") == as_of)
    segments = _gold(spark, cfg, "client_segments").filter(F.col("as_of_date") == as_of)
    assert segments.count() == features.count()
    assert segments.filter(F.col("segment_name").isNull() | (F.col("segment_name") == "")).count() == 0
    assert segments.select("segment_id").distinct().count() >= cfg.segmentation.k_min
    # every segment is described by what sets it apart, with conversion rates per product
    profiles = _gold(spark, cfg, "segment_profiles")
    latest = profiles.filter(F.col("as_of_date") == profiles.agg(F.max("as_of_date")).first()[0])
    rows = latest.collect()
    assert len(rows) == segments.select("segment_id").distinct().count()
    for row in rows:
        assert row["description"], row.asDict()
        assert row["description"] != "average profile", row.asDict()
        assert [t["trait_rank"] for t in row["traits"]] == list(range(1, len(row["traits"]) + 1))
        assert row["conversion_rate_mortgage"] is not None
    # the first scored month: every segmented client joins, none stays, moves or leaves
    migration = _gold(spark, cfg, "segment_migration").filter(F.col("as_of_date") == as_of)
    assert {r["movement"] for r in migration.collect()} == {"joined"}
    assert migration.agg(F.sum("clients")).first()[0] == segments.count()


def test_independent_delta_reader_sees_the_same_rankings(spark, e2e):
    from deltalake import DeltaTable

    cfg, _ = e2e
    path = table_path(cfg.paths.root, "gold", "product_rankings")
    cols = ["as_of_date", "product_code", "identity_id_hash", "probability", "rank", "decile", "propensity_tier"]
    other = DeltaTable(path).to_pandas(columns=cols)
    from_deltalake = spark.createDataFrame(other).select(*cols).withColumn("as_of_date", F.to_date("as_of_date"))
    from_spark = read_table(spark, path).select(*cols)
    assert_df_equality(from_deltalake, from_spark, ignore_row_order=True, ignore_nullable=True,
                       ignore_column_order=False)


@pytest.mark.integration  # the score stage run a second time on the e2e lake
def test_rescoring_the_same_as_of_replaces_its_slice(spark, e2e):
    from segrec_spark.scoring import job as score_job

    cfg, _ = e2e
    path = table_path(cfg.paths.root, "gold", "product_rankings")
    before = read_table(spark, path).drop("scored_at").localCheckpoint()
    score_job.run(spark, cfg, report=False)
    after = read_table(spark, path).drop("scored_at")
    assert_df_equality(after, before, ignore_row_order=True, ignore_nullable=True)


def test_run_report_has_charts_and_sections(e2e):
    cfg, result = e2e
    report = Path(result.outputs["score"]["report"])
    text = report.read_text()
    for section in ("Gains and lift", "Model vs baseline vs oracle", "Segments",
                    "Top feature importances", "Propensity tiers", "Ingest audit"):
        assert section in text
    assert text.count("data:image/png;base64,") >= 2


@pytest.mark.integration  # a Jupyter kernel process with a Spark driver of its own
def test_notebook_runs_top_to_bottom(e2e, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    cfg, _ = e2e
    nb = nbformat.read(ROOT / "notebooks" / "explore_outputs.ipynb", as_version=4)
    overrides = [f"paths.root={cfg.paths.root}", "spark.shuffle_partitions=2",
                 f"spark.conf={{spark.sql.warehouse.dir: '{tmp_path}/wh'}}"]
    os.environ["SEGREC_OVERRIDES"] = json.dumps(overrides)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.pop("SEGREC_OVERRIDES", None)
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    summary = json.loads(outputs.split("NOTEBOOK_SUMMARY", 1)[1].strip().splitlines()[0])
    assert summary["products"] == len(cfg.propensity.products or cfg.contract.product_codes)
    assert summary["top10_rows"] == 10
    assert summary["segments"] >= 2


def test_opted_out_ineligible_and_control_clients_are_in_no_audience(spark, e2e):
    cfg, _ = e2e
    rankings, as_of = _latest_rankings(spark, cfg)
    # the consent source's latest record before the as-of date, computed here independently
    consent = read_table(spark, table_path(cfg.paths.root, "bronze", "consent")).filter(
        F.col("consent_ts") < F.lit(as_of).cast("timestamp"))
    latest = consent.groupBy("identity_id_hash").agg(
        F.max_by("marketing_opt_out", F.struct("consent_ts", "marketing_opt_out")).alias("out"))
    opted_out = latest.filter(F.col("out") == "Y").select("identity_id_hash")
    assert opted_out.count() > 0, "the generator plants opted-out clients"
    statuses = {r["contact_status"]: r["count"] for r in
                rankings.groupBy("contact_status").count().collect()}
    assert set(statuses) <= {"contact", "control", "opted_out", "ineligible", "over_cap"}
    assert statuses.get("control", 0) > 0
    assert statuses.get("opted_out", 0) > 0
    ranked_out = rankings.join(opted_out, "identity_id_hash")
    assert ranked_out.count() > 0
    assert ranked_out.filter(F.col("contact_status") != "opted_out").count() == 0
    assert rankings.filter(F.col("contact_status") == "opted_out").join(
        opted_out, "identity_id_hash", "left_anti").count() == 0
    # MORTGAGE's rule in the synthetic contract: nobody 66+ is offered a mortgage
    features = _gold(spark, cfg, "client_features").filter(F.col("as_of_date") == as_of)
    mortgage = rankings.filter(F.col("product_code") == "MORTGAGE").join(
        features.select("identity_id_hash", "age_band"), "identity_id_hash")
    assert mortgage.filter((F.col("age_band") == "66+")
                           & (F.col("contact_status").isin("contact", "over_cap"))).count() == 0
    assert mortgage.filter(F.col("contact_status") == "ineligible").count() > 0
    # a control client has no contactable row at all, and nobody exceeds the cap
    control = rankings.filter(F.col("contact_status") == "control").select("identity_id_hash")
    assert rankings.join(control.distinct(), "identity_id_hash").filter(
        F.col("contact_status") == "contact").count() == 0
    per_client = rankings.filter(F.col("contact_status") == "contact").groupBy(
        "identity_id_hash").count()
    assert per_client.filter(F.col("count") > cfg.scoring.contact_cap).count() == 0
    # every audience (offers, the campaign plan at 100 %) is exactly the contact rows
    contact = rankings.filter(F.col("contact_status") == "contact")
    offers = _gold(spark, cfg, "next_best_offer").filter(F.col("as_of_date") == as_of)
    assert offers.join(contact, ["identity_id_hash", "product_code"], "left_anti").count() == 0
    plan = _gold(spark, cfg, "campaign_plan").filter(
        (F.col("as_of_date") == as_of) & (F.col("audience_share") == 1.0))
    per_product = {r["product_code"]: r["count"] for r in contact.groupBy("product_code").count().collect()}
    assert {r["product_code"]: r["clients"] for r in plan.collect()} == per_product
