"""Digital events and campaign contacts, typed, in the landing columns of the synthetic bank's
contract.

Each event stream is built from client rows in two steps: ``sessions`` (a heavy-tailed number
of sessions per client, each at a uniform time of the period, about one product area - its
*topic*, chosen with weights that grow with the client's intent for that product in the month
~2 weeks ahead), then events inside each session (a few seconds to a minute apart). Calculator,
form and application events are more likely the higher the intent, so the weeks before a
purchase show more pages, screens and calculator use about the product bought.

All frames keep ``client_id`` and a ``_delivery`` column (YYYY-MM of the event) for the writer.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segrec_spark.generate.bank import PRODUCTS
from segrec_spark.generate.population import need_column
from segrec_spark.generate.randomness import exponential, hex_id, noise, sigmoid, uniform, with_pick
from segrec_spark.generate.truth import intent, month_index, month_start

TOPIC_SLOPE = 1.6  # how strongly intent tilts the choice of a session's product area
TOPIC_PRODUCT_WEIGHT = 0.05  # weight of each product area at intent 0 (GENERAL has 1)
TOPIC_LEAD_DAYS = 15  # sessions reflect the intent of the month this many days ahead


class Period:
    """The event period [start, start + months) in epoch seconds, for uniform timestamps."""

    def __init__(self, start: dt.date, months: int) -> None:
        self.start = start
        self.months = months
        self.end = month_start(start, months)
        epoch = dt.datetime(1970, 1, 1)
        self.start_epoch = int((dt.datetime.combine(start, dt.time()) - epoch).total_seconds())
        self.seconds = (self.end - start).days * 86400

    def timestamp(self, u: Column, margin_seconds: int = 0) -> Column:
        """A timestamp on a uniform day of the period, between 06:00 and 23:00 (the bank's
        customers sleep too); ``margin_seconds`` is kept free before 23:00 of the last day."""
        days = self.seconds // 86400
        day = F.floor(u * F.lit(days))
        within = F.floor((u * F.lit(days) - day) * F.lit(17 * 3600 - margin_seconds))
        return F.timestamp_seconds(F.lit(self.start_epoch) + day * 86400 + F.lit(6 * 3600) + within)


def delivery(ts: Column) -> Column:
    return F.date_format(ts, "yyyy-MM")


def _count(rate: Column, seed: int, purpose: str, key: Column) -> Column:
    """A heavy-ish tailed count with mean exactly ``rate``: floor(rate * Exp(1) + U(0, 1))."""
    return F.floor(rate * exponential(seed, purpose, key)
                   + uniform(seed, purpose + "_fraction", key)).cast("int")


def _explode_index(df: DataFrame, count: Column, name: str) -> DataFrame:
    """One row per 1..count (rows with count 0 disappear).

    No filter on the count: a filter would be pushed below the projection and recompute it.
    """
    empty = F.array().cast("array<int>")
    indexes = F.when(count > 0, F.sequence(F.lit(1), count)).otherwise(empty)
    return df.select("*", F.explode(indexes).alias(name))


def _intent_column(product: str) -> str:
    return f"_intent_{product.lower()}"


def with_intents(seed: int, target_month: Column):
    """Factory: adds the client's intent for every product in month ``target_month``."""

    def transform(df: DataFrame) -> DataFrame:
        return df.select("*", target_month.alias("_target"))\
            .select("*", *[intent(seed, p, F.col("_target")).alias(_intent_column(p))
                           for p in PRODUCTS])

    return transform


def by_area(area: Column, value_for, default: Column) -> Column:
    """value_for(product) for the product named by ``area``; ``default`` for GENERAL."""
    out = None
    for p in PRODUCTS:
        cond = area == F.lit(p)
        out = F.when(cond, value_for(p)) if out is None else out.when(cond, value_for(p))
    assert out is not None, "the catalogue has products"
    return out.otherwise(default)


def with_topic(seed: int, key: Column):
    """Factory: (rows with _intent_* columns) -> topic (a product area) and topic_intent."""
    weights: list[tuple[str, Column | float]] = [("GENERAL", 1.0)] + [
        (p, F.lit(TOPIC_PRODUCT_WEIGHT) * F.exp(F.lit(TOPIC_SLOPE) * F.col(_intent_column(p))))
        for p in PRODUCTS
    ]

    def transform(df: DataFrame) -> DataFrame:
        with_topic_ = df.transform(with_pick("topic", uniform(seed, "topic", key), weights))
        topic_intent = by_area(F.col("topic"), lambda p: F.col(_intent_column(p)), F.lit(-3.0))
        return with_topic_.select("*", topic_intent.alias("topic_intent"))

    return transform


def _drop_intents(df: DataFrame) -> DataFrame:
    return df.drop("_target", *[_intent_column(p) for p in PRODUCTS])


def sessions(seed: int, channel: str, rate_column: str, period: Period):
    """Factory: clients -> one row per session: session_no, session_ts, topic, topic_intent."""

    def transform(clients: DataFrame) -> DataFrame:
        cid = F.col("client_id")
        n = _count(F.col(rate_column), seed, f"{channel}_sessions", cid)
        rows = _explode_index(clients, n, "session_no")
        key = F.concat_ws(":", F.lit(channel), cid.cast("string"),
                          F.col("session_no").cast("string"))
        ts = period.timestamp(uniform(seed, "session_ts", F.col("session_key")),
                              margin_seconds=3600)
        with_ts = rows.select("*", key.alias("session_key")).select("*", ts.alias("session_ts"))
        target = F.least(month_index(F.date_add(F.to_date("session_ts"), TOPIC_LEAD_DAYS),
                                     period.start),
                         F.lit(period.months))
        return (with_ts.transform(with_intents(seed, target))
                .transform(with_topic(seed, F.col("session_key")))
                .transform(_drop_intents))

    return transform


def session_events(seed: int, extra_mean: float, name: str = "event_no"):
    """Factory: sessions -> events: 1 + round(extra_mean * Exp) per session, ~45 s apart."""

    def transform(df: DataFrame) -> DataFrame:
        n = F.lit(1) + _count(F.lit(extra_mean), seed, "events", F.col("session_key"))
        rows = _explode_index(df, n, name)
        key = F.concat_ws(":", F.col("session_key"), F.col(name).cast("string"))
        offset = ((F.col(name) - 1) * 45
                  + F.floor(uniform(seed, "event_gap", F.col("event_key")) * 40))
        return (rows.select("*", key.alias("event_key"))
                .select("*", F.timestamp_seconds(F.unix_timestamp("session_ts") + offset)
                        .alias("event_ts")))

    return transform


def event_area(seed: int, topic_share: float) -> Column:
    """The event's product area: the session topic with probability topic_share, else GENERAL."""
    on_topic = uniform(seed, "on_topic", F.col("event_key")) < F.lit(topic_share)
    return F.when(on_topic, F.col("topic")).otherwise(F.lit("GENERAL"))


def _slug(area: Column) -> Column:
    return F.lower(F.regexp_replace(area, "_", "-"))


def _client_ref(client_id: Column) -> Column:
    return F.lpad(client_id.cast("string"), 9, "0")


def _seq_id(prefix: str, client_ref: Column, *parts: Column) -> Column:
    """A readable unique id: prefix, zero-padded client id, then zero-padded sequence numbers."""
    return F.concat(F.lit(prefix), client_ref,
                    *[F.concat(F.lit("-"), F.lpad(p.cast("string"), 5, "0")) for p in parts])


# --- web --------------------------------------------------------------------------------------

def web_actors(seed: int, anonymous_visitors: float, n_clients: int, activity: float,
               partitions: int):
    """Factory: clients -> web actors: clients (with their cookie) plus anonymous cookies.

    Anonymous cookies get negative client ids, no key, average needs and ~2 sessions.
    """

    def transform(clients: DataFrame) -> DataFrame:
        spark = clients.sparkSession
        n_anon = int(round(anonymous_visitors * n_clients))
        known = clients.select(
            "client_id", "identity_id_hash", "digital_z", "web_rate",
            hex_id(seed, "cookie", F.col("client_id")).alias("cookie"),
            *[need_column(p) for p in PRODUCTS],
        )
        anon_ids = (spark.range(0, n_anon, 1, max(1, partitions))
                    .select((-F.col("id") - 1).alias("client_id")))
        anon = anon_ids.select(
            "client_id",
            F.lit(None).cast("string").alias("identity_id_hash"),
            noise(seed, "anon_digital", F.col("client_id")).alias("digital_z"),
            (F.lit(ANON_SESSIONS * activity)
             * F.exp(F.lit(0.5) * noise(seed, "anon_rate", F.col("client_id"))))
            .alias("web_rate"),
            hex_id(seed, "cookie", F.col("client_id")).alias("cookie"),
            *[(F.lit(0.8) * noise(seed, "anon_need", F.col("client_id"), p)).alias(need_column(p))
              for p in PRODUCTS],
        )
        return known.unionByName(anon)

    return transform


ANON_SESSIONS = 1.5
WEB_EVENTS_EXTRA = 2.5
LOGGED_IN_SHARE = 0.7  # sessions of a known client that are logged in (carry the key)


def web_events(seed: int, period: Period):
    """Factory: web actors -> typed web events (landing columns + client_id, _delivery)."""

    def transform(actors: DataFrame) -> DataFrame:
        ev = (actors.transform(sessions(seed, "web", "web_rate", period))
              .transform(session_events(seed, WEB_EVENTS_EXTRA)))
        key = F.col("event_key")
        area = F.col("area")
        x = F.col("topic_intent")
        is_product = area != F.lit("GENERAL")
        u_type = F.col("_u_type")
        event_type = (F.when(is_product & (u_type < sigmoid(x - 2.0) * 0.5), "calculator")
                      .when(is_product & (u_type > 1 - sigmoid(x - 4.0) * 0.5), "form_start")
                      .when(is_product & (uniform(seed, "web_submit", key) < sigmoid(x - 5.0)),
                            "form_submit")
                      .when(uniform(seed, "web_search", key) < 0.08, "search")
                      .otherwise("page_view"))
        suffix = (F.when(F.col("event_type") == "calculator", F.lit("calculator"))
                  .when(F.col("event_type").startswith("form"), F.lit("apply"))
                  .when(F.col("event_type") == "search", F.lit("search"))
                  .otherwise(F.col("page")))
        logged_in = (F.col("identity_id_hash").isNotNull()
                     & (uniform(seed, "logged_in", F.col("session_key")) < LOGGED_IN_SHARE))
        typed = (ev.select("*", event_area(seed, 0.7).alias("area"),
                           uniform(seed, "web_type", key).alias("_u_type"))
                 .select("*", event_type.alias("event_type"))
                 .transform(with_pick("page", uniform(seed, "web_page", key),
                                      [("overview", 3.0), ("rates", 1.0), ("faq", 1.0)]))
                 .transform(with_pick("device", uniform(seed, "device", F.col("session_key")),
                                      [("desktop", 1.0), ("mobile", F.exp(F.col("digital_z"))),
                                       ("tablet", 0.2)])))
        time_on_page = (
            F.when(uniform(seed, "web_top_null", key) < 0.05, F.lit(None).cast("double"))
            .otherwise(F.round(F.lit(3.0) + F.lit(40.0) * exponential(seed, "web_top", key), 1)))
        return typed.select(
            F.concat(F.lit("W"), F.when(F.col("client_id") < 0, "A").otherwise("C"),
                     F.lpad(F.abs(F.col("client_id")).cast("string"), 9, "0"),
                     F.lit("-"), F.lpad(F.col("session_no").cast("string"), 5, "0"),
                     F.lit("-"), F.lpad(F.col("event_no").cast("string"), 3, "0"))
            .alias("event_id"),
            F.col("cookie").alias("user_id"),
            F.when(logged_in, F.col("identity_id_hash")).alias("identity_id_hash"),
            F.col("event_ts"),
            F.concat(F.lit("/"), _slug(area), F.lit("/"), suffix).alias("page_url"),
            area.alias("page_category"),
            F.col("event_type"),
            F.col("device").alias("device_type"),
            time_on_page.alias("time_on_page_sec"),
            F.col("client_id"),
            delivery(F.col("event_ts")).alias("_delivery"),
        )

    return transform


# --- ib ---------------------------------------------------------------------------------------

IB_EVENTS_EXTRA = 2.7


def ib_events(seed: int, period: Period):
    """Factory: clients -> ib events: a login, then payments/transfers/statements or product
    views and applications about the session topic."""

    def transform(clients: DataFrame) -> DataFrame:
        ev = (clients.transform(sessions(seed, "ib", "ib_rate", period))
              .transform(session_events(seed, IB_EVENTS_EXTRA)))
        key = F.col("event_key")
        x = F.col("topic_intent")
        on_topic = F.col("on_topic")
        u = F.col("_u")
        event_type = (F.when(F.col("event_no") == 1, "login")
                      .when(on_topic & (u < sigmoid(x - 3.0)), "apply_start")
                      .when(on_topic, "product_view")
                      .when(u < 0.5, "payment").when(u < 0.85, "transfer")
                      .otherwise("statement_download"))
        typed = (ev.select("*", ((F.col("event_no") > 1) & (F.col("topic") != "GENERAL")
                                 & (uniform(seed, "ib_topic", key) < 0.5)).alias("on_topic"),
                           uniform(seed, "ib_type", key).alias("_u"))
                 .select("*", event_type.alias("event_type")))
        is_money = F.col("event_type").isin("payment", "transfer")
        amount = F.round(F.exp(F.lit(7.0) + F.lit(1.2) * noise(seed, "ib_amount", key)
                               + F.lit(0.3) * F.col("income_z")), 2)
        return typed.select(
            _seq_id("I", _client_ref(F.col("client_id")), F.col("session_no"), F.col("event_no"))
            .alias("ib_event_id"),
            F.col("identity_id_hash"),
            F.col("event_ts"),
            F.col("event_type"),
            F.when(F.col("on_topic"), F.col("topic")).otherwise("GENERAL").alias("product_area"),
            F.when(is_money, amount).alias("amount"),
            F.col("client_id"),
            delivery(F.col("event_ts")).alias("_delivery"),
        )

    return transform
