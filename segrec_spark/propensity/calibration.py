"""Platt scaling: probabilities whose sums are conversions a marketer can plan with.

The prior correction (propensity.model) already undoes class weights and negative sampling, so
a forest's probabilities average about the base rate; but a forest's votes are squeezed towards
the middle and boosting can be over-confident, so the top of a ranking can promise more (or
less) than it brings. Platt scaling fits ``p' = sigmoid(a * logit(p) + b)`` by logistic
regression (Spark ML, one feature, no regularisation) of the held-out labels on the logit of the
model's probability: the evaluation month out of time, or the held-out split of a snapshot. With
``a > 0`` the map is increasing, so rankings, AUC and lift are unchanged; only the levels move.

The map must belong to the model that is registered. With ``champion_fit: latest`` the champion
is refitted on the latest labelled months (``TrainingPlan.champion_dates``) after the evaluated
model was judged, and its scores sit on a level of their own; :func:`refit_level` keeps the
slope ``a`` (the shape, judged out of time) and fits the intercept again on the champion's own
scores of every month it was fitted on, so the probabilities add up to those months' average
conversions. One month alone holds a hundred-odd buyers per product at ``small`` and moves by
a quarter from one month to the next (137, 150, 104); a level fitted on it carries that noise
into every expected conversion (measured in docs/scoring.md).

The training run logs ``calibration.json`` (a, b, the rows and positives it was fitted on, the
months the level was fitted on, ``level_as_of``); the scoring stage applies the champion run's map
(:func:`calibrated`). Fewer than ``min_positives`` held-out positives, or a fit with ``a <= 0``,
leaves the probabilities as they are.
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
MAX_STEP = 1.0  # the largest intercept change of one Newton step in refit_level


@dataclass(frozen=True)
class Platt:
    slope: float
    intercept: float
    rows: int = 0
    positives: int = 0
    level_as_of: str = ""  # the month whose labels fixed the intercept ("" = where a was fitted)

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


def refit_level(platt: Platt, scored: DataFrame, level_as_of: str = "",
                iterations: int = 60, tolerance: float = 1e-9) -> Platt:
    """``platt`` with its intercept fitted again on ``scored`` (label, probability), the slope
    kept: the maximum-likelihood intercept with ``a * logit(p)`` as an offset, by Newton's method
    (one aggregation a step). At the optimum the calibrated probabilities sum to the positives.
    """
    x = scored.select((F.lit(platt.slope) * logit(F.col(PROBABILITY))).alias("_offset"),
                      F.col(LABEL).cast("double").alias(LABEL)).cache()
    try:
        counts = x.agg(F.count(F.lit(1)).alias("n"), F.sum(LABEL).alias("p"),
                       F.avg("_offset").alias("o")).collect()[0]
        n, positives = int(counts["n"] or 0), float(counts["p"] or 0.0)
        if n == 0 or positives <= 0 or positives >= n:
            return platt
        rate = positives / n
        intercept = math.log(rate / (1.0 - rate)) - float(counts["o"])  # near the optimum
        for _ in range(iterations):
            s = F.lit(1.0) / (F.lit(1.0) + F.exp(-(F.col("_offset") + F.lit(intercept))))
            sums = x.agg(F.sum(s).alias("s"), F.sum(s * (F.lit(1.0) - s)).alias("w")).collect()[0]
            weight = float(sums["w"] or 0.0)
            if weight <= 0:
                break
            # Newton's step, at most MAX_STEP on the logit scale: where the scores are nearly
            # 0 or 1 the curvature is tiny and an unbounded step overshoots to saturation.
            step = max(-MAX_STEP, min(MAX_STEP, (positives - float(sums["s"])) / weight))
            intercept += step
            if abs(step) < tolerance:
                break
    finally:
        x.unpersist()
    if not math.isfinite(intercept):
        return platt
    return Platt(platt.slope, intercept, n, int(positives), level_as_of)


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
                 int(data.get("positives", 0)), str(data.get("level_as_of", "")))
