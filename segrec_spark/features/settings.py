from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from segrec_spark.config import require


@dataclass(frozen=True)
class FeatureSettings:
    windows: tuple[int, ...] = (7, 30, 60)  # look-back windows in days
    session_gap_minutes: int = 30
    horizon_days: int = 30  # label window [as_of_date, as_of_date + horizon)
    label_statuses: tuple[str, ...] = ("SIGNED", "ACTIVATED")
    # as_of_dates: None = derived from the data (training = one horizon before its end,
    # scoring = its end); set explicitly to pin them.
    train_as_of: dt.date | None = None
    score_as_of: dt.date | None = None

    def validate(self) -> None:
        require(len(self.windows) >= 1 and all(w > 0 for w in self.windows), "windows",
                "must be a non-empty list of positive day counts")
        require(self.session_gap_minutes > 0, "session_gap_minutes", "must be > 0")
        require(self.horizon_days > 0, "horizon_days", "must be > 0")
        require(len(self.label_statuses) >= 1, "label_statuses", "must not be empty")
