from __future__ import annotations

from dataclasses import dataclass

from segrec_spark.config import require


@dataclass(frozen=True)
class IngestSettings:
    late_tolerance_days: int = 3  # events this many days around the delivery month are accepted
    unknown_category: str = "flag"  # flag: keep as UNKNOWN + flag; reject: quarantine the row
    schema_drift: str = "ignore"  # extra columns in a delivery: ignore (reported) | add

    def validate(self) -> None:
        require(0 <= self.late_tolerance_days <= 31, "late_tolerance_days", "must be 0..31")
        require(self.unknown_category in ("flag", "reject"), "unknown_category",
                f"expected flag or reject, found {self.unknown_category!r}")
        require(self.schema_drift in ("ignore", "add"), "schema_drift",
                f"expected ignore or add, found {self.schema_drift!r}")
