"""Relative tiers on hand-written scores; expected tiers written by hand."""
from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from segrec_spark.contract import Product
from segrec_spark.scoring.settings import ScoringSettings
from segrec_spark.scoring.tiers import (
    with_catalogue,
    with_lift_tier,
    with_share_tier,
    with_tier,
    with_value_tier,
)
from segrec_spark.typed_yaml import ConfigError

D = dt.date(2026, 4, 1)
HIGH, MID, LOW, NONE = "High Value Engaged", "Potential Upsell", "Nurture and Educate", "Low Engagement"


def test_lift_tiers_are_inclusive_multiples_of_a_given_base_rate(spark):
    rows = [(D, "P", f"c{i}", p, 0.25) for i, p in enumerate([0.75, 0.7, 0.375, 0.3, 0.1875, 0.1])]
    df = spark.createDataFrame(rows, "as_of_date date, product_code string, identity_id_hash string, "
                                     "probability double, base_rate double")
    got = df.transform(with_lift_tier(3.0, 1.5, 0.75)).select("identity_id_hash", "propensity_tier")
    expected = spark.createDataFrame(
        [("c0", HIGH), ("c1", MID), ("c2", MID), ("c3", LOW), ("c4", LOW), ("c5", NONE)],
        "identity_id_hash string, propensity_tier string")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_lift_base_rate_is_each_products_mean_probability(spark):
    # A: mean 0.3 / 6 = 0.05 -> High >= 0.15, Mid >= 0.075, Nurture >= 0.0375.
    # B: mean 0.5 -> only Nurture (>= 0.375) is reachable. C: all zero -> nobody above Low.
    rows = [("A", f"a{i}", p) for i, p in enumerate([0.2, 0.05, 0.03, 0.01, 0.01, 0.0])]
    rows += [("B", "b0", 0.5), ("B", "b1", 0.5), ("C", "c0", 0.0), ("C", "c1", 0.0)]
    df = spark.createDataFrame([(D, *r) for r in rows], "as_of_date date, product_code string, "
                                                        "identity_id_hash string, probability double")
    got = df.transform(with_lift_tier(3.0, 1.5, 0.75))
    assert got.columns == [*df.columns, "propensity_tier"]
    expected = spark.createDataFrame(
        [("a0", HIGH), ("a1", LOW), ("a2", NONE), ("a3", NONE), ("a4", NONE), ("a5", NONE),
         ("b0", LOW), ("b1", LOW), ("c0", NONE), ("c1", NONE)],
        "identity_id_hash string, propensity_tier string")
    assert_df_equality(got.select("identity_id_hash", "propensity_tier"), expected,
                       ignore_row_order=True, ignore_nullable=True)


def test_lift_floors_make_the_top_of_each_ranking_high_and_mid_whatever_the_lift(spark):
    # P: 20 clients with nearly equal scores (mean about 0.05): no one reaches 3x or 1.5x, all
    # >= 0.75x. Floors 10 % / 25 %: ranks 1-2 High, 3-5 Potential Upsell, the rest Nurture.
    # Q: 10 clients, mean 0.105: q01 (0.6) is High by lift and fills the 10 % floor (1 place);
    # q02 is Potential Upsell by the 25 % floor (2.5 places) though below 0.75x; the rest, all
    # below 0.75x the base rate, stay Low Engagement.
    rows = [(D, "P", f"p{r:02d}", r, 0.06 - r * 0.0005) for r in range(1, 21)]
    q = [0.6, 0.06, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.04]
    rows += [(D, "Q", f"q{r:02d}", r, p) for r, p in enumerate(q, start=1)]
    df = spark.createDataFrame(rows, "as_of_date date, product_code string, identity_id_hash string, "
                                     "rank int, probability double")
    got = df.transform(with_lift_tier(3.0, 1.5, 0.75, 0.10, 0.25)).select("identity_id_hash",
                                                                         "propensity_tier")
    tiers = [HIGH] * 2 + [MID] * 3 + [LOW] * 15 + [HIGH, MID] + [NONE] * 8
    names = [f"p{r:02d}" for r in range(1, 21)] + [f"q{r:02d}" for r in range(1, 11)]
    expected = spark.createDataFrame(list(zip(names, tiers, strict=True)),
                                     "identity_id_hash string, propensity_tier string")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
    # Without floors the same scores leave P with no High and no Potential Upsell.
    plain = df.transform(with_lift_tier(3.0, 1.5, 0.75)).where(F.col("product_code") == "P")
    assert {r[0] for r in plain.select("propensity_tier").distinct().collect()} == {LOW}


def test_share_tiers_cut_each_products_ranking(spark):
    # 20 ranks: 5 % -> rank 1, 15 % -> ranks 2-3, 40 % -> ranks 4-8.
    # 10 ranks: 5 % -> nobody (0.5 places), 15 % -> rank 1, 40 % -> ranks 2-4.
    rows = [(D, "P", f"p{r:02d}", r) for r in range(1, 21)]
    rows += [(D, "Q", f"q{r:02d}", r) for r in range(1, 11)]
    df = spark.createDataFrame(rows, "as_of_date date, product_code string, identity_id_hash string, rank int")
    got = df.transform(with_share_tier(0.05, 0.15, 0.40)).select("identity_id_hash", "propensity_tier")
    tiers = ([HIGH] + [MID] * 2 + [LOW] * 5 + [NONE] * 12) + ([MID] + [LOW] * 3 + [NONE] * 6)
    names = [f"p{r:02d}" for r in range(1, 21)] + [f"q{r:02d}" for r in range(1, 11)]
    expected = spark.createDataFrame(list(zip(names, tiers, strict=True)), "identity_id_hash string, propensity_tier string")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_share_tiers_are_exact_where_floating_point_is_not(spark):
    # 0.29 * 100 is 28.999999999999996 in floating point; rank 29 must still be inside.
    df = spark.createDataFrame([(D, "P", f"c{r}", r) for r in range(1, 101)],
                               "as_of_date date, product_code string, identity_id_hash string, rank int")
    got = df.transform(with_share_tier(0.07, 0.29, 0.58)).groupBy("propensity_tier").count()
    expected = spark.createDataFrame([(HIGH, 7), (MID, 22), (LOW, 29), (NONE, 42)],
                                     "propensity_tier string, count long")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_value_tiers_compare_expected_margin_with_contact_cost(spark):
    # margin 100, cost 2: High needs p x 100 >= 6, Mid >= 3, Nurture >= 2.
    rows = [("c0", 0.06, 100.0, 2.0), ("c1", 0.05, 100.0, 2.0), ("c2", 0.03, 100.0, 2.0),
            ("c3", 0.025, 100.0, 2.0), ("c4", 0.02, 100.0, 2.0), ("c5", 0.01, 100.0, 2.0),
            ("c6", 0.9, None, None), ("c7", 0.001, 100.0, 0.0), ("c8", 0.0, 100.0, 0.0)]
    df = spark.createDataFrame(rows, "identity_id_hash string, probability double, margin double, "
                                     "contact_cost double")
    got = df.transform(with_value_tier(3.0, 1.5, 1.0)).select("identity_id_hash", "propensity_tier")
    expected = spark.createDataFrame(
        [("c0", HIGH), ("c1", MID), ("c2", MID), ("c3", LOW), ("c4", LOW), ("c5", NONE),
         ("c6", NONE), ("c7", HIGH), ("c8", NONE)], "identity_id_hash string, propensity_tier string")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_catalogue_money_columns(spark):
    products = [Product("MORTGAGE", margin=3000, contact_cost=4), Product("SAVINGS")]
    df = spark.createDataFrame([("MORTGAGE",), ("SAVINGS",), ("OTHER",)], "product_code string")
    expected = spark.createDataFrame([("MORTGAGE", 3000.0, 4.0), ("SAVINGS", None, None), ("OTHER", None, None)],
                                     "product_code string, margin double, contact_cost double")
    assert_df_equality(df.transform(with_catalogue(products)), expected, ignore_row_order=True,
                       ignore_nullable=True)


def test_mode_dispatch_and_settings():
    assert ScoringSettings().tier_mode == "lift"
    assert ScoringSettings().thresholds() == (3.0, 1.5, 0.75)
    assert ScoringSettings(tier_mode="share").thresholds() == (0.05, 0.15, 0.40)
    assert ScoringSettings(tier_mode="absolute").thresholds() == (0.8, 0.5, 0.3)
    assert ScoringSettings().floors() == (0.02, 0.10)
    with pytest.raises(ValueError, match="tier mode 'rank'"):
        with_tier("rank", 1, 2, 3)


@pytest.mark.parametrize(("settings", "message"), [
    (ScoringSettings(tier_high_lift=1.0, tier_mid_lift=1.5), "tier_high_lift: must satisfy 0 < tier_low_lift"),
    (ScoringSettings(tier_low_share=1.5), "tier_high_share: must satisfy"),
    (ScoringSettings(tier_high_floor=1.0), "tier_high_floor: tier_high_floor and tier_mid_floor must be"),
    (ScoringSettings(tier_high_floor=0.2, tier_mid_floor=0.1), "tier_mid_floor: must be 0 .none. or >= "),
    (ScoringSettings(tier_low_value=0.0), "tier_high_value: must satisfy"),
    (ScoringSettings(audience_shares=(0.1, 0.1)), "audience_shares: must be distinct shares"),
    (ScoringSettings(reasons_per_client=0), "reasons_per_client: must be >= 1, found 0"),
])
def test_settings_refuse_inconsistent_thresholds_in_one_line(settings, message):
    with pytest.raises(ConfigError, match=message) as info:
        settings.validate()
    assert "\n" not in str(info.value)


def test_config_rejects_an_unknown_tier_mode(tmp_path):
    from tests.conftest import make_config

    with pytest.raises(ConfigError, match="scoring.tier_mode"):
        make_config(tmp_path, "scoring.tier_mode=rank")
