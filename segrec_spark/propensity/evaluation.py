"""Out-of-time evaluation of scored frames ``(label double, probability double)``.

ROC-AUC and PR-AUC (exact, one aggregation), lift and capture rate in the top share of
scores, calibration per score decile (mean predicted vs observed rate), Brier score, and the
oracle's scores from the generator's planted truth. Everything is computed with aggregates; only
a handful of numbers reach the driver.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from functools import reduce
from operator import add
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from segrec_spark.tables import first_row

LABEL = "label"
PROBABILITY = "probability"


def roc_pr_points(scored: DataFrame, by: Sequence[str] = ()) -> DataFrame:
    """The ROC and precision-recall curves' steps, one row per distinct score, highest first:
    the score's positives and negatives (``pos``, ``neg``) and the cumulative counts at that
    score and above (``tp``, ``fp``), and ``tp``/``fp`` of the step before (``tp0``, ``fp0``).
    ``by``: one curve per value of these columns (the scored frames of :func:`evaluate_many`).

    Tied scores are one step, as in Spark's BinaryClassificationMetrics (without its binning).
    The window is partitioned by ``by`` only: one curve's distinct scores reach one task."""
    by_score = scored.groupBy(*by, PROBABILITY).agg(
        F.sum(LABEL).alias("pos"), F.sum(F.lit(1.0) - F.col(LABEL)).alias("neg"))
    down = (Window.partitionBy(*by).orderBy(F.desc(PROBABILITY))
            .rowsBetween(Window.unboundedPreceding, Window.currentRow))
    return (by_score
            .withColumn("tp", F.sum("pos").over(down))
            .withColumn("fp", F.sum("neg").over(down))
            .withColumn("tp0", F.col("tp") - F.col("pos"))
            .withColumn("fp0", F.col("fp") - F.col("neg")))


def auc_sums(scored: DataFrame, by: Sequence[str] = ()) -> DataFrame:
    """Per value of ``by`` (one row without): positives ``p``, negatives ``n`` and the
    unnormalised areas ``roc`` and ``pr`` that :func:`auc_values` turns into the AUCs."""
    precision = F.try_divide(F.col("tp"), F.col("tp") + F.col("fp"))
    precision0 = F.try_divide(F.col("tp0"), F.col("tp0") + F.col("fp0"))  # null at the top
    first = F.col("tp0") + F.col("fp0") == 0  # the top score: the curve starts at its precision
    return roc_pr_points(scored, by).groupBy(*by).agg(
        F.sum("pos").alias("p"), F.sum("neg").alias("n"),
        F.sum(F.col("neg") * (F.col("tp0") + F.col("tp")) / 2).alias("roc"),
        F.sum(F.col("pos") * (F.when(first, precision).otherwise(precision0) + precision)
              / 2).alias("pr"))


def auc_values(row: Any) -> dict[str, float]:
    """roc_auc and pr_auc from a row of :func:`auc_sums` (None: no scored row)."""
    p = float(row["p"] or 0.0) if row is not None else 0.0
    n = float(row["n"] or 0.0) if row is not None else 0.0
    return {"roc_auc": float(row["roc"]) / (p * n) if p and n else math.nan,
            "pr_auc": float(row["pr"]) / p if p else math.nan}


def auc_metrics(scored: DataFrame) -> dict[str, float]:
    """roc_auc and pr_auc of ``probability`` against ``label``, exact, in one aggregation.

    ROC-AUC is the trapezoid area under (false positive rate, true positive rate): the chance
    that a buyer outscores a non-buyer, ties counted half. PR-AUC is the trapezoid area under
    (recall, precision) from the point (0, precision at the top score), Spark's definition.
    Either is NaN without positives (or, for ROC, without negatives)."""
    return auc_values(first_row(auc_sums(scored)))


def share_label(share: float) -> str:
    """The percentage in the top-share metric names (``lift_top<pct>``, ``capture_top<pct>``):
    0.05 -> '5', 0.1 -> '10', 0.005 -> '0.5'. scoring.campaign reads the metrics by it."""
    return f"{round(share * 100, 6):g}"


def top_share_stats(row: dict[str, Any], fraction: float, cut: float | None,
                    suffix: str = "") -> dict[str, float]:
    """Lift and capture in the top ``fraction`` from the aggregate ``row`` of :func:`_top_aggs`."""
    n = float(row["n"] or 0)
    if cut is None or not n:
        return {"n": n, "positives": 0.0, "n_top": 0.0, "positives_top": 0.0,
                "capture": math.nan, "lift": math.nan, "precision_top": math.nan}
    positives = float(row["positives"] or 0.0)
    n_above, pos_above = float(row[f"n_above{suffix}"]), float(row[f"pos_above{suffix}"])
    n_at, pos_at = float(row[f"n_at{suffix}"]), float(row[f"pos_at{suffix}"])
    n_top = fraction * n
    extra = min(max(n_top - n_above, 0.0), n_at)
    positives_top = pos_above + (extra * pos_at / n_at if n_at else 0.0)
    precision = positives_top / n_top if n_top else math.nan
    base_rate = positives / n
    return {
        "n": n, "positives": positives, "n_top": n_top, "positives_top": positives_top,
        "capture": positives_top / positives if positives else math.nan,
        "lift": precision / base_rate if base_rate else math.nan,
        "precision_top": precision,
    }


def _cut_aggs(cut: Column, suffix: str) -> list[Column]:
    """Rows and positives above the score ``cut`` and at it (NULL cut: none)."""
    above, at = F.col(PROBABILITY) > cut, F.col(PROBABILITY) == cut
    return [F.sum(F.when(above, 1).otherwise(0)).alias(f"n_above{suffix}"),
            F.sum(F.when(above, F.col(LABEL)).otherwise(0)).alias(f"pos_above{suffix}"),
            F.sum(F.when(at, 1).otherwise(0)).alias(f"n_at{suffix}"),
            F.sum(F.when(at, F.col(LABEL)).otherwise(0)).alias(f"pos_at{suffix}")]


def _top_aggs(cuts: Sequence[float | None]) -> list[Column]:
    aggs = [F.count("*").alias("n"), F.sum(LABEL).alias("positives")]
    for i, cut in enumerate(cuts):
        aggs += _cut_aggs(F.lit(cut if cut is not None else math.inf), f"_{i}")
    return aggs


def top_shares(scored: DataFrame, fractions: Sequence[float],
               relative_error: float = 0.0) -> list[dict[str, float]]:
    """Lift and capture rate among the ``fraction`` of clients with the highest scores.

    The cut is the score at the (1 - fraction) quantile; clients tied on the cut score fill the
    remaining places at their own positive rate (the expected result of breaking ties at random),
    so a score with many ties (e.g. the popularity baseline) is not flattered or penalised.
    Each result holds n, positives, n_top (= fraction * n), positives_top, capture, lift,
    precision_top. One quantile pass and one aggregate for all fractions.
    """
    values = scored.approxQuantile(PROBABILITY, [1.0 - f for f in fractions], relative_error)
    cuts: list[float | None] = [float(v) for v in values] if values else [None] * len(fractions)
    row = first_row(scored.agg(*_top_aggs(cuts))).asDict()
    return [top_share_stats(row, f, cuts[i], f"_{i}") for i, f in enumerate(fractions)]


def top_share(scored: DataFrame, fraction: float, relative_error: float = 0.0) -> dict[str, float]:
    """:func:`top_shares` for one fraction."""
    return top_shares(scored, [fraction], relative_error)[0]


def score_bin(cuts: Sequence[float] | Column) -> Column:
    """Bin of a score given ascending cut points: 1 = highest scores, len(cuts) + 1 = lowest.
    ``cuts``: the points, or an array column of them (one set per row's scored frame).

    A cut is a quantile value (about q of the scores are <= it), so a score equal to a cut
    belongs to the bin below it.
    """
    if isinstance(cuts, Column):
        return F.size(cuts) + 1 - F.size(F.filter(cuts, lambda c: F.col(PROBABILITY) > c))
    if not cuts:
        return F.lit(1)
    above = reduce(add, [F.when(F.col(PROBABILITY) > F.lit(c), 1).otherwise(0) for c in cuts])
    return F.lit(len(cuts) + 1) - above


def _bin_aggs() -> list[Column]:
    """Per score bin: n, positives, mean_predicted, observed_rate and the summed squared error
    (for the Brier score)."""
    squared_error = (F.col(PROBABILITY) - F.col(LABEL)) ** 2
    return [F.count("*").alias("n"), F.sum(LABEL).alias("positives"),
            F.avg(PROBABILITY).alias("mean_predicted"), F.avg(LABEL).alias("observed_rate"),
            F.sum(squared_error).alias("squared_error")]


def score_deciles(scored: DataFrame, bins: int = 10, relative_error: float = 0.0) -> DataFrame:
    """(bin, n, positives, mean_predicted, observed_rate) per score bin, bin 1 = top scores.

    Bins are cut at the score quantiles; repeated cut points (tied scores) are merged, so a
    score with few distinct values gives fewer bins.
    """
    quantiles = [i / bins for i in range(1, bins)]
    cuts = sorted(set(scored.approxQuantile(PROBABILITY, quantiles, relative_error)))
    return binned(scored, cuts).drop("squared_error")


def binned(scored: DataFrame, cuts: Sequence[float]) -> DataFrame:
    """Per score bin (see :func:`score_bin`): n, positives, mean_predicted, observed_rate and
    the summed squared error (for the Brier score)."""
    return (scored.groupBy(score_bin(cuts).alias("bin")).agg(*_bin_aggs())
            .select(F.col("bin").cast("int").alias("bin"), F.col("n").cast("long").alias("n"),
                    F.col("positives").cast("double").alias("positives"), "mean_predicted",
                    "observed_rate", "squared_error")
            .orderBy("bin"))


def calibration_summary(deciles: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Expected calibration error over the bins (n-weighted |mean predicted - observed|) and the
    overall mean predicted and observed rates."""
    n = sum(d["n"] for d in deciles)
    if not n:
        return {"calibration_error": math.nan, "mean_predicted": math.nan,
                "observed_rate": math.nan}
    return {
        "calibration_error": sum(d["n"] * abs(d["mean_predicted"] - d["observed_rate"])
                                 for d in deciles) / n,
        "mean_predicted": sum(d["n"] * d["mean_predicted"] for d in deciles) / n,
        "observed_rate": sum(d["n"] * d["observed_rate"] for d in deciles) / n,
    }


def brier_score(scored: DataFrame) -> float:
    return float(first_row(scored.agg(F.avg((F.col(PROBABILITY) - F.col(LABEL)) ** 2)))[0])


def gains_curve(deciles: Sequence[dict[str, Any]]) -> list[tuple[float, float]]:
    """Cumulative (share of clients, share of positives) from the top bin down, from (0, 0)."""
    n = sum(d["n"] for d in deciles)
    positives = sum(d["positives"] for d in deciles)
    curve = [(0.0, 0.0)]
    seen_n = seen_pos = 0.0
    for d in sorted(deciles, key=lambda d: d["bin"]):
        seen_n += d["n"]
        seen_pos += d["positives"]
        curve.append((seen_n / n if n else 0.0, seen_pos / positives if positives else 0.0))
    return curve


KIND = "_scored_kind"


def _per_kind(values: Mapping[str, Column]) -> Column:
    """One value per scored kind (:data:`KIND`), NULL for a kind not in ``values``."""
    kind, expr = F.col(KIND), None
    for name, value in values.items():
        expr = F.when(kind == F.lit(name), value) if expr is None else expr.when(
            kind == F.lit(name), value)
    return expr if expr is not None else F.lit(None)


def _doubles(values: Sequence[float]) -> Column:
    return F.array(*[F.lit(float(v)) for v in values]).cast("array<double>")


def quantile_accuracy(relative_error: float) -> int:
    """percentile_approx's accuracy for approxQuantile's relative error (0 = exact)."""
    return round(1.0 / relative_error) if relative_error > 0 else 2**31 - 1


def evaluate_scores(scored: DataFrame, fractions: Sequence[float],
                    relative_error: float = 0.0) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """All metrics of one scored frame and its decile table (:func:`evaluate_many`)."""
    return evaluate_many({"scored": scored}, fractions, relative_error)["scored"]


def evaluate_many(frames: Mapping[str, DataFrame], fractions: Sequence[float],
                  relative_error: float = 0.0
                  ) -> dict[str, tuple[dict[str, float], list[dict[str, Any]]]]:
    """Every metric of each scored frame (the model, the baseline, the oracle...) and its decile
    table (as dicts: <= 10 rows), by name.

    Three aggregations over all the frames stacked, whatever their number (each frame alone
    took four, and each aggregation costs a Spark query's planning and code generation even
    on a month of a few thousand rows): both AUCs, the quantiles (``percentile_approx`` at
    ``relative_error``), and one group-by (frame, score decile) that holds the deciles, the
    calibration, the Brier score and, summed over the deciles, the top-share counts. Cache
    the frames.
    """
    if not frames:
        return {}
    stacked = reduce(DataFrame.unionByName, [
        frame.select(F.lit(name).alias(KIND), F.col(LABEL).cast("double").alias(LABEL),
                     F.col(PROBABILITY).cast("double").alias(PROBABILITY))
        for name, frame in frames.items()])
    aucs = {r[KIND]: auc_values(r) for r in auc_sums(stacked, [KIND]).collect()}  # one per frame
    decile_qs = [i / 10 for i in range(1, 10)]
    top_qs = [1.0 - f for f in fractions]
    quantiles = {r[KIND]: [float(v) for v in r["q"]] for r in stacked.groupBy(KIND).agg(
        F.percentile_approx(PROBABILITY, _doubles([*top_qs, *decile_qs]),
                            quantile_accuracy(relative_error)).alias("q")).collect()}
    top_cuts = {k: q[:len(top_qs)] for k, q in quantiles.items()}
    decile_cuts = {k: sorted(set(q[len(top_qs):])) for k, q in quantiles.items()}
    cuts = _per_kind({k: _doubles(c) for k, c in decile_cuts.items()})
    aggs = _bin_aggs()
    for i in range(len(fractions)):
        aggs += _cut_aggs(_per_kind({k: F.lit(c[i]) for k, c in top_cuts.items()}), f"_{i}")
    bins: dict[str, list[dict[str, Any]]] = {name: [] for name in frames}
    for r in stacked.groupBy(KIND, score_bin(cuts).alias("bin")).agg(
            *aggs).collect():  # <= 10 rows per frame
        bins[r[KIND]].append(r.asDict())
    return {name: _metrics(aucs.get(name), top_cuts.get(name), bins[name], fractions)
            for name in frames}


def _metrics(aucs: dict[str, float] | None, top_cuts: Sequence[float] | None,
             bins: list[dict[str, Any]], fractions: Sequence[float]
             ) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """One frame's metrics and deciles from its rows of :func:`evaluate_many`'s group-by."""
    metrics = dict(aucs or auc_values(None))
    totals = {key: sum(float(b[key] or 0) for b in bins) for key in
              ("n", "positives", *(f"{part}_{i}" for i in range(len(fractions))
                                   for part in ("n_above", "pos_above", "n_at", "pos_at")))}
    for i, fraction in enumerate(fractions):
        stats = top_share_stats(totals, fraction, top_cuts[i] if top_cuts else None, f"_{i}")
        pct = share_label(fraction)
        metrics[f"lift_top{pct}"] = stats["lift"]
        metrics[f"capture_top{pct}"] = stats["capture"]
    deciles = [{"bin": int(b["bin"]), "n": int(b["n"]), "positives": float(b["positives"] or 0),
                "mean_predicted": float(b["mean_predicted"]),
                "observed_rate": float(b["observed_rate"])}
               for b in sorted(bins, key=lambda b: b["bin"])]
    metrics.update(calibration_summary(deciles))
    n = totals["n"]
    metrics["brier"] = sum(float(b["squared_error"]) for b in bins) / n if n else math.nan
    metrics["n_clients"] = n
    metrics["n_positives"] = totals["positives"]
    return metrics, deciles


def oracle_scores(true_propensity: DataFrame, labelled: DataFrame, product: str,
                  as_of: dt.date, column: str = "true_probability") -> DataFrame:
    """(identity_id_hash, label, probability) with a planted probability as the score.

    ``true_propensity`` is the generator's ground truth (identity_id_hash, product_code,
    window_start, window_end, true_probability, observable_probability); only its window
    starting at ``as_of`` is used. ``column`` picks the oracle (``true_probability``) or the
    observable ceiling (``observable_probability``, the month's shock averaged out). Read by
    evaluation only, never by training or scoring.
    """
    truth = (true_propensity
             .where((F.col("product_code") == F.lit(product))
                    & (F.col("window_start") == F.lit(as_of)))
             .select("identity_id_hash", F.col(column).cast("double").alias(PROBABILITY)))
    return (labelled.select("identity_id_hash", LABEL)
            .join(truth, on="identity_id_hash", how="inner")
            .select("identity_id_hash", LABEL, PROBABILITY))
