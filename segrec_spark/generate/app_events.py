"""Mobile-app event streams of the synthetic bank: logins, screens, actions, pushes."""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segrec_spark.generate.bank import PRODUCTS
from segrec_spark.generate.events import (
    Period,
    _client_ref,
    _count,
    _explode_index,
    _seq_id,
    by_area,
    delivery,
    event_area,
    session_events,
    sessions,
)
from segrec_spark.generate.population import need_column
from segrec_spark.generate.randomness import exponential, sigmoid, uniform, with_pick
from segrec_spark.generate.truth import intent, month_index

# --- app --------------------------------------------------------------------------------------

APP_SCREENS_EXTRA = 0.2
APP_ACTIONS_MEAN = 1.2
PUSH_OPEN_BASE = -0.8


def _app_frame(event_id: Column, event_type: Column, screen_name: Column, area: Column,
               duration: Column, ts: Column) -> list[Column]:
    return [
        event_id.alias("app_event_id"),
        F.col("identity_id_hash"),
        ts.alias("event_ts"),
        event_type.alias("event_type"),
        screen_name.alias("screen_name"),
        area.alias("product_area"),
        F.col("os"),
        duration.alias("duration_sec"),
        F.col("client_id"),
        delivery(ts).alias("_delivery"),
    ]


def _with_os(seed: int, df: DataFrame) -> DataFrame:
    ios = (uniform(seed, "os", F.col("client_id"))
           < sigmoid(F.lit(-0.3) + F.lit(0.6) * F.col("income_z")))
    return df.select("*", F.when(ios, "ios").otherwise("android").alias("os"))


def app_sessions(seed: int, period: Period):
    def transform(clients: DataFrame) -> DataFrame:
        return _with_os(seed, clients).transform(sessions(seed, "app", "app_rate", period))

    return transform


def app_logins(seed: int, period: Period):
    """Factory: clients -> app_logins: one login per session, ~5% preceded by a failed one."""

    def transform(clients: DataFrame) -> DataFrame:
        s = clients.transform(app_sessions(seed, period))
        failed_first = uniform(seed, "login_failed", F.col("session_key")) < 0.05
        attempts = s.select("*", F.explode(F.when(failed_first, F.array(F.lit(0), F.lit(1)))
                                           .otherwise(F.array(F.lit(1)))).alias("attempt"))
        ts = F.timestamp_seconds(F.unix_timestamp("session_ts") - (1 - F.col("attempt")) * 30)
        duration = F.round(
            F.lit(1.0) + F.lit(4.0) * exponential(seed, "login_dur", F.col("session_key")), 1)
        return attempts.select(*_app_frame(
            _seq_id("L", _client_ref(F.col("client_id")), F.col("session_no"), F.col("attempt")),
            F.when(F.col("attempt") == 1, "login").otherwise("login_failed"),
            F.lit(None).cast("string"), F.lit("GENERAL"), duration, ts))

    return transform


def app_screens(seed: int, period: Period):
    """Factory: clients -> app_screens: screen views about the session's topic (or general)."""

    def transform(clients: DataFrame) -> DataFrame:
        ev = (clients.transform(app_sessions(seed, period))
              .transform(session_events(seed, APP_SCREENS_EXTRA)))
        area = event_area(seed, 0.75)
        typed = (ev.select("*", area.alias("area"))
                 .transform(with_pick("kind", uniform(seed, "screen_kind", F.col("event_key")),
                                      [("overview", 3.0), ("detail", 2.0), ("offer", 1.0)])))
        screen = F.concat(F.lower(F.col("area")), F.lit("_"), F.col("kind"))
        duration = F.round(
            F.lit(2.0) + F.lit(25.0) * exponential(seed, "screen_dur", F.col("event_key")), 1)
        return typed.select(*_app_frame(
            _seq_id("S", _client_ref(F.col("client_id")), F.col("session_no"), F.col("event_no")),
            F.lit("screen_view"), screen, F.col("area"), duration, F.col("event_ts")))

    return transform


def app_actions(seed: int, period: Period):
    """Factory: clients -> app_actions: payments/transfers, product views, calculators, applies."""

    def transform(clients: DataFrame) -> DataFrame:
        s = clients.transform(app_sessions(seed, period))
        n = _count(F.lit(APP_ACTIONS_MEAN), seed, "actions", F.col("session_key"))
        rows = _explode_index(s, n, "event_no")
        key = F.concat_ws(":", F.col("session_key"), F.lit("a"), F.col("event_no").cast("string"))
        with_key = rows.select("*", key.alias("event_key"),
                               F.timestamp_seconds(F.unix_timestamp("session_ts")
                                                   + F.col("event_no") * 50)
                               .alias("event_ts"))
        on_topic = ((F.col("topic") != "GENERAL")
                    & (uniform(seed, "action_topic", F.col("event_key")) < 0.6))
        x = F.col("topic_intent")
        u = F.col("_u")
        product_action = (F.when(u < sigmoid(x - 3.0), "apply_start")
                          .when(u < sigmoid(x - 3.0) + sigmoid(x - 1.0) * 0.6, "calculator")
                          .otherwise("product_view"))
        general_action = F.when(u < 0.6, "payment").otherwise("transfer")
        typed = (with_key.select("*", on_topic.alias("on_topic"),
                                 uniform(seed, "action_type", F.col("event_key")).alias("_u"))
                 .select("*", F.when(F.col("on_topic"), product_action)
                         .otherwise(general_action).alias("action")))
        duration = F.round(
            F.lit(5.0) + F.lit(30.0) * exponential(seed, "action_dur", F.col("event_key")), 1)
        return typed.select(*_app_frame(
            _seq_id("A", _client_ref(F.col("client_id")), F.col("session_no"), F.col("event_no")),
            F.col("action"),
            F.lit(None).cast("string"),
            F.when(F.col("on_topic"), F.col("topic")).otherwise("GENERAL"),
            duration, F.col("event_ts")))

    return transform


def app_push(seed: int, period: Period):
    """Factory: clients -> app_push: push_sent messages, and push_opened for the opened ones.

    The bank pushes offers for products the client seems to need; opens rise with digital
    affinity and with the client's intent for the pushed product.
    """

    def transform(clients: DataFrame) -> DataFrame:
        cid = F.col("client_id")
        base = _with_os(seed, clients)
        n = _count(F.col("push_rate"), seed, "push_n", cid)
        rows = _explode_index(base, n, "push_no")
        key = F.concat_ws(":", F.lit("push"), cid.cast("string"), F.col("push_no").cast("string"))
        ts = period.timestamp(uniform(seed, "push_ts", key), margin_seconds=3600)
        with_key = rows.select("*", key.alias("session_key"), ts.alias("sent_ts"))
        target = F.least(month_index(F.col("sent_ts"), period.start), F.lit(period.months))
        weights: list[tuple[str, Column | float]] = [("GENERAL", 1.5)] + [
            (p, F.exp(F.lit(0.5) * F.col(need_column(p))) * 0.15) for p in PRODUCTS]
        with_area = (with_key.transform(with_pick("area",
                                                  uniform(seed, "push_area", F.col("session_key")),
                                                  weights))
                     .select("*", target.alias("target")))
        area_intent = by_area(F.col("area"), lambda p: intent(seed, p, F.col("target")), F.lit(0.0))
        opened = (uniform(seed, "push_open", F.col("session_key"))
                  < sigmoid(F.lit(PUSH_OPEN_BASE) + F.col("digital_z")
                            + F.lit(0.5) * F.col("area_intent")))
        steps = with_area.select("*", area_intent.alias("area_intent")).select(
            "*", F.explode(F.when(opened, F.array(F.lit(0), F.lit(1)))
                                                .otherwise(F.array(F.lit(0)))).alias("step"))
        # opened within the hour (the period leaves an hour free after every sent message)
        delay = F.least(F.floor(F.lit(30.0) + F.lit(600.0)
                                * exponential(seed, "push_delay", F.col("session_key"))),
                        F.lit(3500))
        ts_out = F.timestamp_seconds(F.unix_timestamp("sent_ts") + F.col("step") * delay)
        return steps.select(*_app_frame(
            _seq_id("P", _client_ref(cid), F.col("push_no"), F.col("step")),
            F.when(F.col("step") == 0, "push_sent").otherwise("push_opened"),
            F.lit(None).cast("string"), F.col("area"), F.lit(None).cast("double"), ts_out))

    return transform


