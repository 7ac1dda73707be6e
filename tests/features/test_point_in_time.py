"""Point in time: nothing at or after as_of_date changes its features; two dates agree."""
from __future__ import annotations

from chispa import assert_df_equality

from segrec_spark.features.client_features import client_features
from segrec_spark.features.settings import FeatureSettings
from tests.features.conftest import SYNTHETIC, bronze, d, silver_events

AS_OF = d("2026-03-01")
SETTINGS = FeatureSettings(windows=(7, 30))

PAST = dict(
    web=[dict(user_id="u1", identity_id_hash="c1", event_ts="2026-02-27 10:00:00",
              page_category="MORTGAGE"),
         dict(user_id="u7", event_ts="2026-02-20 10:00:00", page_category="SAVINGS"),  # anonymous
         dict(user_id="u1", identity_id_hash="c1", event_ts="2026-02-28 23:50:00")],
    app_screens=[dict(identity_id_hash="c2", event_ts="2026-02-25 08:00:00")],
)
FUTURE = dict(
    # at as_of exactly, continuing c1's late-night activity, and after it
    web=[dict(user_id="u1", identity_id_hash="c1", event_ts="2026-03-01 00:00:00"),
         dict(user_id="u1", identity_id_hash="c1", event_ts="2026-03-03 10:00:00",
              page_category="MORTGAGE"),
         # cookie u7 logs in as c2 only after as_of: its earlier anonymous event stays unknown
         dict(user_id="u7", identity_id_hash="c2", event_ts="2026-03-02 10:00:00")],
    app_screens=[dict(identity_id_hash="c2", event_ts="2026-03-01 08:00:00"),
                 dict(identity_id_hash="c9", event_ts="2026-03-04 08:00:00")],  # new client
    ib=[dict(identity_id_hash="c1", event_ts="2026-03-10 08:00:00")],
)
CAMP_PAST = [dict(identity_id_hash="c1", contact_ts="2026-02-01 10:00:00", outcome="OPENED",
                  product_code="MORTGAGE")]
CAMP_FUTURE = [dict(identity_id_hash="c1", contact_ts="2026-03-01 00:00:00",
                    outcome="CONVERTED", product_code="MORTGAGE")]
PRODEJE_PAST = [dict(identity_id_hash="c2", product_code="SAVINGS", signed_date="2026-02-10")]
PRODEJE_FUTURE = [dict(identity_id_hash="c1", product_code="MORTGAGE", signed_date="2026-03-01"),
                  dict(identity_id_hash="c2", product_code="PENSION", signed_date="2026-03-20")]


def _features(spark, as_of, with_future: bool):
    def rows(source):
        return PAST.get(source, []) + (FUTURE.get(source, []) if with_future else [])
    events = silver_events(spark, SETTINGS, **{s: rows(s) for s in ("web", "app_screens", "ib")})
    camp = bronze(spark, "camp", CAMP_PAST + (CAMP_FUTURE if with_future else []))
    prodeje = bronze(spark, "prodeje", PRODEJE_PAST + (PRODEJE_FUTURE if with_future else []))
    return client_features(events, camp, prodeje, None, as_of, SETTINGS, SYNTHETIC)


def test_events_at_or_after_as_of_never_change_features(spark):
    before = _features(spark, AS_OF, with_future=False)
    after = _features(spark, AS_OF, with_future=True)
    assert_df_equality(after, before, ignore_row_order=True)


def test_features_of_two_as_of_dates_are_consistent(spark):
    # Without new activity between the dates, a week later the 7-day counts have aged out,
    # the 30-day ones remain, recencies grow by exactly 7 days and the history is unchanged.
    columns = ["as_of_date", "identity_id_hash", "web_events_7d", "web_events_30d",
               "web_recency_days", "app_events_7d", "app_events_30d", "app_recency_days",
               "agr_savings_count", "agr_savings_recency_days", "holds_savings"]
    both = (_features(spark, AS_OF, with_future=False)
            .unionByName(_features(spark, d("2026-03-08"), with_future=False))
            .select(*columns))
    expected = spark.createDataFrame([
        (AS_OF, "c1", 2, 2, 1, 0, 0, 31, 0, 999, 0),
        (AS_OF, "c2", 0, 0, 31, 1, 1, 4, 1, 19, 1),
        (d("2026-03-08"), "c1", 0, 2, 8, 0, 0, 31, 0, 999, 0),
        (d("2026-03-08"), "c2", 0, 0, 31, 0, 1, 11, 1, 26, 1),
    ], "as_of_date date, identity_id_hash string, a int, b int, c int, e int, f int, g int, "
       "h int, i int, j int").toDF(*columns)
    assert_df_equality(both, expected, ignore_row_order=True, ignore_nullable=True)


CLIENTS_PAST = [dict(identity_id_hash="c2", age_band="26-35", income_band="MID", region="PRG",
                     tenure_months=10, products_held=["SAVINGS"], snapshot_date="2026-02-01")]
CLIENTS_FUTURE = [
    # a snapshot on as_of and one in the label window list a product bought in the window and
    # later attribute values: neither may reach the features at as_of
    dict(identity_id_hash="c2", age_band="36-45", income_band="HIGH", region="OLK",
         tenure_months=11, products_held=["SAVINGS", "PENSION"], snapshot_date="2026-03-01"),
    dict(identity_id_hash="c2", age_band="36-45", income_band="HIGH", region="OLK",
         tenure_months=12, products_held=["SAVINGS", "PENSION", "MORTGAGE"],
         snapshot_date="2026-03-20"),
    # a client whose first snapshot is after as_of: not in the features through it
    dict(identity_id_hash="c8", age_band="18-25", snapshot_date="2026-03-05",
         products_held=["CREDIT_CARD"]),
]


def test_a_product_bought_in_the_label_window_never_shows_in_the_features(spark):
    events = silver_events(spark, SETTINGS, app_screens=PAST["app_screens"])
    prodeje = bronze(spark, "prodeje", PRODEJE_PAST + PRODEJE_FUTURE)  # c2 PENSION on 03-20

    def features(clients_rows):
        return client_features(events, bronze(spark, "camp", []), prodeje,
                               bronze(spark, "clients", clients_rows), AS_OF, SETTINGS,
                               SYNTHETIC)

    before = features(CLIENTS_PAST)
    after = features(CLIENTS_PAST + CLIENTS_FUTURE)
    assert_df_equality(after, before, ignore_row_order=True)
    columns = ["identity_id_hash", "holds_savings", "holds_pension", "holds_mortgage",
               "agr_pension_count", "age_band", "region", "tenure_months"]
    expected = spark.createDataFrame(
        [("c2", 1, 0, 0, 0, "26-35", "PRG", 10.0)],
        "a string, b int, c int, e int, f int, g string, h string, i double").toDF(*columns)
    assert_df_equality(after.select(*columns), expected, ignore_nullable=True)
