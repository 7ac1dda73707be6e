"""Publishing transforms on hand-written scores."""
from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality

from segrec_spark.scoring.publish import (
    eligible_clients,
    next_best_offers,
    rank_within_product,
    with_propensity_tier,
    with_recommended_action,
)

D = dt.date(2026, 4, 1)


def test_rank_and_decile_within_product_ties_broken_by_client(spark):
    rows = [(D, "SAVINGS", f"c{i:02d}", p) for i, p in
            enumerate([0.9, 0.1, 0.5, 0.5, 0.3, 0.8, 0.2, 0.7, 0.6, 0.4, 0.05, 0.95])]
    rows.append((D, "MORTGAGE", "c00", 0.2))
    scores = spark.createDataFrame(rows, "as_of_date date, product_code string, identity_id_hash string, probability double")
    got = scores.transform(rank_within_product).select("product_code", "identity_id_hash", "rank", "decile")
    # 12 rows in 10 ntiles: the first two deciles get 2 rows each.
    expected = spark.createDataFrame(
        [("SAVINGS", "c11", 1, 1), ("SAVINGS", "c00", 2, 1), ("SAVINGS", "c05", 3, 2),
         ("SAVINGS", "c07", 4, 2), ("SAVINGS", "c08", 5, 3), ("SAVINGS", "c02", 6, 4),
         ("SAVINGS", "c03", 7, 5), ("SAVINGS", "c09", 8, 6), ("SAVINGS", "c04", 9, 7),
         ("SAVINGS", "c06", 10, 8), ("SAVINGS", "c01", 11, 9), ("SAVINGS", "c10", 12, 10),
         ("MORTGAGE", "c00", 1, 1)],
        "product_code string, identity_id_hash string, rank int, decile int")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_tiers_use_configured_thresholds_with_exclusive_lower_bounds(spark):
    df = spark.createDataFrame([(0.81,), (0.8,), (0.5,), (0.31,), (0.3,), (0.0,)], "probability double")
    got = df.transform(with_propensity_tier(0.8, 0.5, 0.3))
    expected = spark.createDataFrame(
        [(0.81, "High Value Engaged"), (0.8, "Potential Upsell"), (0.5, "Nurture and Educate"),
         (0.31, "Nurture and Educate"), (0.3, "Low Engagement"), (0.0, "Low Engagement")],
        "probability double, propensity_tier string")
    assert_df_equality(got, expected, ignore_nullable=True)
    shifted = df.transform(with_propensity_tier(0.9, 0.6, 0.4)).filter("propensity_tier = 'High Value Engaged'")
    assert shifted.count() == 0


def test_recommended_action_names_the_product(spark):
    df = spark.createDataFrame([("CONSUMER_LOAN", "High Value Engaged"), ("SAVINGS", "Low Engagement")],
                               "product_code string, propensity_tier string")
    got = df.transform(with_recommended_action())
    expected = spark.createDataFrame(
        [("CONSUMER_LOAN", "High Value Engaged",
          "Direct offer: personal banker call or in-app pre-approved offer for consumer loan"),
         ("SAVINGS", "Low Engagement", "No active savings contact; keep in general newsletters")],
        "product_code string, propensity_tier string, recommended_action string")
    assert_df_equality(got, expected, ignore_nullable=True)


def test_recommended_action_reads_the_catalogue_name_where_there_is_one(spark):
    df = spark.createDataFrame([("CMP3", "Potential Upsell"), ("SAVINGS", "Nurture and Educate")],
                               "product_code string, propensity_tier string")
    got = df.transform(with_recommended_action({"CMP3": "Wine club campaign", "SAVINGS": ""}))
    expected = spark.createDataFrame(
        [("CMP3", "Potential Upsell",
          "Targeted digital campaign with a personalised Wine club campaign offer"),
         ("SAVINGS", "Nurture and Educate", "Educational content and calculators about savings")],
        "product_code string, propensity_tier string, recommended_action string")
    assert_df_equality(got, expected, ignore_nullable=True)


def test_recommended_action_reads_the_catalogue_own_texts_per_tier(spark):
    # a risk outcome: the bank words each tier itself; a tier it leaves out keeps the default
    df = spark.createDataFrame([("DEFAULT", "High Value Engaged"), ("DEFAULT", "Low Engagement"),
                                ("DEFAULT", "Potential Upsell"), ("CMP3", "High Value Engaged")],
                               "product_code string, propensity_tier string")
    own = {"DEFAULT": {"High Value Engaged": "Call before the due date: {product} prevention",
                       "Low Engagement": "No action"}}
    got = df.transform(with_recommended_action({"DEFAULT": "Payment default"}, own))
    assert [tuple(r) for r in got.collect()] == [
        ("DEFAULT", "High Value Engaged", "Call before the due date: Payment default prevention"),
        ("DEFAULT", "Low Engagement", "No action"),
        ("DEFAULT", "Potential Upsell",
         "Targeted digital campaign with a personalised Payment default offer"),
        ("CMP3", "High Value Engaged",
         "Direct offer: personal banker call or in-app pre-approved offer for cmp3")]


def test_next_best_offers_top_n_contactable_per_client(spark):
    cols = ("as_of_date date, identity_id_hash string, product_code string, probability double, "
            "propensity_tier string, recommended_action string, segment_name string, "
            "model_version string, contact_status string")
    rankings = spark.createDataFrame(
        [(D, "a", "SAVINGS", 0.2, "t", "x", "s", "1", "contact"),
         (D, "a", "MORTGAGE", 0.6, "t", "x", "s", "1", "contact"),
         (D, "a", "PENSION", 0.4, "t", "x", "s", "1", "contact"),
         (D, "a", "CREDIT_CARD", 0.9, "t", "x", "s", "1", "opted_out"),
         (D, "b", "PENSION", 0.1, "t", "x", "s", "1", "contact"),
         (D, "b", "SAVINGS", 0.8, "t", "x", "s", "1", "ineligible"),
         (D, "c", "SAVINGS", 0.8, "t", "x", "s", "1", "control")], cols)
    got = next_best_offers(rankings, 2).select("identity_id_hash", "offer_rank", "product_code")
    expected = spark.createDataFrame([("a", 1, "MORTGAGE"), ("a", 2, "PENSION"), ("b", 1, "PENSION")],
                                     "identity_id_hash string, offer_rank int, product_code string")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_holders_are_not_eligible(spark):
    features = spark.createDataFrame([("a", 1), ("b", 0)], "identity_id_hash string, holds_mortgage int")
    got = eligible_clients(features, "MORTGAGE")
    assert_df_equality(got, spark.createDataFrame([("b", 0)], features.schema))
