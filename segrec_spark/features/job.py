"""Features stage I/O: bronze Delta tables -> silver.events / silver.identity_map ->
gold.client_features and gold.labels (one slice per as_of_date) + gold.feature_dictionary.

All logic lives in the pure modules of this package and in :mod:`segrec_spark.calendar`; this
module only reads, writes, registers and logs. The sources come from the data contract
(``cfg.contract``): every events source, the sales source (required), the campaigns and clients
sources (optional). The calendar comes from the data: the first and last date over the events
and sales sources in bronze (see :func:`data_bounds`). Every write is idempotent: silver and the
dictionary are replaced whole, gold slices with ``replaceWhere as_of_date = '<date>'``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import functools
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segrec_spark import calendar
from segrec_spark.calendar import parse_as_of  # noqa: F401 - re-exported for other stages
from segrec_spark.config import Config, is_local_path
from segrec_spark.contract import Source
from segrec_spark.errors import InputDataError, MissingTableError, SchemaMismatchError
from segrec_spark.features.client_features import client_features_at
from segrec_spark.features.conform import label_statuses
from segrec_spark.features.definitions import (
    dictionary_markdown,
    feature_definitions,
    feature_dictionary,
)
from segrec_spark.features.labels import labels
from segrec_spark.features.silver import identity_map, sessionize, unify_events
from segrec_spark.tables import (
    delta_exists,
    read_table,
    register_table,
    sql_literal,
    table_path,
    write_slice,
)
from segrec_spark.typed_yaml import ConfigError

log = logging.getLogger(__name__)

# What a missing optional source means for the features (logged once per as_of_date).
OPTIONAL_EFFECT = {"campaigns": "campaign features are 0",
                   "clients": "attributes are UNKNOWN / NULL and holdings come from sales only"}


def require_columns(df: DataFrame, table: str, columns: Sequence[str]) -> DataFrame:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaMismatchError(f"{table}: missing column(s) {', '.join(missing)} "
                                  f"(found: {', '.join(df.columns)})")
    return df


def read_bronze(spark: SparkSession, cfg: Config, source: Source,
                required: bool = True) -> DataFrame | None:
    """bronze.<source> with the contract's columns checked; None when optional and missing."""
    path = table_path(cfg.paths.root, "bronze", source.name)
    if not delta_exists(spark, path):
        if required:
            raise MissingTableError(f"bronze.{source.name}: no Delta table at {path}; "
                                    f"run `segrec ingest` first")
        log.warning("bronze.%s not found at %s: %s", source.name, path,
                    OPTIONAL_EFFECT.get(source.kind, "not used"))
        return None
    return require_columns(read_table(spark, path), f"bronze.{source.name} ({path})",
                           source.column_names)


def sales_source(cfg: Config) -> Source:
    source = cfg.contract.one_of_kind("sales")
    if source is None:
        raise ConfigError(f"{cfg.contract.path}: sources: the features stage needs a source of "
                          f"kind sales (labels, agreement history and holdings come from it)")
    return source


def read_optional(spark: SparkSession, cfg: Config, kind: str) -> DataFrame | None:
    """The bronze table of the contract's ``kind`` source; None (logged) when there is none."""
    source = cfg.contract.one_of_kind(kind)
    if source is None:
        log.info("the contract %s declares no %s source: %s", cfg.contract.path, kind,
                 OPTIONAL_EFFECT[kind])
        return None
    return read_bronze(spark, cfg, source, required=False)


def dated_sources(cfg: Config) -> tuple[Source, ...]:
    """The sources whose dates make the calendar: every events source and the sales source."""
    return (*cfg.contract.of_kind("events"), sales_source(cfg))


def date_range(df: DataFrame, source: Source) -> DataFrame:
    """One row (first, last) of a bronze table's dates: its event_date partition column (cheap),
    else the date of its time column."""
    day = F.col("event_date") if "event_date" in df.columns else F.to_date(source.time_column)
    return df.agg(F.min(day).alias("first"), F.max(day).alias("last"))


def data_bounds(spark: SparkSession, cfg: Config) -> tuple[dt.date, dt.date]:
    """(first, last) date over the events and sales sources in bronze (one small action)."""
    sources = dated_sources(cfg)
    ranges = [date_range(read_bronze(spark, cfg, s), s) for s in sources]  # type: ignore[arg-type]
    row = (functools.reduce(DataFrame.unionByName, ranges)
           .agg(F.min("first").alias("first"), F.max("last").alias("last")).first())
    if row is None or row["last"] is None:
        raise InputDataError(f"bronze: no dated rows in {', '.join(s.name for s in sources)}; "
                             f"nothing to compute features from")
    return row["first"], row["last"]


def data_end(spark: SparkSession, cfg: Config) -> dt.date:
    """E: the first day after the last complete month of the data in bronze."""
    return calendar.end_of_complete_months(data_bounds(spark, cfg)[1])


def default_as_of_dates(cfg: Config,
                        end: dt.date | None = None) -> tuple[dt.date, dt.date, dt.date]:
    """(E - 2h, E - h, E) (see :mod:`segrec_spark.calendar`), for stages that only have ``cfg``.

    ``end`` defaults to ``features.score_as_of`` or else the data's end read from bronze with the
    active Spark session.
    """
    if end is None:
        end = cfg.features.score_as_of
    if end is None:
        spark = SparkSession.getActiveSession()
        if spark is None:
            raise MissingTableError("the as_of_dates come from the data in bronze: start a Spark "
                                    "session first, or set features.score_as_of")
        end = data_end(spark, cfg)
    return calendar.default_as_of_dates(cfg, end)


def write_silver(spark: SparkSession, cfg: Config) -> None:
    """Replace silver.events and silver.identity_map (full history) from bronze."""
    frames = {s.name: read_bronze(spark, cfg, s) for s in cfg.contract.of_kind("events")}
    events = (unify_events(frames, cfg.contract)  # type: ignore[arg-type]
              .transform(sessionize(cfg.features.session_gap_minutes)))
    events_path = table_path(cfg.paths.root, "silver", "events")
    write_slice(events, events_path, None, partition_by=["channel"])
    register_table(spark, "silver", "events", events_path)
    map_path = table_path(cfg.paths.root, "silver", "identity_map")
    silver_events = read_table(spark, events_path)
    write_slice(silver_events.transform(identity_map(cfg.features.identity_resolution)),
                map_path, None)
    register_table(spark, "silver", "identity_map", map_path)


def write_dictionary(spark: SparkSession, cfg: Config) -> None:
    defs = feature_definitions(cfg.features, cfg.contract)
    path = table_path(cfg.paths.root, "gold", "feature_dictionary")
    write_slice(feature_dictionary(spark, defs), path, None)
    register_table(spark, "gold", "feature_dictionary", path)
    if is_local_path(cfg.paths.reports):
        report = Path(cfg.paths.reports) / "feature_dictionary.md"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(dictionary_markdown(defs), encoding="utf-8")
        log.info("wrote %s", report)


def dates_predicate(dates: Sequence[dt.date]) -> str:
    """The slice of ``dates``: ``as_of_date IN ('2026-01-31', ...)``."""
    return f"as_of_date IN ({', '.join(sql_literal(d.isoformat()) for d in dates)})"


def write_gold(spark: SparkSession, cfg: Config, dates: Sequence[dt.date], end: dt.date) -> None:
    """Replace the ``dates`` slices of gold.client_features in one plan and one commit, then
    those of gold.labels for the dates whose label window ends by the data's end ``end``."""
    events = read_table(spark, table_path(cfg.paths.root, "silver", "events"))
    sales = read_bronze(spark, cfg, sales_source(cfg))
    assert sales is not None
    camp = read_optional(spark, cfg, "campaigns")
    clients = read_optional(spark, cfg, "clients")
    features_path = table_path(cfg.paths.root, "gold", "client_features")
    write_slice(client_features_at(events, camp, sales, clients, dates, cfg.features,
                                   cfg.contract),
                features_path, dates_predicate(dates), partition_by=["as_of_date"])
    register_table(spark, "gold", "client_features", features_path)
    horizon = cfg.features.horizon_days
    labelled = [d for d in dates if calendar.has_label_window(d, horizon, end)]
    for as_of in sorted(set(dates) - set(labelled)):
        log.info("no labels for %s: its label window ends after the data (%s)", as_of, end)
    if not labelled:
        return
    written = read_table(spark, features_path)
    statuses = label_statuses(cfg.features, cfg.contract)
    frames = [labels(written, sales, d, horizon, statuses, cfg.contract) for d in labelled]
    labels_path = table_path(cfg.paths.root, "gold", "labels")
    write_slice(functools.reduce(DataFrame.unionByName, frames), labels_path,
                dates_predicate(labelled), partition_by=["as_of_date"])
    register_table(spark, "gold", "labels", labels_path)


def plan_dates(cfg: Config, first: dt.date, end: dt.date,
               as_of_dates: Sequence[dt.date] | None) -> list[dt.date]:
    """The given dates, else the default ones after checking the data is long enough, with the
    earlier training snapshots the data allows (``features.train_snapshots``)."""
    if as_of_dates:
        return sorted(as_of_dates)
    features = cfg.features
    dates = calendar.default_as_of_dates(cfg, end)
    calendar.require_history(first, dates[-1], features.max_window, features.horizon_days)
    stacked = calendar.stacked_dates(first, dates[0], features.horizon_days, features.max_window,
                                     features.train_snapshots)
    return [*stacked, *dates]


def run(spark: SparkSession, cfg: Config,
        as_of_dates: Sequence[dt.date] | None = None) -> list[dt.date]:
    """Write silver once, then gold for each as_of_date (default: from the data's calendar)."""
    started = time.monotonic()
    first, last = data_bounds(spark, cfg)
    end = calendar.end_of_complete_months(last)
    dates = plan_dates(cfg, first, end, as_of_dates)
    log.info("data from %s to %s: end of complete months %s; as_of_dates %s", first, last, end,
             ", ".join(str(d) for d in dates))
    write_silver(spark, cfg)
    log.info("silver written in %.1f s", time.monotonic() - started)
    write_dictionary(spark, cfg)
    begun = time.monotonic()
    write_gold(spark, cfg, dates, end)
    log.info("gold for %d as_of_date(s) written in %.1f s", len(dates), time.monotonic() - begun)
    log.info("features stage done in %.1f s for %s", time.monotonic() - started,
             ", ".join(str(d) for d in dates))
    return dates


def main(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> None:
    text = getattr(args, "as_of", None)
    run(spark, cfg, [parse_as_of(text)] if text else None)
