"""Gold client_features: each feature family on one hand-written data set (as_of 2026-03-01).

The features are computed once per module; each test compares one family with values worked out
by hand in the comments.
"""
from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from segrec_spark.features.client_features import (
    client_features,
    client_features_at,
    session_activity_at,
    tag_dates,
)
from segrec_spark.features.settings import FeatureSettings
from tests.features.conftest import SYNTHETIC, bronze, d, silver_events, ts

AS_OF = d("2026-03-01")  # 7-day window: [02-22, 03-01); 30-day window: [01-30, 03-01)
SETTINGS = FeatureSettings(windows=(7, 30), campaign_outcome_lag_days=7)

WEB = [
    # c1 browses anonymously on cookie u1, then logs in: one session 10:00-10:10 (+30 s last page)
    dict(user_id="u1", event_ts="2026-02-27 10:00:00", page_category="MORTGAGE",
         time_on_page_sec=20.0),
    dict(user_id="u1", identity_id_hash="c1", event_ts="2026-02-27 10:10:00",
         time_on_page_sec=30.0),
    # a second, single-event session 17 days earlier (0 s: no time on page)
    dict(user_id="u1", identity_id_hash="c1", event_ts="2026-02-10 09:00:00",
         page_category="MORTGAGE"),
    dict(user_id="u1", identity_id_hash="c1", event_ts="2026-03-01 00:00:00"),  # at as_of: out
    dict(user_id="u6", identity_id_hash="c6", event_ts="2026-03-02 08:00:00"),  # future client
]
APP = [  # c2: one app session 08:00-08:10 (+30 s) in SAVINGS
    dict(identity_id_hash="c2", event_ts="2026-02-28 08:00:00", product_area="SAVINGS",
         duration_sec=60.0),
    dict(identity_id_hash="c2", event_ts="2026-02-28 08:10:00", product_area="SAVINGS",
         duration_sec=30.0),
]
PUSH = [dict(identity_id_hash="c2", event_ts="2026-02-28 09:00:00", event_type="push_sent")]
IB = [
    dict(identity_id_hash="c2", event_ts="2026-02-15 12:00:00", event_type="product_view",
         product_area="SAVINGS"),
    dict(identity_id_hash="c2", event_ts="2026-01-20 12:00:00"),  # older than 30 days
]
CAMP = [  # c4; outcomes count only for contacts before 02-22 (7-day outcome lag)
    dict(identity_id_hash="c4", contact_ts="2026-02-26 10:00:00", outcome="OPENED",
         product_code="MORTGAGE"),
    dict(identity_id_hash="c4", contact_ts="2026-02-10 10:00:00", outcome="CONVERTED",
         product_code="MORTGAGE"),
    dict(identity_id_hash="c4", contact_ts="2026-02-05 10:00:00", outcome="SENT",
         product_code="SAVINGS"),
    dict(identity_id_hash="c4", contact_ts="2026-01-10 10:00:00", outcome="CLICKED",
         product_code="SAVINGS"),
    dict(identity_id_hash="c4", contact_ts="2026-03-02 10:00:00", outcome="CONVERTED",
         product_code="SAVINGS"),  # future
]
PRODEJE = [  # c5
    dict(identity_id_hash="c5", product_code="SAVINGS", signed_date="2026-01-15", amount=100.0),
    dict(identity_id_hash="c5", product_code="SAVINGS", signed_date="2026-02-15", amount=50.0,
         status="ACTIVATED"),
    dict(identity_id_hash="c5", product_code="MORTGAGE", signed_date="2026-02-01",
         status="CANCELLED", amount=900.0),
    dict(identity_id_hash="c5", product_code="CREDIT_CARD", signed_date="2026-03-05"),  # future
]
CLIENTS = [
    dict(identity_id_hash="c3", age_band="26-35", region="PRG", income_band="MID",
         tenure_months=12, products_held=["PENSION"], snapshot_date="2026-01-01"),
    # c1's only snapshot is taken after as_of: neither its attributes nor its holdings are used
    dict(identity_id_hash="c1", age_band="46-55", region="OLK", income_band="HIGH",
         tenure_months=5, products_held=["MORTGAGE"], snapshot_date="2026-03-15"),
]


@pytest.fixture(scope="module")
def features(spark):
    events = silver_events(spark, SETTINGS, web=WEB, app_screens=APP, app_push=PUSH, ib=IB)
    df = client_features(events, bronze(spark, "camp", CAMP), bronze(spark, "prodeje", PRODEJE),
                         bronze(spark, "clients", CLIENTS), AS_OF, SETTINGS, SYNTHETIC)
    return spark.createDataFrame(df.collect(), df.schema)  # tiny: computed once per module


def _family(features, columns, rows, schema, spark):
    actual = features.select("identity_id_hash", *columns)
    # schema gives the types; the names are the feature columns
    expected = (spark.createDataFrame(rows, f"identity_id_hash string, {schema}")
                .toDF("identity_id_hash", *columns))
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_one_row_per_known_client_before_as_of(features, spark):
    # c1..c3 from events/clients, c4 from camp, c5 from prodeje (a cancelled one counts as seen);
    # c6 only appears after as_of.
    _family(features, ["as_of_date"], [(c, AS_OF) for c in ("c1", "c2", "c3", "c4", "c5")],
            "as_of_date date", spark)


def test_web_features_include_stitched_anonymous_events(features, spark):
    cols = ["web_events_7d", "web_active_days_7d", "web_sessions_7d", "web_avg_session_sec_7d",
            "web_events_30d", "web_active_days_30d", "web_sessions_30d",
            "web_avg_session_sec_30d", "web_recency_days"]
    zeros = (0, 0, 0, 0.0, 0, 0, 0, 0.0, 31)  # recency sentinel: longest window + 1
    _family(features, cols, [
        ("c1", 2, 1, 1, 630.0, 3, 2, 2, 315.0, 2),
        *((c, *zeros) for c in ("c2", "c3", "c4", "c5")),
    ], "a int, b int, c int, e double, f int, g int, h int, i double, j int", spark)


def test_app_and_ib_features(features, spark):
    cols = ["app_events_7d", "app_sessions_7d", "app_avg_session_sec_7d", "app_recency_days",
            "ib_events_7d", "ib_events_30d", "ib_active_days_30d", "ib_sessions_30d",
            "ib_avg_session_sec_30d", "ib_recency_days"]
    zeros = (0, 0, 0.0, 31, 0, 0, 0, 0, 0.0, 31)
    _family(features, cols, [
        ("c2", 2, 1, 630.0, 1, 0, 1, 1, 1, 0.0, 14),  # push_sent is not activity
        *((c, *zeros) for c in ("c1", "c3", "c4", "c5")),
    ], "a int, b int, c double, e int, f int, g int, h int, i int, j double, k int", spark)


def test_product_interest_counts_every_channel(features, spark):
    cols = ["interest_mortgage_7d", "interest_mortgage_30d", "interest_savings_7d",
            "interest_savings_30d", "interest_pension_30d"]
    _family(features, cols, [
        ("c1", 1, 2, 0, 0, 0),
        ("c2", 0, 0, 2, 3, 0),  # 2 app screens + 1 ib product view
        *((c, 0, 0, 0, 0, 0) for c in ("c3", "c4", "c5")),
    ], "a int, b int, c int, e int, f int", spark)


def test_campaign_features_hide_outcomes_not_yet_observable(features, spark):
    cols = ["camp_contacts_7d", "camp_opens_7d", "camp_engagement_rate_7d", "camp_contacts_30d",
            "camp_opens_30d", "camp_clicks_30d", "camp_conversions_30d",
            "camp_engagement_rate_30d"]
    _family(features, cols, [
        # 7d: the 02-26 contact is too young for its outcome; 30d: 02-10 CONVERTED counts as
        # open, click and conversion, 02-05 SENT as contact only -> rate 1/2
        ("c4", 1, 0, 0.0, 3, 1, 1, 1, 0.5),
        *((c, 0, 0, 0.0, 0, 0, 0, 0, 0.0) for c in ("c1", "c2", "c3", "c5")),
    ], "a int, b int, c double, e int, f int, g int, h int, i double", spark)


def test_agreement_history_and_holdings(features, spark):
    cols = ["agr_savings_count", "agr_savings_recency_days", "agr_savings_amount",
            "agr_mortgage_count", "agr_mortgage_recency_days", "agr_mortgage_amount",
            "agr_credit_card_count", "holds_savings", "holds_mortgage", "holds_credit_card",
            "holds_pension"]
    _family(features, cols, [
        ("c5", 2, 14, 150.0, 0, 999, 0.0, 0, 1, 0, 0, 0),  # cancelled and future ignored
        ("c3", 0, 999, 0.0, 0, 999, 0.0, 0, 0, 0, 0, 1),  # from the 01-01 snapshot
        ("c1", 0, 999, 0.0, 0, 999, 0.0, 0, 0, 0, 0, 0),  # snapshot after as_of: not used
        *((c, 0, 999, 0.0, 0, 999, 0.0, 0, 0, 0, 0, 0) for c in ("c2", "c4")),
    ], "a int, b int, c double, e int, f int, g double, h int, i int, j int, k int, l int",
        spark)


def test_attributes_and_activity_flag(features, spark):
    cols = ["has_digital_activity", "age_band", "income_band", "region", "tenure_months"]
    _family(features, cols, [
        ("c1", 1, "UNKNOWN", "UNKNOWN", "UNKNOWN", None),  # its snapshot is after as_of
        ("c2", 1, "UNKNOWN", "UNKNOWN", "UNKNOWN", None),
        ("c3", 0, "26-35", "MID", "PRG", 12.0),  # as in the 01-01 snapshot (no tenure shift)
        ("c4", 0, "UNKNOWN", "UNKNOWN", "UNKNOWN", None),
        ("c5", 0, "UNKNOWN", "UNKNOWN", "UNKNOWN", None),
    ], "a int, b string, c string, e string, f double", spark)


def test_behavioural_features_are_never_null_attributes_may_be(features):
    null_counts = features.selectExpr(
        *(f"count_if({c} IS NULL) AS {c}" for c in features.columns)).first().asDict()
    # only the numeric attribute is unknown (NULL, imputed by the model) for clients without
    # a usable snapshot; categorical attributes are UNKNOWN
    assert {c: n for c, n in null_counts.items() if n} == {"tenure_months": 4}


def test_several_dates_in_one_plan_are_the_dates_computed_one_by_one(spark):
    # 03-03 sees c6's web event and c5's credit card; 02-15 loses c2's and c1's later events
    events = silver_events(spark, SETTINGS, web=WEB, app_screens=APP, app_push=PUSH, ib=IB)
    inputs = (events, bronze(spark, "camp", CAMP), bronze(spark, "prodeje", PRODEJE),
              bronze(spark, "clients", CLIENTS))
    dates = [d("2026-02-15"), AS_OF, d("2026-03-03")]
    stacked = client_features_at(*inputs, dates, SETTINGS, SYNTHETIC)
    one_by_one = [client_features(*inputs, as_of, SETTINGS, SYNTHETIC) for as_of in dates]
    expected = one_by_one[0].unionByName(one_by_one[1]).unionByName(one_by_one[2])
    assert stacked.columns == expected.columns
    assert_df_equality(stacked, expected, ignore_row_order=True, ignore_nullable=True)
    assert stacked.where("as_of_date = DATE'2026-03-03' AND identity_id_hash = 'c6'").count() == 1


def test_each_fact_is_tagged_with_every_date_it_counts_for(spark):
    facts = spark.createDataFrame([("a", d("2026-01-01")), ("b", d("2026-01-25")),
                                   ("c", d("2026-02-01")), ("e", d("2026-02-20")),
                                   ("f", d("2026-02-10"))],
                                  "id string, day date")
    dates = [d("2026-02-01"), d("2026-02-15"), d("2026-03-01")]

    windowed = tag_dates(facts, dates, F.col("day"), window=20)
    history = tag_dates(facts, dates, F.col("day"))

    def tags(df):
        return sorted((r["id"], r["as_of_date"].isoformat()) for r in df.collect())
    # [as_of - 20 days, as_of): 01-25 counts for 02-01 only (02-15's window starts 01-26); a
    # fact on the date counts from the next one; 02-10 for two dates; 01-01 for none
    assert tags(windowed) == [("b", "2026-02-01"), ("c", "2026-02-15"), ("e", "2026-03-01"),
                              ("f", "2026-02-15"), ("f", "2026-03-01")]
    # no window: every later date; nothing for a fact on or after the last date
    assert tags(history) == [("a", "2026-02-01"), ("a", "2026-02-15"), ("a", "2026-03-01"),
                             ("b", "2026-02-01"), ("b", "2026-02-15"), ("b", "2026-03-01"),
                             ("c", "2026-02-15"), ("c", "2026-03-01"), ("e", "2026-03-01"),
                             ("f", "2026-02-15"), ("f", "2026-03-01")]


def test_a_tie_on_time_and_event_id_across_sources_never_depends_on_row_order(spark):
    # Two app sources may number their events alike: the same id in the same second of one
    # session. The last event's duration is then the one of the source that sorts last
    # (app_screens after app_actions), whichever row Spark meets first.
    columns = ("identity_id_hash string, user_id string, event_id string, event_ts timestamp, "
               "event_date date, channel string, event_type string, product_area string, "
               "source string, duration_sec double, session_id string, session_start_ts timestamp")
    at = ts("2026-02-20 10:00:00")
    actions = ("c1", None, "e7", at, d("2026-02-20"), "app", "payment", "SAVINGS", "app_actions",
               10.0, "app:c1:20260220T100000", at)
    screens = ("c1", None, "e7", at, d("2026-02-20"), "app", "screen_view", "SAVINGS",
               "app_screens", 99.0, "app:c1:20260220T100000", at)
    # A re-delivered event without an id: the known duration wins over the missing one.
    unknown = ("c2", None, None, at, d("2026-02-20"), "app", "payment", "SAVINGS",
               "app_actions", None, "app:c2:20260220T100000", at)
    known = unknown[:9] + (5.0,) + unknown[10:]
    for rows, expected in (([actions, screens], 99.0), ([screens, actions], 99.0),
                           ([unknown, known], 5.0), ([known, unknown], 5.0)):
        events = spark.createDataFrame(rows, columns).coalesce(1)
        activity = session_activity_at(events, [AS_OF], max_window=30)
        assert [r["last_duration"] for r in activity.collect()] == [expected]
