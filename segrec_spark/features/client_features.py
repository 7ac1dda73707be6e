"""Gold ``client_features`` for one as_of_date: facts before it, grouped once by client.

Point in time: every input is cut at ``as_of_date`` first (events, contacts and agreements strictly
before it; the identity map from logged-in events strictly before it, so a cookie linked to a
client only later does not pull that client's earlier anonymous events into these features;
attributes and holdings from the latest clients snapshot strictly before it, never a later one).

Inputs are bronze frames of the contract's sources (the bank's column names); they are conformed
to canonical names (:mod:`.conform`) before anything else.

Scale: the per-client facts of every family are unioned into one narrow table and aggregated in a
single ``groupBy`` - no joins between client-level tables (which would multiply shuffles) and no
join can explode; partial (map-side) aggregation means a heavy user's events are pre-summed in
every task before the shuffle, so one client cannot make one task dominate.
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
from segrec_spark.features.silver import identity_map, stitch_identities

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
             columns: Mapping[str, Column] | None = None) -> list[Column]:
    """A select list in ``schema``: the given columns, typed NULLs for the others."""
    columns = columns or {}
    selected = []
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


def _before(as_of: dt.date) -> Column:
    """event_ts strictly before as_of_date (midnight UTC)."""
    return F.col("event_ts") < _date(as_of).cast("timestamp")


def events_before(events: DataFrame, as_of: dt.date) -> DataFrame:
    return events.filter(_before(as_of))


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
    """session_activity with anonymous rows stitched by links known before ``as_of``."""
    links = events_before(events, as_of).transform(identity_map(settings.identity_resolution))
    return (session_activity(events, as_of, settings.max_window)
            .transform(stitch_identities(links)))


def activity_facts(activity: DataFrame, schema: T.StructType = FACT_SCHEMA) -> DataFrame:
    """day, area and session facts from the attributed activity (one scan, reused exchange)."""
    days = (activity.groupBy("identity_id_hash", "channel", "event_date")
            .agg(F.sum("n").alias("n"))
            .select(*as_facts(schema, "day", {"channel": F.col("channel"),
                                              "fact_date": F.col("event_date"),
                                              "n": F.col("n")})))
    areas = (activity.groupBy("identity_id_hash", "product_area", "event_date")
             .agg(F.sum("n").alias("n"))
             .select(*as_facts(schema, "area", {"product": F.col("product_area"),
                                                "fact_date": F.col("event_date"),
                                                "n": F.col("n")})))
    sessions = (activity.groupBy("identity_id_hash", "channel", "session_id")
                .agg(F.min("start_ts").alias("start_ts"), F.max("end_ts").alias("end_ts"),
                     # ties on end_ts (two areas of a session ending in the same second) go
                     # to the longer duration, so the value never depends on task order
                     F.max_by("last_duration", F.struct("end_ts", "last_duration"))
                     .alias("last_duration")))
    session_seconds = (F.col("end_ts").cast("long") - F.col("start_ts").cast("long")
                       + F.coalesce(F.col("last_duration"), F.lit(0.0)))
    session_facts = sessions.select(*as_facts(
        schema, "session", {"channel": F.col("channel"), "fact_date": F.to_date("start_ts"),
                            "duration_sec": session_seconds}))
    return days.unionByName(areas).unionByName(session_facts)


def contact_facts(camp: DataFrame, as_of: dt.date, max_window: int,
                  schema: T.StructType = FACT_SCHEMA) -> DataFrame:
    """One fact per campaign contact (conformed) in the longest window before ``as_of``."""
    in_window = _before(as_of) & (F.to_date("event_ts") >= F.date_sub(_date(as_of), max_window))
    return (camp.filter(in_window & F.col("identity_id_hash").isNotNull())
            .select(*as_facts(schema, "contact", {"product": F.col("product_code"),
                                                  "fact_date": F.to_date("event_ts"),
                                                  "outcome": F.col("outcome")})))


def agreement_facts(sales: DataFrame, as_of: dt.date, statuses: Sequence[str],
                    schema: T.StructType = FACT_SCHEMA) -> DataFrame:
    """One fact per sale (conformed) signed before ``as_of`` that counts as a take-up."""
    signed_before = _before(as_of) & counts_as_take_up(statuses)
    return (sales.filter(signed_before & F.col("identity_id_hash").isNotNull())
            .select(*as_facts(schema, "agreement", {"product": F.col("product_code"),
                                                    "fact_date": F.to_date("event_ts"),
                                                    "amount": F.col("amount")})))


def client_snapshot(clients: DataFrame, as_of: dt.date) -> DataFrame:
    """One clients row (conformed) per key: the latest snapshot strictly before ``as_of``.

    A later snapshot is never used, for attributes nor holdings: it may list a product bought in
    the label window. A clients table without a time column (``snapshot_date`` NULL) is static
    and used as is.
    """
    usable = F.col("snapshot_date").isNull() | (F.col("snapshot_date") < _date(as_of))
    latest_first = Window.partitionBy("identity_id_hash").orderBy(
        F.col("snapshot_date").desc_nulls_last())
    return (clients.filter(F.col("identity_id_hash").isNotNull() & usable)
            .withColumn("_rank", F.row_number().over(latest_first))
            .filter(F.col("_rank") == 1)
            .drop("_rank"))


def client_facts(clients: DataFrame, as_of: dt.date, contract: Contract) -> DataFrame:
    """The attribute/holdings fact of each client (conformed clients) at ``as_of``."""
    schema = fact_schema(contract)
    attributes = {name: F.col(name) for name, _ in
                  attribute_columns(contract.one_of_kind("clients"))}
    return client_snapshot(clients, as_of).select(*as_facts(schema, "client", {
        "fact_date": F.col("snapshot_date"), "products_held": F.col("products_held"),
        **attributes}))


def seen_facts(events: DataFrame, camp: DataFrame | None, sales: DataFrame, as_of: dt.date,
               schema: T.StructType = FACT_SCHEMA) -> DataFrame:
    """Every key seen in events, contacts or agreements (any status) before ``as_of``.

    Only events that carry a key: a stitched anonymous event's client has a logged-in event
    before ``as_of`` (that is where the link comes from), so it is seen already.
    """
    keys = events_before(events, as_of).select("identity_id_hash")
    for table in (camp, sales):
        if table is not None:
            keys = keys.unionByName(table.filter(_before(as_of)).select("identity_id_hash"))
    return (keys.filter(F.col("identity_id_hash").isNotNull()).distinct()
            .select(*as_facts(schema, "seen")))


def client_facts_table(events: DataFrame, camp: DataFrame | None, sales: DataFrame,
                       clients: DataFrame | None, as_of: dt.date, settings: FeatureSettings,
                       contract: Contract) -> DataFrame:
    """The per-client facts before ``as_of`` (see definitions.py for the kinds).

    ``events`` is silver.events; ``camp``, ``sales`` and ``clients`` are bronze frames of the
    contract's campaigns, sales and clients sources (``camp``/``clients`` may be None).
    """
    schema = fact_schema(contract)
    sales_source = contract.one_of_kind("sales")
    if sales_source is None:
        raise ValueError(f"{contract.path}: no source of kind sales")
    sold = conform(sales, sales_source, contract)
    contacts = conform_optional(camp, contract.one_of_kind("campaigns"), contract)
    activity = attributed_activity(events, as_of, settings)
    facts = (seen_facts(events, contacts, sold, as_of, schema)
             .unionByName(activity_facts(activity, schema))
             .unionByName(agreement_facts(sold, as_of, label_statuses(settings, contract),
                                          schema)))
    if contacts is not None:
        facts = facts.unionByName(contact_facts(contacts, as_of, settings.max_window, schema))
    snapshot = conform_optional(clients, contract.one_of_kind("clients"), contract)
    if snapshot is not None:
        facts = facts.unionByName(client_facts(snapshot, as_of, contract))
    return facts


def aggregate_features(as_of: dt.date | None,
                       defs: Sequence[FeatureDef]) -> Callable[[DataFrame], DataFrame]:
    """Factory: facts -> one row per client with every feature of ``defs`` (null only where a
    definition is ``nullable``: a numeric attribute that is unknown).

    ``as_of`` None: the facts carry their own ``as_of_date`` column (several dates stacked) and
    are grouped by (as_of_date, client)."""
    def transform(facts: DataFrame) -> DataFrame:
        as_of_col = F.col("as_of_date") if as_of is None else _date(as_of)
        keys = ["as_of_date", "identity_id_hash"] if as_of is None else ["identity_id_hash"]
        return (facts.groupBy(*keys)
                .agg(*(d.column(as_of_col) for d in defs))
                .select(as_of_col.alias("as_of_date"), "identity_id_hash",
                        *(d.name for d in defs)))
    return transform


def client_features(events: DataFrame, camp: DataFrame | None, sales: DataFrame,
                    clients: DataFrame | None, as_of: dt.date, settings: FeatureSettings,
                    contract: Contract) -> DataFrame:
    """gold.client_features for ``as_of``: keys, then every feature of the registry in order.

    ``events`` is silver.events (sessionized, keys as delivered); ``camp``, ``sales`` and
    ``clients`` are bronze frames of the contract's sources. ``camp`` and ``clients`` may be
    None: campaign features are then 0, attributes UNKNOWN (categorical) or NULL (numeric).
    """
    defs = feature_definitions(settings, contract)
    facts = client_facts_table(events, camp, sales, clients, as_of, settings, contract)
    return facts.transform(aggregate_features(as_of, defs))


def client_features_at(events: DataFrame, camp: DataFrame | None, sales: DataFrame,
                       clients: DataFrame | None, dates: Sequence[dt.date],
                       settings: FeatureSettings, contract: Contract) -> DataFrame:
    """:func:`client_features` for several as_of_dates in one plan: each date's facts (cut at
    that date) tagged with it, stacked, and grouped once by (as_of_date, client). The same rows
    as the dates' frames unioned, in one job and one write instead of one per date."""
    defs = feature_definitions(settings, contract)
    facts = [client_facts_table(events, camp, sales, clients, as_of, settings, contract)
             .withColumn("as_of_date", _date(as_of)) for as_of in dates]
    return (functools.reduce(DataFrame.unionByName, facts)
            .transform(aggregate_features(None, defs)))
