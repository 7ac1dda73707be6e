"""The ``segrec train`` stage: segmentation, then one tuned RandomForest per product, in MLflow.

Time (see DESIGN.md section 3): with E = the end of the data and h = features.horizon_days,

* segmentation is fitted on gold.client_features at E - h (features only, no labels);
* each product's model is chosen by validation ROC-AUC (learners.select_learner) on the
  labels up to E - 2h and evaluated OUT OF TIME on the labels at E - h, beside a naive
  baseline and (generated data only) the oracle built from the planted truth;
* the champion registered for scoring is refitted with the tuned parameters on the latest labels
  (E - h) (``propensity.champion_fit = latest``; ``evaluated`` registers the evaluated model).

MLflow: one parent run per training, child runs ``segmentation`` and ``propensity_<product>``;
models registered as ``<prefix>_segmentation`` and ``<prefix>_propensity_<product lower>`` with
alias ``<mlflow.champion_alias>``. Tables: gold.model_metrics and gold.segment_profiles, each
slice-replaced by as_of_date (the evaluation date E - h).
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import mlflow
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from segrec_spark.calendar import parse_as_of
from segrec_spark.config import Config, is_local_path
from segrec_spark.errors import InputDataError, MissingTableError
from segrec_spark.propensity import calibration as cal
from segrec_spark.propensity import evaluation as ev
from segrec_spark.propensity import learners, pooled, tracking
from segrec_spark.propensity import model as pm
from segrec_spark.propensity.plan import TrainingPlan, training_plan
from segrec_spark.propensity.settings import PropensitySettings
from segrec_spark.registry import (
    configure_mlflow,
    log_and_register,
    propensity_model_name,
)
from segrec_spark.segmentation import model as seg
from segrec_spark.tables import (
    delta_exists,
    first_row,
    read_table,
    table_path,
)

log = logging.getLogger(__name__)

METRICS_SCHEMA = ("as_of_date date, product_code string, model string, role string, "
                  "metric string, value double, promoted boolean, reason string, "
                  "run_id string, model_version string")
MODEL_LABELS = {"rf": "random_forest", "baseline": "baseline", "oracle": "oracle",
                "observable_ceiling": "observable_ceiling"}
ROLES = {"rf": "champion", "baseline": "baseline", "oracle": "oracle",
         "observable_ceiling": "observable_ceiling"}
# The planted truth's score columns, by kind: the oracle and the observable ceiling (the
# month's unobservable shock averaged out; absent from truth written before it existed).
TRUTH_COLUMNS = {"oracle": "true_probability", "observable_ceiling": "observable_probability"}
CALIBRATED = "calibrated"  # the model's held-out scores through its Platt map (evaluation only)


# --- names and dates ---------------------------------------------------------------------------

def read_plan(spark: SparkSession, cfg: Config, train_as_of: dt.date | None = None,
              eval_as_of: dt.date | None = None) -> TrainingPlan:
    """The training plan from the as-of dates that gold.labels holds (see propensity.plan)."""
    path = table_path(cfg.paths.root, "gold", "labels")
    if not delta_exists(spark, path):
        raise MissingTableError(f"train: gold.labels not found at {path} (run `segrec features` "
                                f"or `segrec snapshot`)")
    labels = read_table(spark, path)
    # Each as-of date and the label window its labels record (one row per month).
    windows = {r[0]: r[1] for r in labels.groupBy("as_of_date").agg(
        F.max("horizon_days") if "horizon_days" in labels.columns else F.lit(None)).collect()}
    dates = list(windows)
    split_dates: list[dt.date] = []
    if "split" in labels.columns:
        split_dates = [r[0] for r in labels.where(F.col("split") == "evaluation")
                       .select("as_of_date").distinct().collect()]
    return training_plan(dates, split_dates, cfg.features.horizon_days, eval_as_of, train_as_of,
                         snapshots=cfg.features.train_snapshots,
                         windows={d: w for d, w in windows.items() if w is not None})


def split_rows(labels: DataFrame, part: str, by_split: bool = True) -> DataFrame:
    """Training (split train or none) or held-out (split evaluation) label rows. Evaluated out
    of time (``by_split`` False: a snapshot table with several as-of dates and no held-out
    rows at the evaluation date), every row of the evaluation date is held out."""
    if "split" not in labels.columns or (part == "evaluation" and not by_split):
        return labels
    held_out = F.col("split") == "evaluation"
    return labels.where(held_out if part == "evaluation" else ~held_out | F.col("split").isNull())


def read_gold_dates(spark: SparkSession, cfg: Config, name: str,
                    dates: Sequence[dt.date]) -> DataFrame:
    """The as_of_date slices ``dates`` of a gold table; a MissingTableError names a missing one."""
    path = table_path(cfg.paths.root, "gold", name)
    if not delta_exists(spark, path):
        raise MissingTableError(f"train: gold.{name} not found at {path} (run `segrec features`)")
    df = read_table(spark, path).where(F.col("as_of_date").isin(list(dates)))
    found = {r[0] for r in df.select("as_of_date").distinct().collect()}  # at most len(dates)
    for as_of in dates:
        if as_of not in found:
            raise MissingTableError(f"train: gold.{name} has no rows for as_of_date {as_of} "
                                    f"(run `segrec features --as-of {as_of}`)")
    return df


def read_true_propensity(spark: SparkSession, cfg: Config) -> DataFrame | None:
    """The generator's planted truth, when present (evaluation only)."""
    path = f"{cfg.paths.ground_truth.rstrip('/')}/true_propensity"
    if is_local_path(path) and not Path(path).is_dir():
        return None
    try:
        return spark.read.parquet(path)
    except AnalysisException:
        return None


def _baseline_scores(cfg: Config, spec: pm.FeatureSpec, train: DataFrame,
                     test: DataFrame) -> DataFrame:
    if cfg.propensity.baseline == "logistic_regression":
        fitted = pm.logistic_pipeline(spec).fit(train)
        return pm.positive_probability(fitted.transform(test)).select(
            "identity_id_hash", pm.LABEL, pm.PROBABILITY)
    return pm.popularity_scores(pm.popularity_rates(train), test)


def _metric_rows(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(model, role, metric, value, promoted, reason, run_id, version) of one product.

    The new model is the ``champion`` when promoted, else the ``challenger``; the model that
    held the alias and was judged on the same rows is the ``champion`` it stays, or the
    ``previous_champion`` it became."""
    promoted = result["promoted"]
    rows = []
    for kind, values in result["metrics"].items():
        model = result["learner"] if kind == "rf" else MODEL_LABELS[kind]
        role = ("champion" if promoted else "challenger") if kind == "rf" else ROLES[kind]
        for metric, value in values.items():
            rows.append((model, role, metric, float(value),
                         promoted if kind == "rf" else None,
                         result["reason"] if kind == "rf" else None,
                         result["run_id"], result["version"]))
    incumbent = result.get("incumbent")
    if incumbent:
        role = "previous_champion" if promoted else "champion"
        rows += [("incumbent", role, metric, float(value), not promoted, None,
                  incumbent["run_id"], incumbent["version"])
                 for metric, value in incumbent["metrics"].items()]
    return rows


def _select(settings: PropensitySettings, product: str, train: DataFrame, spec: pm.FeatureSpec,
            weight: float, share: float, n_rows: int,
            pooled_forest: pooled.PooledForest | None
            ) -> tuple[learners.Selection, float | None, bool]:
    """The product's model, its own model's validation AUC and whether the model is the pooled
    forest (:func:`pooled.chooses_pooled`). The own model (:func:`learners.select_learner`) is
    validated on the latest training month where the pooled forest was, so that the two compare
    on the same rows, and the pooled forest's row is added to the results; with ``pooled:
    always`` no own model is fitted."""
    if pooled_forest is not None and settings.pooled == "always":
        use_segment = spec.segment is not None and pooled_forest.use_segment
        return learners.Selection(
            learner="random_forest", params=dict(pooled_forest.params),
            model=pooled_forest.model(product), results=[pooled_forest.result_row(product)],
            spec=spec if use_segment else replace(spec, segment=None),
            validation="none (pooled: always)"), None, True
    on_month = pooled_forest is not None and product in pooled_forest.validation
    selection = learners.select_learner(train, spec, weight, settings, negative_share=share,
                                        n_rows=n_rows, on_latest_month=on_month)
    own_auc = selection.validation_auc
    if pooled_forest is None or not on_month:
        return selection, own_auc, False
    selection = replace(selection, results=[*selection.results, pooled_forest.result_row(product)])
    if not pooled.chooses_pooled(settings, pooled_forest, product, own_auc):
        return selection, own_auc, False
    return replace(selection, learner="random_forest", params=dict(pooled_forest.params),
                   model=pooled_forest.model(product)), own_auc, True


# (feature spec, "train" or "champion") -> that frame's rows, positives and nullable columns
LabelCounter = Callable[[pm.FeatureSpec, str], pm.LabelledRows]


def train_product(cfg: Config, product: str, train_df: DataFrame, eval_df: DataFrame,
                  truth: DataFrame | None, plan: TrainingPlan,
                  champion_df: DataFrame | None = None,
                  parent_run_id: str | None = None,
                  pooled_forest: pooled.PooledForest | None = None,
                  counts: LabelCounter | None = None) -> dict[str, Any]:
    """Choose and tune the learner, evaluate on held-out rows, fit the champion, log a child run.

    ``train_df`` holds the labelled rows of ``plan.train_dates``, ``eval_df`` those of
    ``plan.eval_as_of`` and ``champion_df`` those of ``plan.champion_dates`` (default: eval_df).
    The child run goes under ``parent_run_id`` (MLflow's active run is per thread, so a product
    trained in a worker thread names its parent). ``pooled_forest`` (propensity.pooled) is the
    forest pooled over all products, used where it validates better than the product's own.
    ``counts`` gives the rows, positives and nullable columns of ``train_df`` ("train") and
    ``champion_df`` ("champion") without a pass over them (model.LabelCounts); without it they
    are counted here (model.count_labelled)."""
    settings = cfg.propensity
    began = time.monotonic()
    train_as_of, eval_as_of = plan.dates
    train_spec = pm.feature_spec(train_df)
    counted = (counts(train_spec, "train") if counts is not None
               else pm.count_labelled(train_spec, train_df))
    n_train, n_pos, spec = counted.n, counted.positives, counted.spec
    if n_pos < settings.min_positives:
        train_dates = ", ".join(map(str, plan.train_dates))
        log.warning("propensity %s: %d positive label(s) at %s (< propensity.min_positives=%d); "
                    "skipped", product, n_pos, train_dates, settings.min_positives)
        return {"skipped": f"{n_pos} positives at {train_dates} < min_positives"}
    train_w, weight, share = pm.training_frame(train_df, n_pos, n_train - n_pos, settings)
    train_w = train_w.cache()
    selection, own_auc, use_pooled = _select(settings, product, train_w, spec, weight, share,
                                             round(n_pos + (n_train - n_pos) * share),
                                             pooled_forest)
    grid, best = selection.results, selection.params
    tuned_seconds = time.monotonic() - began

    scored = {"rf": pm.positive_probability(selection.model.transform(eval_df))
              .select("identity_id_hash", pm.LABEL, pm.PROBABILITY).cache(),
              "baseline": _baseline_scores(cfg, spec, train_df, eval_df).cache()}
    for kind, column in TRUTH_COLUMNS.items():
        if truth is not None and column in truth.columns:
            scored[kind] = ev.oracle_scores(truth, eval_df, product, eval_as_of, column).cache()
    train_w.unpersist()
    platt = (cal.fit_platt(scored["rf"], settings.min_positives)
             if settings.calibration == "platt" else None)
    # Every scored frame in one evaluation; with the map, the same held-out rows through it
    # too (2 parameters fitted on them).
    frames = dict(scored)
    if platt is not None:
        frames[CALIBRATED] = scored["rf"].transform(cal.calibrated(platt))
    evaluated = ev.evaluate_many(frames, settings.top_fractions,
                                 settings.quantile_relative_error)
    # A planted truth without the evaluation month's window scores no row: no metrics for it.
    metrics = {kind: evaluated[kind][0] for kind in scored
               if kind not in TRUTH_COLUMNS or evaluated[kind][0]["n_clients"]}
    deciles = {kind: evaluated[kind][1] for kind in metrics}
    if platt is not None:
        after = evaluated[CALIBRATED][0]
        metrics["rf"].update({f"calibrated_{k}": after[k]
                              for k in ("calibration_error", "mean_predicted", "brier")})

    champion, champion_weight, champion_share, champion_as_of, refit = (
        selection.model, weight, share, train_as_of, False)
    # Refit on the latest labels only when they are a later month; held-out rows of a split
    # snapshot are never trained on.
    if settings.champion_fit == "latest" and not plan.by_split:
        champion_df = eval_df if champion_df is None else champion_df
        if use_pooled:  # one refit of the pooled forest, shared by the products that use it
            assert pooled_forest is not None
            refitted = pooled_forest.champion()
            champion = pooled.product_model(pooled_forest.view(product), refitted.model)
            champion_weight, champion_share = refitted.weight, refitted.share
            champion_as_of, refit = eval_as_of, True
        else:
            fit_spec = pm.feature_spec(champion_df,
                                       use_segment=selection.spec.segment is not None)
            totals = (counts(fit_spec, "champion") if counts is not None
                      else pm.count_labelled(fit_spec, champion_df))
            n_fit, n_fit_pos, champion_spec = totals.n, totals.positives, totals.spec
            if n_fit_pos >= settings.min_positives:
                champion_rows, champion_weight, champion_share = pm.training_frame(
                    champion_df, n_fit_pos, n_fit - n_fit_pos, settings)
                champion_rows = champion_rows.cache()  # one sample for every pass of the fit
                champion_pipeline, _ = learners.learner_pipeline(
                    selection.learner, champion_spec, champion_weight, settings,
                    negative_share=champion_share, params=best)
                champion = champion_pipeline.fit(champion_rows)
                champion_rows.unpersist()
                champion_as_of, refit = eval_as_of, True
        if refit and platt is not None:  # the map must be the registered model's
            # Its level from every month the champion is fitted on, not the latest alone: a
            # month of a hundred-odd buyers moves by a quarter from one month to the next.
            platt = cal.refit_level(platt, pm.positive_probability(champion.transform(
                champion_df)).select(pm.LABEL, pm.PROBABILITY),
                ",".join(d.isoformat() for d in plan.champion_dates))
    importances = pm.feature_importances(champion, eval_df)
    if use_pooled:  # as the product's own columns
        assert pooled_forest is not None
        importances = pooled.product_importances(importances, product, pooled_forest.aligned)

    name = propensity_model_name(cfg, product)
    decision, incumbent_metrics = tracking.judge_promotion(cfg, name, eval_df, metrics, plan)
    with mlflow.start_run(run_name=f"propensity_{product.lower()}", nested=True,
                          parent_run_id=parent_run_id) as run:
        mlflow.log_params({
            "product": product, "train_as_of": train_as_of.isoformat(),
            "train_dates": ",".join(map(str, plan.train_dates)),
            "champion_dates": ",".join(map(str, plan.champion_dates)),
            "eval_as_of": eval_as_of.isoformat(), "champion_as_of": champion_as_of.isoformat(),
            "evaluation": "held-out split" if plan.by_split else "out of time",
            "champion_fit": settings.champion_fit, "n_train": n_train, "n_train_positives": n_pos,
            "positive_weight": round(weight, 4),
            "champion_positive_weight": round(champion_weight, 4),
            "max_training_rows": settings.max_training_rows,
            "negative_share": round(share, 6), "champion_negative_share": round(champion_share, 6),
            "n_numeric_features": len(spec.numeric), "categorical": ",".join(spec.categorical),
            "imputed_with_indicator": ",".join(spec.nullable)[:500],
            "segment_feature": selection.spec.segment or "",
            "segment_feature_setting": settings.segment_feature, "baseline": settings.baseline,
            "learners": ",".join(settings.learners), "learner": selection.learner,
            "pooled": settings.pooled, "model_scope": "pooled" if use_pooled else "product",
            "product_validation_auc": "" if own_auc is None else round(own_auc, 4),
            "pooled_validation_auc": round(pooled_forest.validation[product], 4)
            if pooled_forest is not None and product in pooled_forest.validation else "",
            "validation": selection.validation,
            "folds": settings.folds,
            "grid_num_trees": list(settings.num_trees), "grid_max_depth": list(settings.max_depth),
            "train_ratio": settings.train_ratio, "parallelism": settings.parallelism,
            **{f"best_{k}": v for k, v in best.items()},
        })
        for kind, values in metrics.items():
            label = selection.learner if kind == "rf" else MODEL_LABELS[kind]
            mlflow.log_metrics({f"{label}_{k}": v for k, v in tracking.finite(values).items()})
        for i, row in enumerate(grid):
            if row["validation_areaUnderROC"] is not None:  # None: nothing was chosen
                mlflow.log_metric("tuning_validation_auc", row["validation_areaUnderROC"],
                                  step=i)
        mlflow.log_metric("tuning_seconds", tuned_seconds)
        tracking.log_json(grid, "tuning_grid.json")
        tracking.log_json([{"feature": n, "importance": v} for n, v in importances],
                          "feature_importances.json")
        tracking.log_json(deciles, "deciles.json")
        tracking.log_json(platt.as_dict() if platt else {}, "calibration.json")
        with tempfile.TemporaryDirectory() as tmp:
            chart = Path(tmp) / f"gains_{product.lower()}.png"
            tracking.gains_chart({(selection.learner if k == "rf" else MODEL_LABELS[k]):
                                  ev.gains_curve(d) for k, d in deciles.items()},
                                 f"{product}: gains on held-out rows at {eval_as_of}", chart)
            mlflow.log_artifact(str(chart))
        mlflow.set_tags({"promoted": str(decision.promoted).lower(),
                         "promotion_reason": decision.reason})
        version = log_and_register(champion, cfg, name, set_alias=decision.promoted)
        run_id = run.info.run_id
    for frame in scored.values():
        frame.unpersist()
    seconds = round(time.monotonic() - began, 1)
    log.info("propensity %s: %s%s chosen (%s the K-Means segment as a feature%s); AUC "
             "model=%.3f baseline=%.3f%s; %s (%.1f s)",
             product, "pooled " if use_pooled else "", selection.learner,
             "with" if selection.spec.segment else "without", take_up_note(selection),
             metrics["rf"]["roc_auc"],
             metrics["baseline"]["roc_auc"],
             truth_note(metrics), decision.reason, seconds)
    for warning in (leak_warning(product, metrics["rf"]["roc_auc"], importances),
                    weak_model_warning(product, metrics["rf"]["roc_auc"],
                                       metrics["baseline"]["roc_auc"]),
                    thin_level_warning(product, platt)):
        if warning:
            log.warning(warning)
    log.debug("propensity %s: parameters %s", product, best)
    return {"run_id": run_id, "model_name": name, "version": version, "metrics": metrics,
            "best_params": best, "learner": selection.learner, "seconds": seconds,
            "segment_feature": selection.spec.segment is not None,
            "scope": "pooled" if use_pooled else "product",
            "promoted": decision.promoted, "reason": decision.reason,
            "incumbent": incumbent_metrics}


LEAK_AUC = 0.995  # a held-out ROC-AUC from here on is rare in marketing data


def leak_warning(product: str, auc: float | None, importances: Sequence[tuple[str, float]],
                 threshold: float = LEAK_AUC) -> str | None:
    """One line when the held-out ROC-AUC is almost perfect: a campaign's response is seldom
    that predictable, and the usual cause is a column written after the outcome (the amount
    spent, a status or a call's duration), which cannot be known when the offer is chosen.
    Names the three columns the model leans on most (``importances``, highest first)."""
    if auc is None or math.isnan(auc) or auc < threshold:
        return None
    top = ", ".join(f"{pm.feature_label(name)} ({value:.2f})"
                    for name, value in importances[:3])
    return (f"propensity {product}: held-out ROC-AUC {auc:.4f} is almost perfect; check that "
            f"no column is known only after the outcome (an amount spent, a status set on "
            f"purchase) and declare such a column role ignore. The model leans most on: {top}")


def thin_level_warning(product: str, platt: cal.Platt | None) -> str | None:
    """One line when the probabilities' level rests on fewer than ``cal.THIN_LEVEL`` buyers:
    the sum of the calibrated probabilities equals the buyers it was fitted on, so it moves
    with them, by about 1/sqrt(buyers) from one sample to the next (a count's relative
    standard error)."""
    if platt is None or not 0 < platt.positives < cal.THIN_LEVEL:
        return None
    where = (f"the labelled months {platt.level_as_of}" if platt.level_as_of
             else "the held-out rows")
    return (f"propensity {product}: its probabilities are calibrated on {platt.positives} "
            f"buyer(s) of {where} ({platt.rows} clients): a level fitted on so few moves by "
            f"about {100 / math.sqrt(platt.positives):.0f} % from one sample to the next, and "
            f"so do the campaign plan's expected conversions and profit; the ranking does not "
            f"depend on it (hold out more rows or months to narrow it)")


def truth_note(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """The held-out AUCs of the planted truth, where a ground truth was read (the synthetic
    bank's generator writes one; a bank's own data has none, and then there is nothing to say)."""
    labels = {"observable_ceiling": "observable ceiling", "oracle": "oracle"}
    return "".join(f" {label}={metrics[key]['roc_auc']:.3f}" for key, label in labels.items()
                   if key in metrics)


def take_up_note(selection: learners.Selection) -> str:
    """What validation chose for a snapshot's take-up features, when there were any."""
    if not any(row.get("take_up") for row in selection.results):
        return ""
    kept = learners.take_up_columns(selection.spec)
    return (f"; with its take-up column(s) {', '.join(kept)}: they helped on validation" if kept
            else "; without its take-up column(s): no better on validation")


def weak_model_warning(product: str, auc: float | None, baseline_auc: float | None
                       ) -> str | None:
    """One line when the held-out ROC-AUC is no better than the naive baseline's (each
    segment's positive rate) or than chance (0.5): the product's rankings are still written,
    so that every product is scored, but they should not choose whom to contact."""
    if auc is None or math.isnan(auc):
        return None
    floor = max(0.5, baseline_auc if baseline_auc is not None and not math.isnan(baseline_auc)
                else 0.5)
    if auc > floor:
        return None
    return (f"propensity {product}: held-out ROC-AUC {auc:.4f} is no better than "
            f"{'chance' if floor == 0.5 else 'the baseline'} ({floor:.4f}): its rankings are "
            f"written but rank clients no better; check the outcome column, add columns that "
            f"tell buyers apart (a transaction log, holdings), or leave the product out "
            f"(propensity.products)")


def products_to_train(cfg: Config, labels: DataFrame, as_of: dt.date | None = None) -> list[str]:
    """Configured products (default: all in the contract) that have labels; InputDataError
    when none has (``as_of``: the month, for the message)."""
    catalogue = cfg.contract.product_codes
    wanted = list(cfg.propensity.products or catalogue)
    unknown = [p for p in wanted if p not in catalogue]
    if unknown:
        raise InputDataError(f"propensity.products: unknown product(s) {', '.join(unknown)}; "
                             f"expected some of {', '.join(catalogue)}")
    present = {r[0] for r in labels.select("product_code").distinct().collect()}  # one per product
    products = [p for p in wanted if p in present]
    if not products:
        month = f" at {as_of}" if as_of is not None else ""
        raise InputDataError(f"train: none of the products {', '.join(wanted)} has a label in "
                             f"gold.labels{month} (check propensity.products, and that the "
                             "month's purchases were delivered and `segrec features` ran)")
    return products


def latest_feature_date(spark: SparkSession, cfg: Config, as_of: dt.date | None = None
                        ) -> dt.date:
    """``as_of``, or else the latest as_of_date gold.client_features holds."""
    path = table_path(cfg.paths.root, "gold", "client_features")
    if not delta_exists(spark, path):
        raise MissingTableError(f"train: gold.client_features not found at {path} (run "
                                f"`segrec snapshot`)")
    latest = first_row(read_table(spark, path).agg(F.max("as_of_date")))[0]
    if latest is None:
        raise MissingTableError(f"train: gold.client_features at {path} has no rows")
    return as_of or latest


def run_segments_only(spark: SparkSession, cfg: Config, as_of: dt.date | None = None
                      ) -> dict[str, Any]:
    """A snapshot without outcomes (Contract.segments_only): fit, name and register the
    segmentation on the latest as-of date's clients (or ``as_of``); no product model."""
    began = time.monotonic()
    as_of = latest_feature_date(spark, cfg, as_of)
    features = read_gold_dates(spark, cfg, "client_features", [as_of])
    experiment_id = configure_mlflow(cfg)
    with mlflow.start_run(experiment_id=experiment_id,
                          run_name=f"segment_{as_of.isoformat()}") as parent:
        mlflow.log_params({"evaluation": "none (segments only)",
                           "eval_as_of": as_of.isoformat()})
        segmentation = tracking.train_segmentation(cfg, features, as_of)
    summary: dict[str, Any] = {
        "train_as_of": as_of, "eval_as_of": as_of, "train_dates": (as_of,),
        "segmentation": {k: v for k, v in segmentation.items() if k != "model"},
        "products": {}, "skipped": {}, "parent_run_id": parent.info.run_id,
        "timings": {}, "seconds": round(time.monotonic() - began, 1)}
    log.info("train: segments only (the snapshot declares no outcome): k=%d at %s in %.1f s",
             segmentation["k"], as_of, summary["seconds"])
    return summary


def run(spark: SparkSession, cfg: Config, train_as_of: dt.date | None = None,
        eval_as_of: dt.date | None = None) -> dict[str, Any]:
    """Train segmentation and every product's propensity model; return run ids and metrics.

    Returns {"train_as_of", "eval_as_of", "parent_run_id", "segmentation": {run_id, model_name,
    version, k, names, seconds}, "products": {product: {run_id, model_name, version, metrics:
    {"rf"|"baseline"|"oracle"|"observable_ceiling": {metric: value}}, best_params, seconds}},
    "skipped": {product: reason}, "timings": {step: seconds}, "seconds"}.
    """
    if cfg.contract.segments_only:
        return run_segments_only(spark, cfg, eval_as_of)
    began = time.monotonic()
    timings: dict[str, float] = {}

    def lap(step: str) -> None:
        timings[step] = round(time.monotonic() - began - sum(timings.values()), 1)

    plan = read_plan(spark, cfg, train_as_of, eval_as_of)
    train_date, eval_date = plan.dates
    all_dates = sorted({*plan.train_dates, *plan.champion_dates})
    features_all = read_gold_dates(spark, cfg, "client_features", all_dates)
    features_eval = features_all.where(F.col("as_of_date") == F.lit(eval_date))
    labels_all = read_gold_dates(spark, cfg, "labels", all_dates)
    labels_train = split_rows(labels_all.where(F.col("as_of_date").isin(list(plan.train_dates))),
                              "train")
    labels_eval = split_rows(labels_all.where(F.col("as_of_date") == F.lit(eval_date)),
                             "evaluation", plan.by_split)
    truth = read_true_propensity(spark, cfg)
    lap("read_inputs")
    experiment_id = configure_mlflow(cfg)
    lap("mlflow_setup")

    summary: dict[str, Any] = {"train_as_of": train_date, "eval_as_of": eval_date,
                               "train_dates": plan.train_dates,
                               "products": {}, "skipped": {}, "timings": timings}
    rows: list[tuple[Any, ...]] = []
    with mlflow.start_run(experiment_id=experiment_id,
                          run_name=f"train_{eval_date.isoformat()}") as parent:
        mlflow.log_params({"evaluation": "held-out split" if plan.by_split else "out of time",
                           "train_as_of": train_date.isoformat(),
                           "train_dates": ",".join(map(str, plan.train_dates)),
                           "eval_as_of": eval_date.isoformat(),
                           "horizon_days": cfg.features.horizon_days,
                           "oracle_available": truth is not None})
        # Held-out rows of a split snapshot are never fitted on, not even without labels.
        fit_rows = (features_eval.join(labels_train.select(*pm.KEYS).distinct(), on=list(pm.KEYS),
                                       how="left_semi") if plan.by_split else features_eval)
        # Conversion rates per segment: the labels of the clients the segmentation is fitted on;
        # sizes and traits: every client of the date, as gold.client_segments counts them.
        segmentation = tracking.train_segmentation(
            cfg, fit_rows, eval_date, labels_train if plan.by_split else labels_eval,
            cfg.contract.product_codes, described=features_eval)
        summary["segmentation"] = {k: v for k, v in segmentation.items() if k != "model"}
        lap("segmentation")
        stacked = len(plan.champion_dates) > 1
        products = products_to_train(cfg, labels_eval, eval_date)
        # Every product's labels as columns, joined to the segmented client rows once and
        # cached: a product's rows are a filter of it, not a join (a shuffle of every client
        # row) for each pass over them.
        segmented = (seg.assign_segments(segmentation["model"], features_all)
                     .join(pm.labels_by_product(labels_all, products), on=list(pm.KEYS))
                     .cache())

        def rows_of(product: str, dates: Sequence[dt.date], part: str = "") -> DataFrame:
            # The rows of labels_train (part "train"), labels_eval ("evaluation") or
            # labels_champion (no part), for one product.
            rows = segmented.where(F.col("as_of_date").isin(list(dates)))
            return pm.product_rows(split_rows(rows, part, plan.by_split) if part else rows,
                                   products, product)

        def labelled(product: str, part: str) -> DataFrame:
            if part == "train":
                return rows_of(product, plan.train_dates, "train")
            return rows_of(product, plan.champion_dates)

        # One forest pooled over every product (propensity.pooled), before the products: each
        # product compares it with its own model on validation. Never on a split snapshot (its
        # held-out rows are the evaluation's).
        pooled_forest = None if plan.by_split else pooled.fit_pooled(
            cfg.propensity, products, labelled, plan.train_dates,
            use_segment=cfg.propensity.segment_feature == "always")
        lap("pooled")

        # Every product's rows, positives and columns with a null or NaN, per as-of date, in
        # one pass over the client rows instead of two per product.
        numeric = pm.feature_spec(pm.product_rows(segmented, products, products[0])).numeric
        counts = pm.LabelCounts(tuple(pm.labelled_groups(segmented, products, numeric)
                                      .collect()),  # dates x splits x label sets: small
                                tuple(products), numeric)
        lap("label_counts")

        def fit_one(product: str) -> dict[str, Any]:
            eval_df = rows_of(product, [eval_date], "evaluation").cache()
            champion_df = labelled(product, "champion").cache() if stacked else None

            def count(spec: pm.FeatureSpec, rows: str) -> pm.LabelledRows:
                if rows == "train":
                    return counts.of(spec, product, plan.train_dates, "train")
                if stacked:  # champion_df
                    return counts.of(spec, product, plan.champion_dates)
                return counts.of(spec, product, [eval_date], "evaluation")  # eval_df

            try:
                return train_product(cfg, product, labelled(product, "train"), eval_df, truth,
                                     plan, champion_df, parent.info.run_id, pooled_forest,
                                     count)
            finally:
                eval_df.unpersist()
                if champion_df is not None:
                    champion_df.unpersist()

        # Products side by side (propensity.parallel_products): one product's driver-side
        # work (planning, MLflow) overlaps another's tasks; results come back in product order.
        workers = max(1, min(cfg.propensity.parallel_products, len(products)))
        if workers == 1:  # in this thread: no pool, and a profiler sees the products
            results = [fit_one(product) for product in products]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="train") as pool:
                results = list(pool.map(fit_one, products))
        lap("propensity")
        for product, result in zip(products, results, strict=True):
            if "skipped" in result:
                summary["skipped"][product] = result["skipped"]
                continue
            summary["products"][product] = result
            rows += [(product, *row) for row in _metric_rows(result)]
        segmented.unpersist()
        mlflow.log_metric("training_seconds", time.monotonic() - began)
        mlflow.log_metric("products_trained", len(summary["products"]))
        tracking.log_json(timings, "timings.json")
        summary["parent_run_id"] = parent.info.run_id
    if rows:
        metrics_df = spark.createDataFrame(
            [(eval_date, *row) for row in rows], METRICS_SCHEMA)
        tracking.write_gold(metrics_df, cfg, "model_metrics", eval_date)
    lap("write_metrics")
    summary["seconds"] = round(time.monotonic() - began, 1)
    log.info("train: %d product(s) in %.1f s (%s); skipped: %s", len(summary["products"]),
             summary["seconds"], timings, summary["skipped"] or "none")
    return summary


def main(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> None:
    """``segrec train [--as-of E-h]``: evaluate at --as-of, train at one horizon before it."""
    text = getattr(args, "as_of", None)
    run(spark, cfg, eval_as_of=parse_as_of(text) if text else None)


def metrics_table(summary: dict[str, Any], keys: Sequence[str] = ("roc_auc", "pr_auc",
                                                                   "lift_top10")) -> str:
    """A small text table of the summary (for logs and the docs)."""
    lines = ["product | " + " | ".join(f"{m} rf / base / ceiling / oracle" for m in keys)]
    for product, result in summary["products"].items():
        cells = []
        for key in keys:
            values = [result["metrics"].get(kind, {}).get(key)
                      for kind in ("rf", "baseline", "observable_ceiling", "oracle")]
            cells.append(" / ".join(f"{v:.3f}" if v is not None else "-" for v in values))
        lines.append(f"{product} | " + " | ".join(cells))
    return "\n".join(lines)
