"""Ingest job: landing deliveries -> typed bronze Delta tables, quarantine and audit (I/O only).

One batch = one source's delivery folder ``<landing>/<source>/<YYYY-MM>/``. For each batch:
list its files, check their schemas (nothing is written if one is wrong), read them as text,
classify every row (:mod:`segrec_spark.ingest.validate`), then replace the delivery's slice of
``bronze.<source>``, ``ops.quarantine`` and ``ops.ingest_audit``. A delivery whose content and
ingest settings are unchanged since its last successful batch is skipped without touching any
table (``ingest.force`` re-ingests it anyway).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segrec_spark.config import Config, ConfigError
from segrec_spark.errors import InputDataError, SchemaMismatchError, SegrecError
from segrec_spark.ingest.schema import FileSchema, check_delivery_schema
from segrec_spark.ingest.settings import IngestSettings
from segrec_spark.ingest.validate import (
    ACCEPTED,
    CORRUPT_RECORD,
    DUPLICATE,
    OUTCOME,
    RAW_RECORD,
    ROW_HASH,
    SOURCE_FILE,
    delivery_period,
    flag_rejects,
    is_delivery_name,
    mark_duplicates,
    outcome_counts,
    quarantine_records,
    typed_bronze,
    with_outcome,
    with_row_hash,
)
from segrec_spark.sources import SOURCES, Source, landing_dir
from segrec_spark.tables import (
    delta_exists,
    read_table,
    register_table,
    sql_literal,
    table_path,
    write_slice,
)

log = logging.getLogger(__name__)

QUARANTINE = "quarantine"
AUDIT = "ingest_audit"
EXTENSIONS = {"csv": (".csv", ".csv.gz"), "parquet": (".parquet",)}

AUDIT_SCHEMA = T.StructType([
    T.StructField("source", T.StringType(), False),
    T.StructField("delivery", T.StringType(), False),
    T.StructField("batch_id", T.StringType(), False),
    T.StructField("files", T.ArrayType(T.StringType()), False),
    T.StructField("rows_read", T.LongType(), False),
    T.StructField("rows_accepted", T.LongType(), False),
    T.StructField("rows_quarantined", T.LongType(), False),
    T.StructField("duplicates_dropped", T.LongType(), False),
    T.StructField("quarantine_reasons", T.MapType(T.StringType(), T.LongType()), False),
    T.StructField("status", T.StringType(), False),  # OK | EMPTY
    T.StructField("started_at", T.TimestampType(), False),
    T.StructField("finished_at", T.TimestampType(), False),
    T.StructField("extra_columns", T.ArrayType(T.StringType()), False),
    T.StructField("message", T.StringType(), True),
    T.StructField("fingerprint", T.StringType(), False),  # content + settings, for re-run skips
])


# --- landing file system (Hadoop FileSystem, so s3a:, abfss:, hdfs: work as file: does) ---------

@dataclass(frozen=True)
class Entry:
    path: str
    name: str
    is_dir: bool


def _hadoop_path(spark: SparkSession, path: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hpath


def list_dir(spark: SparkSession, path: str) -> list[Entry] | None:
    """The entries of folder ``path`` (hidden ``_``/``.`` names left out), None if it is missing."""
    fs, hpath = _hadoop_path(spark, path)
    if not fs.exists(hpath) or not fs.getFileStatus(hpath).isDirectory():
        return None
    entries = [Entry(str(s.getPath().toString()), s.getPath().getName(), s.isDirectory())
               for s in fs.listStatus(hpath)]
    return sorted((e for e in entries if not e.name.startswith(("_", "."))), key=lambda e: e.name)


def read_first_line(spark: SparkSession, path: str) -> str | None:
    """The first line of a (possibly compressed) text file, None if the file is empty."""
    jvm = spark.sparkContext._jvm
    fs, hpath = _hadoop_path(spark, path)
    stream = fs.open(hpath)
    codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(
        spark.sparkContext._jsc.hadoopConfiguration()).getCodec(hpath)
    if codec is not None:
        stream = codec.createInputStream(stream)
    reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8"))
    try:
        line = reader.readLine()
    finally:
        reader.close()
    return None if line is None else str(line)


def csv_header(spark: SparkSession, path: str) -> FileSchema:
    line = read_first_line(spark, path) or ""
    names = next(csv.reader([line.lstrip("\ufeff")]), [])
    return FileSchema(path, tuple((name.strip(), "string") for name in names))


def parquet_schema(spark: SparkSession, path: str) -> FileSchema:
    fields = spark.read.parquet(path).schema.fields
    return FileSchema(path, tuple((f.name, f.dataType.simpleString()) for f in fields))


# --- planning ---------------------------------------------------------------------------------

def plan_batches(spark: SparkSession, landing: str, sources: Sequence[str] | None,
                 deliveries: Sequence[str] | None) -> dict[str, list[str]]:
    """{source: [delivery, ...]} to ingest, deliveries in ascending order.

    A missing landing folder, a requested source or delivery that is not there, or nothing to
    ingest at all raise InputDataError; with the defaults (all sources, all deliveries) a source
    without a folder is only a warning (``clients`` is optional).
    """
    unknown = [s for s in sources or () if s not in SOURCES]
    if unknown:
        raise ConfigError(f"--source {unknown[0]!r}: unknown source (known: {', '.join(SOURCES)})")
    bad = [d for d in deliveries or () if not is_delivery_name(d)]
    if bad:
        raise ConfigError(f"--delivery {bad[0]!r}: expected a month YYYY-MM")
    if list_dir(spark, landing) is None:
        raise InputDataError(f"landing folder {landing} does not exist (paths.landing); "
                             "run `segrec generate` or point paths.landing at the deliveries")
    plan: dict[str, list[str]] = {}
    for source in sources or SOURCES:
        explicit = sources is not None
        folder = f"{landing.rstrip('/')}/{source}"
        entries = list_dir(spark, folder)
        if entries is None:
            if explicit:
                raise InputDataError(f"source {source}: landing folder {folder} does not exist")
            log.warning("source %s: no landing folder %s, skipped", source, folder)
            continue
        found = [e.name for e in entries if e.is_dir and is_delivery_name(e.name)]
        ignored = [e.name for e in entries if e.name not in found]
        if ignored:
            log.warning("source %s: ignoring %s in %s (not a YYYY-MM delivery folder)",
                        source, ", ".join(ignored), folder)
        wanted = sorted(deliveries) if deliveries else sorted(found)
        for delivery in wanted:
            if delivery not in found:
                message = f"source {source}: delivery folder {folder}/{delivery} does not exist"
                if explicit:
                    raise InputDataError(message)
                log.warning("%s, skipped", message)
        plan[source] = [d for d in wanted if d in found]
        if not plan[source]:
            log.warning("source %s: no delivery folders in %s", source, folder)
    if not any(plan.values()):
        raise InputDataError(f"nothing to ingest: no delivery folders <source>/YYYY-MM under "
                             f"{landing} for {', '.join(sources or SOURCES)}")
    return plan


# --- reading a delivery -------------------------------------------------------------------------

def _file_label(source: str, delivery: str) -> Any:
    return F.concat(F.lit(f"{source}/{delivery}/"), F.col("_metadata.file_name"))


def read_csv_files(spark: SparkSession, source: Source, delivery: str,
                   files: list[FileSchema]) -> DataFrame:
    """Text frame of CSV files, grouped by header; wrong field counts land in _corrupt_record."""
    frames = []
    by_header: dict[tuple[str, ...], list[str]] = {}
    for file in files:
        by_header.setdefault(file.names, []).append(file.path)
    for header, paths in by_header.items():
        schema = T.StructType([T.StructField(n, T.StringType()) for n in header]
                              + [T.StructField(CORRUPT_RECORD, T.StringType())])
        df = (spark.read.schema(schema)
              .option("header", True)
              .option("mode", "PERMISSIVE")
              .option("columnNameOfCorruptRecord", CORRUPT_RECORD)
              .csv(paths))
        # Spark flags too many and too few fields alike, but only while every column is parsed:
        # with CSV column pruning a query that needs fewer columns loses the flag. The raw line
        # and _row_hash use all columns and every output depends on them, so none is pruned.
        raw_line = F.coalesce(F.col(CORRUPT_RECORD), F.to_csv(F.struct(*header)))
        frames.append(df.withColumn(RAW_RECORD, raw_line)
                      .withColumn(SOURCE_FILE, _file_label(source.name, delivery)))
    return _union(frames)


def read_parquet_files(spark: SparkSession, source: Source, delivery: str,
                       files: list[FileSchema]) -> DataFrame:
    """Frame of Parquet files, grouped by schema; the raw record is the row as JSON."""
    frames = []
    by_schema: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for file in files:
        by_schema.setdefault(file.columns, []).append(file.path)
    for columns, paths in by_schema.items():
        names = [name for name, _ in columns]
        df = spark.read.parquet(*paths)
        raw_json = F.to_json(F.struct(*names), {"ignoreNullFields": "false"})
        frames.append(df.withColumn(CORRUPT_RECORD, F.lit(None).cast("string"))
                      .withColumn(RAW_RECORD, raw_json)
                      .withColumn(SOURCE_FILE, _file_label(source.name, delivery)))
    return _union(frames)


def _union(frames: list[DataFrame]) -> DataFrame:
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame, allowMissingColumns=True)
    return result


def landing_frame(df: DataFrame, source: Source, extra_columns: tuple[str, ...]) -> DataFrame:
    """The read frame's schema contract: contract columns as text (absent optional ones null),
    kept extra columns, then _corrupt_record, _raw_record and _source_file."""
    present = set(df.columns)
    data = [F.col(c).cast("string").alias(c) if c in present
            else F.lit(None).cast("string").alias(c) for c in source.column_names]
    extras = [F.col(c) if c in present else F.lit(None).alias(c) for c in extra_columns]
    return df.select(*data, *extras, F.col(CORRUPT_RECORD), F.col(RAW_RECORD), F.col(SOURCE_FILE))


# --- one batch ----------------------------------------------------------------------------------

def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _audit_row(source: str, delivery: str, files: list[str], counts: dict[str, int],
               status: str, started_at: dt.datetime, extras: tuple[str, ...], message: str,
               fingerprint: str) -> dict[str, Any]:
    reasons = {k: v for k, v in sorted(counts.items()) if k not in (ACCEPTED, DUPLICATE)}
    return {
        "source": source, "delivery": delivery, "batch_id": f"{source}/{delivery}",
        "files": files, "rows_read": sum(counts.values()),
        "rows_accepted": counts.get(ACCEPTED, 0), "rows_quarantined": sum(reasons.values()),
        "duplicates_dropped": counts.get(DUPLICATE, 0), "quarantine_reasons": reasons,
        "status": status, "started_at": started_at, "finished_at": _now(),
        "extra_columns": list(extras), "message": message, "fingerprint": fingerprint,
    }


def previous_audits(spark: SparkSession, root: str) -> dict[tuple[str, str], dict[str, Any]]:
    """{(source, delivery): last audit row}; the audit table is tiny (one row per batch)."""
    path = table_path(root, "ops", AUDIT)
    if not delta_exists(spark, path):
        return {}
    rows = read_table(spark, path).collect()
    return {(r["source"], r["delivery"]): r.asDict(recursive=True) for r in rows}


def _slice(source: str, delivery: str) -> str:
    return f"source = {sql_literal(source)} AND delivery = {sql_literal(delivery)}"


def ingest_delivery(spark: SparkSession, cfg: Config, source: Source, delivery: str,
                    previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Ingest one delivery folder; return its audit row. ``previous`` is the delivery's last
    audit row (None if never ingested). Raises SchemaMismatchError before any write when a file
    breaks the contract."""
    settings: IngestSettings = cfg.ingest
    started_at = _now()
    batch_id = f"{source.name}/{delivery}"
    fmt = settings.format_of(source.name)
    folder = landing_dir(cfg.paths.landing, source.name, delivery)
    root = cfg.paths.root
    bronze_path = table_path(root, "bronze", source.name)
    quarantine_path = table_path(root, "ops", QUARANTINE)
    audit_path = table_path(root, "ops", AUDIT)

    entries = [e for e in list_dir(spark, folder) or [] if not e.is_dir]
    files = [e for e in entries if e.name.endswith(EXTENSIONS[fmt])]
    others = [e.name for e in entries if e not in files]
    if others and not files:
        raise InputDataError(
            f"{folder}: no {fmt} files (ingest.formats / sources contract say {source.name} is "
            f"{fmt}); found {', '.join(others)}")
    if others:
        log.warning("%s: ignoring %s (not %s)", folder, ", ".join(others), fmt)
    names = [e.name for e in files]

    schemas = [csv_header(spark, e.path) if fmt == "csv" else parquet_schema(spark, e.path)
               for e in files]
    non_empty = [s for s in schemas if s.columns]  # an empty CSV file has no header at all
    extras = check_delivery_schema(source, non_empty)
    kept_extras = extras if settings.schema_drift == "add" else ()
    if extras:
        log.warning("%s: extra column(s) %s not in the %s contract: %s", batch_id,
                    ", ".join(extras), source.name,
                    "added to bronze" if kept_extras else "ignored (ingest.schema_drift=ignore)")
    drift_note = (f"extra columns {', '.join(extras)} "
                  f"{'added' if kept_extras else 'ignored'}" if extras else "")

    if not non_empty:
        counts: dict[str, int] = {}
        fingerprint = f"empty;{settings.fingerprint()}"
        classified = None
    else:
        read = read_csv_files if fmt == "csv" else read_parquet_files
        text = landing_frame(read(spark, source, delivery, non_empty), source, kept_extras)
        period = delivery_period(delivery, settings.late_tolerance_days)
        seen = None
        if delta_exists(spark, bronze_path):
            seen = (read_table(spark, bronze_path)
                    .filter(F.col("_delivery") != delivery).select(ROW_HASH))
        classified = (text.transform(with_row_hash(source))
                      .transform(flag_rejects(source, period, settings))
                      .transform(mark_duplicates(seen))
                      .transform(with_outcome)
                      .persist(StorageLevel.MEMORY_AND_DISK))
        tally = outcome_counts(classified).collect()
        counts = {r[OUTCOME]: int(r["rows"]) for r in tally}
        checksum = ",".join(f"{r[OUTCOME]}={r['rows']}:{r['checksum']}"
                            for r in sorted(tally, key=lambda r: r[OUTCOME]))
        fingerprint = f"{checksum};{','.join(names)};{settings.fingerprint()}"

    try:
        unchanged = (previous is not None and previous["fingerprint"] == fingerprint
                     and (previous["status"] == "EMPTY" or delta_exists(spark, bronze_path)))
        if unchanged and not settings.force:
            log.info("%s: unchanged since %s, nothing written (ingest.force=true re-ingests)",
                     batch_id, previous["finished_at"])
            return {**previous, "status": "UNCHANGED",
                    "message": f"unchanged since {previous['finished_at']}; nothing written"}

        total = sum(counts.values())
        if total == 0:
            message = (f"{folder}: empty delivery ({len(files)} file(s), no rows); "
                       "bronze and quarantine left as they were")
            log.warning(message)
            row = _audit_row(source.name, delivery, names, counts, "EMPTY", started_at, extras,
                             message, fingerprint)
        else:
            assert classified is not None
            accepted = (classified.filter(F.col(OUTCOME) == ACCEPTED)
                        .withColumn("_delivery", F.lit(delivery))
                        .withColumn("_batch_id", F.lit(batch_id))
                        .withColumn("_ingested_at", F.lit(started_at))
                        .transform(typed_bronze(source, kept_extras)))
            partition = settings.partition_column(source.name)
            write_slice(accepted.repartition(partition), bronze_path,
                        f"_delivery = {sql_literal(delivery)}", [partition],
                        merge_schema=bool(kept_extras))
            rejected = classified.filter(~F.col(OUTCOME).isin(ACCEPTED, DUPLICATE))
            quarantine = rejected.transform(
                quarantine_records(source.name, delivery, batch_id, started_at))
            write_slice(quarantine.coalesce(1), quarantine_path,
                        _slice(source.name, delivery), ["source"])
            row = _audit_row(source.name, delivery, names, counts, "OK", started_at, extras,
                             drift_note, fingerprint)
        _check_counts(row)
        audit = spark.createDataFrame([row], AUDIT_SCHEMA)
        write_slice(audit.coalesce(1), audit_path, _slice(source.name, delivery))
    finally:
        if classified is not None:
            classified.unpersist()
    log.info("%s: read %d = accepted %d + quarantined %d + duplicates dropped %d (%s)%s",
             batch_id, row["rows_read"], row["rows_accepted"], row["rows_quarantined"],
             row["duplicates_dropped"], row["status"],
             f"; quarantine reasons {row['quarantine_reasons']}" if row["rows_quarantined"] else "")
    return row


def _check_counts(row: dict[str, Any]) -> None:
    parts = row["rows_accepted"] + row["rows_quarantined"] + row["duplicates_dropped"]
    if row["rows_read"] != parts:  # impossible by construction; guards against a future bug
        raise SegrecError(f"{row['batch_id']}: rows read {row['rows_read']} != accepted + "
                          f"quarantined + duplicates ({parts})")


# --- entry points -------------------------------------------------------------------------------

def register_tables(spark: SparkSession, root: str, sources: Sequence[str]) -> None:
    for name in sources:
        path = table_path(root, "bronze", name)
        if delta_exists(spark, path):
            register_table(spark, "bronze", name, path)
    for name in (QUARANTINE, AUDIT):
        path = table_path(root, "ops", name)
        if delta_exists(spark, path):
            register_table(spark, "ops", name, path)


def run(spark: SparkSession, cfg: Config, sources: Sequence[str] | None = None,
        deliveries: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Ingest the deliveries of ``sources`` (default all); return one audit row per batch.

    A schema mismatch stops that source (its later deliveries are not ingested; nothing of the
    failing batch is written); the other sources still run, then the first error is raised.
    """
    plan = plan_batches(spark, cfg.paths.landing, sources, deliveries)
    audits = previous_audits(spark, cfg.paths.root)
    rows: list[dict[str, Any]] = []
    failures: list[SchemaMismatchError] = []
    for name, source_deliveries in plan.items():
        for delivery in source_deliveries:
            try:
                rows.append(ingest_delivery(spark, cfg, SOURCES[name], delivery,
                                            audits.get((name, delivery))))
            except SchemaMismatchError as exc:
                log.error("%s/%s: %s; source %s stopped, tables untouched",
                          name, delivery, exc, name)
                failures.append(exc)
                break
    register_tables(spark, cfg.paths.root, list(plan))
    if failures:
        more = f" (and {len(failures) - 1} more source(s) failed, see the log)" \
            if len(failures) > 1 else ""
        raise SchemaMismatchError(f"{failures[0]}{more}")
    return rows


def main(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> None:
    rows = run(spark, cfg, getattr(args, "source", None), getattr(args, "delivery", None))
    for r in rows:
        log.info("%-12s %s %-9s read=%d accepted=%d quarantined=%d duplicates=%d",
                 r["source"], r["delivery"], r["status"], r["rows_read"], r["rows_accepted"],
                 r["rows_quarantined"], r["duplicates_dropped"])
