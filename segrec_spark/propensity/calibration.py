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

Both fits run on the scores' logits in bins of ``BIN_WIDTH`` (:func:`logit_bins`: one
aggregation of the scored rows into at most a few tens of thousands of (logit, label, rows)
rows), not on every row: the logistic regression of one feature then costs a pass over that
small frame per iteration instead of over every scored client, and the level's Newton steps
run on the driver over the collected bins instead of a Spark pass each (at ``reference`` about
11 passes over 3 M rows per product; docs/performance.md). Rounding a logit by at most half a bin
moves a probability by at most ``BIN_WIDTH / 2`` of itself (0.05 %).

The training run logs ``calibration.json`` (a, b, the rows and positives it was fitted on, the
months the level was fitted on, ``level_as_of``); the scoring stage applies the champion run's map
(:func:`calibrated`). Fewer than ``min_positives`` held-out positives, or a fit with ``a <= 0``,
leaves the probabilities as they are.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
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
BIN_WIDTH = 1e-3  # the logit bins both fits aggregate to: at most 2 * 13.8 / 1e-3 bins per label
X, ROWS = "_platt_logit", "_platt_rows"
# Below this many buyers the level a map is fitted on is named as uncertain in the log: their
# count's relative standard error, 1/sqrt(buyers), is then above 10 %.
THIN_LEVEL = 100


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


def _binned_logit() -> Column:
    """The logit of ``probability`` rounded to ``BIN_WIDTH``, as column ``X``."""
    return (F.round(logit(F.col(PROBABILITY)) / F.lit(BIN_WIDTH)) * F.lit(BIN_WIDTH)).alias(X)


def logit_bins(scored: DataFrame) -> DataFrame:
    """``scored`` (label, probability) as (logit, label, rows): its rows counted per label and
    logit rounded to ``BIN_WIDTH``. Cache it to fit on it: each iteration reads it."""
    return (scored.groupBy(_binned_logit(), F.col(LABEL).cast("double").alias(LABEL))
            .agg(F.count(F.lit(1)).cast("double").alias(ROWS)))


def _rows_and_positives(bins: DataFrame) -> tuple[int, int]:
    counts = bins.agg(F.sum(ROWS).alias("n"), F.sum(F.col(ROWS) * F.col(LABEL)).alias("p"))
    row = counts.collect()[0]
    return int(row["n"] or 0), int(row["p"] or 0)


def fit_platt(scored: DataFrame, min_positives: int = 10) -> Platt | None:
    """Platt's (slope, intercept) on ``scored`` (label, probability); None when there are too
    few positives or the fitted slope is not positive (the map would reorder clients)."""
    bins = logit_bins(scored).cache()
    try:
        n, positives = _rows_and_positives(bins)
        if positives < min_positives or positives >= n:
            return None
        assembled = VectorAssembler(inputCols=[X], outputCol="_platt_x").transform(bins)
        fitted = LogisticRegression(featuresCol="_platt_x", labelCol=LABEL, weightCol=ROWS,
                                    regParam=0.0, standardization=False,
                                    maxIter=100).fit(assembled)
    finally:
        bins.unpersist()
    slope, intercept = float(fitted.coefficients[0]), float(fitted.intercept)
    if not (math.isfinite(slope) and math.isfinite(intercept)) or slope <= 0:
        return None
    return Platt(slope, intercept, n, positives)


def refit_level(platt: Platt, scored: DataFrame, level_as_of: str = "",
                iterations: int = 60, tolerance: float = 1e-9) -> Platt:
    """``platt`` with its intercept fitted again on ``scored`` (label, probability), the slope
    kept: the maximum-likelihood intercept with ``a * logit(p)`` as an offset
    (:func:`level_intercept`, on the driver over the collected logit bins: at most
    ``2 * 13.8 / BIN_WIDTH`` rows of three numbers, whatever the number of clients). At the
    optimum the calibrated probabilities sum to the positives.
    """
    bins = [(float(r[X]), float(r["n"]), float(r["p"] or 0.0)) for r in scored
            .groupBy(_binned_logit()).agg(F.count(F.lit(1)).alias("n"),
                                          F.sum(F.col(LABEL).cast("double")).alias("p"))
            .collect()]
    n, positives = sum(b[1] for b in bins), sum(b[2] for b in bins)
    if n == 0 or positives <= 0 or positives >= n:
        return platt
    intercept = level_intercept([(platt.slope * x, rows) for x, rows, _ in bins], positives,
                                iterations, tolerance)
    if not math.isfinite(intercept):
        return platt
    return Platt(platt.slope, intercept, int(n), int(positives), level_as_of)


def level_intercept(offsets: Sequence[tuple[float, float]], positives: float,
                    iterations: int = 60, tolerance: float = 1e-9) -> float:
    """The intercept ``b`` at which ``sum(rows * sigmoid(offset + b))`` over ``offsets``
    ((offset, rows) pairs) equals ``positives``: the maximum-likelihood intercept of a logistic
    regression with a fixed offset, by Newton's method from the intercept that matches the rate
    at the mean offset. Requires ``0 < positives < sum(rows)``."""
    n = sum(rows for _, rows in offsets)
    rate = positives / n
    mean_offset = sum(o * rows for o, rows in offsets) / n
    intercept = math.log(rate / (1.0 - rate)) - mean_offset  # near the optimum
    for _ in range(iterations):
        expected = weight = 0.0
        for offset, rows in offsets:
            s = _sigmoid(offset + intercept)
            expected += rows * s
            weight += rows * s * (1.0 - s)
        if weight <= 0:
            break
        # Newton's step, at most MAX_STEP on the logit scale: where the scores are nearly
        # 0 or 1 the curvature is tiny and an unbounded step overshoots to saturation.
        step = max(-MAX_STEP, min(MAX_STEP, (positives - expected) / weight))
        intercept += step
        if abs(step) < tolerance:
            break
    return intercept


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


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
