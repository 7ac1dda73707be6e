"""Ingest job: landing deliveries -> typed bronze Delta tables, quarantine and audit (I/O only).

The sources, their formats, dialects and columns come from the data contract (``cfg.contract``,
:mod:`segrec_spark.contract`). One batch = one source's delivery folders
``<location or landing/source>/<YYYY-MM>/``. For each batch: list its files and check their
schemas (:mod:`segrec_spark.ingest.discovery`; nothing is written if one is wrong), read them as
text (:mod:`segrec_spark.ingest.reading`), classify every row
(:mod:`segrec_spark.ingest.validate`), then replace the delivery's slice of
``bronze.<source>``, ``ops.quarantine`` and ``ops.ingest_audit``. A delivery whose content and
ingest settings are unchanged since its last successful batch is skipped without touching any
table (``ingest.force`` re-ingests it anyway). An empty re-delivery of a month already ingested
is refused, never audited over the month's record. A re-ingested month with new content names
the gold slices it outdates (:mod:`segrec_spark.ingest.backfill`). Delta commit conflicts with a
concurrent ingest are retried; one source's failure never stops the others (``docs/ingest.md``).
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from py4j.protocol import Py4JJavaError
from pyspark import StorageLevel
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segrec_spark.config import Config
from segrec_spark.contract import Source
from segrec_spark.errors import InputDataError, SchemaMismatchError, SegrecError
from segrec_spark.forget.erase import FORGOTTEN, TOMBSTONES, with_forgotten_flag
from segrec_spark.ingest.audit import (  # noqa: F401 - AUDIT_SCHEMA, tally re-exported for callers
    AUDIT,
    AUDIT_SCHEMA,
    _audit_row,
    _check_counts,
    _now,
    previous_audits,
    tally,
)
from segrec_spark.ingest.backfill import warn_stale_slices
from segrec_spark.ingest.checks import _check_line_breaks, _check_utf8, _read_error, _ReadMultiline
from segrec_spark.ingest.commits import _commit  # noqa: F401 - re-exported for callers
from segrec_spark.ingest.dedup import (
    flag_undecodable,
    mark_conflicts,
    mark_duplicates,
    outcome_counts,
    row_marks,
    with_marks,
    with_outcome,
    with_row_hash,
)
from segrec_spark.ingest.discovery import Delivery, check_delivery, plan_batches
from segrec_spark.ingest.reading import READERS, DeliveryReadError, java_cause, landing_frame, union
from segrec_spark.ingest.settings import IngestSettings
from segrec_spark.ingest.validate import (
    ACCEPTED,
    DUPLICATE,
    OUTCOME,
    ROW_HASH,
    delivery_period,
    flag_rejects,
    quarantine_records,
    typed_bronze,
)
from segrec_spark.tables import (
    delta_exists,
    read_table,
    read_table_if_exists,
    register_table,
    sql_literal,
    table_path,
    write_slice,
)

__all__ = ["AUDIT", "AUDIT_SCHEMA", "QUARANTINE", "DeliveryReadError", "check_delivery",
           "classify_deliveries", "ingest_source", "main", "plan_batches", "previous_audits",
           "register_tables", "run", "tally"]

log = logging.getLogger(__name__)

QUARANTINE = "quarantine"
# ops.quarantine and ops.ingest_audit are shared by every source: sources ingested at the same
# time in this driver take turns for those two (small) commits instead of conflicting and
# retrying; a writer in another process is still handled by _commit's retries.
_SHARED_TABLES = threading.Lock()

# --- one source's deliveries as one batch -------------------------------------------------------

def _slice(source: str, deliveries: Sequence[str]) -> str:
    return f"source = {sql_literal(source)} AND {_in('delivery', deliveries)}"


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(sql_literal(v) for v in values)})"


# Marks (one row per duplicate or conflicting row, about 100 bytes) broadcast to the rows up to
# this many; beyond (e.g. a month sent again under another name: every row a duplicate) they
# are joined by a shuffle, once, and the result kept.
MAX_BROADCAST_MARKS = 500_000
# Batches whose files hold fewer bytes than this (as stored: compressed files count compressed)
# go through the two rules on whole rows, one cached frame: at `small` (at most 34 MB per
# source) the narrow rules' extra job and cache cost more than the shuffle they save
# (docs/performance.md). A Delta delivery's size is not known: narrow.
NARROW_DEDUP_MIN_BYTES = 64 * 1024 * 1024


@dataclass
class Classified:
    """Every row of a batch with its outcome (``frame``), over the cached frames it is built on
    (``cached``, released by :meth:`unpersist`)."""

    frame: DataFrame
    cached: list[DataFrame] = field(default_factory=list)

    def unpersist(self) -> None:
        for df in self.cached:
            df.unpersist()


def classify_deliveries(spark: SparkSession, cfg: Config, source: Source,
                        deliveries: list[Delivery], kept_extras: tuple[str, ...]) -> Classified:
    """Every row of the non-empty ``deliveries`` with its outcome (``_outcome``) and delivery
    (``_delivery``). A row is a duplicate when an earlier copy is in this batch (deliveries and
    files in name order) or in bronze under a delivery outside this batch.

    The rows are read once and cached; the duplicate and conflict rules run on the few columns
    they need (dedup.row_marks) and their marks, few in practice, are broadcast back to the rows:
    the whole rows, raw line included, are never shuffled (one Spark job here: the marks' count,
    where an unreadable file shows). A batch smaller than NARROW_DEDUP_MIN_BYTES goes through
    the rules on whole rows instead (dedup.mark_duplicates, dedup.mark_conflicts), cached."""
    settings: IngestSettings = cfg.ingest
    read = READERS[settings.format_of(source)]
    forgotten = read_table_if_exists(spark, table_path(cfg.paths.root, "ops", TOMBSTONES))
    frames = [landing_frame(read(spark, source, d.name, d.schemas, d.multiline, kept_extras),
                            source, kept_extras)
              .transform(with_row_hash(source))
              .transform(flag_undecodable([*source.column_names, *kept_extras]))
              .transform(flag_rejects(cfg.contract, source,
                                      delivery_period(d.name, settings.late_tolerance_days),
                                      settings))
              .transform(with_forgotten_flag(forgotten, source.key_column,
                                             source.role_column("cookie")))
              .withColumn("_delivery", F.lit(d.name))
              for d in deliveries]
    bronze_path = table_path(cfg.paths.root, "bronze", source.name)
    seen = None
    if delta_exists(spark, bronze_path):
        seen = (read_table(spark, bronze_path)
                .filter(~F.col("_delivery").isin(*[d.name for d in deliveries])).select(ROW_HASH))
    size = sum(d.size for d in deliveries)
    if all(d.size >= 0 for d in deliveries) and size < NARROW_DEDUP_MIN_BYTES:
        whole = (union(frames).transform(mark_duplicates(seen)).transform(mark_conflicts(source))
                 .transform(with_outcome).persist(StorageLevel.MEMORY_AND_DISK))
        return Classified(whole, [whole])
    rows = union(frames).persist(StorageLevel.MEMORY_AND_DISK)
    marks = rows.transform(row_marks(source, seen)).persist(StorageLevel.MEMORY_AND_DISK)
    classified = Classified(rows, [rows, marks])
    try:
        few = marks.count() <= MAX_BROADCAST_MARKS
    except BaseException:
        classified.unpersist()
        raise
    classified.frame = (rows.transform(with_marks(F.broadcast(marks) if few else marks))
                        .transform(with_outcome))
    if not few:
        classified.frame = classified.frame.persist(StorageLevel.MEMORY_AND_DISK)
        classified.cached.append(classified.frame)
    return classified


def ingest_source(spark: SparkSession, cfg: Config, source: Source, deliveries: Sequence[str],
                  previous: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """Ingest ``deliveries`` of one source as one batch; return an audit row per delivery.

    Changed deliveries are written with one commit per table (bronze, quarantine, audit), each
    replacing exactly their slices; unchanged ones are skipped. A delivery whose files break the
    contract raises SchemaMismatchError after the deliveries before it have been written, and
    nothing of it or of later deliveries is written. Most breaks show in the schema check; a
    file that cannot be read to its end or holds text that is not UTF-8 shows while the batch is
    classified (DeliveryReadError, before any write): the batch is then classified again
    without that delivery and the ones after it. CSV files whose records hold line breaks inside
    quotes are found the same way and the batch is classified again with them read multi-line.
    An empty re-delivery of a month already ingested is refused (InputDataError after the
    others are written) unless ``ingest.force``. The error raised carries ``rows``: the audit
    rows of what was written.
    """
    started_at = _now()
    checked: list[Delivery] = []
    failure: InputDataError | None = None
    for name in deliveries:
        try:
            checked.append(check_delivery(spark, cfg, source, name))
        except InputDataError as exc:
            failure = exc
            break
    rows: list[dict[str, Any]] = []
    refused: DeliveryRefusedError | None = None
    while checked:
        try:
            rows = _ingest_checked(spark, cfg, source, checked, previous, started_at)
            break
        except DeliveryReadError as exc:
            failure = exc
            checked = [d for d in checked if d.name < exc.delivery]
        except _ReadMultiline as exc:
            checked = [replace(d, multiline=d.multiline | exc.paths) for d in checked]
        except DeliveryRefusedError as exc:
            rows, refused = exc.rows, exc
            break
    error = failure or refused
    if error is not None:
        setattr(error, "rows", rows)  # noqa: B010 - what the source did write, for run()
        raise error
    return rows


def _ingest_checked(spark: SparkSession, cfg: Config, source: Source, checked: list[Delivery],
                    previous: dict[tuple[str, str], dict[str, Any]], started_at: dt.datetime
                    ) -> list[dict[str, Any]]:
    settings: IngestSettings = cfg.ingest
    root = cfg.paths.root
    bronze_path = table_path(root, "bronze", source.name)
    all_extras = tuple(sorted({c for d in checked for c in d.extras}))
    kept_extras = all_extras if settings.schema_drift == "add" else ()
    for d in checked:
        if d.extras:
            log.warning("%s/%s: extra column(s) %s not in the %s contract: %s", source.name,
                        d.name, ", ".join(d.extras), source.name,
                        "added to bronze" if kept_extras else
                        "ignored (ingest.schema_drift=ignore)")

    non_empty = [d for d in checked if d.schemas]
    counts: dict[str, dict[str, int]] = {d.name: {} for d in checked}
    checksums: dict[str, str] = {d.name: "empty" for d in checked}
    batch: Classified | None = None
    classified: DataFrame | None = None
    try:
        if non_empty:
            try:
                batch = classify_deliveries(spark, cfg, source, non_empty, kept_extras)
                classified = batch.frame
                outcomes = outcome_counts(classified, "_delivery").collect()
            except (Py4JJavaError, PySparkException) as exc:
                raise _read_error(exc, source, non_empty) from None
            for d in non_empty:
                mine = sorted((r for r in outcomes if r["_delivery"] == d.name),
                              key=lambda r: r[OUTCOME])
                counts[d.name] = {r[OUTCOME]: int(r["rows"]) for r in mine}
                checksums[d.name] = ",".join(f"{r[OUTCOME]}={r['rows']}:{r['checksum']}"
                                             for r in mine)
            _check_utf8(classified, outcomes, source, non_empty, kept_extras)
            if settings.format_of(source) == "csv" and not source.dialect.multiline:
                _check_line_breaks(spark, classified, outcomes, source, non_empty)

        rows: dict[str, dict[str, Any]] = {}
        refused: list[InputDataError] = []  # empty re-deliveries of ingested months
        written: list[str] = []  # deliveries with rows, whose bronze/quarantine slices are replaced
        bronze_exists = delta_exists(spark, bronze_path)
        for d in checked:
            fingerprint = (f"{checksums[d.name]};{','.join(d.files)};{settings.fingerprint()}"
                           if d.schemas else f"empty;{settings.fingerprint()}")
            last = previous.get((source.name, d.name))
            unchanged = (last is not None and last["fingerprint"] == fingerprint
                         and (last["status"] == "EMPTY" or bronze_exists))
            if unchanged and not settings.force:
                assert last is not None  # unchanged implies a previous audit record
                log.info("%s/%s: unchanged since %s, nothing written (ingest.force=true "
                         "re-ingests)", source.name, d.name, last["finished_at"])
                rows[d.name] = {**last, "status": "UNCHANGED",
                                "message": f"unchanged since {last['finished_at']}; "
                                           "nothing written"}
                continue
            drift = "; ".join(
                ([f"extra columns {', '.join(d.extras)} "
                  f"{'added' if kept_extras else 'ignored'}"] if d.extras else [])
                + ([f"empty file(s) (0 bytes, no rows): {', '.join(d.empty_files)}"]
                   if d.empty_files else []))
            if sum(counts[d.name].values()) == 0 and last is not None \
                    and int(last["rows_read"] or 0) > 0:
                # A month already ingested re-sent with no rows (header-only or 0-byte files):
                # far more likely a failed export than a retraction. Its tables and its audit
                # record stay as they were; without ingest.force the run fails on it.
                what = (f"{d.folder}: empty re-delivery ({len(d.files)} file(s), no rows) of a "
                        f"month already ingested ({last['rows_read']} rows read, "
                        f"{last['rows_accepted']} accepted, {last['finished_at']})")
                if not settings.force:
                    refused.append(InputDataError(
                        f"{what}: refused, a failed export? bronze, quarantine and the audit "
                        "record left as they were; re-export the month, or set "
                        "ingest.force=true to accept it as nothing new"))
                    continue
                message = (f"{what}: accepted as nothing new (ingest.force); bronze, "
                           "quarantine and the audit record left as they were")
                log.warning(message)
                rows[d.name] = {**last, "status": "UNCHANGED", "message": message}
                continue
            if sum(counts[d.name].values()) == 0:
                message = (f"{d.folder}: empty delivery ({len(d.files)} file(s), no rows); "
                           "bronze and quarantine left as they were")
                log.warning(message)
                rows[d.name] = _audit_row(source.name, d.name, d.files, counts[d.name], "EMPTY",
                                          started_at, d.extras, message, fingerprint)
            else:
                written.append(d.name)
                rows[d.name] = _audit_row(source.name, d.name, d.files, counts[d.name], "OK",
                                          started_at, d.extras, drift, fingerprint)
            _check_counts(rows[d.name])

        if written:
            assert classified is not None
            to_write = classified.filter(F.col("_delivery").isin(*written))
            accepted = (to_write.filter(F.col(OUTCOME) == ACCEPTED)
                        .withColumn("_batch_id",
                                    F.concat(F.lit(f"{source.name}/"), F.col("_delivery")))
                        .withColumn("_ingested_at", F.lit(started_at))
                        .transform(typed_bronze(cfg.contract, source, kept_extras)))
            partition = settings.partition_column(source)
            _commit(lambda: write_slice(accepted.repartition(partition), bronze_path,
                                        _in("_delivery", written), [partition],
                                        merge_schema=bool(kept_extras)), bronze_path)
            rejected = to_write.filter(~F.col(OUTCOME).isin(ACCEPTED, DUPLICATE, FORGOTTEN))
            quarantine = union([
                rejected.filter(F.col("_delivery") == name).transform(
                    quarantine_records(source.name, name, f"{source.name}/{name}", started_at))
                for name in written])
            with _SHARED_TABLES:
                _commit(lambda: write_slice(quarantine.coalesce(1),
                                            table_path(root, "ops", QUARANTINE),
                                            _slice(source.name, written), ["source"]),
                        table_path(root, "ops", QUARANTINE))
        audited = [name for name, row in rows.items() if row["status"] != "UNCHANGED"]
        if audited:
            audit = spark.createDataFrame([rows[name] for name in audited], AUDIT_SCHEMA)
            with _SHARED_TABLES:
                _commit(lambda: write_slice(audit.coalesce(1), table_path(root, "ops", AUDIT),
                                            _slice(source.name, audited), merge_schema=True),
                        table_path(root, "ops", AUDIT))
    finally:
        if batch is not None:
            batch.unpersist()
    for row in rows.values():
        log.debug("%s: read %d = accepted %d + quarantined %d + duplicates dropped %d (%s)%s",
                 row["batch_id"], row["rows_read"], row["rows_accepted"], row["rows_quarantined"],
                 row["duplicates_dropped"], row["status"],
                 f"; quarantine reasons {row['quarantine_reasons']}"
                 if row["rows_quarantined"] else "")
    done = [rows[d.name] for d in checked if d.name in rows]
    if refused:
        raise DeliveryRefusedError(refused, done)
    return done


class DeliveryRefusedError(InputDataError):
    """Deliveries refused after the others of the batch were written (``rows``: their audit
    rows); the message is the first refusal's one line."""

    def __init__(self, errors: list[InputDataError], rows: list[dict[str, Any]]) -> None:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{errors[0]}{more}")
        self.rows = rows


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
    """Ingest the deliveries of ``sources`` (default all); return one audit row per delivery.

    Each source is one batch (one commit per table); up to ``ingest.parallel_sources`` sources
    run at the same time. A schema mismatch stops that source at the
    failing delivery (earlier deliveries are written, nothing of the failing one or later ones);
    a refused delivery (an empty re-delivery of an ingested month) is skipped. Whatever stops
    one source, even an unexpected crash, the other sources still run; then the first error is
    raised as one line naming the source (SchemaMismatchError when every failure is one,
    else InputDataError for input problems, else SegrecError).
    """
    plan = plan_batches(spark, cfg.paths.landing, cfg.contract, sources, deliveries)
    audits = previous_audits(spark, cfg.paths.root, list(plan))

    def ingest_one(name: str) -> tuple[list[dict[str, Any]], Exception | None]:
        began = time.monotonic()
        try:
            source_rows = ingest_source(spark, cfg, cfg.contract.sources[name], plan[name],
                                        audits)
        except SegrecError as exc:
            log.error("%s: %s; source %s stopped there, tables untouched by that delivery",
                      name, exc, name)
            return list(getattr(exc, "rows", [])), exc
        except Exception as exc:  # noqa: BLE001 - one source's crash must not stop the others
            cause = java_cause(exc) if isinstance(exc, (Py4JJavaError, PySparkException)) \
                else f"{type(exc).__name__}: {exc}"
            line = (f"source {name}: ingest failed ({' '.join(cause.split())}); its tables "
                    "are as the last successful commit left them, a re-run retries it")
            log.error(line, exc_info=True)
            return [], SegrecError(line)
        # After the try: the progress line never turns a written source into a failed one.
        log.info("ingest %s: %s (%.1f s)", name, tally(source_rows), time.monotonic() - began)
        return source_rows, None

    # Sources run side by side (ingest.parallel_sources); rows and failures come back in the
    # plan's order whatever order the sources finish in.
    names = [name for name, source_deliveries in plan.items() if source_deliveries]
    with ThreadPoolExecutor(max_workers=cfg.ingest.parallel_sources,
                            thread_name_prefix="ingest") as pool:
        outcomes = list(pool.map(ingest_one, names))
    rows: list[dict[str, Any]] = [row for source_rows, _ in outcomes for row in source_rows]
    failures: list[Exception] = [failure for _, failure in outcomes if failure is not None]
    register_tables(spark, cfg.paths.root, list(plan))
    warn_stale_slices(spark, cfg, rows, audits)  # a backfill: name the gold slices it outdates
    if failures:
        more = f" (and {len(failures) - 1} more source(s) failed, see the log)" \
            if len(failures) > 1 else ""
        kind: type[SegrecError] = (
            SchemaMismatchError if all(isinstance(f, SchemaMismatchError) for f in failures)
            else InputDataError if all(isinstance(f, InputDataError) for f in failures)
            else SegrecError)
        raise kind(f"{failures[0]}{more}")
    return rows


def main(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> None:
    rows = run(spark, cfg, getattr(args, "source", None), getattr(args, "delivery", None))
    log.info("ingest: %s", tally(rows))
