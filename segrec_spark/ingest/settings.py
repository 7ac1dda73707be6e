from __future__ import annotations

from dataclasses import dataclass, field

from segrec_spark.config import require
from segrec_spark.sources import SOURCES

FORMATS = ("csv", "parquet")
PARTITION_BY_DELIVERY = ("prodeje", "clients")  # small or snapshot tables: one partition a month


@dataclass(frozen=True)
class IngestSettings:
    late_tolerance_days: int = 3  # events this many days around the delivery month are accepted
    unknown_category: str = "flag"  # flag: keep as UNKNOWN + flag; reject: quarantine the row
    schema_drift: str = "ignore"  # extra columns in a delivery: ignore (reported) | add
    # Landing format per source where it differs from sources.SOURCES, e.g. {web: parquet}.
    formats: dict[str, str] = field(default_factory=dict)
    # Re-ingest a delivery even when its content and these settings are unchanged since the
    # last successful run (default: an unchanged delivery is skipped and no table is touched).
    force: bool = False

    def validate(self) -> None:
        require(0 <= self.late_tolerance_days <= 31, "late_tolerance_days", "must be 0..31")
        require(self.unknown_category in ("flag", "reject"), "unknown_category",
                f"expected flag or reject, found {self.unknown_category!r}")
        require(self.schema_drift in ("ignore", "add"), "schema_drift",
                f"expected ignore or add, found {self.schema_drift!r}")
        for source, fmt in self.formats.items():
            require(source in SOURCES, f"formats.{source}",
                    f"unknown source (known: {', '.join(SOURCES)})")
            require(fmt in FORMATS, f"formats.{source}",
                    f"expected {' or '.join(FORMATS)}, found {fmt!r}")

    def format_of(self, source: str) -> str:
        """The landing format of ``source``: the configured override, else the contract's."""
        return self.formats.get(source, SOURCES[source].format)

    def partition_column(self, source: str) -> str:
        """Bronze partition column: event_date for event sources, _delivery for the others."""
        return "_delivery" if source in PARTITION_BY_DELIVERY else "event_date"

    def fingerprint(self) -> str:
        """The settings that change what ingest writes (part of a delivery's fingerprint)."""
        return (f"tol={self.late_tolerance_days};unknown={self.unknown_category};"
                f"drift={self.schema_drift}")
