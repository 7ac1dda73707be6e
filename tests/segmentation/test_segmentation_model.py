"""Segmentation: column selection, persona rules, choice of k with collapsed clusters, profiles."""
from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.ml import PipelineModel
from pyspark.ml.feature import SQLTransformer

from segrec_spark.config import ConfigError
from segrec_spark.errors import SchemaMismatchError
from segrec_spark.segmentation import model as seg
from segrec_spark.segmentation import personas
from segrec_spark.segmentation.profiles import segment_profiles
from segrec_spark.segmentation.settings import SegmentationSettings

FEATURES_SCHEMA = ("identity_id_hash string, web_events_30d int, app_events_30d int, "
                   "ib_events_30d int, interest_mortgage_30d int, interest_savings_30d int, "
                   "camp_clicks_30d int, web_recency_days int, agr_count int, holds_mortgage int, "
                   "region string")


def _features(spark):
    # 6 digitally inactive clients, 4 app-heavy mortgage browsers, 2 web-heavy savers.
    rows = (
        [(f"i{i}", 0, 0, 0, 0, 0, 0, 0, 1, 0, "PRG") for i in range(6)]
        + [(f"a{i}", 0, 50 + i, 0, 20, 0, 0, 0, 0, 1, "PRG") for i in range(4)]
        + [(f"w{i}", 40 + i, 0, 0, 0, 15, 0, 0, 0, 0, "STC") for i in range(2)]
    )
    return spark.createDataFrame(rows, FEATURES_SCHEMA)


def test_behavioural_columns_are_numeric_columns_with_behavioural_prefixes(spark):
    df = spark.createDataFrame([], "web_device string, web_events_30d int, agr_count int, "
                                   "interest_x_7d double, camp_open_rate double, ib_n long")
    assert seg.behavioural_columns(df, ("web_", "app_", "ib_", "interest_", "camp_")) == [
        "web_events_30d", "interest_x_7d", "camp_open_rate", "ib_n"]


@pytest.mark.parametrize(("z", "expected"), [
    ({"web_a": -1.0, "app_a": -0.9, "ib_a": -0.6, "camp_a": 2.0}, "branch-only (digitally inactive)"),
    ({"web_a": -0.5, "app_a": 1.5, "app_b": 1.1, "ib_a": 0.0,
      "interest_mortgage_30d": 1.0, "interest_savings_30d": 0.1, "interest_pension_7d": 0.2},
     "mobile-first, high engagement, mortgage interest"),
    ({"web_a": 0.5, "app_a": 0.4, "ib_a": -1.5, "web_recency_days": -9.0},
     "omnichannel, moderate engagement"),
    ({"web_a": -0.3, "app_a": -0.9, "ib_a": -0.8, "interest_credit_card_30d": -0.5,
      "interest_savings_30d": -0.5, "camp_clicks": 0.9},
     "web-first, low engagement, campaign-responsive"),
    ({"web_a": 0.2, "app_a": None, "ib_a": -0.8}, "web-first, moderate engagement"),
])
def test_persona_name_follows_centroid_rules(z, expected):
    assert seg.persona_name(z) == expected


def test_inactivity_uses_absolute_levels_when_given():
    z = {"web_a": -0.3, "app_a": -0.4, "camp_a": 0.0}
    assert seg.persona_name(z, {"web_a": 0.2, "app_a": 0.1, "camp_a": 3.0}) == (
        "branch-only (digitally inactive)")
    assert seg.persona_name(z, {"web_a": 0.2, "app_a": 0.5, "camp_a": 3.0}) == (
        "web-first, low engagement")


def test_recency_does_not_count_as_activity():
    # Without the recency exclusion the very negative recency z would make this "low engagement".
    assert seg.persona_name({"ib_a": 1.0, "ib_recency_days": -10.0}) == (
        "internet-banking-first, high engagement")


def test_twin_names_take_one_more_feature_until_they_differ():
    z = {0: {"tenure": -1.2, "charges": -0.9, "latitude": 0.6, "age": 0.1},
         1: {"tenure": -1.1, "charges": -0.8, "latitude": -0.7, "age": 0.0},
         2: {"tenure": 1.0, "charges": 0.5, "latitude": 0.0},
         3: {"tenure": 1.1, "charges": 0.6, "latitude": 0.05}}  # alike in every feature kept
    assert personas.distinguishing_names(z) == {
        0: "low tenure, low charges, high latitude",
        1: "low tenure, low charges, low latitude",
        2: "high tenure, high charges",
        3: "high tenure, high charges"}  # unique_names numbers these


def test_unique_names_suffix_repeats_in_segment_order():
    assert seg.unique_names({2: "x", 0: "x", 1: "y", 3: "x"}) == {
        0: "x", 1: "y", 2: "x (2)", 3: "x (3)"}


def test_assess_and_best_trial_prefer_healthy_k_and_handle_all_collapsed():
    healthy = seg.assess_k(3, {0: 50, 1: 30, 2: 20}, 0.40, 0.05)
    empty = seg.assess_k(4, {0: 50, 1: 30, 2: 20, 3: 0}, 0.90, 0.05)
    tiny = seg.assess_k(5, {0: 50, 1: 30, 2: 18, 3: 1, 4: 1}, 0.95, 0.05)
    assert (healthy.collapsed, empty.collapsed, empty.clusters_found, tiny.collapsed) == (
        False, True, 3, True)
    assert tiny.smallest_share == pytest.approx(0.01)
    assert seg.best_trial([healthy, empty, tiny]).k == 3
    assert seg.best_trial([empty, tiny]).k == 5
    single = seg.assess_k(3, {0: 10, 1: 0, 2: 0}, None, 0.05)
    assert seg.best_trial([single, seg.assess_k(4, {0: 10, 1: 0, 2: 0, 3: 0}, None, 0.05)]).k == 3


def test_choose_k_survives_collapsed_clusters(spark):
    # Two distinct profiles only: k = 3 and 4 must leave clusters empty, without crashing.
    rows = [(0, 0)] * 10 + [(30, 40)] * 10
    df = spark.createDataFrame(rows, "web_n int, app_n int")
    settings = SegmentationSettings(k_min=3, k_max=4, seed=1)
    model, trials = seg.choose_k(df, ["web_n", "app_n"], settings)
    assert [(t.k, t.clusters_found, t.collapsed) for t in trials] == [(3, 2, True), (4, 2, True)]
    assert all(t.silhouette == pytest.approx(1.0) for t in trials)
    assert model.stages[-1].getK() == 3


def test_choose_k_with_a_single_profile_has_no_silhouette(spark):
    df = spark.createDataFrame([(5, 5)] * 6, "web_n int, app_n int")
    _, trials = seg.choose_k(df, ["web_n", "app_n"], SegmentationSettings(k_min=2, k_max=2))
    assert [(t.k, t.silhouette, t.clusters_found, t.collapsed) for t in trials] == [
        (2, None, 1, True)]


def _centers(model):
    return sorted(tuple(round(float(x), 9) for x in c) for c in model.stages[-1].clusterCenters())


def test_choose_k_fits_what_the_whole_pipeline_fits_whatever_its_parallelism(spark):
    # The stages before KMeans are fitted once for every k; the chosen model must be the one
    # the whole pipeline gives for that k, and fitting 1 or 3 k at a time must not matter.
    df = _features(spark).select("web_events_30d", "app_events_30d", "interest_mortgage_30d",
                                 "interest_savings_30d")
    columns = df.columns
    one = SegmentationSettings(k_min=2, k_max=4, seed=5, parallelism=1)
    model, trials = seg.choose_k(df, columns, one)
    again, trials_3 = seg.choose_k(df, columns, SegmentationSettings(k_min=2, k_max=4, seed=5,
                                                                     parallelism=3))
    assert [t.k for t in trials] == [2, 3, 4]
    assert trials_3 == trials
    k = model.stages[-1].getK()
    whole = seg.build_pipeline(columns, k, one).fit(df)
    assert _centers(model) == _centers(whole) == _centers(again)
    assert_df_equality(model.transform(df).select(seg.CLUSTER),
                       whole.transform(df).select(seg.CLUSTER), ignore_row_order=False)


def test_segmentation_parallelism_must_be_positive():
    with pytest.raises(ConfigError, match="parallelism"):
        SegmentationSettings(parallelism=0).validate()


@pytest.fixture(scope="module")
def fitted(spark):
    return seg.fit_segmentation(_features(spark), SegmentationSettings(k_min=3, k_max=3, seed=3))


def test_fit_and_assign_segments_names_clusters_from_centroids(spark, fitted):
    features = _features(spark)
    assert fitted.columns == ("web_events_30d", "app_events_30d", "ib_events_30d",
                              "interest_mortgage_30d", "interest_savings_30d", "camp_clicks_30d",
                              "web_recency_days")
    assigned = seg.assign_segments(fitted.model, features)
    assert assigned.columns == [*features.columns, "segment_id", "segment_name"]
    inactive = (0, "branch-only (digitally inactive)")
    app = (1, "mobile-first, high engagement, mortgage interest")
    web = (2, "web-first, high engagement, savings interest")
    expected = spark.createDataFrame(
        [(f"i{i}", *inactive) for i in range(6)] + [(f"a{i}", *app) for i in range(4)]
        + [(f"w{i}", *web) for i in range(2)],
        "identity_id_hash string, segment_id int, segment_name string")
    assert_df_equality(assigned.select("identity_id_hash", "segment_id", "segment_name"), expected,
                       ignore_row_order=True, ignore_nullable=True)
    assert seg.segment_names_map(fitted.model) == {0: inactive[1], 1: app[1], 2: web[1]}


def test_assign_segments_names_a_missing_feature_column(spark, fitted):
    with pytest.raises(SchemaMismatchError, match="app_events_30d"):
        seg.assign_segments(fitted.model, _features(spark).drop("app_events_30d"))


def test_a_banks_own_segment_is_named_by_its_strongest_differences_yes_no_as_shares():
    z = {"balance": 1.5, "newbie": -1.2, "age": 0.1}
    assert personas.distinguishing_name(z) == "high balance, low newbie"
    assert personas.distinguishing_name(z, shares={"newbie": 0.04}) == "high balance, newbie 4 %"
    assert personas.distinguishing_name({"age": 0.1}) == "average profile"
    # a date column (days since 1970): a birth date above the average is a later one
    dob = {"DOB": 0.9, "balance": -0.5}
    assert personas.distinguishing_name(dob, dates={"DOB"}) == "later DOB, low balance"
    assert personas.distinguishing_name({"DOB": -0.9}, dates={"DOB"}) == "earlier DOB"


def test_centroid_zscores_against_hand_computed_values(spark):
    # log columns as the pipeline writes them; a: overall mean 1, population std 1; b constant.
    # The raw columns beside them: a is a yes/no column (its share of 1s per cluster), b not.
    clustered = spark.createDataFrame(
        [(0, 0, 5.0, 0.0, 3.0), (0, 0, 5.0, 0.0, 3.0), (1, 1, 5.0, 2.0, 3.0),
         (1, None, 5.0, 2.0, 3.0)],
        f"{seg.CLUSTER} int, a int, b double, {seg.LOG_PREFIX}a double, "
        f"{seg.LOG_PREFIX}b double")
    expected = spark.createDataFrame(
        [(0, "a", -1.0, 0.0, 0.0), (0, "b", None, 3.0, None), (1, "a", 1.0, 2.0, 1.0),
         (1, "b", None, 3.0, None)],
        "cluster int, feature string, z double, level double, share double")
    assert_df_equality(seg.centroid_zscores(clustered, ["a", "b"]), expected,
                       ignore_row_order=True, ignore_nullable=True)


def test_many_columns_are_aggregated_in_chunks_to_the_same_rows(spark, monkeypatch):
    columns = ["a", "b", "c"]
    clustered = spark.createDataFrame(
        [(i % 2, float(i), float(i * i % 5), float(i % 3), float(i), float(i * i % 5),
          float(i % 3)) for i in range(12)],
        f"{seg.CLUSTER} int, a double, b double, c double, {seg.LOG_PREFIX}a double, "
        f"{seg.LOG_PREFIX}b double, {seg.LOG_PREFIX}c double")
    whole = sorted(seg.centroid_zscores(clustered, columns).collect())
    monkeypatch.setattr(seg, "COLUMN_CHUNK", 2)
    chunks = []
    real = seg.centroid_zscores
    monkeypatch.setattr(seg, "centroid_zscores",
                        lambda df, cols: chunks.append(list(cols)) or real(df, cols))
    assert sorted(seg.centroid_zscore_rows(clustered, columns)) == whole
    assert chunks == [["a", "b"], ["c"]]


def test_naming_statement_round_trips_names_with_quotes(spark):
    names = {0: "it's big", 1: "small"}
    model = PipelineModel(stages=[SQLTransformer(
        statement=seg.naming_statement({5: 0, 2: 1}, names))])
    df = spark.createDataFrame([(5,), (2,), (9,)], f"{seg.CLUSTER} int")
    expected = spark.createDataFrame([(5, 0, "it's big"), (2, 1, "small"), (9, -1, "unassigned")],
                                     f"{seg.CLUSTER} int, segment_id int, segment_name string")
    assert_df_equality(model.transform(df), expected, ignore_nullable=True, ignore_row_order=True)
    assert seg.segment_names_map(model) == names


def test_segment_profiles_sizes_means_and_holding_rates(spark):
    assigned = spark.createDataFrame(
        [(0, "x", 2.0, 1), (0, "x", 4.0, 0), (0, "x", 0.0, 0), (1, "y", 10.0, 1)],
        "segment_id int, segment_name string, web_n double, holds_mortgage int")
    expected = spark.createDataFrame(
        [(0, "x", 3, 0.75, 2.0, 1 / 3), (1, "y", 1, 0.25, 10.0, 1.0)],
        "segment_id int, segment_name string, size long, share double, avg_web_n double, "
        "holding_rate_mortgage double")
    assert_df_equality(segment_profiles(assigned, ["web_n"]), expected,
                       ignore_row_order=True, ignore_nullable=True)


def test_fitting_sample_caps_the_rows_the_sweep_fits_on(spark):
    df = spark.range(10_000)
    assert df.transform(seg.fitting_sample(0, seed=1)) is df
    assert df.transform(seg.fitting_sample(20_000, seed=1)) is df
    sampled = df.transform(seg.fitting_sample(2_000, seed=1))
    assert 1_700 <= sampled.count() <= 2_300
    assert sampled.count() == df.transform(seg.fitting_sample(2_000, seed=1)).count()  # seeded
    with pytest.raises(ConfigError, match="max_fit_rows"):
        SegmentationSettings(max_fit_rows=10).validate()
