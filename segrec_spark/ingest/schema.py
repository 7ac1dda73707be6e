"""Schema checks of landing files against the source contract, before anything is read or written.

Every landing column is delivered as text, so the expected type of each contract column is
``string``. A required column missing from a file, a column of another type (Parquet) or a
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

from segrec_spark.errors import SchemaMismatchError
from segrec_spark.ingest.validate import REPLACEMENT_CHAR
from segrec_spark.sources import Source

LANDING_TYPE = "string"
MISSING = "missing"
OTHER_DELIMITERS = (";", "\t", "|")
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

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


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
    for delimiter in OTHER_DELIMITERS:
        parts = [p.strip() for p in file.names[0].split(delimiter)]
        if len(parts) > 1 and set(parts) & set(source.column_names):
            return (f"{file.path}: the header is one column of {len(parts)} names separated by "
                    f"{delimiter!r}; the {source.name} contract is comma-separated CSV")
    return None


def check_file_schema(source: Source, file: FileSchema) -> tuple[str, ...]:
    """Raise SchemaMismatchError if ``file`` breaks ``source``'s contract; return its extra columns."""
    counts = Counter(file.names)
    repeated = sorted(name for name, n in counts.items() if n > 1)
    if repeated:
        raise SchemaMismatchError(
            f"{file.path}: column {repeated[0]!r} appears {counts[repeated[0]]} times in the header")
    found = dict(file.columns)
    for column in source.columns:
        actual = found.get(column.name, MISSING)
        if actual == MISSING and not column.required:
            continue
        if actual == MISSING and (hint := _delimiter_hint(source, file)):
            raise SchemaMismatchError(hint)
        if actual != LANDING_TYPE:
            raise SchemaMismatchError(
                f"{file.path}: column {column.name!r} of source {source.name}: "
                f"expected type {LANDING_TYPE}, found {actual}")
    return tuple(name for name in file.names if name not in source.column_names)


def check_delivery_schema(source: Source, files: list[FileSchema]) -> tuple[str, ...]:
    """Check every file of a delivery; return the extra columns found in any of them (in order)."""
    extras: list[str] = []
    for file in files:
        for name in check_file_schema(source, file):
            if name not in extras:
                extras.append(name)
    return tuple(extras)
