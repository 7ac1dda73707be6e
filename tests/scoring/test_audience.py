"""scoring.audience on hand-written frames: consent, eligibility, control group and contact cap."""
from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from segrec_spark.contract import Column, Product, Source
from segrec_spark.scoring.audience import (
    check_eligibility_rules,
    conformed_consent,
    eligibility,
    in_control_group,
    opted_out_clients,
    with_contact_status,
)
from segrec_spark.typed_yaml import ConfigError

D = dt.date(2026, 4, 1)
CONSENT = "identity_id_hash string, consent_ts timestamp, opt_out boolean"
SCORES = ("as_of_date date, product_code string, identity_id_hash string, probability double, "
          "eligible boolean")


def ts(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day)


def keys(df) -> list[str]:
    return sorted(r[0] for r in df.collect())


def test_latest_consent_before_the_as_of_date_holds(spark):
    consent = spark.createDataFrame([
        ("a", ts("2026-01-01"), True), ("a", ts("2026-03-05"), False),    # back in: contactable
        ("b", ts("2026-01-01"), False), ("b", ts("2026-03-31 23:59:59"), True),  # out
        ("c", ts("2026-01-01"), True), ("c", ts("2026-04-01"), False),    # change after as-of
        ("d", ts("2026-02-01"), False), ("d", ts("2026-02-01"), True),    # tie: opt-out wins
        ("e", None, True),                                                # undated: counts
        ("f", ts("2026-02-01"), True), ("f", ts("2026-03-01"), None),     # unreadable: skipped
        ("g", ts("2026-04-02"), True),                                    # only in the future
    ], CONSENT)
    assert keys(opted_out_clients(consent, D)) == ["b", "c", "d", "e", "f"]


def test_consent_values_read_as_booleans(spark):
    source = Source(name="consent", kind="consent", columns=(
        Column(name="cid", type="key", role="key"),
        Column(name="flag", type="category", role="opt_out", values=("Y", "N"))))
    bronze = spark.createDataFrame([("a", "Y"), ("b", "N"), ("c", "yes"), ("d", "1"), ("e", "?")],
                                   "cid string, flag string")
    got = conformed_consent(bronze, source)
    expected = spark.createDataFrame(
        [("a", None, True), ("b", None, False), ("c", None, True), ("d", None, True),
         ("e", None, None)], CONSENT)
    assert_df_equality(got, expected, ignore_nullable=True)
    assert keys(opted_out_clients(got, D)) == ["a", "c", "d"]


def test_statuses_in_order_with_the_cap_by_probability(spark):
    scores = spark.createDataFrame([
        (D, "A", "opt", 0.9, False),   # opted out beats ineligible
        (D, "A", "x", 0.1, True), (D, "B", "x", 0.5, True), (D, "C", "x", 0.3, True),
        (D, "D", "x", 0.9, False),     # ineligible: does not use up the cap
        (D, "A", "y", 0.2, True),
    ], SCORES)
    opted_out = spark.createDataFrame([("opt",)], "identity_id_hash string")
    got = scores.transform(with_contact_status(opted_out, 2, 0.0, "s")).select(
        "product_code", "identity_id_hash", "contact_status", "audience_rank")
    expected = spark.createDataFrame([
        ("A", "opt", "opted_out", None),
        ("A", "x", "over_cap", None), ("B", "x", "contact", 1), ("C", "x", "contact", 1),
        ("D", "x", "ineligible", None),
        ("A", "y", "contact", 1),
    ], "product_code string, identity_id_hash string, contact_status string, audience_rank int")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_no_cap_and_audience_rank_follows_probability(spark):
    scores = spark.createDataFrame([(D, "A", k, p, True) for k, p in
                                    [("a", 0.1), ("b", 0.3), ("c", 0.2), ("d", 0.3)]], SCORES)
    none = spark.createDataFrame([], "identity_id_hash string")
    got = scores.transform(with_contact_status(none, None, 0.0, "s"))
    ranks = {r["identity_id_hash"]: r["audience_rank"] for r in got.collect()}
    assert ranks == {"b": 1, "d": 2, "c": 3, "a": 4}  # ties by key


def test_control_group_is_a_stable_share_per_client_and_month(spark):
    clients = spark.range(4000).select(F.col("id").cast("string").alias("identity_id_hash"))
    april = clients.withColumn("as_of_date", F.lit(D))
    may = clients.withColumn("as_of_date", F.lit(dt.date(2026, 5, 1)))
    control = in_control_group(0.1, "salt")
    april_keys = set(keys(april.filter(control).select("identity_id_hash")))
    assert 320 <= len(april_keys) <= 480                       # 10 % of 4,000, +/- 4 sigma
    assert april_keys == set(keys(april.filter(control).select("identity_id_hash")))
    may_keys = set(keys(may.filter(control).select("identity_id_hash")))
    assert len(april_keys & may_keys) < len(april_keys) / 3   # drawn again each month
    # every product of a control client is held out, and nobody else is
    scores = april.select("as_of_date", F.lit("A").alias("product_code"), "identity_id_hash",
                          F.lit(0.5).alias("probability"), F.lit(True).alias("eligible"))
    none = spark.createDataFrame([], "identity_id_hash string")
    statused = scores.transform(with_contact_status(none, None, 0.1, "salt"))
    assert set(keys(statused.filter("contact_status = 'control'").select("identity_id_hash"))) \
        == april_keys


def test_eligibility_rule_null_means_not_eligible(spark):
    df = spark.createDataFrame([("a", "18-25"), ("b", "36-45"), ("c", None)],
                               "identity_id_hash string, age_band string")
    got = df.select("identity_id_hash",
                    eligibility(Product("M", eligible="age_band <> '18-25'")).alias("ok"),
                    eligibility(Product("S")).alias("any"))
    assert [tuple(r) for r in got.orderBy("identity_id_hash").collect()] == [
        ("a", False, True), ("b", True, True), ("c", False, True)]


def test_eligibility_rules_are_checked_against_the_features(spark):
    features = spark.createDataFrame([("a", "18-25", 5)],
                                     "identity_id_hash string, age_band string, tenure int")
    check_eligibility_rules(features, {"M": Product("M", eligible="tenure >= 6"),
                                       "S": Product("S")}, "bank.yaml")
    with pytest.raises(ConfigError, match=r"^bank\.yaml: products\.M\.eligible: 'tenur >= 6' is "
                                          r"not an expression over gold\.client_features"):
        check_eligibility_rules(features, {"M": Product("M", eligible="tenur >= 6")}, "bank.yaml")
    with pytest.raises(ConfigError, match=r"products\.M\.eligible: 'tenure \+ 1' is int, not "
                                          r"boolean"):
        check_eligibility_rules(features, {"M": Product("M", eligible="tenure + 1")}, "bank.yaml")
