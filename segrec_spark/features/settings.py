from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from segrec_spark.typed_yaml import require

IDENTITY_RESOLUTIONS = ("most_recent", "most_frequent")


@dataclass(frozen=True)
class FeatureSettings:
    windows: tuple[int, ...] = (7, 30, 60)  # look-back windows in days
    session_gap_minutes: int = 30
    horizon_days: int = 30  # label window [as_of_date, as_of_date + horizon)
    # Sales statuses that count as a take-up; empty = the contract's label_statuses (checked
    # against the contract's status values when the configuration is loaded).
    label_statuses: tuple[str, ...] = ()
    # as_of_dates: None = derived from the data (training = one horizon before its end,
    # scoring = its end); set explicitly to pin them.
    train_as_of: dt.date | None = None
    score_as_of: dt.date | None = None
    # Labelled monthly snapshots stacked to train a propensity model (more buyers per model):
    # the features stage adds up to n - 1 as_of_dates one horizon apart before the earliest
    # default one, where the data holds their whole look-back; `segrec train` stacks the latest
    # n labelled dates that are a horizon apart. 1 = one snapshot, as before.
    train_snapshots: int = 3
    # A cookie seen logged in as several clients is attributed to one of them:
    # most_recent = the client of its latest logged-in event, most_frequent = the client with the
    # most logged-in events (ties: most recent, then smallest key).
    identity_resolution: str = "most_recent"
    # A campaign contact's outcome (opened/clicked/converted) is only observed some days after the
    # contact; contacts younger than this count as contacts but not for opens/clicks/conversions,
    # so a conversion that happens after as_of_date cannot leak into the features.
    campaign_outcome_lag_days: int = 7
    # Recency of a product's past agreements when the client has none.
    agreement_recency_sentinel_days: int = 999

    def validate(self) -> None:
        require(len(self.windows) >= 1 and all(w > 0 for w in self.windows), "windows",
                "must be a non-empty list of positive day counts")
        require(len(set(self.windows)) == len(self.windows), "windows",
                f"must not repeat a window, found {list(self.windows)}")
        require(self.train_snapshots >= 1, "train_snapshots", "must be >= 1")
        require(self.session_gap_minutes > 0, "session_gap_minutes", "must be > 0")
        require(self.horizon_days > 0, "horizon_days", "must be > 0")
        require(self.identity_resolution in IDENTITY_RESOLUTIONS, "identity_resolution",
                f"expected one of {', '.join(IDENTITY_RESOLUTIONS)}, "
                f"found {self.identity_resolution!r}")
        require(self.campaign_outcome_lag_days >= 0, "campaign_outcome_lag_days", "must be >= 0")
        require(self.agreement_recency_sentinel_days > 0, "agreement_recency_sentinel_days",
                "must be > 0")
        require(self.train_as_of is None or self.score_as_of is None
                or self.train_as_of < self.score_as_of, "train_as_of",
                f"must be before score_as_of ({self.score_as_of}), found {self.train_as_of}")

    @property
    def max_window(self) -> int:
        return max(self.windows)

    @property
    def recency_sentinel_days(self) -> int:
        """Channel recency when there is no event in the longest window."""
        return self.max_window + 1
