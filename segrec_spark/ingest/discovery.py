"""Which deliveries to ingest: list the landing folders of the contract's sources, plan the
batches and check each delivery's files against the contract before any row is read (I/O only).

A source's landing folder is its contract ``location``, else ``<paths.landing>/<source>``;
its deliveries are the ``YYYY-MM`` folders in it (for a ``delta`` source, each one a Delta table).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pyspark.sql import SparkSession

from segrec_spark.config import Config, ConfigError
from segrec_spark.contract import Contract, Source
from segrec_spark.errors import InputDataError
from segrec_spark.ingest.reading import (
    csv_header,
    delta_schema,
    hadoop_path,
    parquet_schema,
)
from segrec_spark.ingest.schema import (
    FileSchema,
    check_added_columns,
    check_delivery_schema,
    landing_dir,
    source_folder,
)
from segrec_spark.ingest.validate import is_delivery_name
from segrec_spark.tables import delta_exists

log = logging.getLogger(__name__)

# A ready client-snapshot table is read by the stages after ingest directly, never ingested.
NOT_INGESTED_KINDS = frozenset({"snapshot"})

EXTENSIONS = {"csv": (".csv", ".csv.gz"), "parquet": (".parquet",)}


@dataclass(frozen=True)
class Entry:
    path: str
    name: str
    is_dir: bool
    size: int = -1  # bytes (files)


def list_dir(spark: SparkSession, path: str) -> list[Entry] | None:
    """The entries of folder ``path`` (hidden ``_``/``.`` names left out), None if it is missing."""
    fs, hpath = hadoop_path(spark, path)
    if not fs.exists(hpath) or not fs.getFileStatus(hpath).isDirectory():
        return None
    entries = [Entry(str(s.getPath().toString()), s.getPath().getName(), s.isDirectory(),
                     int(s.getLen()))
               for s in fs.listStatus(hpath)]
    return sorted((e for e in entries if not e.name.startswith(("_", "."))), key=lambda e: e.name)


def _check_landing_root(spark: SparkSession, landing: str) -> None:
    if list_dir(spark, landing) is None:
        fs, hpath = hadoop_path(spark, landing)
        what = "is a file, not a folder" if fs.exists(hpath) else "does not exist"
        raise InputDataError(f"landing folder {landing} {what} (paths.landing); "
                             "run `segrec generate` or point paths.landing at the deliveries")


def plan_batches(spark: SparkSession, landing: str, contract: Contract,
                 sources: Sequence[str] | None, deliveries: Sequence[str] | None
                 ) -> dict[str, list[str]]:
    """{source: [delivery, ...]} to ingest, deliveries in ascending order.

    A missing landing folder, a requested source or delivery that is not there, or nothing to
    ingest at all raise InputDataError; with the defaults (all sources, all deliveries) a source
    without a folder is only a warning (e.g. an optional clients table).
    """
    known = [name for name, s in contract.sources.items() if s.kind not in NOT_INGESTED_KINDS]
    unknown = [s for s in sources or () if s not in known]
    if unknown:
        what = ("a snapshot table, which ingest does not read"
                if unknown[0] in contract.sources else "unknown source")
        raise ConfigError(f"--source {unknown[0]!r}: {what} (the contract {contract.path} has "
                          f"to ingest: {', '.join(known) or 'nothing'})")
    bad = [d for d in deliveries or () if not is_delivery_name(d)]
    if bad:
        raise ConfigError(f"--delivery {bad[0]!r}: expected a month YYYY-MM")
    wanted_sources = list(sources) if sources else known
    if any(not contract.sources[s].location for s in wanted_sources):
        _check_landing_root(spark, landing)
    plan: dict[str, list[str]] = {}
    explicit = sources is not None
    for name in wanted_sources:
        folder = source_folder(landing, contract.sources[name])
        entries = list_dir(spark, folder)
        if entries is None:
            if explicit:
                raise InputDataError(f"source {name}: landing folder {folder} does not exist")
            log.warning("source %s: no landing folder %s, skipped", name, folder)
            continue
        found = [e.name for e in entries if e.is_dir and is_delivery_name(e.name)]
        ignored = [e.name for e in entries if e.name not in found]
        if ignored:
            log.warning("source %s: ignoring %s in %s (not a YYYY-MM delivery folder)",
                        name, ", ".join(ignored), folder)
        wanted = sorted(deliveries) if deliveries else sorted(found)
        for delivery in wanted:
            if delivery not in found:
                message = f"source {name}: delivery folder {folder}/{delivery} does not exist"
                if explicit:
                    raise InputDataError(message)
                log.warning("%s, skipped", message)
        plan[name] = [d for d in wanted if d in found]
        if not plan[name]:
            log.warning("source %s: no delivery folders in %s", name, folder)
    if not any(plan.values()):
        raise InputDataError(f"nothing to ingest: no delivery folders <source>/YYYY-MM under "
                             f"{landing} for {', '.join(wanted_sources)}")
    return plan


@dataclass
class Delivery:
    """A delivery folder whose files passed the schema check, ready to be read."""
    name: str
    folder: str
    files: list[str]  # file names, for the audit
    schemas: list[FileSchema]  # non-empty files only (an empty CSV file has no header)
    extras: tuple[str, ...]
    empty_files: tuple[str, ...] = ()  # 0-byte files: no header, no rows (named in the audit)
    # CSV files (paths) read with quoted line breaks allowed (see job._multiline_files)
    multiline: frozenset[str] = field(default_factory=frozenset)
    size: int = -1  # bytes of its files as stored (-1: not known, a Delta delivery)


def _check_delta_delivery(spark: SparkSession, source: Source, delivery: str,
                          folder: str) -> Delivery:
    if not delta_exists(spark, folder):
        raise InputDataError(f"{folder}: not a Delta table (the {source.name} contract says "
                             f"format delta: each YYYY-MM delivery is a Delta table)")
    schema = delta_schema(spark, folder)
    extras = check_delivery_schema(source, [schema], typed=True)
    return Delivery(delivery, folder, ["_delta_log"], [schema], extras)


def check_delivery(spark: SparkSession, cfg: Config, source: Source, delivery: str) -> Delivery:
    """List a delivery's files and check them against the contract; raises SchemaMismatchError
    (naming file, column, expected and found type) or InputDataError, reading no rows."""
    fmt = cfg.ingest.format_of(source)
    folder = landing_dir(cfg.paths.landing, source, delivery)
    if fmt == "delta":
        return _check_delta_delivery(spark, source, delivery, folder)
    entries = _files_under(spark, folder)
    files = [e for e in entries if e.name.lower().endswith(EXTENSIONS[fmt])]
    others = [e.name for e in entries if e not in files]
    if others and not files:
        raise InputDataError(
            f"{folder}: no {fmt} files (ingest.formats / the contract say {source.name} is "
            f"{fmt}); found {', '.join(others)}")
    if others:
        log.warning("%s: ignoring %s (not %s)", folder, ", ".join(others), fmt)
    empty = tuple(e.name for e in files if e.size == 0)
    if empty:
        log.warning("%s: %s empty (0 bytes), no rows read from %s", folder, ", ".join(empty),
                    "it" if len(empty) == 1 else "them")
    schemas = [replace(csv_header(spark, e.path, source) if fmt == "csv"
                       else parquet_schema(spark, e.path), name=e.name)
               for e in files if e.size != 0]
    non_empty = [s for s in schemas if s.columns]
    extras = check_delivery_schema(source, non_empty)
    if cfg.ingest.schema_drift == "add":
        for file in non_empty:
            check_added_columns(source, file)
    return Delivery(delivery, folder, [e.name for e in files], non_empty, extras, empty,
                    size=sum(e.size for e in files))


def _files_under(spark: SparkSession, folder: str, prefix: str = "") -> list[Entry]:
    """The files of a delivery folder and of its subfolders (a Spark-style output folder such as
    ``export.csv/part-00000.csv``), named relative to the delivery folder, in name order.
    Hidden names (``_SUCCESS``, ``.crc``, ``_temporary/``) are left out."""
    found: list[Entry] = []
    for e in list_dir(spark, folder) or []:
        if e.is_dir:
            found += _files_under(spark, e.path, f"{prefix}{e.name}/")
        else:
            found.append(Entry(e.path, f"{prefix}{e.name}", False, e.size))
    return sorted(found, key=lambda e: e.name)
