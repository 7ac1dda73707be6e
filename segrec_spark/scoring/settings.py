from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from segrec_spark.typed_yaml import require

TierMode = Literal["lift", "share", "expected_value", "absolute"]


@dataclass(frozen=True)
class ScoringSettings:
    """How scores become tiers, offers, a campaign plan and reasons (docs/scoring.md).

    Tiers (High Value Engaged > Potential Upsell > Nurture and Educate > Low Engagement), by
    ``tier_mode``:

    * ``lift`` (default): probability >= tier_*_lift x the product's base rate (the mean
      probability over the product's scored clients); the top tier_high_floor of each product's
      ranking is High, and the top tier_mid_floor at least Potential Upsell, whatever their lift
      (0 = no floor);
    * ``share``: the top tier_high_share of the product's ranking, then down to tier_mid_share,
      then down to tier_low_share (cumulative shares of the ranking);
    * ``expected_value``: p x margin >= tier_*_value x contact_cost (the catalogue's margin and
      contact cost; tier_low_value = 1 means a contact that at least pays for itself);
    * ``absolute``: probability > tier_high / tier_mid / tier_low (the seed's thresholds; monthly
      conversion rates sit far below them, so nearly everyone is Low Engagement).
    """

    tier_mode: TierMode = "lift"
    tier_high_lift: float = 3.0
    tier_mid_lift: float = 1.5
    tier_low_lift: float = 0.75
    tier_high_floor: float = 0.02
    tier_mid_floor: float = 0.10
    tier_high_share: float = 0.05
    tier_mid_share: float = 0.15
    tier_low_share: float = 0.40
    tier_high_value: float = 3.0
    tier_mid_value: float = 1.5
    tier_low_value: float = 1.0
    tier_high: float = 0.8
    tier_mid: float = 0.5
    tier_low: float = 0.3
    top_n_offers: int = 3
    # gold.campaign_plan: audience sizes as shares of each product's ranked clients
    audience_shares: tuple[float, ...] = (0.01, 0.02, 0.05, 0.10, 0.20, 0.50, 1.0)
    # top_reasons: the product's most important numeric features considered, reasons kept
    reason_features: int = 10
    reasons_per_client: int = 3
    # Who may be contacted (scoring.audience): at most contact_cap offers per client and month
    # across products (None = no cap); a control group of control_share of the clients, drawn
    # per client and month from a hash of (control_salt, client key, as-of date), gets none.
    contact_cap: int | None = 3
    control_share: float = 0.05
    control_salt: str = "segrec-control"

    def validate(self) -> None:
        require(0.0 < self.tier_low < self.tier_mid < self.tier_high < 1.0, "tier_high",
                f"thresholds must satisfy 0 < tier_low < tier_mid < tier_high < 1, found "
                f"{self.tier_low} / {self.tier_mid} / {self.tier_high}")
        require(0.0 < self.tier_low_lift < self.tier_mid_lift < self.tier_high_lift,
                "tier_high_lift", f"must satisfy 0 < tier_low_lift < tier_mid_lift < "
                f"tier_high_lift, found {self.tier_low_lift} / {self.tier_mid_lift} / "
                f"{self.tier_high_lift}")
        require(0.0 <= self.tier_high_floor < 1.0 and 0.0 <= self.tier_mid_floor < 1.0,
                "tier_high_floor", f"tier_high_floor and tier_mid_floor must be shares in [0, 1), "
                f"found {self.tier_high_floor} / {self.tier_mid_floor}")
        require(self.tier_mid_floor == 0.0 or self.tier_high_floor <= self.tier_mid_floor,
                "tier_mid_floor", f"must be 0 (none) or >= tier_high_floor, found "
                f"{self.tier_mid_floor} < {self.tier_high_floor}")
        require(0.0 < self.tier_high_share < self.tier_mid_share < self.tier_low_share <= 1.0,
                "tier_high_share", f"must satisfy 0 < tier_high_share < tier_mid_share < "
                f"tier_low_share <= 1, found {self.tier_high_share} / {self.tier_mid_share} / "
                f"{self.tier_low_share}")
        require(0.0 < self.tier_low_value < self.tier_mid_value < self.tier_high_value,
                "tier_high_value", f"must satisfy 0 < tier_low_value < tier_mid_value < "
                f"tier_high_value, found {self.tier_low_value} / {self.tier_mid_value} / "
                f"{self.tier_high_value}")
        require(self.top_n_offers >= 1, "top_n_offers", f"must be >= 1, found {self.top_n_offers}")
        require(bool(self.audience_shares) and all(0.0 < s <= 1.0 for s in self.audience_shares)
                and len(set(self.audience_shares)) == len(self.audience_shares),
                "audience_shares", f"must be distinct shares in (0, 1], found "
                f"{list(self.audience_shares)}")
        require(self.reason_features >= 0, "reason_features",
                f"must be >= 0, found {self.reason_features}")
        require(self.contact_cap is None or self.contact_cap >= 1, "contact_cap",
                f"must be >= 1 or null (no cap), found {self.contact_cap}")
        require(0.0 <= self.control_share < 1.0, "control_share",
                f"must be in [0, 1), found {self.control_share}")
        require(self.reasons_per_client >= 1, "reasons_per_client",
                f"must be >= 1, found {self.reasons_per_client}")

    def floors(self) -> tuple[float, float]:
        """(high, mid) shares of each product's ranking that are tiered by rank in lift mode."""
        return (self.tier_high_floor, self.tier_mid_floor)

    def thresholds(self) -> tuple[float, float, float]:
        """(high, mid, low) of the configured tier mode."""
        return {
            "lift": (self.tier_high_lift, self.tier_mid_lift, self.tier_low_lift),
            "share": (self.tier_high_share, self.tier_mid_share, self.tier_low_share),
            "expected_value": (self.tier_high_value, self.tier_mid_value, self.tier_low_value),
            "absolute": (self.tier_high, self.tier_mid, self.tier_low),
        }[self.tier_mode]
