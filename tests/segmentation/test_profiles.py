"""segmentation.profiles on hand-written segments: traits in words, ranked, and conversion rates."""
from __future__ import annotations

import math

import pytest

from segrec_spark.segmentation.model import clustering_columns
from segrec_spark.segmentation.profiles import (
    _numeric_differences,
    conversion_rates,
    delivered_words,
    profile_columns,
    segment_traits,
    with_traits,
)

ASSIGNED = ("identity_id_hash string, segment_id int, segment_name string, app_events_30d double, "
            "app_sessions_30d double, web_events_30d double, holds_mortgage int, age_band string")


def _assigned(spark):
    # segment 0: heavy app users, mortgage holders, young; segment 1: the opposite
    rows = [(f"a{i}", 0, "s0", 10.0 + i % 2, 5.0 + i % 2, 1.0, 1, "18-25") for i in range(6)]
    rows += [(f"b{i}", 1, "s1", 0.0 + i % 2, 0.0 + i % 2, 1.0, 0, "46-55") for i in range(4)]
    rows += [("b9", 1, "s1", 1.0, 0.0, 1.0, 0, "18-25")]
    return spark.createDataFrame(rows, ASSIGNED)


def test_traits_name_the_strongest_differences_one_per_family(spark):
    assigned = _assigned(spark)
    numeric, categorical = profile_columns(assigned)
    assert numeric == ["app_events_30d", "app_sessions_30d", "web_events_30d", "holds_mortgage"]
    assert categorical == ["age_band"]
    traits = {(r["segment_id"], r["trait_rank"]): (r["trait"], r["z"])
              for r in segment_traits(assigned, numeric, categorical).collect()}
    words = {s: [traits[(s, k)][0] for k in sorted(k for (t, k) in traits if t == s)]
             for s in (0, 1)}
    # web_events_30d does not vary: never a trait; app events and sessions are one family
    assert set(words[0]) == {"holds mortgage", "high app events 30d", "age band 18-25"}
    assert set(words[1]) == {"no mortgage", "low app events 30d", "age band 46-55"}
    # ranked by |z|, strongest first
    zs = [abs(traits[(0, k)][1]) for k in range(1, 4)]
    assert zs == sorted(zs, reverse=True)
    # holds_mortgage: segment mean 1 vs population 6/11, sd sqrt(p(1-p))
    p = 6 / 11
    z_holds = next(z for (s, _), (t, z) in traits.items() if s == 0 and t == "holds mortgage")
    assert z_holds == pytest.approx((1 - p) / math.sqrt(p * (1 - p)))
    # age band 18-25: 6/6 in segment 0 against 7/11 overall
    q = 7 / 11
    z_age = next(z for (s, _), (t, z) in traits.items() if s == 0 and t == "age band 18-25")
    assert z_age == pytest.approx((1 - q) / math.sqrt(q * (1 - q)))


def test_own_data_names_in_any_case_or_without_underscore_are_families_of_their_own(spark):
    # A bank's own columns (Mall-customers-like): each differs, each is a trait.
    rows = [(f"a{i}", 0, 20.0 + i % 2, 100.0 + i % 2, 90.0 + i % 2) for i in range(5)]
    rows += [(f"b{i}", 1, 60.0 + i % 2, 20.0 + i % 2, 10.0 + i % 2) for i in range(5)]
    assigned = spark.createDataFrame(rows, "identity_id_hash string, segment_id int, Age double, "
                                           "Annual_Income_k double, Spending_Score double")
    traits = segment_traits(assigned, *profile_columns(assigned))
    words = sorted(r["trait"] for r in traits.where("segment_id = 0").collect())
    assert words == ["high annual income k", "high spending score", "low age"]


def test_traits_read_in_the_banks_own_column_names(spark):
    rows = [(f"a{i}", 0, 20.0 + i % 2, 90.0 + i % 2, "Female") for i in range(5)]
    rows += [(f"b{i}", 1, 60.0 + i % 2, 10.0 + i % 2, "Male") for i in range(5)]
    assigned = spark.createDataFrame(rows, "identity_id_hash string, segment_id int, "
                                           "AGE double, Spending_Score_1_100 double, "
                                           "Gender string")
    names = {"AGE": delivered_words("AGE"),
             "Spending_Score_1_100": delivered_words("Spending Score (1-100)"),
             "Gender": delivered_words("Gender")}
    traits = segment_traits(assigned, *profile_columns(assigned), names=names)
    words = sorted(r["trait"] for r in traits.where("segment_id = 0").collect())
    assert words == ["Gender Female", "high Spending Score (1-100)", "low age"]
    # a date column (days since 1970): a later or earlier date, not a higher or lower one
    traits = segment_traits(assigned, *profile_columns(assigned), names=names, dates={"AGE"})
    words = sorted(r["trait"] for r in traits.collect())
    assert words == ["Gender Female", "Gender Male", "earlier age", "high Spending Score (1-100)",
                     "later age", "low Spending Score (1-100)"]


@pytest.mark.parametrize(("column", "words"), [
    ("Spending Score (1-100)", "Spending Score (1-100)"), ("CASH_ADVANCE", "cash advance"),
    ("profile.age", "profile.age"), ("TransactionAmount (INR)", "TransactionAmount (INR)"),
    ("emp_var_rate", "emp var rate"), ("  a__b ", "a b")])
def test_delivered_words(column, words):
    assert delivered_words(column) == words


def test_description_and_top_limit(spark):
    assigned = _assigned(spark)
    traits = segment_traits(assigned, *profile_columns(assigned), top=1)
    profiles = spark.createDataFrame([(0, 6), (1, 5), (2, 0)], "segment_id int, size long")
    got = {r["segment_id"]: (r["description"], len(r["traits"] or []))
           for r in with_traits(profiles, traits).collect()}
    assert got[0][1] == 1
    assert got[1][1] == 1
    assert got[0][0] in {"holds mortgage", "high app events 30d", "age band 18-25"}
    assert got[2] == ("average profile", 0)


def test_conversion_rate_per_segment_and_product(spark):
    assigned = _assigned(spark)
    labels = spark.createDataFrame(
        [("a0", "SAVINGS", 1), ("a1", "SAVINGS", 0), ("b0", "SAVINGS", 0), ("b0", "PENSION", 1)],
        "identity_id_hash string, product_code string, label int")
    got = {r["segment_id"]: r.asDict() for r in
           conversion_rates(assigned, labels, ["SAVINGS", "PENSION"]).collect()}
    assert got[0]["conversion_rate_savings"] == 0.5
    assert got[0]["conversion_rate_pension"] is None
    assert got[1]["conversion_rate_savings"] == 0.0
    assert got[1]["conversion_rate_pension"] == 1.0


def test_numeric_differences_are_the_population_z_scores_with_nulls_and_empty_segments(spark):
    # segment 2 has no values of x at all; the nulls count in no mean and no deviation
    rows = [(0, 1.0), (0, 3.0), (0, None), (1, 10.0), (1, 12.0), (1, 14.0), (2, None)]
    assigned = spark.createDataFrame(rows, "segment_id int, x double")
    got = {r["segment_id"]: r["z"] for r in _numeric_differences(assigned, ["x"]).collect()}
    values = [1.0, 3.0, 10.0, 12.0, 14.0]
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    assert got[0] == pytest.approx((2.0 - mean) / sd)
    assert got[1] == pytest.approx((12.0 - mean) / sd)
    assert got[2] is None


def test_a_yes_no_column_reads_as_its_share_of_yes_in_the_segment(spark):
    # Hillstrom-like 0/1 flags: 'newbie 100 %' says more than 'high newbie'
    rows = [(f"a{i}", 0, 1, 20.0 + i) for i in range(6)]
    rows += [(f"b{i}", 1, 0 if i < 3 else 1, 80.0 + i) for i in range(4)]
    rows += [("b9", 1, None, 90.0)]
    assigned = spark.createDataFrame(rows, "identity_id_hash string, segment_id int, "
                                           "newbie int, history double")
    traits = {(r["segment_id"], r["feature"]): r["trait"]
              for r in segment_traits(assigned, *profile_columns(assigned)).collect()}
    assert traits[(0, "newbie")] == "newbie 100 %"
    assert traits[(1, "newbie")] == "newbie 25 %"  # 1 of the 4 known
    assert traits[(0, "history")] == "low history"  # not a yes/no column


def test_take_up_rates_of_a_many_valued_column_neither_cluster_nor_describe_segments(spark):
    # a bank's own table: an attribute, a holding, and the take-up of a route (from labels)
    df = spark.createDataFrame([("a", 30.0, 1, 0.2, "x")],
                               "identity_id_hash string, age double, holds_card int, "
                               "takeup_card_route double, job string")
    assert clustering_columns(df, ("app_",)) == ["age"]
    assert profile_columns(df) == (["age", "holds_card"], ["job"])
