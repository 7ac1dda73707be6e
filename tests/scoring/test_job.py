"""`segrec score` on hand-built gold tables and champions trained on them (tiny forests).

Re-scoring one product replaces exactly that product's slices: every other product's rankings
and campaign plan stay as they were, and next-best offers are recomputed from all rankings.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segrec_spark.propensity import job as train_job
from segrec_spark.scoring import job as score_job
from segrec_spark.scoring.publish import RANKING_COLUMNS
from segrec_spark.tables import read_table, table_path, write_slice
from segrec_spark.typed_yaml import ConfigError
from tests.conftest import make_config

TRAIN_AS_OF = dt.date(2026, 1, 31)  # E - 2h with the default generator period and h = 30
EVAL_AS_OF = dt.date(2026, 3, 2)  # E - h: the latest features, so the scoring date too
SETTINGS = ("segmentation.k_min=2", "segmentation.k_max=2", "propensity.num_trees=[5]",
            "propensity.max_depth=[3]", "propensity.min_positives=5",
            "propensity.min_instances_per_node=1", "propensity.feature_subset_strategy=auto",
            "propensity.parallelism=2", "propensity.learners=[random_forest]",
            "propensity.validation=split")


def _features(spark: SparkSession, as_of: dt.date, n: int = 200) -> DataFrame:
    i = F.col("id")
    return spark.range(n).select(
        F.lit(as_of).alias("as_of_date"),
        F.sha2(i.cast("string"), 256).alias("identity_id_hash"),
        ((i * 7) % 20).cast("int").alias("web_events_30d"),
        ((i * 13) % 15).cast("int").alias("app_events_30d"),
        (i % 5).cast("int").alias("interest_mortgage_30d"),
        (i % 2).cast("int").alias("holds_savings"),
        F.lit(0).alias("holds_mortgage"),
        (i % 120).cast("int").alias("tenure_months"),
        F.when(i % 10 == 0, "66+").otherwise("36-45").alias("age_band"),  # MORTGAGE's rule
    )


def _consent(spark: SparkSession, as_of: dt.date) -> DataFrame:
    """bronze.consent: client 0 opted out; client 1 opted out, then back in before ``as_of``."""
    key = [F.sha2(F.lit(str(k)), 256) for k in (0, 1)]
    day = dt.datetime.combine(as_of, dt.time()) - dt.timedelta(days=20)
    rows = spark.createDataFrame([("k0", 0, day, "Y"), ("k1", 1, day, "Y"),
                                  ("k2", 1, day + dt.timedelta(days=5), "N")],
                                 "consent_id string, client int, consent_ts timestamp, "
                                 "marketing_opt_out string")
    return rows.select("consent_id", F.when(F.col("client") == 0, key[0]).otherwise(key[1])
                       .alias("identity_id_hash"), "consent_ts", "marketing_opt_out")


KEYS01 = [hashlib.sha256(str(k).encode()).hexdigest() for k in (0, 1)]


def _labels(features: DataFrame) -> DataFrame:
    noise = F.abs(F.hash("identity_id_hash")) % 3 == 0
    mortgage = features.select(
        "as_of_date", "identity_id_hash", F.lit("MORTGAGE").alias("product_code"),
        ((F.col("interest_mortgage_30d") >= 3) & ~noise).cast("int").alias("label"))
    savings = features.where(F.col("holds_savings") == 0).select(
        "as_of_date", "identity_id_hash", F.lit("SAVINGS").alias("product_code"),
        (F.col("app_events_30d") >= 9).cast("int").alias("label"))
    return mortgage.unionByName(savings).withColumn("horizon_days", F.lit(30))


@pytest.fixture(scope="module")
def scored_twice(spark, tmp_path_factory):
    """Train MORTGAGE and SAVINGS, score both, then re-score MORTGAGE alone."""
    tmp = tmp_path_factory.mktemp("score")
    cfg = make_config(tmp, *SETTINGS, "propensity.products=[MORTGAGE,SAVINGS]")
    features = _features(spark, TRAIN_AS_OF).unionByName(_features(spark, EVAL_AS_OF))
    write_slice(features, table_path(cfg.paths.root, "gold", "client_features"), None, ["as_of_date"])
    write_slice(_labels(features), table_path(cfg.paths.root, "gold", "labels"), None, ["as_of_date"])
    write_slice(_consent(spark, EVAL_AS_OF), table_path(cfg.paths.root, "bronze", "consent"), None)
    train_job.run(spark, cfg)
    first = score_job.run(spark, cfg, report=False)
    tables = ("product_rankings", "campaign_plan", "next_best_offer")
    before = {t: read_table(spark, table_path(cfg.paths.root, "gold", t)).localCheckpoint()
              for t in tables}
    one = make_config(tmp, *SETTINGS, "propensity.products=[MORTGAGE]")
    second = score_job.run(spark, one, report=False)
    after = {t: read_table(spark, table_path(cfg.paths.root, "gold", t)) for t in tables}
    return cfg, first, second, before, after


@pytest.mark.integration  # train, score, re-score on one lake
def test_first_run_publishes_both_products_with_reasons_and_relative_tiers(scored_twice):
    cfg, first, _, before, _ = scored_twice
    assert first["as_of_date"] == EVAL_AS_OF
    assert sorted(first["model_versions"]) == ["MORTGAGE", "SAVINGS"]
    rankings = before["product_rankings"]
    assert tuple(rankings.columns) == RANKING_COLUMNS
    # SAVINGS holders (every other client) are not ranked for SAVINGS.
    counts = {r["product_code"]: r["count"] for r in rankings.groupBy("product_code").count().collect()}
    assert counts == {"MORTGAGE": 200, "SAVINGS": 100}
    # Mortgage buyers follow mortgage interest: the top client's first reason says so.
    top = rankings.filter((F.col("product_code") == "MORTGAGE") & (F.col("rank") == 1)).first()
    assert top["top_reasons"]
    assert top["top_reasons"][0].startswith("interest_mortgage_30d high (+")
    # Lift tiers relative to the base rate: more than one tier used per product.
    tiers = rankings.groupBy("product_code").agg(F.countDistinct("propensity_tier").alias("n")).collect()
    assert all(r["n"] >= 2 for r in tiers)
    plan = before["campaign_plan"]
    assert plan.filter(F.col("size_rule") == "share").count() == 2 * len(cfg.scoring.audience_shares)
    # at most one break-even row per product, and where there is one it is the best size
    even = plan.filter(F.col("size_rule") == "break_even")
    assert even.count() == even.filter(F.col("best_size")).select("product_code").distinct().count()
    full = plan.filter((F.col("product_code") == "SAVINGS") & (F.col("audience_share") == 1.0)).first()
    contact = rankings.filter(F.col("contact_status") == "contact")
    assert full["clients"] == contact.filter(F.col("product_code") == "SAVINGS").count() > 80
    # client 0 opted out; client 1 came back; every 10th client (66+) may not get a mortgage
    status = {(r["identity_id_hash"], r["product_code"]): r["contact_status"] for r in
              rankings.filter(F.col("identity_id_hash").isin(*KEYS01)).collect()}
    assert status[(KEYS01[0], "MORTGAGE")] == "opted_out"
    assert status[(KEYS01[1], "MORTGAGE")] in ("contact", "control")
    mortgage = rankings.filter(F.col("product_code") == "MORTGAGE").groupBy("contact_status").count()
    assert {r["contact_status"]: r["count"] for r in mortgage.collect()}.get("ineligible") == 19
    assert plan.filter(F.col("best_size")).groupBy("product_code").count().filter("count > 1").count() == 0


@pytest.mark.integration  # train, score, re-score on one lake
def test_rescoring_one_product_keeps_every_other_product_unchanged(scored_twice):
    _, _, second, before, after = scored_twice
    assert sorted(second["model_versions"]) == ["MORTGAGE"]
    for table in ("product_rankings", "campaign_plan"):
        kept_before = before[table].filter(F.col("product_code") != "MORTGAGE")
        kept_after = after[table].filter(F.col("product_code") != "MORTGAGE")
        assert kept_before.count() > 0
        assert_df_equality(kept_after, kept_before, ignore_row_order=True)


@pytest.mark.integration  # train, score, re-score on one lake
def test_rescored_product_slice_is_replaced_not_duplicated(scored_twice):
    _, _, _, before, after = scored_twice
    old = before["product_rankings"].filter(F.col("product_code") == "MORTGAGE")
    new = after["product_rankings"].filter(F.col("product_code") == "MORTGAGE")
    assert new.count() == old.count() == new.select("identity_id_hash").distinct().count() == 200
    assert new.select("scored_at").distinct().count() == 1
    assert new.first()["scored_at"] > old.first()["scored_at"]
    # Same champion, same features: the same ranking apart from the time it was scored.
    assert_df_equality(new.drop("scored_at"), old.drop("scored_at"), ignore_row_order=True)
    plan = after["campaign_plan"].filter(F.col("product_code") == "MORTGAGE")
    assert plan.count() == plan.select("audience_share").distinct().count()


@pytest.mark.integration  # train, score, re-score on one lake
def test_offers_are_recomputed_from_kept_and_new_rankings(scored_twice):
    _, _, _, before, after = scored_twice
    offered = {r["product_code"] for r in after["next_best_offer"].select("product_code").distinct().collect()}
    assert offered == {"MORTGAGE", "SAVINGS"}
    assert_df_equality(after["next_best_offer"], before["next_best_offer"], ignore_row_order=True)


def test_expected_value_tiers_need_the_catalogues_money(spark, tmp_path):
    cfg = make_config(tmp_path, "scoring.tier_mode=expected_value")
    score_job.check_tier_mode(cfg, ["MORTGAGE"])  # the synthetic catalogue declares both
    products = tuple(replace(p, margin=None, contact_cost=None) for p in cfg.contract.products)
    bare = cfg.with_overrides(contract=replace(cfg.contract, products=products))
    with pytest.raises(ConfigError, match="expected_value needs margin and contact_cost .* MORTGAGE"):
        score_job.check_tier_mode(bare, ["MORTGAGE"])


def test_slice_predicate_names_the_products_scored():
    assert score_job.slice_predicate(EVAL_AS_OF) == "as_of_date = '2026-03-02'"
    assert score_job.slice_predicate(EVAL_AS_OF, ["SAVINGS", "MORTGAGE"]) == (
        "as_of_date = '2026-03-02' AND product_code IN ('MORTGAGE', 'SAVINGS')")


def test_scoring_an_earlier_date_rewrites_the_next_dates_migration(spark, tmp_config):
    cfg = tmp_config
    path = table_path(cfg.paths.root, "gold", "client_segments")
    jan, feb, mar = dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)

    def segments(day, ids):
        rows = [(day, f"c{i}", s, f"S{s}") for i, s in enumerate(ids)]
        return spark.createDataFrame(
            rows, "as_of_date date, identity_id_hash string, segment_id int, segment_name string")

    for day, ids in ((jan, [0, 0, 1]), (mar, [1, 1, 1])):
        write_slice(segments(day, ids), path, f"as_of_date = '{day}'", ["as_of_date"])
        score_job.write_migrations(spark, cfg, day)
    migration = read_table(spark, table_path(cfg.paths.root, "gold", "segment_migration"))
    assert {r["previous_as_of_date"] for r in migration.filter(F.col("as_of_date") == mar)
            .collect()} == {jan}

    # February is scored late: March's movement now starts from February
    write_slice(segments(feb, [1, 0, 1]), path, f"as_of_date = '{feb}'", ["as_of_date"])
    score_job.write_migrations(spark, cfg, feb)
    migration = read_table(spark, table_path(cfg.paths.root, "gold", "segment_migration"))
    moves: dict[tuple, int] = {}
    for r in migration.collect():
        key = (r["as_of_date"], r["previous_as_of_date"], r["movement"])
        moves[key] = moves.get(key, 0) + r["clients"]
    assert moves == {(jan, None, "joined"): 3,
                     (feb, jan, "moved"): 1, (feb, jan, "stayed"): 2,
                     (mar, feb, "moved"): 1, (mar, feb, "stayed"): 2}
