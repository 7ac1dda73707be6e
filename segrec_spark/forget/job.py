"""The ``segrec forget`` command: erase clients from every layer and keep a tombstone.

``segrec forget --key K [--key K2 ...] [--keys-file FILE] [--vacuum-hours H]``

1. The cookies each key logged in with are gathered from every table with both a key and a
   cookie column (bronze web, silver.events, silver.identity_map), so the client's anonymous
   events go too.
2. Every Delta table under ``paths.root`` that names a client (:func:`erase.client_columns`) has
   the matching rows deleted by one Delta MERGE each (bronze, silver, gold, ops quarantine).
3. ``ops.forgotten_clients`` gets the keys and cookies (MERGE: a second request adds nothing), and
   ingest drops rows carrying them from then on, counting them as ``rows_forgotten``.
4. ``--vacuum-hours H`` then VACUUMs the tables it changed, so the deleted rows' files older
   than H hours are removed; until then Delta's time travel can still read them (docs/forget.md).

Logs one line per table changed and a total; a re-run is a no-op on data.
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segrec_spark.config import Config, ConfigError
from segrec_spark.forget.erase import (
    TOMBSTONE_SCHEMA,
    TOMBSTONES,
    Columns,
    client_columns,
    erase_condition,
    linked_cookies,
    tombstones,
)
from segrec_spark.tables import (
    delta_exists,
    discover_tables,
    read_table,
    register_table,
    table_path,
)

log = logging.getLogger(__name__)


def requested_keys(keys: list[str] | None, keys_file: str | None) -> list[str]:
    """The keys of the request: ``--key`` values and the lines of ``--keys-file`` (blank lines
    and ``#`` comments skipped), distinct, in order. Raises ConfigError when there are none."""
    found = [k.strip() for k in keys or [] if k.strip()]
    if keys_file:
        path = Path(keys_file)
        if not path.is_file():
            raise ConfigError(f"forget --keys-file {keys_file}: no such file")
        found += [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                  if line.strip() and not line.lstrip().startswith("#")]
    if not found:
        raise ConfigError("forget: no client key given (--key K or --keys-file FILE)")
    return list(dict.fromkeys(found))


def _cookie_names(cfg: Config) -> list[str]:
    return sorted({c.name for s in cfg.contract.sources.values() for c in s.columns
                   if c.role == "cookie"})


def _layout(spark: SparkSession, cfg: Config) -> dict[str, tuple[str, Columns]]:
    """{layer.name: (path, columns naming a client)} of every Delta table under the root."""
    key_names, cookie_names = [cfg.contract.key.column], _cookie_names(cfg)
    layout = {}
    for layer, names in discover_tables(spark, cfg.paths.root).items():
        for name in names:
            if layer == "ops" and name == TOMBSTONES:
                continue
            path = table_path(cfg.paths.root, layer, name)
            where = client_columns(read_table(spark, path).columns, key_names, cookie_names)
            if where.any:
                layout[f"{layer}.{name}"] = (path, where)
    return layout


def erase(spark: SparkSession, cfg: Config, keys: list[str], vacuum_hours: float | None = None
          ) -> dict[str, Any]:
    """Erase ``keys`` (and their cookies) everywhere; record the tombstones. Returns a summary."""
    began = time.monotonic()
    layout = _layout(spark, cfg)
    key_frame = spark.createDataFrame([(k,) for k in keys], "value string")
    cookies: DataFrame = spark.createDataFrame([], "value string")
    for path, where in layout.values():
        cookies = cookies.unionByName(linked_cookies(read_table(spark, path), where, key_frame))
    cookies = cookies.distinct().localCheckpoint()  # before the tables it came from change
    erased = tombstones(key_frame, cookies, dt.datetime.now()).localCheckpoint()
    n_cookies = erased.where(F.col("kind") == "cookie").count()

    deleted: dict[str, int] = {}
    for table, (path, where) in sorted(layout.items()):
        metrics = (DeltaTable.forPath(spark, path).alias("t")
                   .merge(F.broadcast(erased).alias("f"), erase_condition(where))
                   .whenMatchedDelete().execute().first())
        n = int(metrics["num_deleted_rows"]) if metrics is not None else 0
        if n:
            deleted[table] = n
            log.info("forget: %s: %d row(s) deleted", table, n)
    _record(spark, cfg, erased)
    if vacuum_hours is not None:
        _vacuum(spark, [layout[t][0] for t in deleted], vacuum_hours)
    seconds = round(time.monotonic() - began, 1)
    log.info("forget: %d key(s), %d linked cookie(s): %d row(s) deleted from %d table(s); "
             "tombstones in ops.%s (%.1f s)", len(keys), n_cookies, sum(deleted.values()),
             len(deleted), TOMBSTONES, seconds)
    return {"keys": len(keys), "cookies": n_cookies, "deleted": deleted, "seconds": seconds}


def _record(spark: SparkSession, cfg: Config, erased: DataFrame) -> None:
    path = table_path(cfg.paths.root, "ops", TOMBSTONES)
    if not delta_exists(spark, path):
        spark.createDataFrame([], TOMBSTONE_SCHEMA).write.format("delta").save(path)
    (DeltaTable.forPath(spark, path).alias("t")
     .merge(erased.alias("f"), "t.kind = f.kind AND t.value = f.value")
     .whenNotMatchedInsertAll().execute())
    register_table(spark, "ops", TOMBSTONES, path)


def _vacuum(spark: SparkSession, paths: list[str], hours: float) -> None:
    """VACUUM ``paths`` keeping ``hours`` of history; below Delta's 7-day default the safety
    check is lifted for these calls only (docs/forget.md: concurrent readers of old versions)."""
    check = "spark.databricks.delta.retentionDurationCheck.enabled"
    before = spark.conf.get(check, "true") or "true"
    spark.conf.set(check, "false")
    try:
        for path in paths:
            DeltaTable.forPath(spark, path).vacuum(hours)
            log.info("forget: vacuumed %s (files older than %g h removed)", path, hours)
    finally:
        spark.conf.set(check, before)


def main(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> None:
    keys = requested_keys(args.key, args.keys_file)
    if args.vacuum_hours is not None and args.vacuum_hours < 0:
        raise ConfigError(f"forget --vacuum-hours: must be >= 0, found {args.vacuum_hours}")
    summary = erase(spark, cfg, keys, args.vacuum_hours)
    print(f"forgot {summary['keys']} client(s): {sum(summary['deleted'].values())} row(s) "
          f"deleted from {len(summary['deleted'])} table(s); tombstones in ops.{TOMBSTONES}")
