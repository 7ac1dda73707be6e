"""Delta table I/O at the edges: paths under the root, idempotent slice writes, catalog names.

Every table lives at ``<root>/<layer>/<name>`` and is registered in the Spark catalog as
``<layer>.<name>`` (one database per layer: bronze, silver, gold, ops). Writes replace exactly
one slice (``replaceWhere``) so re-running a stage for the same batch or as_of_date gives the same
table, and a failed write leaves the previous version in place (a Delta commit is atomic).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pyspark.sql import Column, DataFrame, Row, SparkSession

from segrec_spark.errors import MissingTableError

log = logging.getLogger(__name__)

LAYERS = ("bronze", "silver", "gold", "ops")


def table_path(root: str, layer: str, name: str) -> str:
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {', '.join(LAYERS)}")
    return f"{root.rstrip('/')}/{layer}/{name}"


def table_name(layer: str, name: str) -> str:
    return f"{layer}.{name}"


def delta_exists(spark: SparkSession, path: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, path)


def qualified(spark: SparkSession, path: str) -> str:
    """``path`` as Hadoop qualifies it (scheme, authority, no trailing /): ``/lake``,
    ``file:/lake/`` and ``file:///lake`` are one place, as are ``hdfs:///x`` and
    ``hdfs://namenode:8020/x`` on a cluster whose default filesystem is that namenode."""
    hadoop = jvm(spark).org.apache.hadoop.fs.Path(path)
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    return str(hadoop.getFileSystem(conf).makeQualified(hadoop).toString()).rstrip("/")


def catalog_entry(spark: SparkSession, layer: str, name: str) -> tuple[str, str] | None:
    """(table type, location) of ``layer.name`` as the session catalog records it, or None.

    Read from the catalog's metadata, not by resolving the table: resolving a Delta table
    whose location is gone fails."""
    gateway = jvm(spark)
    catalog = spark._jsparkSession.sessionState().catalog()  # type: ignore[attr-defined]
    ident = gateway.org.apache.spark.sql.catalyst.TableIdentifier.apply(
        name, gateway.scala.Option.apply(layer))
    if not catalog.tableExists(ident):
        return None
    meta = catalog.getTableMetadata(ident)
    uri = meta.storage().locationUri()
    location = str(uri.get().toString()) if uri.isDefined() else ""
    return str(meta.tableType().name()), location


def register_table(spark: SparkSession, layer: str, name: str, path: str) -> None:
    """Register the Delta table at ``path`` as ``layer.name`` (idempotent).

    A name this pipeline registered earlier with another location (e.g. ``paths.root`` changed)
    is re-pointed at ``path``: its catalog entry, an external table, is dropped (its data stays
    where it is) and created again, so BI queries never read the old location. A managed table
    or a view of that name is someone else's: MissingTableError, nothing dropped."""
    full = f"{layer}.{name}"
    # Checked first: Spark 4's CREATE DATABASE IF NOT EXISTS on an existing database logs a
    # WARN "Namespace ... was created concurrently" (dozens per run under spark-submit).
    if not spark.catalog.databaseExists(layer):
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {layer}")
    entry = catalog_entry(spark, layer, name)
    if entry is not None:
        kind, location = entry
        if kind != "EXTERNAL":
            raise MissingTableError(
                f"catalog: {full} exists as a {kind} table, not the external Delta table this "
                f"pipeline registers for {path}; drop or rename it")
        if location and qualified(spark, location) == qualified(spark, path):
            return
        log.info("catalog: %s pointed at %s; re-pointed at %s", full, location or "?", path)
        spark.sql(f"DROP TABLE IF EXISTS {full}")
    spark.sql(f"CREATE TABLE IF NOT EXISTS {full} USING DELTA LOCATION {sql_literal(path)}")


def register_all(spark: SparkSession, root: str, names: dict[str, Sequence[str]]) -> list[str]:
    """Register every existing Delta table of ``names`` ({layer: [table, ...]}) under ``root``."""
    registered = []
    for layer, tables in names.items():
        for name in tables:
            path = table_path(root, layer, name)
            if delta_exists(spark, path):
                register_table(spark, layer, name, path)
                registered.append(table_name(layer, name))
    return registered


def write_slice(
    df: DataFrame,
    path: str,
    replace_where: str | None,
    partition_by: Sequence[str] = (),
    merge_schema: bool = False,
) -> None:
    """Write ``df`` as the slice of the Delta table at ``path`` selected by ``replace_where``.

    The first write creates the table (partitioned by ``partition_by``); later writes atomically
    replace the rows matching ``replace_where`` and leave every other slice untouched. With
    ``replace_where=None`` the whole table is replaced.
    """
    writer = df.write.format("delta").mode("overwrite")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    if replace_where is not None and delta_exists(df.sparkSession, path):
        writer = writer.option("replaceWhere", replace_where)
    else:
        writer = writer.option("overwriteSchema", "true") if replace_where is None else writer
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    writer.save(path)
    log.info("wrote %s (%s)", path, replace_where or "whole table")


def read_table(spark: SparkSession, path: str, version: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(path)


def read_table_if_exists(spark: SparkSession, path: str) -> DataFrame | None:
    """The Delta table at ``path``, or None when there is none (an optional input)."""
    return read_table(spark, path) if delta_exists(spark, path) else None


def sql_literal(value: object) -> str:
    """A SQL literal for a replaceWhere predicate (strings quoted and escaped)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def jvm(spark: SparkSession) -> Any:
    """The Py4J view of the driver JVM (Hadoop filesystem calls); always there once Spark runs."""
    gateway = spark.sparkContext._jvm
    assert gateway is not None, "the SparkContext has no JVM gateway"
    return gateway


def first_row(df: DataFrame) -> Row:
    """The first row of an aggregate that always returns one row (a global ``agg``)."""
    row = df.first()
    assert row is not None, "an aggregate without grouping returned no row"
    return row


# Aggregates computed in one Spark aggregation by :func:`aggregated_in_chunks`. Thousands of
# aggregates in one aggregation (a snapshot's plan counts five or more per text column) take
# minutes to plan and compile, and the generated code is too large to run compiled; a few
# hundred at a time take seconds (docs/performance.md, "Planning a wide file").
AGGREGATE_CHUNK = 200


def aggregated_in_chunks(df: DataFrame, aggregates: Sequence[Column]) -> dict[str, Any]:
    """The one row of ``df.agg(*aggregates)`` as {alias: value}, aggregated
    :data:`AGGREGATE_CHUNK` aggregates at a time (one pass over ``df`` per chunk: cache it);
    each aggregate carries its own alias."""
    values: dict[str, Any] = {}
    for i in range(0, len(aggregates), AGGREGATE_CHUNK):
        values.update(first_row(df.agg(*aggregates[i:i + AGGREGATE_CHUNK])).asDict())
    return values


def discover_tables(spark: SparkSession, root: str) -> dict[str, list[str]]:
    """Delta tables found under ``root``, as {layer: [name, ...]} (any Hadoop filesystem)."""
    gateway = jvm(spark)
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    found: dict[str, list[str]] = {}
    for layer in LAYERS:
        layer_path = gateway.org.apache.hadoop.fs.Path(f"{root.rstrip('/')}/{layer}")
        fs = layer_path.getFileSystem(conf)
        if not fs.exists(layer_path):
            continue
        names = []
        for status in fs.listStatus(layer_path):
            if status.isDirectory() and fs.exists(
                gateway.org.apache.hadoop.fs.Path(status.getPath(), "_delta_log")
            ):
                names.append(status.getPath().getName())
        if names:
            found[layer] = sorted(names)
    return found
