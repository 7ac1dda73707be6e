"""Joins and shuffles: broadcast where small, no cartesian product, heavy users do not dominate."""
from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import functions as F

from segrec_spark.features.client_features import client_facts_table, client_features
from segrec_spark.features.labels import labels
from segrec_spark.features.settings import FeatureSettings
from segrec_spark.features.silver import sessionize, unify_events
from tests.features.conftest import APP_SOURCES, SYNTHETIC, bronze, d, silver_events

AS_OF = d("2026-03-01")
SETTINGS = FeatureSettings(windows=(7, 30))
FORBIDDEN_JOINS = ("CartesianProduct", "BroadcastNestedLoopJoin")


def final_plan(df) -> str:
    """The executed (adaptive, final) physical plan, without its 'Initial Plan' section."""
    plan = df._jdf.queryExecution().executedPlan().toString()
    assert "isFinalPlan=true" in plan, "run an action before reading the final plan"
    return plan.split("== Initial Plan ==")[0]


def _heavy_user_rows(days: int = 30, per_day: int = 10) -> list[dict]:
    start = dt.datetime(2026, 2, 1, 8, 0)
    return [dict(identity_id_hash="heavy", event_ts=start + dt.timedelta(days=day, minutes=m),
                 product_area="SAVINGS")
            for day in range(days) for m in range(per_day)]


def _light_user_rows(clients: int = 6) -> list[dict]:
    return [dict(identity_id_hash=f"light{c}", event_ts=f"2026-02-20 0{m}:00:00")
            for c in range(clients) for m in range(3)]


def test_features_plan_broadcasts_the_small_join_and_has_no_cartesian_product(spark):
    events = silver_events(spark, web=[
        dict(user_id="u1", event_ts="2026-02-20 10:00:00"),
        dict(user_id="u1", identity_id_hash="c1", event_ts="2026-02-20 10:05:00")],
        app_screens=_light_user_rows(2))
    features = client_features(
        events, bronze(spark, "camp", [dict(identity_id_hash="c1",
                                            contact_ts="2026-02-01 10:00:00",
                                            product_code="SAVINGS")]),
        bronze(spark, "prodeje", [dict(identity_id_hash="c1", product_code="SAVINGS",
                                       signed_date="2026-02-01")]),
        bronze(spark, "clients", [dict(identity_id_hash="c1", age_band="18-25")]),
        AS_OF, SETTINGS, SYNTHETIC)
    features.collect()
    plan = final_plan(features)
    # The only join (anonymous activity x identity map) is broadcast; client-level families
    # are unioned and aggregated once, with partial (map-side) aggregation.
    assert "BroadcastHashJoin" in plan
    assert "SortMergeJoin" not in plan
    assert not [j for j in FORBIDDEN_JOINS if j in plan]
    assert "partial_sum" in plan

    result = labels(features, bronze(spark, "prodeje", []), AS_OF, 30, ("SIGNED",), SYNTHETIC)
    result.collect()
    label_plan = final_plan(result)
    assert "Generate explode" in label_plan
    assert "BroadcastHashJoin" in label_plan
    assert not [j for j in FORBIDDEN_JOINS if j in label_plan]


def test_heavy_user_is_spread_over_session_tasks(spark):
    frames = {s: bronze(spark, s, _heavy_user_rows() if s == "app_screens" else _light_user_rows()
                        if s == "app_logins" else []) for s in ("web", *APP_SOURCES, "ib")}
    events = unify_events(frames, SYNTHETIC)  # 300 heavy + 18 light events
    saved = {k: spark.conf.get(k) for k in ("spark.sql.shuffle.partitions",
                                            "spark.sql.adaptive.coalescePartitions.enabled")}
    spark.conf.set("spark.sql.shuffle.partitions", "8")
    spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
    try:
        # spark_partition_id() right after the session window = the task that ran it (the
        # session column is aggregated so that the optimizer cannot prune the window away)
        per_task = (events.transform(sessionize(30))
                    .select("session_start_ts", F.spark_partition_id().alias("task"))
                    .groupBy("task").agg(F.count("session_start_ts").alias("rows"))
                    .agg(F.max("rows").alias("largest"), F.sum("rows").alias("total"))
                    .first())
        by_client_only = (events.repartition(8, "channel", "identity_id_hash")
                          .groupBy(F.spark_partition_id()).count()
                          .agg(F.max("count")).first()[0])
    finally:
        for key, value in saved.items():
            spark.conf.set(key, value)
    assert per_task["total"] == 318
    # Partitioned by client alone, one task would get the heavy user's 300 of 318 rows; by
    # client and day (30 active days) no task gets more than a third of them.
    assert by_client_only >= 300
    assert per_task["largest"] / per_task["total"] < 1 / 3


def test_a_heavy_users_facts_grow_with_active_days_not_events(spark):
    events = silver_events(spark, app_screens=_heavy_user_rows(days=10, per_day=30))  # in window
    facts = client_facts_table(events, bronze(spark, "camp", []), bronze(spark, "prodeje", []),
                               None, AS_OF, SETTINGS, SYNTHETIC)
    expected = spark.createDataFrame([("seen", 1), ("day", 10), ("area", 10), ("session", 10)],
                                     "kind string, count long")
    assert_df_equality(facts.groupBy("kind").count(), expected, ignore_row_order=True,
                       ignore_nullable=True)
