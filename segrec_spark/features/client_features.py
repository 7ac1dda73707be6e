"""Gold ``client_features`` for one as_of_date: facts before it, grouped once by client.

Point in time: every input is cut at ``as_of_date`` first (events, contacts and agreements strictly
before it; the identity map from logged-in events strictly before it, so a cookie linked to a
client only later does not pull that client's earlier anonymous events into these features).

Scale: the per-client facts of every family are unioned into one narrow table and aggregated in a
single ``groupBy`` - no joins between client-level tables (which would multiply shuffles) and no
join can explode; partial (map-side) aggregation means a heavy user's events are pre-summed in
every task before the shuffle, so one client cannot make one task dominate.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segrec_spark.features.definitions import FeatureDef, feature_definitions
from segrec_spark.features.settings import FeatureSettings
from segrec_spark.features.silver import identity_map, stitch_identities
from segrec_spark.sources import PRODUCTS

KEY_COLUMNS: tuple[str, ...] = ("as_of_date", "identity_id_hash")

FACT_SCHEMA = T.StructType([
    T.StructField("identity_id_hash", T.StringType()),
    T.StructField("kind", T.StringType()),
    T.StructField("channel", T.StringType()),
    T.StructField("product", T.StringType()),
    T.StructField("fact_date", T.DateType()),
    T.StructField("n", T.LongType()),
    T.StructField("amount", T.DoubleType()),
    T.StructField("duration_sec", T.DoubleType()),
    T.StructField("outcome", T.StringType()),
    T.StructField("age_band", T.StringType()),
    T.StructField("income_band", T.StringType()),
    T.StructField("region", T.StringType()),
    T.StructField("tenure_months", T.IntegerType()),
    T.StructField("products_held", T.ArrayType(T.StringType())),
])


def as_facts(kind: str, **columns: Column) -> list[Column]:
    """A select list in FACT_SCHEMA: the given columns, typed NULLs for the others."""
    selected = []
    for field in FACT_SCHEMA.fields:
        if field.name == "kind":
            value = F.lit(kind)
        elif field.name == "identity_id_hash":
            value = columns.get(field.name, F.col("identity_id_hash"))
        else:
            value = columns.get(field.name, F.lit(None))
        selected.append(value.cast(field.dataType).alias(field.name))
    return selected


def _date(value: dt.date) -> Column:
    return F.lit(value).cast("date")


def events_before(events: DataFrame, as_of: dt.date) -> DataFrame:
    return events.filter(F.col("event_ts") < _date(as_of).cast("timestamp"))


def session_activity(events: DataFrame, as_of: dt.date, max_window: int) -> DataFrame:
    """Events of the longest window before ``as_of`` summed per key, cookie, day, session, area.

    Sessions end at midnight, so a session starts inside the window exactly when its events do.
    Summing before stitching keeps the stitching join small and pre-sums a heavy user's events
    in every task (partial aggregation) before anything is shuffled by client.
    """
    since = F.date_sub(_date(as_of), max_window)
    recent = events_before(events, as_of).filter(F.col("event_date") >= since)
    return (recent.groupBy("identity_id_hash", "user_id", "channel", "event_date", "session_id",
                           "product_area")
            .agg(F.count(F.lit(1)).alias("n"),
                 F.min("session_start_ts").alias("start_ts"),
                 F.max("event_ts").alias("end_ts"),
                 F.max_by("duration_sec", F.struct("event_ts", "event_id"))
                 .alias("last_duration")))


def attributed_activity(events: DataFrame, as_of: dt.date, settings: FeatureSettings) -> DataFrame:
    """session_activity with anonymous web rows stitched by links known before ``as_of``."""
    links = events_before(events, as_of).transform(identity_map(settings.identity_resolution))
    return (session_activity(events, as_of, settings.max_window)
            .transform(stitch_identities(links)))


def activity_facts(activity: DataFrame) -> DataFrame:
    """day, area and session facts from the attributed activity (one scan, reused exchange)."""
    days = (activity.groupBy("identity_id_hash", "channel", "event_date")
            .agg(F.sum("n").alias("n"))
            .select(*as_facts("day", channel=F.col("channel"), fact_date=F.col("event_date"),
                              n=F.col("n"))))
    areas = (activity.groupBy("identity_id_hash", "product_area", "event_date")
             .agg(F.sum("n").alias("n"))
             .select(*as_facts("area", product=F.col("product_area"),
                               fact_date=F.col("event_date"), n=F.col("n"))))
    sessions = (activity.groupBy("identity_id_hash", "channel", "session_id")
                .agg(F.min("start_ts").alias("start_ts"), F.max("end_ts").alias("end_ts"),
                     F.max_by("last_duration", F.col("end_ts")).alias("last_duration")))
    session_seconds = (F.col("end_ts").cast("long") - F.col("start_ts").cast("long")
                       + F.coalesce(F.col("last_duration"), F.lit(0.0)))
    session_facts = sessions.select(*as_facts(
        "session", channel=F.col("channel"), fact_date=F.to_date("start_ts"),
        duration_sec=session_seconds))
    return days.unionByName(areas).unionByName(session_facts)


def contact_facts(camp: DataFrame, as_of: dt.date, max_window: int) -> DataFrame:
    in_window = ((F.col("contact_ts") < _date(as_of).cast("timestamp"))
                 & (F.to_date("contact_ts") >= F.date_sub(_date(as_of), max_window)))
    return (camp.filter(in_window & F.col("identity_id_hash").isNotNull())
            .select(*as_facts("contact", product=F.col("product_code"),
                              fact_date=F.to_date("contact_ts"), outcome=F.col("outcome"))))


def agreement_facts(prodeje: DataFrame, as_of: dt.date, statuses: Sequence[str]) -> DataFrame:
    signed_before = (F.col("signed_date") < _date(as_of)) & F.col("status").isin(*statuses)
    return (prodeje.filter(signed_before & F.col("identity_id_hash").isNotNull())
            .select(*as_facts("agreement", product=F.col("product_code"),
                              fact_date=F.col("signed_date"), amount=F.col("amount"))))


def client_snapshot(clients: DataFrame, as_of: dt.date) -> DataFrame:
    """One clients row per key: the latest snapshot before ``as_of``, else the earliest one.

    Attributes (age band, region, income band, tenure) change slowly, so a later snapshot is the
    best available for them; holdings are only taken from a snapshot before ``as_of``
    (see ``holds_condition``).
    """
    before = F.col("snapshot_date") < _date(as_of)
    distance = F.abs(F.datediff(F.col("snapshot_date"), _date(as_of)))
    preference = Window.partitionBy("identity_id_hash").orderBy(
        F.when(before, 0).otherwise(1), distance, F.col("snapshot_date"))
    return (clients.filter(F.col("identity_id_hash").isNotNull())
            .withColumn("_rank", F.row_number().over(preference))
            .filter(F.col("_rank") == 1)
            .drop("_rank"))


def client_facts(clients: DataFrame, as_of: dt.date) -> DataFrame:
    return client_snapshot(clients, as_of).select(*as_facts(
        "client", fact_date=F.col("snapshot_date"), age_band=F.col("age_band"),
        income_band=F.col("income_band"), region=F.col("region"),
        tenure_months=F.col("tenure_months"), products_held=F.col("products_held")))


def seen_facts(events: DataFrame, camp: DataFrame, prodeje: DataFrame,
               as_of: dt.date) -> DataFrame:
    """Every key seen in events, contacts or agreements (any status) before ``as_of``.

    Only events that carry a key: a stitched anonymous event's client has a logged-in event
    before ``as_of`` (that is where the link comes from), so it is seen already.
    """
    cut = _date(as_of)
    keys = (events_before(events, as_of).select("identity_id_hash")
            .unionByName(camp.filter(F.col("contact_ts") < cut.cast("timestamp"))
                         .select("identity_id_hash"))
            .unionByName(prodeje.filter(F.col("signed_date") < cut).select("identity_id_hash"))
            .filter(F.col("identity_id_hash").isNotNull())
            .distinct())
    return keys.select(*as_facts("seen"))


def client_facts_table(events: DataFrame, camp: DataFrame, prodeje: DataFrame,
                       clients: DataFrame | None, as_of: dt.date,
                       settings: FeatureSettings) -> DataFrame:
    """The per-client facts before ``as_of`` (see definitions.py for the kinds)."""
    activity = attributed_activity(events, as_of, settings)
    facts = (seen_facts(events, camp, prodeje, as_of)
             .unionByName(activity_facts(activity))
             .unionByName(contact_facts(camp, as_of, settings.max_window))
             .unionByName(agreement_facts(prodeje, as_of, settings.label_statuses)))
    if clients is not None:
        facts = facts.unionByName(client_facts(clients, as_of))
    return facts


def aggregate_features(as_of: dt.date,
                       defs: Sequence[FeatureDef]) -> Callable[[DataFrame], DataFrame]:
    """Factory: facts -> one row per client with every feature of ``defs`` (never null)."""
    def transform(facts: DataFrame) -> DataFrame:
        as_of_col = _date(as_of)
        return (facts.groupBy("identity_id_hash")
                .agg(*(d.column(as_of_col) for d in defs))
                .select(as_of_col.alias("as_of_date"), "identity_id_hash",
                        *(d.name for d in defs)))
    return transform


def client_features(events: DataFrame, camp: DataFrame, prodeje: DataFrame,
                    clients: DataFrame | None, as_of: dt.date, settings: FeatureSettings,
                    products: Sequence[str] = PRODUCTS) -> DataFrame:
    """gold.client_features for ``as_of``: keys, then every feature of the registry in order.

    ``events`` is silver.events (sessionized, keys as delivered); ``camp``, ``prodeje`` and
    ``clients`` are bronze-shaped; ``clients`` may be None (attributes become UNKNOWN / 0).
    """
    defs = feature_definitions(settings, products)
    facts = client_facts_table(events, camp, prodeje, clients, as_of, settings)
    return facts.transform(aggregate_features(as_of, defs))
