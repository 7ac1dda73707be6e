"""Silver: unified event stream, sessionization, identity map and stitching."""
from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from segrec_spark.features.settings import FeatureSettings
from segrec_spark.features.silver import identity_map, identity_maps_at, stitch_identities
from tests.features.conftest import d, silver_events, ts

SESSION_VIEW = "event_id string, session_id string, session_start_ts timestamp"


def _sessions(df):
    return df.select("event_id", "session_id", "session_start_ts")


def test_unified_stream_maps_every_source_and_drops_push_sent(spark):
    events = silver_events(
        spark,
        web=[dict(event_id="w1", user_id="u1", event_ts="2026-02-01 10:00:00",
                  page_category="MORTGAGE", event_type="calculator", time_on_page_sec=12.5)],
        app_push=[dict(app_event_id="p1", identity_id_hash="c2", event_ts="2026-02-01 11:00:00",
                       event_type="push_sent"),
                  dict(app_event_id="p2", identity_id_hash="c2", event_ts="2026-02-01 11:05:00",
                       event_type="push_opened", product_area="SAVINGS", duration_sec=3.0)],
        ib=[dict(ib_event_id="i1", identity_id_hash="c3", event_ts="2026-02-02 09:00:00",
                 event_type="payment", amount=10.0)],
    ).drop("session_id", "session_start_ts")
    expected = spark.createDataFrame(
        [(None, "u1", "w1", ts("2026-02-01 10:00:00"), "web", "calculator", "MORTGAGE", "web",
          12.5),
         ("c2", None, "p2", ts("2026-02-01 11:05:00"), "app", "push_opened", "SAVINGS",
          "app_push", 3.0),
         ("c3", None, "i1", ts("2026-02-02 09:00:00"), "ib", "payment", "GENERAL", "ib", None)],
        "identity_id_hash string, user_id string, event_id string, event_ts timestamp, "
        "channel string, event_type string, product_area string, source string, "
        "duration_sec double",
    ).withColumn("event_date", F.to_date("event_ts"))
    assert_df_equality(events, expected.select(*events.columns), ignore_row_order=True,
                       ignore_nullable=True)


def test_sessions_split_after_the_gap_and_at_midnight(spark):
    rows = [dict(app_event_id=i, identity_id_hash=key, event_ts=t) for i, key, t in [
        ("e1", "a", "2026-02-01 10:00:00"),
        ("e2", "a", "2026-02-01 10:20:00"),
        ("e3", "a", "2026-02-01 10:50:00"),  # exactly 30 minutes: same session
        ("e4", "a", "2026-02-01 11:20:01"),  # 30 min 1 s: new session
        ("e5", "a", "2026-02-01 23:50:00"),
        ("e6", "a", "2026-02-02 00:05:00"),  # after midnight: new session
        ("e7", "b", "2026-02-01 10:10:00"),  # another client: its own session
    ]]
    events = silver_events(spark, app_screens=rows)
    expected = spark.createDataFrame([
        ("e1", "app:a:20260201T100000", ts("2026-02-01 10:00:00")),
        ("e2", "app:a:20260201T100000", ts("2026-02-01 10:00:00")),
        ("e3", "app:a:20260201T100000", ts("2026-02-01 10:00:00")),
        ("e4", "app:a:20260201T112001", ts("2026-02-01 11:20:01")),
        ("e5", "app:a:20260201T235000", ts("2026-02-01 23:50:00")),
        ("e6", "app:a:20260202T000500", ts("2026-02-02 00:05:00")),
        ("e7", "app:b:20260201T101000", ts("2026-02-01 10:10:00")),
    ], SESSION_VIEW)
    assert_df_equality(_sessions(events), expected, ignore_row_order=True, ignore_nullable=True)


def test_session_gap_is_configurable(spark):
    rows = [dict(ib_event_id=i, identity_id_hash="a", event_ts=t) for i, t in [
        ("e1", "2026-02-01 10:00:00"), ("e2", "2026-02-01 10:08:00"),
        ("e3", "2026-02-01 10:20:00")]]
    events = silver_events(spark, FeatureSettings(session_gap_minutes=10), ib=rows)
    expected = spark.createDataFrame([
        ("e1", "ib:a:20260201T100000", ts("2026-02-01 10:00:00")),
        ("e2", "ib:a:20260201T100000", ts("2026-02-01 10:00:00")),
        ("e3", "ib:a:20260201T102000", ts("2026-02-01 10:20:00")),
    ], SESSION_VIEW)
    assert_df_equality(_sessions(events), expected, ignore_row_order=True, ignore_nullable=True)


def test_web_session_follows_the_cookie_across_login(spark):
    events = silver_events(spark, web=[
        dict(event_id="w1", user_id="u1", event_ts="2026-02-01 10:00:00"),
        dict(event_id="w2", user_id="u1", identity_id_hash="c1", event_ts="2026-02-01 10:05:00"),
        dict(event_id="w3", user_id="u2", event_ts="2026-02-01 10:06:00"),
    ])
    expected = spark.createDataFrame([
        ("w1", "web:u1:20260201T100000", ts("2026-02-01 10:00:00")),
        ("w2", "web:u1:20260201T100000", ts("2026-02-01 10:00:00")),
        ("w3", "web:u2:20260201T100600", ts("2026-02-01 10:06:00")),
    ], SESSION_VIEW)
    assert_df_equality(_sessions(events), expected, ignore_row_order=True, ignore_nullable=True)


SHARED_COOKIE = [  # u1 logged in twice as c1, later once as c2; u2 only as c3
    dict(user_id="u1", identity_id_hash="c1", event_ts="2026-01-05 10:00:00"),
    dict(user_id="u1", identity_id_hash="c1", event_ts="2026-01-06 10:00:00"),
    dict(user_id="u1", identity_id_hash="c2", event_ts="2026-01-10 10:00:00"),
    dict(user_id="u1", event_ts="2026-01-11 10:00:00"),  # anonymous: not a link
    dict(user_id="u2", identity_id_hash="c3", event_ts="2026-01-07 09:00:00"),
]


@pytest.mark.parametrize(("resolution", "u1_client", "first", "last"), [
    ("most_recent", "c2", "2026-01-10 10:00:00", "2026-01-10 10:00:00"),
    ("most_frequent", "c1", "2026-01-05 10:00:00", "2026-01-06 10:00:00"),
])
def test_identity_map_resolves_a_shared_cookie(spark, resolution, u1_client, first, last):
    events = silver_events(spark, web=SHARED_COOKIE)
    expected = spark.createDataFrame([
        ("u1", u1_client, ts(first), ts(last)),
        ("u2", "c3", ts("2026-01-07 09:00:00"), ts("2026-01-07 09:00:00")),
    ], "user_id string, identity_id_hash string, first_seen timestamp, last_seen timestamp")
    assert_df_equality(events.transform(identity_map(resolution)), expected,
                       ignore_row_order=True, ignore_nullable=True)


def test_stitching_attributes_earlier_anonymous_events_and_drops_unknown_cookies(spark):
    events = silver_events(
        spark,
        web=[dict(event_id="w1", user_id="u1", event_ts="2026-01-01 08:00:00"),  # before login
             dict(event_id="w2", user_id="u1", identity_id_hash="c1",
                  event_ts="2026-01-03 08:00:00"),
             dict(event_id="w3", user_id="u9", event_ts="2026-01-02 08:00:00")],  # never logs in
        app_logins=[dict(app_event_id="a1", identity_id_hash="c2",
                         event_ts="2026-01-02 08:00:00")],
    )
    stitched = events.transform(stitch_identities(events.transform(identity_map())))
    expected = spark.createDataFrame([("w1", "c1"), ("w2", "c1"), ("a1", "c2")],
                                     "event_id string, identity_id_hash string")
    assert_df_equality(stitched.select("event_id", "identity_id_hash"), expected,
                       ignore_row_order=True, ignore_nullable=True)


def test_unknown_identity_resolution_is_rejected():
    with pytest.raises(ValueError, match="identity resolution: expected one of"):
        identity_map("loudest")


@pytest.mark.parametrize("resolution", ["most_recent", "most_frequent"])
def test_identity_maps_at_several_dates_are_each_dates_map_of_the_events_before_it(spark,
                                                                                  resolution):
    # u1 is c1's cookie until c2 logs in on it on 01-10 (and twice more on 01-11)
    events = silver_events(spark, web=[
        *SHARED_COOKIE,
        dict(user_id="u1", identity_id_hash="c2", event_ts="2026-01-11 10:00:00"),
        dict(user_id="u1", identity_id_hash="c2", event_ts="2026-01-11 11:00:00")])
    dates = [d("2026-01-06"), d("2026-01-08"), d("2026-01-11"), d("2026-01-12")]

    maps = identity_maps_at(events, dates, resolution)

    expected = None
    for as_of in dates:
        one = (events.filter(F.col("event_ts") < F.lit(as_of).cast("timestamp"))
               .transform(identity_map(resolution))
               .select(F.lit(as_of).cast("date").alias("as_of_date"), "*"))
        expected = one if expected is None else expected.unionByName(one)
    assert maps.columns == ["as_of_date", "user_id", "identity_id_hash", "first_seen",
                            "last_seen"]
    assert_df_equality(maps, expected, ignore_row_order=True, ignore_nullable=True)
    owners = {(r["as_of_date"].isoformat(), r["user_id"]): r["identity_id_hash"]
              for r in maps.collect()}
    assert owners[("2026-01-06", "u1")] == "c1"  # c2 not yet logged in on it
    assert ("2026-01-06", "u2") not in owners  # u2 first logs in on 01-07
    assert owners[("2026-01-12", "u1")] == "c2"  # latest and, by then, most frequent
