"""Schema checks of landing files against the source contract, before anything is read or written.

Every landing column is delivered as text, so the expected type of each contract column is
``string``. A required column missing from a file, a column of another type (Parquet) or a
header that names a column twice stops the source's batch with
:class:`~segrec_spark.errors.SchemaMismatchError` naming the file, the column, the expected and
the found type. Columns the contract does not know are *extra* columns (schema drift): they are
reported, and ignored or added depending on ``ingest.schema_drift``.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from segrec_spark.errors import SchemaMismatchError
from segrec_spark.sources import Source

LANDING_TYPE = "string"
MISSING = "missing"


@dataclass(frozen=True)
class FileSchema:
    """The columns of one landing file, in file order, as (name, Spark type name) pairs."""

    path: str
    columns: tuple[tuple[str, str], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


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
