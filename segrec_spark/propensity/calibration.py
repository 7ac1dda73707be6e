"""Platt scaling: probabilities whose sums are conversions a marketer can plan with.

The prior correction (propensity.model) already undoes class weights and negative sampling, so
a forest's probabilities average about the base rate; but a forest's votes are squeezed towards
the middle and boosting can be over-confident, so the top of a ranking can promise more (or
less) than it brings. Platt scaling fits ``p' = sigmoid(a * logit(p) + b)`` by logistic
regression (Spark ML, one feature, no regularisation) of the held-out labels on the logit of the
model's probability: the evaluation month out of time, or the held-out split of a snapshot. With
``a > 0`` the map is increasing, so rankings, AUC and lift are unchanged; only the levels move.

The training run logs ``calibration.json`` (a, b, the rows and positives it was fitted on); the
scoring stage applies the champion run's map (:func:`calibrated`). Fewer than ``min_positives``
held-out positives, or a fit with ``a <= 0``, leaves the probabilities as they are.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

LABEL = "label"
PROBABILITY = "probability"
EPSILON = 1e-6  # probabilities are clipped to [EPSILON, 1 - EPSILON] before the logit


@dataclass(frozen=True)
class Platt:
    slope: float
    intercept: float
    rows: int = 0
    positives: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def logit(p: Column) -> Column:
    clipped = F.least(F.greatest(p, F.lit(EPSILON)), F.lit(1.0 - EPSILON))
    return F.log(clipped / (F.lit(1.0) - clipped))


def fit_platt(scored: DataFrame, min_positives: int = 10) -> Platt | None:
    """Platt's (slope, intercept) on ``scored`` (label, probability); None when there are too
    few positives or the fitted slope is not positive (the map would reorder clients)."""
    counts = scored.agg(F.count(F.lit(1)).alias("n"), F.sum(LABEL).alias("p")).collect()[0]
    n, positives = int(counts["n"] or 0), int(counts["p"] or 0)
    if positives < min_positives or positives >= n:
        return None
    x = scored.select(logit(F.col(PROBABILITY)).alias("_platt_logit"),
                      F.col(LABEL).cast("double").alias(LABEL))
    assembled = VectorAssembler(inputCols=["_platt_logit"], outputCol="_platt_x").transform(x)
    fitted = LogisticRegression(featuresCol="_platt_x", labelCol=LABEL, regParam=0.0,
                                standardization=False, maxIter=100).fit(assembled)
    slope, intercept = float(fitted.coefficients[0]), float(fitted.intercept)
    if not (math.isfinite(slope) and math.isfinite(intercept)) or slope <= 0:
        return None
    return Platt(slope, intercept, n, positives)


def calibrated(platt: Platt | None) -> Callable[[DataFrame], DataFrame]:
    """Factory: ``probability`` mapped through ``platt`` (unchanged when None)."""

    def transform(df: DataFrame) -> DataFrame:
        if platt is None:
            return df
        z = F.lit(platt.slope) * logit(F.col(PROBABILITY)) + F.lit(platt.intercept)
        return df.withColumn(PROBABILITY, F.lit(1.0) / (F.lit(1.0) + F.exp(-z)))

    return transform


def from_dict(data: dict[str, Any] | None) -> Platt | None:
    """A Platt map read back from ``calibration.json`` (None: no map logged)."""
    if not data or data.get("slope") is None:
        return None
    return Platt(float(data["slope"]), float(data["intercept"]), int(data.get("rows", 0)),
                 int(data.get("positives", 0)))
