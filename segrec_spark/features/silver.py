"""Silver: one unified event stream across every events source, sessions, and the identity map.

All functions are pure ``DataFrame -> DataFrame`` transforms; reading and writing happen in
``job.py``. The events sources, their channels and passive event types come from the data
contract (``contract.of_kind("events")``): any number of sources, any channel names.

Decisions (see docs/features.md):

* Each source is conformed first (:func:`segrec_spark.features.conform.conform`): the bank's
  column names become canonical ones (``identity_id_hash``, ``user_id``, ``event_ts``, ...).
* Sessions are built per channel and *session key* - the cookie (role ``cookie``, canonical
  ``user_id``) where a source has one, so a visitor's anonymous events and the logged-in ones that
  follow form one session; else the client key. A new session starts after an inactivity gap
  longer than ``features.session_gap_minutes``, and at midnight UTC (as Google Analytics does):
  the session window is partitioned by (channel, key, date), so a very heavy user's events are
  spread over one task per active day instead of one task for all of them.
* Event types a source lists as ``passive_event_types`` (e.g. a push the bank sent) are not
  client behaviour; they are left out of the event stream.
* ``silver.events.identity_id_hash`` is the key *as delivered* (NULL for anonymous events):
  attributing anonymous events to a client depends on the links known at a given as_of_date,
  so it happens in gold (:func:`stitch_identities` with a map built from events before it).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from segrec_spark.contract import Contract, Source
from segrec_spark.features.conform import conform

EVENT_COLUMNS: tuple[str, ...] = (
    "identity_id_hash", "user_id", "event_id", "event_ts", "event_date", "channel",
    "event_type", "product_area", "source", "duration_sec",
)
SESSION_COLUMNS: tuple[str, ...] = ("session_id", "session_start_ts")
IDENTITY_MAP_COLUMNS: tuple[str, ...] = ("user_id", "identity_id_hash", "first_seen", "last_seen")


def source_events(bronze: DataFrame, source: Source) -> DataFrame:
    """Bronze rows of one events source in EVENT_COLUMNS (anonymous rows keep a NULL key).

    A row is kept when it has a time and a key or cookie, and its event type is not passive.
    """
    events = conform(bronze, source)
    has_someone = F.col("identity_id_hash").isNotNull() | F.col("user_id").isNotNull()
    usable = has_someone & F.col("event_ts").isNotNull()
    if source.passive_event_types:
        is_behaviour = (F.col("event_type").isNull()
                        | ~F.col("event_type").isin(*source.passive_event_types))
        usable = usable & is_behaviour
    return (events.filter(usable)
            .select(F.col("identity_id_hash"), F.col("user_id"), F.col("event_id"),
                    F.col("event_ts"), F.to_date("event_ts").alias("event_date"),
                    F.lit(source.channel).alias("channel"), F.col("event_type"),
                    F.col("product_area"), F.lit(source.name).alias("source"),
                    F.col("duration_sec")))


def unify_events(bronze: Mapping[str, DataFrame], contract: Contract) -> DataFrame:
    """One event stream from the bronze frame of every events source of ``contract`` (by name)."""
    sources = contract.of_kind("events")
    missing = [s.name for s in sources if s.name not in bronze]
    if not sources or missing:
        raise ValueError(f"unify_events: no bronze frame for events source(s) "
                         f"{', '.join(missing) or '(the contract declares none)'}")
    frames = [source_events(bronze[s.name], s) for s in sources]
    unified = frames[0]
    for frame in frames[1:]:
        unified = unified.unionByName(frame)
    return unified.select(*EVENT_COLUMNS)


def session_key() -> Column:
    """The cookie where there is one (anonymous and logged-in events of one browser), else the
    client key."""
    return F.coalesce(F.col("user_id"), F.col("identity_id_hash"))


def sessionize(gap_minutes: int) -> Callable[[DataFrame], DataFrame]:
    """Add ``session_id`` and ``session_start_ts``: a new session after a gap > ``gap_minutes``.

    Window ``lag`` gives each event its predecessor; an event starts a session when it has none
    that day or the gap exceeds the limit; the session start is the latest start at or before the
    event (a running ``last(..., ignorenulls)``), which only looks backwards in time, so the
    session of an event never depends on later events (point in time).
    """
    def transform(events: DataFrame) -> DataFrame:
        by_key_day = (Window.partitionBy("channel", "_session_key", "event_date")
                      .orderBy("event_ts", "event_id"))
        so_far = by_key_day.rowsBetween(Window.unboundedPreceding, Window.currentRow)
        previous_ts = F.lag("event_ts").over(by_key_day)
        gap_seconds = F.col("event_ts").cast("long") - F.col("_previous_ts").cast("long")
        starts_session = F.col("_previous_ts").isNull() | (gap_seconds > gap_minutes * 60)
        session_start = F.last(F.when(F.col("_starts_session"), F.col("event_ts")),
                               ignorenulls=True).over(so_far)
        session_id = F.concat_ws(":", F.col("channel"), F.col("_session_key"),
                                 F.date_format("session_start_ts", "yyyyMMdd'T'HHmmss"))
        return (events
                .withColumn("_session_key", session_key())
                .withColumn("_previous_ts", previous_ts)
                .withColumn("_starts_session", starts_session)
                .withColumn("session_start_ts", session_start)
                .withColumn("session_id", session_id)
                .select(*events.columns, *SESSION_COLUMNS))
    return transform


def identity_links(events: DataFrame) -> DataFrame:
    """(cookie, client) pairs from logged-in events (a cookie and a key on one row, any source)
    with first/last seen and event count."""
    logged_in = F.col("user_id").isNotNull() & F.col("identity_id_hash").isNotNull()
    return (events.filter(logged_in)
            .groupBy("user_id", "identity_id_hash")
            .agg(F.min("event_ts").alias("first_seen"), F.max("event_ts").alias("last_seen"),
                 F.count(F.lit(1)).alias("logged_in_events")))


IDENTITY_ORDERINGS = {
    "most_recent": ("last_seen", "logged_in_events"),
    "most_frequent": ("logged_in_events", "last_seen"),
}


def best_links(resolution: str = "most_recent",
               per: Sequence[str] = ("user_id",)) -> Callable[[DataFrame], DataFrame]:
    """Links (user_id, identity_id_hash, first_seen, last_seen, logged_in_events) -> the best
    client of each ``per`` group (a cookie, or a cookie at an as_of_date); see identity_map."""
    if resolution not in IDENTITY_ORDERINGS:
        raise ValueError(f"identity resolution: expected one of {', '.join(IDENTITY_ORDERINGS)}, "
                         f"found {resolution!r}")

    def transform(links: DataFrame) -> DataFrame:
        best_first = Window.partitionBy(*per).orderBy(
            *(F.col(c).desc() for c in IDENTITY_ORDERINGS[resolution]), F.col("identity_id_hash"))
        return (links.withColumn("_rank", F.row_number().over(best_first))
                .filter(F.col("_rank") == 1)
                .select(*(c for c in per if c != "user_id"), *IDENTITY_MAP_COLUMNS))
    return transform


def identity_map(resolution: str = "most_recent") -> Callable[[DataFrame], DataFrame]:
    """One client per cookie, from the logged-in events of ``events``.

    A cookie seen logged in as several clients (a shared computer) goes to the client of its
    latest logged-in event (``most_recent``) or to the one with most logged-in events
    (``most_frequent``); remaining ties go to the latest, then the smallest key, so the result
    is deterministic. Filter ``events`` to before an as_of_date first for a point-in-time map
    (or use :func:`identity_maps_at` for several dates).
    """
    choose = best_links(resolution)

    def transform(events: DataFrame) -> DataFrame:
        return identity_links(events).transform(choose)
    return transform


def dates_after(dates: Sequence[dt.date], day: Column, window: int | None = None) -> Column:
    """The array of ``dates`` for which a fact of ``day`` lies before as_of_date and, with
    ``window``, in ``[as_of_date - window, as_of_date)``."""
    def keep(as_of: Column) -> Column:
        before = day < as_of
        return before if window is None else before & (day >= F.date_sub(as_of, window))
    return F.filter(F.array(*(F.lit(d).cast("date") for d in dates)), keep)


def tag_dates(df: DataFrame, dates: Sequence[dt.date], day: Column,
              window: int | None = None) -> DataFrame:
    """``df`` with an ``as_of_date`` column: each row once for every date it counts for
    (:func:`dates_after`; none: the row is dropped). One pass over ``df`` for all the dates,
    instead of a filtered pass per date; rows after the last date (or, with ``window``, before
    the first window) are filtered out first."""
    relevant = day < F.lit(max(dates)).cast("date")
    if window is not None:
        relevant = relevant & (day >= F.date_sub(F.lit(min(dates)).cast("date"), window))
    return (df.filter(relevant)
            .withColumn("as_of_date", F.explode(dates_after(dates, day, window))))


def identity_maps_at(events: DataFrame, dates: Sequence[dt.date],
                     resolution: str = "most_recent") -> DataFrame:
    """The point-in-time identity map at each of ``dates`` (an ``as_of_date`` column first):
    :func:`identity_map` of the events before each date, from one pass over the events.

    The logged-in events are summed per cookie, client and day once; each day's sums are then
    repeated for every date after it and combined per (as_of_date, cookie, client).
    """
    logged_in = F.col("user_id").isNotNull() & F.col("identity_id_hash").isNotNull()
    daily = (events.filter(logged_in)
             .groupBy("user_id", "identity_id_hash", "event_date")
             .agg(F.min("event_ts").alias("first_seen"), F.max("event_ts").alias("last_seen"),
                  F.count(F.lit(1)).alias("logged_in_events")))
    return (tag_dates(daily, dates, F.col("event_date"))
            .groupBy("as_of_date", "user_id", "identity_id_hash")
            .agg(F.min("first_seen").alias("first_seen"), F.max("last_seen").alias("last_seen"),
                 F.sum("logged_in_events").alias("logged_in_events"))
            .transform(best_links(resolution, per=("as_of_date", "user_id"))))


def stitch_identities(id_map: DataFrame,
                      on: Sequence[str] = ("user_id",)) -> Callable[[DataFrame], DataFrame]:
    """Give anonymous events the client their cookie maps to; drop those still unknown.

    ``on``: the join keys, the cookie (and the as_of_date, for maps at several dates). Only the
    anonymous rows take part in the join: joining every event on ``user_id`` would send all rows
    of the sources without a cookie (NULL) to a single task.
    """
    def transform(events: DataFrame) -> DataFrame:
        is_anonymous = F.col("identity_id_hash").isNull()
        known = events.filter(~is_anonymous)
        links = id_map.select(*on, F.col("identity_id_hash").alias("_linked_identity"))
        anonymous = (events.filter(is_anonymous).drop("identity_id_hash")
                     .join(links, on=list(on), how="inner")
                     .withColumnRenamed("_linked_identity", "identity_id_hash"))
        return known.unionByName(anonymous.select(*events.columns))
    return transform
