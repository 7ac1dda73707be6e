from __future__ import annotations

from dataclasses import dataclass

from segrec_spark.config import require


@dataclass(frozen=True)
class PropensitySettings:
    products: tuple[str, ...] = ()  # empty = every product in the data contract
    num_trees: tuple[int, ...] = (40, 80)
    max_depth: tuple[int, ...] = (5, 8)
    train_ratio: float = 0.8  # TrainValidationSplit
    parallelism: int = 2
    seed: int = 11

    def validate(self) -> None:
        require(0.5 <= self.train_ratio < 1.0, "train_ratio", "must be in [0.5, 1)")
        require(self.parallelism >= 1, "parallelism", "must be >= 1")
