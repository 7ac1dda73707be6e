"""The train stage's MLflow side: JSON artifacts, the gains chart, the segmentation child run,
and the champion's judgement on the same held-out rows (I/O at the edge of the stage)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlflow
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from segrec_spark.config import Config
from segrec_spark.contract import DAYS_SINCE_1970, safe_name
from segrec_spark.errors import SchemaMismatchError
from segrec_spark.propensity import evaluation as ev
from segrec_spark.propensity import model as pm
from segrec_spark.propensity.plan import TrainingPlan
from segrec_spark.propensity.promotion import (
    Decision,
    champion_is_comparable,
    promotion_decision,
)
from segrec_spark.registry import current_champion, log_and_register, segmentation_model_name
from segrec_spark.segmentation import model as seg
from segrec_spark.segmentation import profiles as profiles_
from segrec_spark.segmentation.continuity import continuity_record
from segrec_spark.tables import (
    first_row,
    read_table_if_exists,
    register_table,
    sql_literal,
    table_path,
    write_slice,
)

log = logging.getLogger("segrec_spark.propensity.job")


def write_gold(df: DataFrame, cfg: Config, name: str, as_of: dt.date) -> None:
    path = table_path(cfg.paths.root, "gold", name)
    write_slice(df, path, f"as_of_date = {sql_literal(as_of.isoformat())}",
                partition_by=["as_of_date"], merge_schema=True)
    register_table(df.sparkSession, "gold", name, path)


def log_json(data: Any, name: str) -> None:
    mlflow.log_text(json.dumps(data, indent=2, default=str), name)


def finite(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if v is not None and v == v and abs(v) != float("inf")}


def gains_chart(curves: dict[str, list[tuple[float, float]]], title: str, path: Path) -> None:
    """Cumulative gains (share of positives captured vs share of clients contacted)."""
    from matplotlib.figure import Figure  # no pyplot: its global state is not thread-safe

    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    for label, curve in curves.items():
        ax.plot([x for x, _ in curve], [y for _, y in curve], marker="o", markersize=3, label=label)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    ax.set_xlabel("share of clients (highest scores first)")
    ax.set_ylabel("share of buyers captured")
    ax.set_title(title)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


# --- I/O -----------------------------------------------------------------------------------------

def highest_segment_id(features: DataFrame, cfg: Config) -> int:
    """The highest segment id any model wrote to gold.segment_profiles (-1: none yet)."""
    path = table_path(cfg.paths.root, "gold", "segment_profiles")
    profiles = read_table_if_exists(features.sparkSession, path)
    top = first_row(profiles.agg(F.max("segment_id")))[0] if profiles is not None else None
    return -1 if top is None else int(top)


@dataclasses.dataclass(frozen=True)
class Delivered:
    """What ops.snapshot_columns says of the features: ``names``, feature -> the words of the
    snapshot column it was delivered as (profiles.delivered_words), so that segments read in
    the bank's own names; ``dates``, the features that are a date column's days since
    1970-01-01, so that a segment reads "later DOB", not "high DOB". Empty for raw extracts,
    whose features are the pipeline's."""

    names: dict[str, str]
    dates: frozenset[str]


def delivered_columns(cfg: Config, features: DataFrame) -> Delivered:
    source = cfg.contract.snapshot
    sources = [s.name for s in (source, cfg.contract.snapshot_log) if s is not None]
    path = table_path(cfg.paths.root, "ops", "snapshot_columns")
    table = read_table_if_exists(features.sparkSession, path) if source is not None else None
    if source is None or table is None:
        return Delivered({}, frozenset())
    attribute = F.col("used_as").startswith("numeric") | F.col("used_as").startswith("categorical")
    summary = F.col("used_as").startswith("per client")  # a transaction log's
    rows = (table.filter(F.col("source").isin(*sources) & F.col("feature").isNotNull()
                         & (attribute | summary))
            .select("column", "feature", summary.alias("summary"),
                    F.col("used_as").contains(DAYS_SINCE_1970).alias("date"))
            .collect())  # one row per delivered column and summary
    names = {}
    for r in rows:
        if not r["summary"]:
            names[r["feature"]] = profiles_.delivered_words(r["column"])
        elif r["feature"].startswith(f"{safe_name(r['column'])}_"):  # the amount's total, ...
            statistic = r["feature"][len(safe_name(r["column"])) + 1:]
            names[r["feature"]] = f"{profiles_.delivered_words(r['column'])} {statistic}"
    return Delivered(names, frozenset(r["feature"] for r in rows if r["date"]))


def train_segmentation(cfg: Config, features: DataFrame, as_of: dt.date,
                       labels: DataFrame | None = None,
                       products: Sequence[str] = (),
                       described: DataFrame | None = None) -> dict[str, Any]:
    """Fit, log and register the segmentation (child run); write gold.segment_profiles with
    each segment's distinguishing traits and, given ``labels`` at ``as_of``, its conversion
    rate per product (segmentation.profiles). ``described``: the clients the profiles count
    and describe when they are more than those the segmentation is fitted on (a snapshot's
    held-out clients are never fitted on, but they are segmented and scored, so that the
    sizes add up to gold.client_segments); default ``features``."""
    settings = cfg.segmentation
    began = time.monotonic()
    name = segmentation_model_name(cfg)
    previous = current_champion(cfg, name) if settings.continuity else None
    delivered = delivered_columns(cfg, features)
    fitted = seg.fit_segmentation(features, settings,
                                  previous=previous.model if previous else None,
                                  first_fresh_id=highest_segment_id(features, cfg) + 1
                                  if settings.continuity else 0, dates=delivered.dates)
    assigned = seg.assign_segments(fitted.model, features if described is None
                                   else described).cache()
    traits = profiles_.segment_traits(assigned, *profiles_.profile_columns(features),
                                      names=delivered.names, dates=delivered.dates)
    profiles = profiles_.segment_profiles(assigned, fitted.columns).transform(
        lambda p: profiles_.with_traits(p, traits))
    if labels is not None and products:
        profiles = profiles.join(profiles_.conversion_rates(assigned, labels, products),
                                 "segment_id", "left")
    profiles = profiles.cache()
    profile_rows = [r.asDict(recursive=True)
                    for r in profiles.orderBy("segment_id").collect()]  # k rows
    with mlflow.start_run(run_name="segmentation", nested=True) as run:
        mlflow.log_params({"as_of_date": as_of.isoformat(), "k_min": settings.k_min,
                           "k_max": settings.k_max, "use_pca": settings.use_pca,
                           "seed": settings.seed, "n_features": len(fitted.columns),
                           "min_cluster_share": settings.min_cluster_share,
                           "max_fit_rows": settings.max_fit_rows, "chosen_k": fitted.k})
        for trial in fitted.trials:
            if trial.silhouette is not None:
                mlflow.log_metric("silhouette", trial.silhouette, step=trial.k)
                mlflow.log_metric(f"silhouette_k{trial.k}", trial.silhouette)
            mlflow.log_metric(f"smallest_share_k{trial.k}", trial.smallest_share)
        chosen = next(t for t in fitted.trials if t.k == fitted.k)
        if chosen.silhouette is not None:
            mlflow.log_metric("chosen_silhouette", chosen.silhouette)
        mlflow.log_metric("n_segments", len(fitted.names))
        log_json([t.__dict__ for t in fitted.trials], "k_sweep.json")
        log_json({str(s): {"name": n, "basis": fitted.basis[s]} for s, n in fitted.names.items()},
                  "personas.json")
        log_json(profile_rows, "segment_profiles.json")
        log_json(list(fitted.columns), "features.json")
        mlflow.set_tag("segment_names", json.dumps({str(k): v for k, v in fitted.names.items()}))
        if previous is not None:
            mlflow.log_param("continues_version", previous.version)
            log_json(continuity_record(fitted.names, fitted.continued,
                                        seg.segment_names_map(previous.model)),
                     "continuity.json")
        version = log_and_register(fitted.model, cfg, name)
        run_id = run.info.run_id
    write_gold(profiles.select(F.lit(as_of).alias("as_of_date"), *profiles.columns), cfg,
               "segment_profiles", as_of)
    profiles.unpersist()
    assigned.unpersist()
    log.info("segmentation: k=%d %s (%.1f s)%s", fitted.k, fitted.names,
             time.monotonic() - began,
             f"; continues {len(fitted.continued)} of version {previous.version}'s segments"
             if previous is not None else "")
    return {"run_id": run_id, "model_name": name, "version": version, "k": fitted.k,
            "names": fitted.names, "model": fitted.model, "continued": sorted(fitted.continued),
            "seconds": round(time.monotonic() - began, 1)}


def judge_promotion(cfg: Config, name: str, eval_df: DataFrame,
                    metrics: dict[str, dict[str, float]],
                    plan: TrainingPlan) -> tuple[Decision, dict[str, Any] | None]:
    """Judge the current champion on the same held-out rows (when fair) and decide."""
    incumbent = current_champion(cfg, name)
    judged: dict[str, Any] | None = None
    note = "no champion yet"
    if incumbent is not None:
        eval_as_of = plan.eval_as_of.isoformat()
        if champion_is_comparable(incumbent.fitted_as_of, eval_as_of, plan.by_split):
            try:
                scored = pm.positive_probability(incumbent.model.transform(eval_df)).select(
                    "identity_id_hash", pm.LABEL, pm.PROBABILITY)
                values, _ = ev.evaluate_scores(scored, cfg.propensity.top_fractions,
                                               cfg.propensity.quantile_relative_error)
                judged = {"version": incumbent.version, "run_id": incumbent.run_id,
                          "metrics": values}
            except (AnalysisException, SchemaMismatchError) as exc:
                note = (f"champion version {incumbent.version} cannot score today's features "
                        f"({str(exc).splitlines()[0][:120]})")
        else:
            note = (f"champion version {incumbent.version} was fitted on data up to "
                    f"{incumbent.fitted_as_of or 'an unknown date'}, not before the evaluation "
                    f"date {eval_as_of}, so it is not judged on it")
    decision = promotion_decision(
        metrics["rf"]["roc_auc"], metrics["baseline"]["roc_auc"],
        judged["metrics"]["roc_auc"] if judged else None, cfg.propensity.promotion_margin, note,
        has_champion=incumbent is not None)
    return decision, judged


