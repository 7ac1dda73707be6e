from __future__ import annotations

from dataclasses import dataclass

from segrec_spark.config import require


@dataclass(frozen=True)
class SegmentationSettings:
    k_min: int = 3
    k_max: int = 8
    use_pca: bool = False
    seed: int = 7

    def validate(self) -> None:
        require(2 <= self.k_min <= self.k_max, "k_min", "must satisfy 2 <= k_min <= k_max")
        require(self.k_max <= 50, "k_max", "must be <= 50")
