"""Record identity, duplicates and the one outcome per row of a delivery (pure DataFrame
functions, applied after :func:`segrec_spark.ingest.validate.flag_rejects`).

1. :func:`with_row_hash` hashes the record; :func:`flag_undecodable` flags text that was not UTF-8,
2. :func:`mark_duplicates` marks exact copies within the delivery and against other deliveries
   already in bronze; :func:`mark_conflicts` rejects later versions of a natural id;
   :func:`row_marks` runs both on the columns they read and :func:`with_marks` joins the marks
   back, so the whole rows are never shuffled,
3. :func:`with_outcome` settles ``DUPLICATE``, a reason or ``ACCEPTED`` per row, so rows read =
   accepted + quarantined + duplicates by construction; :func:`outcome_counts` tallies them.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from segrec_spark.contract import Source
from segrec_spark.forget.erase import FORGOTTEN, FORGOTTEN_FLAG
from segrec_spark.ingest.validate import (
    ACCEPTED,
    CORRUPT_RECORD,
    DUPLICATE,
    IS_DUPLICATE,
    LINE_ORDER,
    OUTCOME,
    RAW_RECORD,
    REJECT_REASON,
    REPLACEMENT_CHAR,
    ROW_HASH,
    SOURCE_FILE,
    UNDECODABLE,
    any_of,
    is_empty,
)


def with_row_hash(source: Source) -> Callable[[DataFrame], DataFrame]:
    """Add ``_row_hash``: sha2 of the record's contract fields (empty = null), format-independent.

    A row with the wrong number of fields is hashed on its raw line, since its fields are not
    where they belong.
    """
    fields = F.to_json(F.array(*[F.nullif(F.col(c), F.lit("")) for c in source.column_names]))

    def transform(df: DataFrame) -> DataFrame:
        hashed = F.when(F.col(CORRUPT_RECORD).isNotNull(),
                        F.concat(F.lit("raw:"), F.col(CORRUPT_RECORD))).otherwise(fields)
        return df.withColumn(ROW_HASH, F.sha2(hashed, 256))

    return transform


def _has_replacement(name: str) -> SparkColumn:
    return F.coalesce(F.col(name).contains(REPLACEMENT_CHAR), F.lit(False))


def flag_undecodable(columns: Sequence[str]) -> Callable[[DataFrame], DataFrame]:
    """Add ``_undecodable``: one of the text ``columns`` holds U+FFFD, i.e. the delivered bytes
    were not UTF-8 and were lost when the file was decoded."""

    def transform(df: DataFrame) -> DataFrame:
        return df.withColumn(UNDECODABLE, any_of([_has_replacement(c) for c in columns]))

    return transform


def undecodable_columns(df: DataFrame, columns: Sequence[str]) -> DataFrame:
    """Per source file: rows flagged ``_undecodable`` and the ``columns`` holding U+FFFD in any of
    them (``_source_file``, ``rows``, ``columns``: array of names). Names only, no contents."""
    flagged = df.filter(F.col(UNDECODABLE))
    per_column = [F.max(_has_replacement(c).cast("int")).alias(c) for c in columns]
    counted = flagged.groupBy(SOURCE_FILE).agg(F.count(F.lit(1)).alias("rows"), *per_column)
    names = F.filter(F.array(*[F.when(F.col(c) == 1, F.lit(c)) for c in columns]),
                     lambda name: name.isNotNull())
    return counted.select(SOURCE_FILE, "rows", names.alias("columns"))


def mark_duplicates(seen_hashes: DataFrame | None) -> Callable[[DataFrame], DataFrame]:
    """Add ``_is_duplicate``: a later copy of a record within the delivery, or a record whose
    hash ``seen_hashes`` (one column ``_row_hash``: other deliveries' bronze rows) holds."""

    def transform(df: DataFrame) -> DataFrame:
        order = LINE_ORDER if LINE_ORDER in df.columns else RAW_RECORD  # the first copy is kept
        copies = Window.partitionBy(ROW_HASH).orderBy(SOURCE_FILE, order)
        marked = df.withColumn("_copy", F.row_number().over(copies))
        if seen_hashes is None:
            seen = marked.withColumn("_seen", F.lit(False))
        else:
            elsewhere = seen_hashes.select(ROW_HASH).distinct().withColumn("_seen", F.lit(True))
            seen = marked.join(elsewhere, on=ROW_HASH, how="left")
        is_later_copy = F.col("_copy") > 1
        seen_elsewhere = F.coalesce(F.col("_seen"), F.lit(False))
        return (seen.withColumn(IS_DUPLICATE, is_later_copy | seen_elsewhere)
                .drop("_copy", "_seen"))

    return transform


CONFLICTING_DUPLICATE = "CONFLICTING_DUPLICATE"
# Rows without a usable natural id: they take no part in the conflict rule.
STRUCTURAL_REASONS = ("WRONG_FIELD_COUNT", "MISSING_KEY", "MALFORMED_KEY")


def mark_conflicts(source: Source) -> Callable[[DataFrame], DataFrame]:
    """Set ``_reject_reason`` to CONFLICTING_DUPLICATE for a row whose natural id (role
    ``event_id``; a clients table: its key) an earlier row of the same delivery carries with
    other content. "Earlier" is file name order, then line order within a file; the first
    version is kept (or quarantined for its own reason), later ones are quarantined. Exact
    copies are not conflicts (they are duplicates), nor are rows rejected for their structure
    (wrong field count, missing or malformed key). Expects ``_delivery`` and
    ``_is_duplicate``."""
    id_column = source.id_column

    def transform(df: DataFrame) -> DataFrame:
        if id_column is None:
            return df
        structural = F.coalesce(F.col(REJECT_REASON).isin(*STRUCTURAL_REASONS), F.lit(False))
        candidate = ~F.col(IS_DUPLICATE) & ~structural & ~is_empty(id_column)
        order = [SOURCE_FILE, LINE_ORDER if LINE_ORDER in df.columns else RAW_RECORD]
        earlier = (Window.partitionBy("_delivery", id_column).orderBy(*order)
                   .rowsBetween(Window.unboundedPreceding, Window.currentRow))
        first = F.first(F.when(candidate, F.col(ROW_HASH)), ignorenulls=True).over(earlier)
        conflict = candidate & (first != F.col(ROW_HASH))
        return df.withColumn(REJECT_REASON, F.when(conflict, F.lit(CONFLICTING_DUPLICATE))
                             .otherwise(F.col(REJECT_REASON)))

    return transform


IS_CONFLICT = "_is_conflict"
# A row's identity in a batch: its file and its place in it (reading._line_order).
ROW_ID = (SOURCE_FILE, LINE_ORDER)


def row_marks(source: Source, seen_hashes: DataFrame | None) -> Callable[[DataFrame], DataFrame]:
    """The rows :func:`mark_duplicates` and :func:`mark_conflicts` mark, and nothing else:
    (``_source_file``, ``_line``, ``_is_duplicate``, ``_is_conflict``), one row per marked row.

    Both rules run on the few columns they read (the row's identity, hash, delivery, natural id
    and reject reason), so the shuffles behind their windows move those columns instead of the
    whole record with its raw line; :func:`with_marks` puts the marks back on the rows."""
    id_columns = [source.id_column] if source.id_column is not None else []

    def transform(df: DataFrame) -> DataFrame:
        narrow = df.select(*ROW_ID, ROW_HASH, "_delivery", REJECT_REASON, *id_columns)
        marked = narrow.transform(mark_duplicates(seen_hashes)).transform(mark_conflicts(source))
        is_conflict = F.coalesce(F.col(REJECT_REASON) == F.lit(CONFLICTING_DUPLICATE),
                                 F.lit(False))
        return (marked.withColumn(IS_CONFLICT, is_conflict)
                .where(F.col(IS_DUPLICATE) | F.col(IS_CONFLICT))
                .select(*ROW_ID, IS_DUPLICATE, IS_CONFLICT))

    return transform


def with_marks(marks: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Add ``_is_duplicate`` and set ``_reject_reason`` to CONFLICTING_DUPLICATE from ``marks``
    (:func:`row_marks` of the same rows), matched on the row's identity: the same result as
    :func:`mark_duplicates` then :func:`mark_conflicts` on the whole rows. Hint ``marks`` for a
    broadcast when they are few and the rows are not shuffled at all."""

    def transform(df: DataFrame) -> DataFrame:
        joined = df.join(marks, on=list(ROW_ID), how="left")
        reason = F.when(F.coalesce(F.col(IS_CONFLICT), F.lit(False)),
                        F.lit(CONFLICTING_DUPLICATE)).otherwise(F.col(REJECT_REASON))
        return (joined.withColumn(IS_DUPLICATE, F.coalesce(F.col(IS_DUPLICATE), F.lit(False)))
                .withColumn(REJECT_REASON, reason)
                .drop(IS_CONFLICT))

    return transform


def with_outcome(df: DataFrame) -> DataFrame:
    """Add ``_outcome``: FORGOTTEN (a ``_forgotten`` row, see forget.erase), else DUPLICATE,
    else the reject reason, else ACCEPTED (exactly one each)."""
    forgotten = F.col(FORGOTTEN_FLAG) if FORGOTTEN_FLAG in df.columns else F.lit(False)
    return df.withColumn(
        OUTCOME,
        F.when(forgotten, F.lit(FORGOTTEN))
        .when(F.col(IS_DUPLICATE), F.lit(DUPLICATE))
        .otherwise(F.coalesce(F.col(REJECT_REASON), F.lit(ACCEPTED))),
    )


def outcome_counts(df: DataFrame, *keys: str) -> DataFrame:
    """Rows and a content checksum per outcome and ``keys`` (a tiny frame: one row per group),
    and, when ``df`` is flagged by :func:`flag_undecodable`, the rows with undecodable text."""
    row_checksum = F.xxhash64(F.col(ROW_HASH), F.col(SOURCE_FILE)).cast("decimal(38,0)")
    undecodable = ([F.count_if(F.col(UNDECODABLE)).alias("undecodable")]
                   if UNDECODABLE in df.columns else [])
    return df.groupBy(*keys, OUTCOME).agg(F.count(F.lit(1)).alias("rows"),
                                          F.sum(row_checksum).cast("string").alias("checksum"),
                                          *undecodable)
