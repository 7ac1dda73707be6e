"""Reasons per client: up to three features that raise a client's score (docs/scoring.md).

Method (everything but two small driver-side lists runs in Spark, no Python per row):

1. Candidates: the product model's most important *numeric* features, from the
   ``feature_importances.json`` its training run logged in MLflow (names ``__imputed_<col>``;
   missing-value indicators and one-hot slots are left out).
2. One aggregate over the product's scored clients gives, per candidate, the mean, the
   population standard deviation and the covariance of feature and probability. Its sign (the
   sign of their correlation, without the division that fails on a constant column under ANSI
   SQL) is the feature's direction: whether a high value goes with a high score.
3. Per client: z = (x - mean) / sd (a missing value counts as the mean, z = 0), and
   contribution = importance x direction x z. The contributions above zero, largest first, give
   up to ``n`` texts such as ``app_events_30d high (+2.1 sd)`` or
   ``days_since_last_login low (-1.3 sd)``; a date column's days since 1970-01-01 read
   ``later`` / ``earlier`` (``DOB later (+1.2 sd)``: a younger client).

This is a global-importance x local-deviation approximation, not an exact attribution (SHAP):
it says which of the model's important signals are unusually strong for this client, in the
direction the model rewards. It costs one aggregate per product and a few column expressions.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segrec_spark.tables import first_row

IMPUTED_PREFIX = "__imputed_"
SKIPPED_PREFIXES = ("__missing_", "__num_")
REASONS = "top_reasons"
_NUMERIC = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType,
            T.DecimalType, T.BooleanType)


@dataclass(frozen=True)
class ReasonFeature:
    """A numeric feature that can explain a score: its weight and the scored population's stats."""

    name: str
    importance: float
    mean: float
    std: float
    direction: float  # +1: a high value raises the score; -1: a low value does
    date: bool = False  # a date column's days since 1970-01-01: later / earlier, not high / low


def numeric_columns(df: DataFrame) -> set[str]:
    return {f.name for f in df.schema.fields if isinstance(f.dataType, _NUMERIC)}


def candidate_features(importances: Iterable[Mapping[str, Any]], numeric: Iterable[str],
                       top: int) -> list[tuple[str, float]]:
    """(column, importance) of the ``top`` most important numeric features present in ``numeric``.

    ``importances``: rows ``{"feature": name, "importance": value}`` as the training run logs
    them. ``__imputed_<col>`` names become ``<col>``; indicators and one-hot slots are skipped.
    """
    available = set(numeric)
    best: dict[str, float] = {}
    for row in importances:
        name, value = str(row["feature"]), float(row["importance"])
        if name.startswith(SKIPPED_PREFIXES) or "_onehot" in name:
            continue
        column = name.removeprefix(IMPUTED_PREFIX)
        if column in available and value > 0.0:
            best[column] = max(value, best.get(column, 0.0))
    ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:top]


def _as_double(name: str) -> Column:
    return F.col(name).cast("double")


def population_stats(scored: DataFrame, candidates: Sequence[tuple[str, float]],
                     dates: Collection[str] = frozenset()) -> list[ReasonFeature]:
    """Mean, population sd and direction of each candidate over ``scored`` (one aggregate);
    ``dates``: the candidates that are a date column's days (read later / earlier).

    Candidates without spread (sd 0 or null) or without covariance with ``probability``
    are dropped: they cannot explain a difference between clients.
    """
    if not candidates:
        return []
    aggs = []
    for i, (name, _) in enumerate(candidates):
        x = _as_double(name)
        aggs += [F.avg(x).alias(f"m{i}"), F.stddev_pop(x).alias(f"s{i}"),
                 F.covar_pop(x, F.col("probability").cast("double")).alias(f"c{i}")]
    row = first_row(scored.agg(*aggs))
    found: list[ReasonFeature] = []
    for i, (name, importance) in enumerate(candidates):
        mean, std, cov = row[f"m{i}"], row[f"s{i}"], row[f"c{i}"]
        if mean is None or not std or cov is None or cov != cov or cov == 0.0:
            continue
        found.append(ReasonFeature(name, importance, float(mean), float(std),
                                   1.0 if cov > 0 else -1.0, name in dates))
    return found


def reason_features(scored: DataFrame, importances: Iterable[Mapping[str, Any]],
                    top: int, dates: Collection[str] = frozenset()) -> list[ReasonFeature]:
    """The features :func:`with_top_reasons` uses for one product's scored frame (``dates``:
    the features that are a date column's days since 1970-01-01)."""
    return population_stats(scored, candidate_features(importances, numeric_columns(scored), top),
                            dates)


def _contribution(feature: ReasonFeature) -> Column:
    x = _as_double(feature.name)
    missing = x.isNull() | F.isnan(x)
    z = ((F.when(missing, F.lit(feature.mean)).otherwise(x) - F.lit(feature.mean))
         / F.lit(feature.std))
    above, below = ("later", "earlier") if feature.date else ("high", "low")
    text = F.format_string("%s %s (%+.1f sd)", F.lit(feature.name),
                           F.when(z > 0, F.lit(above)).otherwise(F.lit(below)), z)
    return F.struct((F.lit(feature.importance * feature.direction) * z).alias("score"),
                    text.alias("text"))


def with_top_reasons(features: Sequence[ReasonFeature], n: int) -> Callable[[DataFrame], DataFrame]:
    """Add ``top_reasons`` (array<string>, at most ``n``, strongest first; empty without
    features)."""

    def add(df: DataFrame) -> DataFrame:
        if not features:
            return df.withColumn(REASONS, F.array().cast("array<string>"))
        raising = F.filter(F.array(*[_contribution(f) for f in features]),
                           lambda c: c["score"] > F.lit(0.0))
        strongest = F.slice(F.sort_array(raising, asc=False), 1, n)
        return df.withColumn(REASONS, F.transform(strongest, lambda c: c["text"]))

    return add
