from __future__ import annotations

from dataclasses import dataclass

from segrec_spark.typed_yaml import require


@dataclass(frozen=True)
class ScoringSettings:
    # Propensity tiers: probability > high -> High Value Engaged; > mid -> Potential Upsell;
    # > low -> Nurture and Educate; else Low Engagement.
    tier_high: float = 0.8
    tier_mid: float = 0.5
    tier_low: float = 0.3
    top_n_offers: int = 3

    def validate(self) -> None:
        require(0.0 < self.tier_low < self.tier_mid < self.tier_high < 1.0, "tier_high",
                "thresholds must satisfy 0 < tier_low < tier_mid < tier_high < 1")
        require(self.top_n_offers >= 1, "top_n_offers", "must be >= 1")
