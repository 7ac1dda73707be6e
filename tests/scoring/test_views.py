"""BI views (scoring.views) over tiny registered Delta tables: what a BI query gets back."""
from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality

from segrec_spark.scoring.views import register_views
from segrec_spark.tables import register_table, table_path

D = dt.date(2026, 4, 1)


def _table(spark, root, name, rows, schema):
    path = table_path(str(root), "gold", name)
    spark.createDataFrame(rows, schema).write.format("delta").mode("overwrite").save(path)
    register_table(spark, "gold", name, path)


def test_audience_at_a_size_and_one_clients_offers(spark, tmp_path):
    for view in ("v_campaign_audience", "v_client_offers"):
        spark.sql(f"DROP VIEW IF EXISTS gold.{view}")
    _table(spark, tmp_path, "product_rankings", [
        (D, "M", "a", 0.9, 1, "contact", "T1", "seg", "call", ["r1"], "1"),
        (D, "M", "b", 0.8, 2, "contact", "T1", "seg", "call", ["r2"], "1"),
        (D, "M", "c", 0.95, None, "opted_out", "T1", "seg", "call", ["r3"], "1"),
        (D, "M", "d", 0.1, 3, "contact", "T4", "seg", "none", [], "1"),
        (D, "S", "a", 0.2, 1, "contact", "T2", "seg", "mail", ["r4"], "2"),
    ], "as_of_date date, product_code string, identity_id_hash string, probability double, "
       "audience_rank int, contact_status string, propensity_tier string, segment_name string, "
       "recommended_action string, top_reasons array<string>, model_version string")
    _table(spark, tmp_path, "campaign_plan", [(D, "M", 0.5, 2, True, "1"),
                                              (D, "M", 1.0, 3, False, "1"),
                                              (D, "S", 1.0, 1, False, "2")],
           "as_of_date date, product_code string, audience_share double, clients long, "
           "best_size boolean, model_version string")
    _table(spark, tmp_path, "client_segments", [(D, "a", 0, "seg"), (D, "c", 0, "seg")],
           "as_of_date date, identity_id_hash string, segment_id int, segment_name string")
    _table(spark, tmp_path, "next_best_offer", [
        (D, "a", 1, "M", 0.9, "T1", "call"), (D, "a", 2, "S", 0.2, "T2", "mail")],
        "as_of_date date, identity_id_hash string, offer_rank int, product_code string, "
        "probability double, propensity_tier string, recommended_action string")

    assert register_views(spark) == ["gold.v_campaign_audience", "gold.v_client_offers"]
    assert register_views(spark) == ["gold.v_campaign_audience", "gold.v_client_offers"]  # again

    half = spark.sql("SELECT identity_id_hash, audience_rank FROM gold.v_campaign_audience "
                     "WHERE product_code = 'M' AND audience_share = 0.5")
    assert_df_equality(half, spark.createDataFrame([("a", 1), ("b", 2)], half.schema),
                       ignore_row_order=True)
    whole = spark.sql("SELECT identity_id_hash FROM gold.v_campaign_audience "
                      "WHERE product_code = 'M' AND audience_share = 1.0")
    assert sorted(r[0] for r in whole.collect()) == ["a", "b", "d"]  # never the opted-out c
    best = spark.sql("SELECT product_code, identity_id_hash FROM gold.v_campaign_audience "
                     "WHERE best_size")
    assert sorted(tuple(r) for r in best.collect()) == [("M", "a"), ("M", "b")]

    offers = spark.sql("SELECT identity_id_hash, offer_rank, product_code, top_reasons "
                       "FROM gold.v_client_offers ORDER BY identity_id_hash, offer_rank")
    assert [tuple(r) for r in offers.collect()] == [
        ("a", 1, "M", ["r1"]), ("a", 2, "S", ["r4"]), ("c", None, None, None)]


def test_views_wait_for_their_tables(spark):
    spark.sql("CREATE DATABASE IF NOT EXISTS gold")
    for name in ("campaign_plan", "client_segments"):
        spark.sql(f"DROP TABLE IF EXISTS gold.{name}")
    assert register_views(spark) == []
