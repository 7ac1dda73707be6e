"""Reasons per client on hand-written frames; expected reasons written by hand."""
from __future__ import annotations

import math

import pytest
from chispa import assert_df_equality

from segrec_spark.scoring.reasons import (
    ReasonFeature,
    candidate_features,
    population_stats,
    reason_features,
    with_top_reasons,
)


def test_candidates_are_the_top_numeric_features_without_prefixes():
    importances = [{"feature": "region_onehot_PRG", "importance": 0.5},
                   {"feature": "__imputed_app_events_30d", "importance": 0.3},
                   {"feature": "__missing_app_events_30d", "importance": 0.2},
                   {"feature": "__imputed_web_events_30d", "importance": 0.1},
                   {"feature": "__imputed_gone", "importance": 0.09},
                   {"feature": "__imputed_tenure_months", "importance": 0.05},
                   {"feature": "__imputed_zero", "importance": 0.0}]
    numeric = ["app_events_30d", "web_events_30d", "tenure_months", "zero"]
    assert candidate_features(importances, numeric, 2) == [("app_events_30d", 0.3), ("web_events_30d", 0.1)]
    assert candidate_features(importances, numeric, 10) == [
        ("app_events_30d", 0.3), ("web_events_30d", 0.1), ("tenure_months", 0.05)]
    assert candidate_features([], numeric, 10) == []


def test_population_stats_give_mean_sd_and_direction(spark):
    # x rises with the score, y falls with it, flat has no spread.
    df = spark.createDataFrame([(0.1, 1, 4.0, 7), (0.2, 2, 3.0, 7), (0.3, 3, 2.0, 7), (0.4, 4, 1.0, 7)],
                               "probability double, x int, y double, flat int")
    got = population_stats(df, [("x", 0.5), ("y", 0.25), ("flat", 0.2)])
    sd = math.sqrt(1.25)  # population sd of 1, 2, 3, 4
    assert [(f.name, f.importance, f.direction) for f in got] == [("x", 0.5, 1.0), ("y", 0.25, -1.0)]
    assert got[0].mean == pytest.approx(2.5)
    assert got[0].std == pytest.approx(sd)
    assert got[1].mean == pytest.approx(2.5)
    assert got[1].std == pytest.approx(sd)


def test_top_reasons_keep_the_strongest_raising_features(spark):
    features = [ReasonFeature("app_events_30d", 0.5, 10.0, 5.0, 1.0),
                ReasonFeature("days_since_login", 0.25, 20.0, 10.0, -1.0),
                ReasonFeature("web_events_30d", 0.1, 3.0, 1.0, 1.0)]
    df = spark.createDataFrame(
        [("a", 20.0, 5.0, 5.0),    # app +2.0 sd (1.0), login -1.5 sd (0.375), web +2.0 sd (0.2)
         ("b", 5.0, 30.0, 4.0),    # app -1.0 sd (-0.5), login +1.0 sd (-0.25), web +1.0 sd (0.1)
         ("c", None, 20.0, float("nan")),  # missing values count as the mean: no reason
         ("d", 11.0, 18.0, 3.6)],  # app +0.2 sd (0.1), login -0.2 sd (0.05), web +0.6 sd (0.06)
        "identity_id_hash string, app_events_30d double, days_since_login double, web_events_30d double")
    got = df.transform(with_top_reasons(features, 2)).select("identity_id_hash", "top_reasons")
    expected = spark.createDataFrame(
        [("a", ["app_events_30d high (+2.0 sd)", "days_since_login low (-1.5 sd)"]),
         ("b", ["web_events_30d high (+1.0 sd)"]),
         ("c", []),
         ("d", ["app_events_30d high (+0.2 sd)", "web_events_30d high (+0.6 sd)"])],
        "identity_id_hash string, top_reasons array<string>")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_date_feature_reads_later_or_earlier(spark):
    # dates as days since 1970-01-01: a later birth date (a younger client) and an earlier
    # opening date (a longer relationship) go with the higher score
    df = spark.createDataFrame([("a", 0.9, 9000.0, 1000.0, 1.0), ("b", 0.1, 3000.0, 5000.0, 3.0)],
                               "identity_id_hash string, probability double, DOB double, "
                               "opened double, tenure double")
    features = reason_features(df, [{"feature": "__imputed_DOB", "importance": 0.4},
                                    {"feature": "__imputed_opened", "importance": 0.3},
                                    {"feature": "__imputed_tenure", "importance": 0.2}], 5,
                               dates={"DOB", "opened"})
    assert [(f.name, f.date) for f in features] == [
        ("DOB", True), ("opened", True), ("tenure", False)]
    got = df.transform(with_top_reasons(features, 3)).select("identity_id_hash", "top_reasons")
    expected = spark.createDataFrame(
        [("a", ["DOB later (+1.0 sd)", "opened earlier (-1.0 sd)", "tenure low (-1.0 sd)"]),
         ("b", [])],
        "identity_id_hash string, top_reasons array<string>")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_without_importances_every_client_gets_an_empty_list(spark):
    df = spark.createDataFrame([("a", 0.3, 1.0)], "identity_id_hash string, probability double, x double")
    assert reason_features(df, [], 10) == []
    got = df.transform(with_top_reasons([], 3))
    assert got.schema["top_reasons"].dataType.simpleString() == "array<string>"
    assert got.first()["top_reasons"] == []
