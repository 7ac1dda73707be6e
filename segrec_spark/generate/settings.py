from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from segrec_spark.config import require

SCALES = ("tiny", "small", "medium", "reference")


@dataclass(frozen=True)
class GeneratorSettings:
    scale: str = "small"  # tiny | small | medium | reference
    n_clients: int | None = None  # overrides the scale's number of clients
    seed: int = 42
    start_date: dt.date = dt.date(2026, 1, 1)  # first day of the 3 event months
    months: int = 3  # months of events; sales get one more "future" month kept aside
    dirt_rate: float = 0.003  # default rate of each kind of dirt (a few per mille)

    def validate(self) -> None:
        require(self.scale in SCALES, "scale", f"expected one of {', '.join(SCALES)}, found {self.scale!r}")
        require(self.n_clients is None or self.n_clients >= 10, "n_clients", "must be >= 10")
        require(self.start_date.day == 1, "start_date", "must be the first day of a month")
        require(1 <= self.months <= 12, "months", "must be 1..12")
        require(0.0 <= self.dirt_rate <= 0.2, "dirt_rate", "must be between 0 and 0.2")
