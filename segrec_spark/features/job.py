"""Features stage I/O: bronze Delta tables -> silver.events / silver.identity_map ->
gold.client_features and gold.labels (one slice per as_of_date) + gold.feature_dictionary.

All logic lives in the pure modules of this package; this module only reads, writes, registers
and logs. Every write is idempotent: silver and the dictionary are replaced whole, gold slices
with ``replaceWhere as_of_date = '<date>'``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from segrec_spark.config import Config, ConfigError, is_local_path
from segrec_spark.errors import MissingTableError, SchemaMismatchError
from segrec_spark.features.client_features import client_features
from segrec_spark.features.definitions import (dictionary_markdown, feature_definitions,
                                               feature_dictionary)
from segrec_spark.features.labels import labels
from segrec_spark.features.silver import identity_map, sessionize, unify_events
from segrec_spark.sources import APP_EVENT_TYPES, SOURCES
from segrec_spark.tables import (delta_exists, read_table, register_table, sql_literal,
                                 table_path, write_slice)

log = logging.getLogger(__name__)

EVENT_SOURCES: tuple[str, ...] = ("web", *APP_EVENT_TYPES, "ib")
REQUIRED_SOURCES: tuple[str, ...] = (*EVENT_SOURCES, "prodeje", "camp")
OPTIONAL_SOURCES: tuple[str, ...] = ("clients",)


def add_months(first_of_month: dt.date, months: int) -> dt.date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def data_end(cfg: Config) -> dt.date:
    """E: the first day after the event data (generator.start_date + generator.months)."""
    return add_months(cfg.generator.start_date, cfg.generator.months)


def default_as_of_dates(cfg: Config) -> tuple[dt.date, dt.date, dt.date]:
    """(E - 2h, E - h, E): two labelled training/validation dates and the scoring date.

    ``features.score_as_of`` replaces E and ``features.train_as_of`` replaces E - h when set;
    the earliest date is always one horizon before the training date.
    """
    horizon = dt.timedelta(days=cfg.features.horizon_days)
    score = cfg.features.score_as_of or data_end(cfg)
    train = cfg.features.train_as_of or score - horizon
    if train >= score:
        raise ConfigError(f"features.train_as_of: must be before the scoring as_of_date {score}, "
                          f"found {train}")
    return train - horizon, train, score


def parse_as_of(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--as-of: expected a date YYYY-MM-DD, found {text!r}") from None


def has_label_window(as_of: dt.date, cfg: Config) -> bool:
    """Labels exist when the whole window [as_of, as_of + horizon) lies inside the data."""
    return as_of + dt.timedelta(days=cfg.features.horizon_days) <= data_end(cfg)


def require_columns(df: DataFrame, table: str, columns: Sequence[str]) -> DataFrame:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaMismatchError(f"{table}: missing column(s) {', '.join(missing)} "
                                  f"(found: {', '.join(df.columns)})")
    return df


def read_bronze(spark: SparkSession, cfg: Config, source: str,
                required: bool = True) -> DataFrame | None:
    path = table_path(cfg.paths.root, "bronze", source)
    if not delta_exists(spark, path):
        if required:
            raise MissingTableError(f"bronze.{source}: no Delta table at {path}; "
                                    f"run `segrec ingest` first")
        log.warning("bronze.%s not found at %s: client attributes will be UNKNOWN", source, path)
        return None
    return require_columns(read_table(spark, path), f"bronze.{source} ({path})",
                           SOURCES[source].column_names)


def write_silver(spark: SparkSession, cfg: Config) -> None:
    """Replace silver.events and silver.identity_map (full history) from bronze."""
    sources = {s: read_bronze(spark, cfg, s) for s in EVENT_SOURCES}
    apps = {s: sources[s] for s in APP_EVENT_TYPES}
    events = (unify_events(sources["web"], apps, sources["ib"])
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
    defs = feature_definitions(cfg.features)
    path = table_path(cfg.paths.root, "gold", "feature_dictionary")
    write_slice(feature_dictionary(spark, defs), path, None)
    register_table(spark, "gold", "feature_dictionary", path)
    if is_local_path(cfg.paths.reports):
        report = Path(cfg.paths.reports) / "feature_dictionary.md"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(dictionary_markdown(defs), encoding="utf-8")
        log.info("wrote %s", report)


def write_gold(spark: SparkSession, cfg: Config, as_of: dt.date) -> None:
    """Replace the as_of_date slice of gold.client_features (and gold.labels when labelled)."""
    events = read_table(spark, table_path(cfg.paths.root, "silver", "events"))
    camp = read_bronze(spark, cfg, "camp")
    prodeje = read_bronze(spark, cfg, "prodeje")
    clients = read_bronze(spark, cfg, "clients", required=False)
    slice_predicate = f"as_of_date = {sql_literal(as_of.isoformat())}"
    features_path = table_path(cfg.paths.root, "gold", "client_features")
    write_slice(client_features(events, camp, prodeje, clients, as_of, cfg.features),
                features_path, slice_predicate, partition_by=["as_of_date"])
    register_table(spark, "gold", "client_features", features_path)
    if not has_label_window(as_of, cfg):
        log.info("no labels for %s: its label window ends after the data (%s)",
                 as_of, data_end(cfg))
        return
    written = read_table(spark, features_path)
    labels_path = table_path(cfg.paths.root, "gold", "labels")
    write_slice(labels(written, prodeje, as_of, cfg.features.horizon_days,
                       cfg.features.label_statuses),
                labels_path, slice_predicate, partition_by=["as_of_date"])
    register_table(spark, "gold", "labels", labels_path)


def run(spark: SparkSession, cfg: Config,
        as_of_dates: Sequence[dt.date] | None = None) -> list[dt.date]:
    """Write silver once, then gold for each as_of_date (default: default_as_of_dates)."""
    dates = sorted(as_of_dates or default_as_of_dates(cfg))
    started = time.monotonic()
    write_silver(spark, cfg)
    log.info("silver written in %.1f s", time.monotonic() - started)
    write_dictionary(spark, cfg)
    for as_of in dates:
        begun = time.monotonic()
        write_gold(spark, cfg, as_of)
        log.info("gold for %s written in %.1f s", as_of, time.monotonic() - begun)
    log.info("features stage done in %.1f s for %s", time.monotonic() - started,
             ", ".join(str(d) for d in dates))
    return dates


def main(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> None:
    text = getattr(args, "as_of", None)
    run(spark, cfg, [parse_as_of(text)] if text else None)
