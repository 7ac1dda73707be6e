from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from segrec_spark.contract import REASONS
from segrec_spark.typed_yaml import require

SCALES = ("tiny", "small", "medium", "reference")
# Kinds of dirt the generator plants: the quarantine reasons plus re-delivered exact duplicates
# (not CONFLICTING_DUPLICATE: a changed re-send of an event is not part of the generated dirt).
DIRT_KINDS: tuple[str, ...] = ("DUPLICATE", *(r for r in REASONS if r != "CONFLICTING_DUPLICATE"))


@dataclass(frozen=True)
class GeneratorSettings:
    scale: str = "small"  # tiny | small | medium | reference
    n_clients: int | None = None  # overrides the scale's number of clients
    seed: int = 42
    start_date: dt.date = dt.date(2026, 1, 1)  # first day of the event months
    # Months of events (sales get one more "future" month kept aside). Six leave, after the
    # 60-day look-back, three labelled monthly snapshots for training and a later month to
    # evaluate on (docs/features.md); the events per client are spread over the whole period,
    # so a scale's rows do not depend on it.
    months: int = 6
    dirt_rate: float = 0.003  # default rate of each kind of dirt (a few per mille)
    # Per-kind rate overrides, e.g. {DUPLICATE: 0.01, WRONG_FIELD_COUNT: 0}; kinds are
    # DUPLICATE and the quarantine reasons of segrec_spark.contract.REASONS.
    dirt: dict[str, float] = field(default_factory=dict)
    anonymous_visitors: float = 0.5  # anonymous web cookies per client
    no_digital_share: float = 0.25  # share of clients with no web/app/ib activity at all
    heavy_user_share: float = 0.002  # share of very heavy digital users (x30 activity)
    activity: float | None = None  # overrides the scale's events-per-client multiplier
    partitions: int | None = None  # overrides the scale's number of generation partitions

    def validate(self) -> None:
        require(self.scale in SCALES, "scale",
                f"expected one of {', '.join(SCALES)}, found {self.scale!r}")
        require(self.n_clients is None or self.n_clients >= 10, "n_clients", "must be >= 10")
        require(self.start_date.day == 1, "start_date", "must be the first day of a month")
        require(1 <= self.months <= 12, "months", "must be 1..12")
        require(0.0 <= self.dirt_rate <= 0.2, "dirt_rate", "must be between 0 and 0.2")
        for kind, rate in self.dirt.items():
            require(kind in DIRT_KINDS, f"dirt.{kind}",
                    f"unknown kind of dirt (expected one of {', '.join(DIRT_KINDS)})")
            require(0.0 <= rate <= 0.2, f"dirt.{kind}", f"must be between 0 and 0.2, found {rate}")
        total = sum(self.dirt_rates.values())
        require(total < 0.5, "dirt",
                f"all kinds of dirt together must stay below 0.5, found {total:g}")
        require(0.0 <= self.anonymous_visitors <= 10.0, "anonymous_visitors", "must be 0..10")
        require(0.0 <= self.no_digital_share < 1.0, "no_digital_share", "must be in [0, 1)")
        require(0.0 <= self.heavy_user_share <= 0.1, "heavy_user_share", "must be 0..0.1")
        require(self.activity is None or 0.0 < self.activity <= 100.0, "activity",
                "must be in (0, 100]")
        require(self.partitions is None or 1 <= self.partitions <= 10000, "partitions",
                "must be 1..10000")

    @property
    def dirt_rates(self) -> dict[str, float]:
        """Rate of every kind of dirt: the per-kind override, else ``dirt_rate``."""
        return {kind: self.dirt.get(kind, self.dirt_rate) for kind in DIRT_KINDS}
