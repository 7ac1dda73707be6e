"""Landing layout, bronze metadata columns and schema checks of landing files against the data
contract (:mod:`segrec_spark.contract`), before anything is read or written.

Every CSV and Parquet landing column is delivered as text, so the expected type of each contract
column is ``string``; a Delta delivery may carry any atomic type (it is read as text-cast
columns). A required column missing from a file, a column of another type (Parquet) or a
header that names a column twice stops the source's batch with
:class:`~segrec_spark.errors.SchemaMismatchError` naming the file, the column, the expected and
the found type. A CSV header that is not text at all (a binary, compressed or Parquet file saved as
``.csv``) or that is one column holding another delimiter (``;``, tab, ``|``) is named as such
instead. Columns the contract does not know are *extra* columns (schema drift): they are
reported, and ignored or added depending on ``ingest.schema_drift``.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from pyspark.sql import types as T

from segrec_spark.contract import Source
from segrec_spark.errors import SchemaMismatchError
from segrec_spark.ingest.validate import REPLACEMENT_CHAR

LANDING_TYPE = "string"
MISSING = "missing"
DELIMITERS = (",", ";", "\t", "|")
# Types a Delta delivery's column may have: read as text, then validated like CSV text.
COMPLEX_TYPE_PREFIXES = ("struct<", "map<")

# Columns ingest adds to every bronze table (after the contract's columns, as delivered).
BRONZE_METADATA_COLUMNS = T.StructType([
    T.StructField("_delivery", T.StringType(), False),      # delivery folder, YYYY-MM
    T.StructField("_batch_id", T.StringType(), False),      # "<source>/<delivery>"
    T.StructField("_source_file", T.StringType(), False),   # landing file the row came from
    T.StructField("_row_hash", T.StringType(), False),      # sha2 of the raw record (dedup key)
    T.StructField("_has_unknown_category", T.BooleanType(), False),
    T.StructField("_ingested_at", T.TimestampType(), False),
    T.StructField("event_date", T.DateType(), False),       # date of the time column (UTC)
])


def source_folder(landing_root: str, source: Source) -> str:
    """The landing folder of ``source``: its contract ``location``, else ``<landing>/<name>``."""
    if source.location:
        return source.location.rstrip("/")
    return f"{landing_root.rstrip('/')}/{source.name}"


def landing_dir(landing_root: str, source: Source, delivery: str) -> str:
    """The folder (or, for a Delta source, the table) of one delivery month ``YYYY-MM``."""
    return f"{source_folder(landing_root, source)}/{delivery}"
# What a file that is not CSV text starts with, as its first line reads when decoded as UTF-8.
SIGNATURES = (
    ("\x1f" + REPLACEMENT_CHAR, "it starts like a gzip stream: compressed files must be named "
                                 "*.csv.gz"),
    ("PAR1", "it starts like a Parquet file: Parquet deliveries are *.parquet (ingest.formats)"),
    ("PK\x03\x04", "it starts like a zip archive: unpack it into the delivery folder"),
)


@dataclass(frozen=True)
class FileSchema:
    """The columns of one landing file, in file order, as (name, Spark type name) pairs."""

    path: str
    columns: tuple[tuple[str, str], ...]
    # The file's name relative to its delivery folder, e.g. ``export.csv/part-00000.csv`` for a
    # part file of a Spark-style output folder; "" = the last part of ``path``.
    name: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @property
    def relative_name(self) -> str:
        return self.name or self.path.rsplit("/", 1)[-1]

    @property
    def subfolder(self) -> str:
        """The folder of the file inside its delivery folder, with a trailing ``/`` ("" if none)."""
        return self.relative_name.rpartition("/")[0] + "/" if "/" in self.relative_name else ""


def header_problem(first_line: str) -> str | None:
    """Why a CSV file's first line is not a header at all (binary or compressed content), or None.

    The line is described, never quoted: it may hold anything.
    """
    if REPLACEMENT_CHAR not in first_line and all(ord(ch) >= 32 or ch == "\t"
                                                  for ch in first_line):
        return None
    for signature, reason in SIGNATURES:
        if first_line.startswith(signature):
            return reason
    return ("it holds bytes that are not UTF-8 text (a binary file?); the contract is a UTF-8 "
            "CSV file with a header line")


def _delimiter_hint(source: Source, file: FileSchema) -> str | None:
    """A hint when a header is one column that holds contract names split by another delimiter."""
    if len(file.names) != 1:
        return None
    expected = source.dialect.delimiter
    for delimiter in (d for d in DELIMITERS if d != expected):
        parts = [p.strip() for p in file.names[0].split(delimiter)]
        if len(parts) > 1 and set(parts) & set(source.column_names):
            what = "comma" if expected == "," else f"{expected!r}"
            return (f"{file.path}: the header is one column of {len(parts)} names separated by "
                    f"{delimiter!r}; the {source.name} contract is {what}-separated CSV "
                    f"(dialect.delimiter)")
    return None


def _type_ok(actual: str, typed: bool) -> bool:
    if not typed:
        return actual == LANDING_TYPE
    return actual != MISSING and not actual.startswith(COMPLEX_TYPE_PREFIXES)


def check_file_schema(source: Source, file: FileSchema, typed: bool = False) -> tuple[str, ...]:
    """Raise SchemaMismatchError if ``file`` breaks ``source``'s contract; return its extra columns.

    ``typed`` (Delta deliveries): any atomic or array type is accepted, the column is read as
    text; otherwise every contract column must be delivered as ``string``."""
    unnamed = [i for i, name in enumerate(file.names) if not name]
    if unnamed and unnamed != [len(file.names) - 1]:  # a trailing delimiter names no column
        raise SchemaMismatchError(
            f"{file.path}: column {unnamed[0] + 1} of the header has no name")
    counts = Counter(file.names)
    repeated = sorted(name for name, n in counts.items() if n > 1)
    if repeated:
        raise SchemaMismatchError(
            f"{file.path}: column {repeated[0]!r} appears {counts[repeated[0]]} times in the "
            "header")
    found = dict(file.columns)
    for column in source.columns:
        actual = found.get(column.name, MISSING)
        if actual == MISSING and not column.required:
            continue
        if actual == MISSING and (hint := _delimiter_hint(source, file)):
            raise SchemaMismatchError(hint)
        if not _type_ok(actual, typed):
            expected = "an atomic type or array" if typed else LANDING_TYPE
            raise SchemaMismatchError(
                f"{file.path}: column {column.name!r} of source {source.name}: "
                f"expected type {expected}, found {actual}")
    return tuple(name for name in file.names if name and name not in source.column_names)


# Characters Delta refuses in a column name (without column mapping).
DELTA_INVALID = " ,;{}()\n\t="


def check_added_columns(source: Source, file: FileSchema) -> None:
    """With ``ingest.schema_drift: add``, raise SchemaMismatchError for an extra column of
    ``file`` that cannot be added to the bronze table: a bronze metadata or internal column name
    (``_delivery``, ``event_date``, ...), or a name holding characters Delta refuses."""
    by_case: dict[str, list[str]] = {}
    for name in file.names:
        by_case.setdefault(name.lower(), []).append(name)
    clash = next((names for names in by_case.values() if len(names) > 1), None)
    if clash:
        raise SchemaMismatchError(
            f"{file.path}: columns {clash[0]!r} and {clash[1]!r} differ only in letter case: "
            "Delta compares column names without letter case, so ingest.schema_drift=add "
            "cannot add the extra one; rename it in the export, or set "
            "ingest.schema_drift=ignore")
    reserved = {n.lower() for n in (*BRONZE_METADATA_COLUMNS.fieldNames(), "_corrupt_record",
                                    "_raw_record", "_line")}
    for name in file.names:
        if not name or name in source.column_names:
            continue
        if name.lower() in reserved or name.startswith("_ignored_"):
            raise SchemaMismatchError(
                f"{file.path}: extra column {name!r} has the name of a column ingest adds to "
                f"bronze.{source.name} (ingest.schema_drift=add cannot add it); rename it in "
                "the export, or set ingest.schema_drift=ignore")
        bad = sorted({ch for ch in name if ch in DELTA_INVALID})
        if bad:
            raise SchemaMismatchError(
                f"{file.path}: extra column {name!r} holds {' '.join(repr(c) for c in bad)}, "
                f"which Delta refuses in a column name (ingest.schema_drift=add cannot add it); "
                "rename it in the export, or set ingest.schema_drift=ignore")


def check_delivery_schema(source: Source, files: list[FileSchema], typed: bool = False
                          ) -> tuple[str, ...]:
    """Check every file of a delivery; return the extra columns found in any of them (in order)."""
    extras: list[str] = []
    for file in files:
        for name in check_file_schema(source, file, typed):
            if name not in extras:
                extras.append(name)
    return tuple(extras)
