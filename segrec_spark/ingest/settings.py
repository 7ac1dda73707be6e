from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from segrec_spark.typed_yaml import require

if TYPE_CHECKING:
    from segrec_spark.contract import Source

FORMATS = ("csv", "parquet", "delta")


@dataclass(frozen=True)
class IngestSettings:
    late_tolerance_days: int = 3  # events this many days around the delivery month are accepted
    unknown_category: str = "flag"  # flag: keep as UNKNOWN + flag; reject: quarantine the row
    schema_drift: str = "ignore"  # extra columns in a delivery: ignore (reported) | add
    # Landing format per source where it differs from the contract's, e.g. {web: parquet}
    # (source names are checked against the contract by config.check_against_contract).
    formats: dict[str, str] = field(default_factory=dict)
    # Re-ingest a delivery even when its content and these settings are unchanged since the
    # last successful run (default: an unchanged delivery is skipped and no table is touched).
    force: bool = False
    # Sources ingested at the same time (threads of one driver; each source is its own batch).
    # Small deliveries spend most of their time in Delta commits and planning, not in tasks;
    # overlapping sources keeps the cores busy. 1 = one source after the other.
    parallel_sources: int = 3

    def validate(self) -> None:
        require(0 <= self.late_tolerance_days <= 31, "late_tolerance_days", "must be 0..31")
        require(self.unknown_category in ("flag", "reject"), "unknown_category",
                f"expected flag or reject, found {self.unknown_category!r}")
        require(self.schema_drift in ("ignore", "add"), "schema_drift",
                f"expected ignore or add, found {self.schema_drift!r}")
        require(1 <= self.parallel_sources <= 64, "parallel_sources", "must be 1..64")
        for source, fmt in self.formats.items():
            require(fmt in FORMATS, f"formats.{source}",
                    f"expected {', '.join(FORMATS)}, found {fmt!r}")

    def format_of(self, source: Source) -> str:
        """The landing format of ``source``: the configured override, else the contract's."""
        return self.formats.get(source.name, source.format)

    @staticmethod
    def partition_column(source: Source) -> str:
        """Bronze partition column: ``_delivery`` when the contract says
        ``partition_by_delivery`` (small or snapshot tables) or the source has no time column,
        else ``event_date``."""
        no_time = source.role_column("time") is None
        return "_delivery" if source.partition_by_delivery or no_time else "event_date"

    def fingerprint(self) -> str:
        """The settings that change what ingest writes (part of a delivery's fingerprint)."""
        return (f"tol={self.late_tolerance_days};unknown={self.unknown_category};"
                f"drift={self.schema_drift}")
