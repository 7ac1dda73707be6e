"""One forest pooled over all products: each product's rows seen through its own columns.

A product's own forest learns from its own buyers only (a hundred-odd a month at ``small`` for
the rarer products). The pooled forest is fitted once on every product's labelled rows stacked,
with two things added to each row by the product's **view** (a ``SQLTransformer``):

* ``pooled_product``: the product the row is labelled for (a categorical feature), so the forest
  can learn each product's level and its own patterns;
* ``own_<family>`` columns: the value of the row's product in each per-product feature family
  (``interest_mortgage_30d`` is ``own_interest_30d`` on a MORTGAGE row, ``interest_savings_30d``
  on a SAVINGS row), so "interest in the product offered" is one column that every product's
  buyers teach, instead of eight columns each taught by one product's buyers.

The families come from the feature table's column names, not from a list in code: a column is
product P's when P's code in lower case (the features stage's ``token``) is one of its
``_``-separated parts, and a family (the name with that part replaced by ``own``) is kept when
every pooled product has exactly one column in it. A bank's own snapshot whose columns do not
name the products gets ``pooled_product`` alone.

Each product's registered model is its view followed by the pooled pipeline's fitted stages
(:func:`product_model`), so scoring applies it to the client features like any other model.
Which products use the pooled forest is chosen per product on validation (propensity.job).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from pyspark.ml import PipelineModel
from pyspark.ml.feature import SQLTransformer
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segrec_spark.propensity import learners
from segrec_spark.propensity import model as pm
from segrec_spark.propensity.settings import PropensitySettings

log = logging.getLogger(__name__)

PRODUCT_COLUMN = "pooled_product"
OWN = "own"


def _family(column: str, token: str) -> str | None:
    """``column`` with the ``_``-separated run of parts equal to ``token`` replaced by ``own``
    (the first such run), or None when ``token`` is not a run of its parts."""
    parts, wanted = column.split("_"), token.split("_")
    for i in range(len(parts) - len(wanted) + 1):
        if parts[i:i + len(wanted)] == wanted:
            return "_".join([*parts[:i], OWN, *parts[i + len(wanted):]])
    return None


def aligned_columns(columns: Iterable[str], products: Sequence[str]
                    ) -> dict[str, dict[str, str]]:
    """{own column: {product: the product's column}} for the families every product has.

    A column matched by several products' tokens (``loan`` and ``consumer_loan``) belongs to
    the longest token."""
    tokens = sorted(((p, p.lower()) for p in products), key=lambda pt: -len(pt[1]))
    families: dict[str, dict[str, list[str]]] = {}
    for column in columns:
        for product, token in tokens:
            family = _family(column, token)
            if family is not None:
                families.setdefault(family, {}).setdefault(product, []).append(column)
                break
    return {family: {p: by_product[p][0] for p in products}
            for family, by_product in sorted(families.items())
            if all(len(by_product.get(p, [])) == 1 for p in products)}


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def product_view(product: str, aligned: Mapping[str, Mapping[str, str]]) -> SQLTransformer:
    """The view of ``product``'s rows: every column, ``pooled_product`` and the own columns
    (as doubles; the statement's ``CAST(`in` ...) AS `out``` form is what
    ``model.model_input_columns`` reads)."""
    literal = "'" + product.replace("'", "''") + "'"
    own = "".join(f", CAST({_quoted(columns[product])} AS DOUBLE) AS {_quoted(family)}"
                  for family, columns in aligned.items())
    return SQLTransformer(
        statement=f"SELECT *, {literal} AS {_quoted(PRODUCT_COLUMN)}{own} FROM __THIS__")


def product_model(view: SQLTransformer, pooled: PipelineModel) -> PipelineModel:
    """``product``'s model: its view, then the pooled pipeline's fitted stages."""
    return PipelineModel(stages=[view, *pooled.stages])


def product_importances(importances: Iterable[tuple[str, float]], product: str,
                        aligned: Mapping[str, Mapping[str, str]]) -> list[tuple[str, float]]:
    """The pooled forest's importances as ``product``'s columns, highest first: an own column
    counts for the product's column of its family (added to that column's own importance);
    the product indicator's one-hot slots are dropped (they say which product, not why)."""
    totals: dict[str, float] = {}
    for name, value in importances:
        if name.startswith(f"{PRODUCT_COLUMN}_onehot"):
            continue
        for prefix in (pm.IMPUTED_PREFIX, pm.MISSING_PREFIX, ""):
            column = name.removeprefix(prefix)
            if name.startswith(prefix) and column in aligned:
                name = prefix + aligned[column][product]
                break
        totals[name] = totals.get(name, 0.0) + value
    return sorted(totals.items(), key=lambda kv: -kv[1])


# --- the pooled forest ---------------------------------------------------------------------------

def pooled_rows(frames: Mapping[str, DataFrame],
                aligned: Mapping[str, Mapping[str, str]]) -> DataFrame:
    """Every product's labelled rows (``frames``: product -> rows) through its view, stacked."""
    viewed = [product_view(product, aligned).transform(frame)
              for product, frame in frames.items()]
    return reduce(lambda a, b: a.unionByName(b), viewed)


@dataclass(frozen=True)
class Fitted:
    model: PipelineModel
    weight: float
    share: float
    rows: int
    positives: int


def fit_forest(rows: DataFrame, settings: PropensitySettings, use_segment: bool) -> Fitted:
    """The pooled forest fitted on ``rows`` (:func:`pooled_rows`): every positive and a share
    of the negatives (``max_training_rows``), class-weighted and prior-corrected as a product's
    own forest is, at ``pooled_max_depth``."""
    counted = pm.count_labelled(pm.feature_spec(rows, use_segment=use_segment), rows)
    frame, weight, share = pm.training_frame(rows, counted.positives,
                                             counted.n - counted.positives, settings)
    pipeline, _ = learners.forest_pipeline(counted.spec, weight, settings,
                                           max_depth=settings.pooled_max_depth,
                                           negative_share=share)
    return Fitted(pipeline.fit(frame), weight, share, counted.n, counted.positives)


def validation_aucs(rows: DataFrame, latest: Any, settings: PropensitySettings,
                    use_segment: bool, products: Sequence[str]) -> dict[str, float]:
    """Per product, the ROC-AUC on the rows of as-of date ``latest`` of the pooled forest
    fitted on the earlier ones (the month validation a product's own model gets)."""
    earlier = rows.where(F.col(learners.DATE) < F.lit(latest))
    fitted = fit_forest(earlier, settings, use_segment)
    scored = fitted.model.transform(rows.where(F.col(learners.DATE) == F.lit(latest))).select(
        PRODUCT_COLUMN, pm.LABEL, pm.PROBABILITY).cache()
    try:
        evaluator = learners.roc_evaluator()
        out = {}
        for product in products:
            one = scored.where(F.col(PRODUCT_COLUMN) == F.lit(product))
            if one.where(F.col(pm.LABEL) == 1.0).limit(1).count():
                out[product] = float(evaluator.evaluate(one))
        return out
    finally:
        scored.unpersist()


@dataclass
class PooledForest:
    """The pooled forest of one training: fitted on the training dates, its validation AUC per
    product, and the champion refit on the champion dates, fitted once on first use (products
    train in threads)."""

    aligned: dict[str, dict[str, str]]
    fitted: Fitted
    validation: dict[str, float]
    params: dict[str, Any]
    refit: Callable[[], Fitted]
    use_segment: bool = False
    _champion: Fitted | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def view(self, product: str) -> SQLTransformer:
        return product_view(product, self.aligned)

    def model(self, product: str) -> PipelineModel:
        return product_model(self.view(product), self.fitted.model)

    def result_row(self, product: str) -> dict[str, Any]:
        """Its row among a product's tuning results (``tuning_grid.json``), with its validation
        AUC for ``product`` (None: not validated)."""
        return {**self.params, "validation_areaUnderROC": self.validation.get(product),
                "learner": "random_forest", "segment": self.use_segment, "scope": "pooled"}

    def champion(self) -> Fitted:
        with self._lock:
            if self._champion is None:
                self._champion = self.refit()
            return self._champion


def fit_pooled(settings: PropensitySettings, products: Sequence[str],
               frames: Callable[[str, str], DataFrame], train_dates: Sequence[Any],
               use_segment: bool) -> PooledForest | None:
    """The pooled forest for ``products`` (None where ``propensity.pooled`` is never, or there
    are fewer than two products, or where ``auto`` has a single training date to choose on).
    ``frames(product, part)`` gives a product's labelled rows of
    the ``"train"`` or ``"champion"`` dates. With ``auto`` its validation AUCs are measured
    (fitted on the earlier training dates, scored on the latest)."""
    if settings.pooled == "never" or len(products) < 2:
        return None
    if settings.pooled == "auto" and len(train_dates) < 2:
        log.info("propensity: pooled forest not fitted: auto chooses it on a later training "
                 "month, and the training rows hold one as-of date (own models only)")
        return None
    began = time.monotonic()
    first = frames(products[0], "train")
    aligned = aligned_columns(first.columns, products)

    def stacked(part: str) -> DataFrame:
        return pooled_rows({p: frames(p, part) for p in products}, aligned)

    train = stacked("train").cache()
    try:
        validation = (validation_aucs(train, max(train_dates), settings, use_segment, products)
                      if settings.pooled == "auto" else {})
        fitted = fit_forest(train, settings, use_segment)
    finally:
        train.unpersist()
    log.info("propensity: pooled forest over %d products (%d own column families): %d rows, "
             "%d positives; validation AUC %s (%.1f s)", len(products), len(aligned),
             fitted.rows, fitted.positives,
             {p: round(v, 3) for p, v in validation.items()} or "not measured",
             time.monotonic() - began)
    params = {"numTrees": settings.num_trees[0], "maxDepth": settings.pooled_max_depth}
    return PooledForest(aligned, fitted, validation, params,
                        lambda: fit_forest(stacked("champion"), settings, use_segment),
                        use_segment)


def chooses_pooled(settings: PropensitySettings, pooled: PooledForest | None, product: str,
                   own_auc: float | None) -> bool:
    """Whether ``product`` uses the pooled forest: always, or (auto) where its validation AUC
    is higher than the product's own model's on the same rows."""
    if pooled is None:
        return False
    if settings.pooled == "always":
        return True
    theirs = pooled.validation.get(product)
    return theirs is not None and own_auc is not None and theirs > own_auc

