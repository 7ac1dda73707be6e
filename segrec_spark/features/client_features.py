"""Gold ``client_features`` for one or more as_of_dates: facts before each, grouped once by
(as_of_date, client).

Point in time: every input is cut at each ``as_of_date`` (events, contacts and agreements strictly
before it; the identity map from logged-in events strictly before it, so a cookie linked to a
client only later does not pull that client's earlier anonymous events into these features;
attributes and holdings from the latest clients snapshot strictly before it, never a later one).

Inputs are bronze frames of the contract's sources (the bank's column names); they are conformed
to canonical names (:mod:`.conform`) before anything else.

Scale: every input is read once for all the as_of_dates. Events are first summed per client,
day, session and area (a day's sums do not depend on the date that sees it, every cut being at
midnight); each fact is then repeated, with ``explode``, for each date it counts for (a 60-day
window spans two or three monthly dates). The per-client facts of every family are unioned into
one narrow table and aggregated in a single ``groupBy`` - no joins between client-level tables
(which would multiply shuffles) and no join can explode; partial (map-side) aggregation means a
heavy user's events are pre-summed in every task before the shuffle, so one client cannot make
one task dominate.
"""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segrec_spark.contract import Contract
from segrec_spark.features.conform import (
    attribute_columns,
    conform,
    conform_optional,
    counts_as_take_up,
    label_statuses,
)
from segrec_spark.features.definitions import FeatureDef, feature_definitions
from segrec_spark.features.settings import FeatureSettings
from segrec_spark.features.silver import (
    dates_after,
    identity_maps_at,
    stitch_identities,
    tag_dates,
)

KEY_COLUMNS: tuple[str, ...] = ("as_of_date", "identity_id_hash")

# The facts table without client attributes (fact_schema adds the contract's attributes).
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
    T.StructField("products_held", T.ArrayType(T.StringType())),
])
_SPARK_TYPES: dict[str, T.DataType] = {"double": T.DoubleType(), "string": T.StringType()}


def fact_schema(contract: Contract) -> T.StructType:
    """FACT_SCHEMA plus one column per client attribute of the contract."""
    attributes = attribute_columns(contract.one_of_kind("clients"))
    return T.StructType([*FACT_SCHEMA.fields,
                         *(T.StructField(name, _SPARK_TYPES[dtype]) for name, dtype in attributes)])


def as_facts(schema: T.StructType, kind: str,
             columns: Mapping[str, Column] | None = None, dated: bool = True) -> list[Column]:
    """A select list in ``schema``: the given columns, typed NULLs for the others; ``dated``:
    led by the frame's ``as_of_date``."""
    columns = columns or {}
    selected = [F.col("as_of_date")] if dated else []
    for field in schema.fields:
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


def as_of_dates(dates: dt.date | Sequence[dt.date]) -> tuple[dt.date, ...]:
    """One date or several -> the distinct dates, in order."""
    chosen = tuple(sorted(set([dates] if isinstance(dates, dt.date) else dates)))
    if not chosen:
        raise ValueError("client features: no as_of_date given")
    return chosen


def _known(column: str) -> Column:
    """A duration for ordering: a missing one below every known one (explicitly, so that every
    engine orders it alike: Spark puts nulls first in a struct, DuckDB last)."""
    return F.coalesce(F.col(column), F.lit(float("-inf"))).alias(column)


def last_event_order() -> Column:
    """The order that picks a session's last event: time, then event id, source and duration,
    so a tie on time and id (two sources of one channel numbering their events alike, or a
    re-delivered event) never depends on task order; a missing id or duration sorts first."""
    return F.struct("event_ts", F.coalesce(F.col("event_id"), F.lit("")).alias("event_id"),
                    "source", _known("duration_sec"))


def session_activity_at(events: DataFrame, dates: Sequence[dt.date],
                        max_window: int) -> DataFrame:
    """Events summed per key, cookie, day, session and area, once for all dates, then tagged with
    each as_of_date whose longest window holds the day.

    Sessions end at midnight and every cut is at midnight, so a day's sums are the same for
    every date that sees the day: the events are read and summed once, and only the (much
    smaller) sums are repeated per date. Summing before stitching keeps the stitching join small
    and pre-sums a heavy user's events in every task (partial aggregation).
    """
    # tag_dates' cut to the dates' windows is on a grouping column: Spark applies it to the
    # events, before they are summed
    activity = (events.groupBy("identity_id_hash", "user_id", "channel", "event_date",
                               "session_id", "product_area")
                .agg(F.count(F.lit(1)).alias("n"),
                     F.min("session_start_ts").alias("start_ts"),
                     F.max("event_ts").alias("end_ts"),
                     F.max_by("duration_sec", last_event_order()).alias("last_duration")))
    return tag_dates(activity, dates, F.col("event_date"), max_window)


def attributed_activity_at(events: DataFrame, dates: Sequence[dt.date],
                           settings: FeatureSettings) -> DataFrame:
    """session_activity_at with anonymous rows stitched, for each date, by the links known
    before it."""
    links = identity_maps_at(events, dates, settings.identity_resolution)
    return (session_activity_at(events, dates, settings.max_window)
            .transform(stitch_identities(links, on=("as_of_date", "user_id"))))


def activity_facts(activity: DataFrame, schema: T.StructType = FACT_SCHEMA) -> DataFrame:
    """day, area and session facts from the attributed activity (one scan, reused exchange);
    per as_of_date when the activity carries one."""
    dated = "as_of_date" in activity.columns
    by = ["as_of_date"] if dated else []
    days = (activity.groupBy(*by, "identity_id_hash", "channel", "event_date")
            .agg(F.sum("n").alias("n"))
            .select(*as_facts(schema, "day", {"channel": F.col("channel"),
                                              "fact_date": F.col("event_date"),
                                              "n": F.col("n")}, dated)))
    areas = (activity.groupBy(*by, "identity_id_hash", "product_area", "event_date")
             .agg(F.sum("n").alias("n"))
             .select(*as_facts(schema, "area", {"product": F.col("product_area"),
                                                "fact_date": F.col("event_date"),
                                                "n": F.col("n")}, dated)))
    sessions = (activity.groupBy(*by, "identity_id_hash", "channel", "session_id")
                .agg(F.min("start_ts").alias("start_ts"), F.max("end_ts").alias("end_ts"),
                     # ties on end_ts (two areas of a session ending in the same second) go
                     # to the longer duration, so the value never depends on task order
                     F.max_by("last_duration", F.struct("end_ts", _known("last_duration")))
                     .alias("last_duration")))
    session_seconds = (F.col("end_ts").cast("long") - F.col("start_ts").cast("long")
                       + F.coalesce(F.col("last_duration"), F.lit(0.0)))
    session_facts = sessions.select(*as_facts(
        schema, "session", {"channel": F.col("channel"), "fact_date": F.to_date("start_ts"),
                            "duration_sec": session_seconds}, dated))
    return days.unionByName(areas).unionByName(session_facts)


def contact_facts_at(camp: DataFrame, dates: Sequence[dt.date], max_window: int,
                     schema: T.StructType = FACT_SCHEMA) -> DataFrame:
    """One fact per campaign contact (conformed) and as_of_date whose longest window holds it."""
    day = F.to_date("event_ts")
    return (tag_dates(camp.filter(F.col("identity_id_hash").isNotNull()), dates, day, max_window)
            .select(*as_facts(schema, "contact", {"product": F.col("product_code"),
                                                  "fact_date": day,
                                                  "outcome": F.col("outcome")})))


def agreement_facts_at(sales: DataFrame, dates: Sequence[dt.date], statuses: Sequence[str],
                       schema: T.StructType = FACT_SCHEMA) -> DataFrame:
    """One fact per sale (conformed) that counts as a take-up and as_of_date after it."""
    day = F.to_date("event_ts")
    taken = sales.filter(counts_as_take_up(statuses) & F.col("identity_id_hash").isNotNull())
    return (tag_dates(taken, dates, day)
            .select(*as_facts(schema, "agreement", {"product": F.col("product_code"),
                                                    "fact_date": day,
                                                    "amount": F.col("amount")})))


def client_snapshot_at(clients: DataFrame, dates: Sequence[dt.date]) -> DataFrame:
    """One clients row (conformed) per key and as_of_date: the latest snapshot strictly before
    it.

    A later snapshot is never used, for attributes nor holdings: it may list a product bought in
    the label window. A clients table without a time column (``snapshot_date`` NULL) is static
    and used as is, for every date.
    """
    every_date = F.array(*(_date(d) for d in dates))
    usable_dates = F.when(F.col("snapshot_date").isNull(), every_date).otherwise(
        dates_after(dates, F.col("snapshot_date")))
    latest_first = Window.partitionBy("as_of_date", "identity_id_hash").orderBy(
        F.col("snapshot_date").desc_nulls_last())
    return (clients.filter(F.col("identity_id_hash").isNotNull())
            .withColumn("as_of_date", F.explode(usable_dates))
            .withColumn("_rank", F.row_number().over(latest_first))
            .filter(F.col("_rank") == 1)
            .drop("_rank"))


def client_snapshot(clients: DataFrame, as_of: dt.date) -> DataFrame:
    """:func:`client_snapshot_at` for one date, without the date column."""
    return client_snapshot_at(clients, [as_of]).drop("as_of_date")


def client_facts_at(clients: DataFrame, dates: Sequence[dt.date],
                    contract: Contract) -> DataFrame:
    """The attribute/holdings fact of each client (conformed clients) at each as_of_date."""
    schema = fact_schema(contract)
    attributes = {name: F.col(name) for name, _ in
                  attribute_columns(contract.one_of_kind("clients"))}
    return client_snapshot_at(clients, dates).select(*as_facts(schema, "client", {
        "fact_date": F.col("snapshot_date"), "products_held": F.col("products_held"),
        **attributes}))


def seen_facts_at(events: DataFrame, camp: DataFrame | None, sales: DataFrame,
                  dates: Sequence[dt.date], schema: T.StructType = FACT_SCHEMA) -> DataFrame:
    """Every key seen in events, contacts or agreements (any status) before each as_of_date:
    each key's first day over the sources, then the dates after it.

    Only events that carry a key: a stitched anonymous event's client has a logged-in event
    before as_of_date (that is where the link comes from), so it is seen already.
    """
    has_key = F.col("identity_id_hash").isNotNull()
    firsts = [events.filter(has_key).groupBy("identity_id_hash")
              .agg(F.min("event_date").alias("first_day"))]
    for table in (camp, sales):
        if table is not None:
            firsts.append(table.filter(has_key).groupBy("identity_id_hash")
                          .agg(F.min(F.to_date("event_ts")).alias("first_day")))
    first_day = (functools.reduce(DataFrame.unionByName, firsts)
                 .groupBy("identity_id_hash").agg(F.min("first_day").alias("first_day")))
    return (tag_dates(first_day, dates, F.col("first_day"))
            .select(*as_facts(schema, "seen")))


def client_facts_table(events: DataFrame, camp: DataFrame | None, sales: DataFrame,
                       clients: DataFrame | None, dates: dt.date | Sequence[dt.date],
                       settings: FeatureSettings, contract: Contract) -> DataFrame:
    """The per-client facts before each as_of_date of ``dates`` (see definitions.py for the
    kinds), led by ``as_of_date``: every input is read once for all the dates.

    ``events`` is silver.events; ``camp``, ``sales`` and ``clients`` are bronze frames of the
    contract's campaigns, sales and clients sources (``camp``/``clients`` may be None).
    """
    chosen = as_of_dates(dates)
    schema = fact_schema(contract)
    sales_source = contract.one_of_kind("sales")
    if sales_source is None:
        raise ValueError(f"{contract.path}: no source of kind sales")
    sold = conform(sales, sales_source, contract)
    contacts = conform_optional(camp, contract.one_of_kind("campaigns"), contract)
    activity = attributed_activity_at(events, chosen, settings)
    facts = (seen_facts_at(events, contacts, sold, chosen, schema)
             .unionByName(activity_facts(activity, schema))
             .unionByName(agreement_facts_at(sold, chosen, label_statuses(settings, contract),
                                             schema)))
    if contacts is not None:
        facts = facts.unionByName(contact_facts_at(contacts, chosen, settings.max_window,
                                                   schema))
    snapshot = conform_optional(clients, contract.one_of_kind("clients"), contract)
    if snapshot is not None:
        facts = facts.unionByName(client_facts_at(snapshot, chosen, contract))
    return facts


def aggregate_features(defs: Sequence[FeatureDef]) -> Callable[[DataFrame], DataFrame]:
    """Factory: facts (led by ``as_of_date``) -> one row per (as_of_date, client) with every
    feature of ``defs`` (null only where a definition is ``nullable``: a numeric attribute that
    is unknown)."""
    def transform(facts: DataFrame) -> DataFrame:
        return (facts.groupBy("as_of_date", "identity_id_hash")
                .agg(*(d.column(F.col("as_of_date")) for d in defs))
                .select("as_of_date", "identity_id_hash", *(d.name for d in defs)))
    return transform


def client_features_at(events: DataFrame, camp: DataFrame | None, sales: DataFrame,
                       clients: DataFrame | None, dates: dt.date | Sequence[dt.date],
                       settings: FeatureSettings, contract: Contract) -> DataFrame:
    """gold.client_features for every as_of_date of ``dates`` in one plan: keys, then every
    feature of the registry in order.

    ``events`` is silver.events (sessionized, keys as delivered); ``camp``, ``sales`` and
    ``clients`` are bronze frames of the contract's sources. ``camp`` and ``clients`` may be
    None: campaign features are then 0, attributes UNKNOWN (categorical) or NULL (numeric).
    Each input is read once; a fact is repeated for each date it counts for, and the facts are
    grouped once by (as_of_date, client).
    """
    defs = feature_definitions(settings, contract)
    facts = client_facts_table(events, camp, sales, clients, dates, settings, contract)
    return facts.transform(aggregate_features(defs))


def client_features(events: DataFrame, camp: DataFrame | None, sales: DataFrame,
                    clients: DataFrame | None, as_of: dt.date, settings: FeatureSettings,
                    contract: Contract) -> DataFrame:
    """gold.client_features for one ``as_of`` (:func:`client_features_at`)."""
    return client_features_at(events, camp, sales, clients, [as_of], settings, contract)
