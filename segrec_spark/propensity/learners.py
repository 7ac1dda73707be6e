"""The learners a product's model is chosen from, their tuning grids, and the selection.

Every learner ends in the same prior correction (:func:`model.prior_correction_stages`), so the
published probability is a population probability whichever learner wins. Only the random
forest is class-weighted; logistic regression and gradient boosting fit the data as it is
(weighting made boosting overfit the few positives on a held-out marketing split: AUC 0.774
weighted against 0.793 unweighted). :func:`select_learner` tunes each learner of
``propensity.learners`` with the same folds and keeps the best by validation ROC-AUC.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from multiprocessing.pool import ThreadPool
from typing import Any

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import (
    GBTClassifier,
    LogisticRegression,
    RandomForestClassifier,
)
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.tuning import ParamGridBuilder
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segrec_spark.contract import TAKE_UP_PREFIX
from segrec_spark.errors import InputDataError
from segrec_spark.propensity.model import (
    FEATURES,
    LABEL,
    PROBABILITY,
    RF_PROBABILITY,
    WEIGHT,
    FeatureSpec,
    feature_stages,
    prior_correction_stages,
)
from segrec_spark.propensity.settings import LEARNERS, PropensitySettings


def learner(kind: str, settings: PropensitySettings) -> Any:
    """The estimator of one learner, writing the weighted probability to ``rf_probability``."""
    # Only the forest learns from class weights (balanced bootstrap votes); boosting and the
    # logistic regression fit the log-loss of the data as it is: weighting them overfits the
    # few positives (measured on a held-out marketing split: GBT AUC 0.774 weighted, 0.793 not).
    common: dict[str, Any] = {"featuresCol": FEATURES, "labelCol": LABEL}
    if kind == "random_forest":
        common["weightCol"] = WEIGHT
    outputs = {"probabilityCol": RF_PROBABILITY, "rawPredictionCol": "rf_raw_prediction",
               "predictionCol": "rf_prediction"}
    estimator = _estimator(kind, settings, common)
    for name, value in outputs.items():  # GBTClassifier's constructor does not take them all
        estimator.set(estimator.getParam(name), value)
    return estimator


def _estimator(kind: str, settings: PropensitySettings, common: dict[str, Any]) -> Any:
    if kind == "random_forest":
        return RandomForestClassifier(
            **common, seed=settings.seed, numTrees=settings.num_trees[0],
            maxDepth=settings.max_depth[0], minInstancesPerNode=settings.min_instances_per_node,
            featureSubsetStrategy=settings.feature_subset_strategy, maxBins=settings.max_bins)
    if kind == "gradient_boosting":
        return GBTClassifier(
            **common, seed=settings.seed, maxIter=settings.gbt_max_iter[0],
            maxDepth=settings.gbt_max_depth[0], stepSize=settings.gbt_step_size,
            maxBins=settings.max_bins, minInstancesPerNode=1)
    if kind == "logistic_regression":
        return LogisticRegression(**common, maxIter=100, regParam=settings.lr_reg_param[0],
                                  elasticNetParam=0.0, standardization=True)
    raise InputDataError(f"propensity.learners: unknown learner {kind!r} "
                         f"(expected one of {', '.join(LEARNERS)})")


def learner_grid(kind: str, estimator: Any, settings: PropensitySettings) -> list[Any]:
    """The tuning grid of one learner, sized by the settings."""
    builder = ParamGridBuilder()
    if kind == "random_forest":
        builder = (builder.addGrid(estimator.numTrees, list(settings.num_trees))
                   .addGrid(estimator.maxDepth, list(settings.max_depth)))
    elif kind == "gradient_boosting":
        builder = (builder.addGrid(estimator.maxIter, list(settings.gbt_max_iter))
                   .addGrid(estimator.maxDepth, list(settings.gbt_max_depth)))
    else:
        builder = builder.addGrid(estimator.regParam, list(settings.lr_reg_param))
    return builder.build()


def learner_pipeline(kind: str, spec: FeatureSpec, weight: float, settings: PropensitySettings,
                     negative_share: float = 1.0,
                     params: dict[str, Any] | None = None) -> tuple[Pipeline, Any]:
    """Features -> learner -> prior correction; ``params`` (name -> value) fix the learner's
    tuned parameters. Returns the pipeline and its learner (for the tuning grid).

    ``negative_share`` is the share of negatives the learner is fitted on
    (``sample_negatives``); the prior correction divides it out with the class weight."""
    estimator = learner(kind, settings)
    for name, value in (params or {}).items():
        estimator.set(estimator.getParam(name), value)
    inflation = weight if kind == "random_forest" else 1.0  # only the forest is weighted
    stages = [*feature_stages(spec), estimator,
              *prior_correction_stages(inflation / negative_share)]
    return Pipeline(stages=stages), estimator


def forest_pipeline(spec: FeatureSpec, weight: float, settings: PropensitySettings,
                    num_trees: int | None = None,
                    max_depth: int | None = None,
                    negative_share: float = 1.0) -> tuple[Pipeline, RandomForestClassifier]:
    """The random-forest pipeline (see :func:`learner_pipeline`)."""
    params = {k: v for k, v in (("numTrees", num_trees), ("maxDepth", max_depth)) if v}
    return learner_pipeline("random_forest", spec, weight, settings, negative_share, params)


def roc_evaluator() -> BinaryClassificationEvaluator:
    # Unweighted AUC on the corrected probability vector (element 1 = positive class).
    return BinaryClassificationEvaluator(rawPredictionCol=PROBABILITY, labelCol=LABEL,
                                         metricName="areaUnderROC")


def uses_cv(settings: PropensitySettings, n_rows: int | None) -> bool:
    """``validation: cv`` always, ``split`` never, ``auto`` and ``month`` (where a month cannot
    validate) while the training rows are few enough (``cv_max_rows``) that one split would
    judge on too few buyers and folds are cheap."""
    if settings.validation in ("auto", "month"):
        return n_rows is None or n_rows <= settings.cv_max_rows
    return settings.validation == "cv"


def validation_mode(settings: PropensitySettings, n_rows: int | None, n_dates: int,
                    latest_positives: int) -> str:
    """How candidates are compared: ``month`` (tuned on the earlier stacked snapshots, validated
    on the latest), ``cv`` or ``split``. ``auto`` and ``month`` validate on the latest month
    where the training rows hold two or more as-of dates and the latest has at least
    ``month_min_positives`` buyers; otherwise (a single snapshot, a thin month) they fall back
    to :func:`uses_cv`'s rule."""
    if (settings.validation in ("auto", "month") and n_dates >= 2
            and latest_positives >= settings.month_min_positives):
        return "month"
    return "cv" if uses_cv(settings, n_rows) else "split"


FOLD = "_fold"
DATE = "as_of_date"


def client_fold(folds: int) -> Column:
    """The cross-validation fold of a row: from its client key only, so that a client's stacked
    monthly snapshots all fall in one fold (never trained on in one month and validated on in
    another); deterministic, so every learner gets the same folds."""
    return F.pmod(F.xxhash64("identity_id_hash"), F.lit(folds)).cast("int")


@dataclass(frozen=True)
class Tuned:
    """One learner's tuning on ``spec``: its grid and each point's validation ROC-AUC (for
    ``cv`` the mean over the folds). Nothing is refitted on every training row here: only the
    candidate the selection keeps is (:func:`select_learner`), so a learner that loses costs
    its validation fits only."""

    kind: str
    spec: FeatureSpec
    pipeline: Pipeline
    grid: list[Any]
    metrics: list[float]

    @property
    def score(self) -> float:
        return max(self.metrics)

    @property
    def best_point(self) -> Any:
        return self.grid[max(range(len(self.grid)), key=self.metrics.__getitem__)]


def _grid_aucs(pipeline: Pipeline, grid: list[Any], fit_rows: DataFrame, score_rows: DataFrame,
               parallelism: int) -> list[float]:
    """Each grid point fitted on ``fit_rows`` and scored (ROC-AUC) on ``score_rows``, up to
    ``parallelism`` points at a time (Spark ML's ``fitMultiple``, as its validators do)."""
    evaluator = roc_evaluator()
    fits = pipeline.fitMultiple(fit_rows, grid)  # thread-safe iterator

    def score_next(_: int) -> tuple[int, float]:
        index, model = next(fits)
        return index, evaluator.evaluate(model.transform(score_rows))

    metrics = [0.0] * len(grid)
    with ThreadPool(max(1, min(parallelism, len(grid)))) as pool:
        for index, auc in pool.imap_unordered(score_next, range(len(grid))):
            metrics[index] = auc
    return metrics


def _cached_pair(fit_rows: DataFrame, score_rows: DataFrame, pipeline: Pipeline,
                 grid: list[Any], parallelism: int) -> list[float]:
    fit_rows, score_rows = fit_rows.cache(), score_rows.cache()
    try:
        return _grid_aucs(pipeline, grid, fit_rows, score_rows, parallelism)
    finally:
        fit_rows.unpersist()
        score_rows.unpersist()


def validation_aucs(pipeline: Pipeline, grid: list[Any], train: DataFrame, mode: str,
                    settings: PropensitySettings) -> list[float]:
    """Each grid point's validation ROC-AUC in ``mode``:

    * ``month``: fitted on the rows of the earlier as-of dates, scored on the latest one, as
      the out-of-time evaluation scores a model on the month after its training (needs
      ``as_of_date`` with two or more dates);
    * ``cv``: ``settings.folds`` folds by client (the ``FOLD`` column of :func:`client_fold`,
      which :func:`select_learner` adds), fitted on the other folds, the mean AUC;
    * ``split``: one seeded random split by row (``settings.train_ratio`` to fit on).

    The same figures as Spark ML's CrossValidator (``foldCol``) and TrainValidationSplit,
    without their refit of the best point on every row."""
    parallelism = settings.parallelism
    if mode == "month":
        latest = train.agg(F.max(DATE)).first()[0]  # type: ignore[index]
        return _grid_aucs(pipeline, grid, train.where(F.col(DATE) < F.lit(latest)),
                          train.where(F.col(DATE) == F.lit(latest)), parallelism)
    if mode == "cv":
        per_fold = [_cached_pair(train.where(F.col(FOLD) != fold),
                                 train.where(F.col(FOLD) == fold), pipeline, grid, parallelism)
                    for fold in range(settings.folds)]
        return [sum(aucs) / len(aucs) for aucs in zip(*per_fold, strict=True)]
    if mode == "split":
        fit_rows, score_rows = train.randomSplit(
            [settings.train_ratio, 1 - settings.train_ratio], seed=settings.seed)
        return _cached_pair(fit_rows, score_rows, pipeline, grid, parallelism)
    raise ValueError(f"unknown validation mode {mode!r}")


@dataclass(frozen=True)
class Selection:
    """The chosen learner, its parameters and the model refitted on every training row."""

    learner: str
    params: dict[str, Any]
    model: PipelineModel
    results: list[dict[str, Any]]  # one per learner and grid point, with its validation AUC
    spec: FeatureSpec  # the model's inputs (with the segment or without it)
    validation: str = "none (one candidate)"  # month | cv | split, or nothing was chosen

    @property
    def validation_auc(self) -> float | None:
        """The chosen candidate's validation ROC-AUC (None: nothing was validated)."""
        scores = [r["validation_areaUnderROC"] for r in self.results
                  if r["validation_areaUnderROC"] is not None]
        return max(scores) if scores else None


def _tune(kind: str, train: DataFrame, spec: FeatureSpec, weight: float,
          settings: PropensitySettings, negative_share: float, mode: str,
          params: dict[str, Any] | None = None) -> tuple[Tuned, list[dict[str, Any]]]:
    """Validate one learner on ``spec`` (its grid, or only ``params``) in ``mode``: the
    tuning and one result row per grid point."""
    pipeline, estimator = learner_pipeline(kind, spec, weight, settings, negative_share)
    if params is None:
        grid = learner_grid(kind, estimator, settings)
    else:
        grid = [{estimator.getParam(name): value for name, value in params.items()}]
    tuned = Tuned(kind, spec, pipeline, grid,
                  validation_aucs(pipeline, grid, train, mode, settings))
    rows = grid_results(tuned)
    for row in rows:
        row["learner"] = kind
        row["segment"] = spec.segment is not None
        row["take_up"] = bool(take_up_columns(spec))
    return tuned, rows


def take_up_columns(spec: FeatureSpec) -> tuple[str, ...]:
    """The snapshot's take-up features among ``spec``'s inputs (``takeup_<product>_<column>``:
    a many-valued column's take-up among the training clients with its value)."""
    return tuple(c for c in spec.numeric if c.startswith(TAKE_UP_PREFIX))


def without_columns(spec: FeatureSpec, columns: Sequence[str]) -> FeatureSpec:
    """``spec`` without the numeric ``columns`` (and their missing indicators)."""
    return replace(spec, numeric=tuple(c for c in spec.numeric if c not in columns),
                   nullable=tuple(c for c in spec.nullable if c not in columns),
                   sparse=tuple(c for c in spec.sparse if c not in columns))


def has_choice(settings: PropensitySettings, spec: FeatureSpec) -> bool:
    """Whether validation has anything to choose: several learners, a grid of several points,
    or the segment to try (``segment_feature: auto``, with a segment)."""
    if len(settings.learners) > 1:
        return True
    if spec.segment is not None and settings.segment_feature == "auto":
        return True
    if take_up_columns(spec):
        return True
    kind = settings.learners[0]
    return len(learner_grid(kind, learner(kind, settings), settings)) > 1


def _fit_only(kind: str, train: DataFrame, spec: FeatureSpec, weight: float,
              settings: PropensitySettings, negative_share: float) -> Selection:
    """The one candidate, fitted on every training row: no validation fits, which would only
    score a choice there is none of (its result row has no validation AUC)."""
    pipeline, estimator = learner_pipeline(kind, spec, weight, settings, negative_share)
    (point,) = learner_grid(kind, estimator, settings)
    params = {p.name: v for p, v in point.items()}
    model = pipeline.fit(train, point)
    row: dict[str, Any] = {**params, "validation_areaUnderROC": None, "learner": kind,
                           "segment": spec.segment is not None}
    return Selection(learner=kind, params=params, model=model, results=[row], spec=spec)


def _latest_date_positives(train: DataFrame) -> tuple[int, int]:
    """(distinct as-of dates, positives at the latest one) of the training rows."""
    per_date = {r[0]: int(r[1] or 0)  # one row per as-of date
                for r in train.groupBy(DATE).agg(F.sum(LABEL)).collect()}
    return len(per_date), (per_date[max(per_date)] if per_date else 0)


def select_learner(train: DataFrame, spec: FeatureSpec, weight: float,
                   settings: PropensitySettings, negative_share: float = 1.0,
                   n_rows: int | None = None, on_latest_month: bool = False) -> Selection:
    """Tune every learner of ``settings.learners`` and keep the best by validation AUC.

    Every learner gets the same validation rows (the latest month, the same folds by client, or
    the same seeded split: :func:`validation_mode`), so their figures compare. With one
    learner, one grid point and no segment to try there is nothing to choose: the point is
    fitted once on every training row (:func:`has_choice`). The segment (``spec.segment``) is
    an input as ``settings.segment_feature`` says: ``always``, ``never``, or ``auto``: the
    learners are tuned without it, then the chosen one is validated again at its best
    parameters with it, on the same validation rows, and keeps it only when that scores a
    higher validation AUC (one more fit per fold, not another grid). The take-up features of a
    snapshot (:func:`take_up_columns`) are tried the same way, after the segment: the learners
    are tuned without them, and the chosen candidate keeps them only when they score a higher
    validation AUC (a take-up of a column with no signal costs a model more than it gives: on
    the KPMG file it lowered the forest's cross-validated AUC below gradient boosting's, and
    a learner chosen with them is not the one chosen without). Only the candidate kept is
    then fitted on every training row.

    ``on_latest_month``: the candidates are validated on the latest as-of date of ``train``
    (fitted on the earlier ones) whatever the settings and even when there is only one, so that
    the selection's validation AUC compares with another model's on the same rows (the pooled
    forest, propensity.pooled); ``train`` must hold two or more as-of dates."""
    with_segment = spec.segment is not None and settings.segment_feature == "always"
    take_up = take_up_columns(spec)
    plain = without_columns(spec, take_up)
    base = plain if with_segment else replace(plain, segment=None)
    if on_latest_month:
        mode = "month"
    else:
        if not has_choice(settings, spec):
            return _fit_only(settings.learners[0], train, base, weight, settings,
                             negative_share)
        n_dates, latest_positives = (_latest_date_positives(train) if DATE in train.columns
                                     and settings.validation in ("auto", "month") else (1, 0))
        mode = validation_mode(settings, n_rows, n_dates, latest_positives)
    if mode == "cv":
        train = train.withColumn(FOLD, client_fold(settings.folds))
    results: list[dict[str, Any]] = []
    best: Tuned | None = None
    for kind in settings.learners:
        tuned, rows = _tune(kind, train, base, weight, settings, negative_share, mode)
        results += rows
        if best is None or tuned.score > best.score:
            best = tuned
    assert best is not None
    if spec.segment is not None and settings.segment_feature == "auto":
        segmented, rows = _tune(best.kind, train, plain, weight, settings, negative_share, mode,
                                best_params(best))
        results += rows
        if segmented.score > best.score:
            best = segmented
    if take_up:
        taking_up, rows = _tune(best.kind, train, replace(spec, segment=best.spec.segment),
                                weight, settings, negative_share, mode, best_params(best))
        results += rows
        if taking_up.score > best.score:
            best = taking_up
    # the one refit on every training row: the kept learner at its best point
    return Selection(learner=best.kind, params=best_params(best),
                     model=best.pipeline.fit(train, best.best_point), results=results,
                     spec=best.spec, validation=mode)


def grid_results(tuned: Tuned) -> list[dict[str, Any]]:
    """One dict per grid point: its parameters and validation areaUnderROC."""
    rows = []
    for params, metric in zip(tuned.grid, tuned.metrics, strict=True):
        row: dict[str, Any] = {p.name: v for p, v in params.items()}
        row["validation_areaUnderROC"] = float(metric)
        rows.append(row)
    return rows


def best_params(tuned: Tuned) -> dict[str, Any]:
    """Parameters of the best grid point (highest validation areaUnderROC)."""
    return {p.name: v for p, v in tuned.best_point.items()}
