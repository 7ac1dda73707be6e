"""Per-product propensity: feature selection, the learner pipelines, tuning, baselines, score.

One Spark ML pipeline per product::

    SQLTransformer(numeric -> double, missing indicators) -> Imputer(median)
        -> StringIndexer(categorical attributes) -> OneHotEncoder(those + segment_id)
        -> VectorAssembler(imputed numerics + indicators + one-hots)
        -> learner: RandomForest (weightCol=class_weight) | GBT | LogisticRegression
                                                                     (rf_probability: weighted)
        -> ElementwiseProduct([1, 1/w]) -> Normalizer(L1)           (probability: prior-corrected)

The learner and its parameters are chosen per product on the training rows by cross-validated
(or train/validation split) ROC-AUC among ``propensity.learners`` (:func:`candidates`); the
numeric and categorical columns come from the feature table's schema, so a bank's own
attributes become features without code (:func:`feature_spec`). Numeric nulls are imputed with
the training median, and columns that had nulls in training get a 0/1 missing indicator.

Class imbalance: positives get weight ``w = n_negative / n_positive`` (capped) so the trees see
balanced classes. A forest trained on weighted rows estimates the odds of the weighted data,
``w`` times the true odds; the last two stages divide the positive element by ``w`` and
renormalise, i.e. ``p = p_w / (p_w + w * (1 - p_w))``, so the model's ``probability`` vector is a
real probability again (tiers downstream use absolute thresholds). Ranking metrics are unchanged
by this monotone correction.

Large products: forests are fitted on every positive plus a random share ``s`` of the negatives
(``max_training_rows``). Sampling negatives multiplies the positive odds by ``1 / s`` as well, so
the correction divides by ``w / s``; with ``w`` computed on the sampled counts this is again
about ``n_negative / n_positive`` of the full data.

The positive-class probability is ``vector_to_array(probability)[1]`` (:func:`score`).
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import (
    ElementwiseProduct,
    Imputer,
    Normalizer,
    OneHotEncoder,
    SQLTransformer,
    StringIndexer,
    VectorAssembler,
)
from pyspark.ml.functions import vector_to_array
from pyspark.ml.linalg import Vectors
from pyspark.ml.stat import Summarizer
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segrec_spark.errors import InputDataError, SchemaMismatchError
from segrec_spark.propensity.settings import PropensitySettings
from segrec_spark.tables import first_row

KEYS = ("as_of_date", "identity_id_hash")
LABEL = "label"
WEIGHT = "class_weight"
PROBABILITY = "probability"
FEATURES = "features"
SEGMENT_ID = "segment_id"
# Columns of the inputs that are never model features.
NOT_FEATURES = frozenset({*KEYS, LABEL, WEIGHT, "horizon_days", "product_code", SEGMENT_ID,
                          "segment_name", "split"})
MISSING_PREFIX = "__missing_"
DOUBLE_PREFIX = "__num_"
IMPUTED_PREFIX = "__imputed_"
NUMERIC_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType,
                 T.DecimalType)
RF_PROBABILITY = "rf_probability"
UNNORMALISED = "rf_probability_prior_corrected"


@dataclass(frozen=True)
class FeatureSpec:
    """Model inputs, read from the schema: numeric columns, categoricals, the segment id."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    segment: str | None
    nullable: tuple[str, ...] = ()  # numeric columns with a null in training: get an indicator
    # numeric columns with values on fewer than SPARSE_SHARE of the training rows (none at all:
    # a column a bank leaves blank, a log column never filled): their values are left out of
    # the model (a sampled or folded fit may hold none, and the median imputer fails on a
    # column of nulls alone); their missing indicator stays and carries "has a value"
    sparse: tuple[str, ...] = ()

    @property
    def categories(self) -> tuple[str, ...]:
        """The columns indexed and one-hot encoded: the categoricals, then the segment id."""
        return (*self.categorical, *((self.segment,) if self.segment else ()))

    @property
    def encoded(self) -> tuple[str, ...]:
        return tuple(f"{c}_onehot" for c in self.categories)


def feature_spec(df: DataFrame, use_segment: bool = True) -> FeatureSpec:
    """Every numeric and every text non-key column of the feature table, segment_id if present.

    The feature table holds only features (the features stage and the snapshot stage write no
    ids or free text), so its schema is the list: numbers are numeric features, text columns
    categorical ones. Booleans count as numbers."""
    numeric = tuple(f.name for f in df.schema.fields if f.name not in NOT_FEATURES
                    and isinstance(f.dataType, (*NUMERIC_TYPES, T.BooleanType)))
    categorical = tuple(f.name for f in df.schema.fields if f.name not in NOT_FEATURES
                        and isinstance(f.dataType, T.StringType)
                        and f.name != "identity_id_hash")
    segment = SEGMENT_ID if use_segment and SEGMENT_ID in df.columns else None
    if not numeric and not categorical:
        raise InputDataError("propensity: gold.client_features has no numeric or categorical "
                             "feature column")
    return FeatureSpec(numeric=numeric, categorical=categorical, segment=segment)


# A numeric column with values on fewer than this share of the training rows is sparse
# (FeatureSpec.sparse).
SPARSE_SHARE = 0.01


def _null_flags(numeric: Sequence[str]) -> list[str]:
    # SQL text: one call into the JVM for the whole projection, not several per column.
    quoted = [f"`{c.replace('`', '``')}`" for c in numeric]
    return [f"max({q} IS NULL OR isnan(CAST({q} AS DOUBLE))) AS n{i}"
            for i, q in enumerate(quoted)] + [
        f"count_if(NOT ({q} IS NULL OR isnan(CAST({q} AS DOUBLE)))) AS e{i}"
        for i, q in enumerate(quoted)]


def sparse_columns(numeric: Sequence[str], values: Sequence[int], n_rows: int
                   ) -> tuple[str, ...]:
    """The columns of ``numeric`` whose count of values (``values``, in order) is below
    :data:`SPARSE_SHARE` of ``n_rows`` (at least one value needed)."""
    return tuple(c for c, v in zip(numeric, values, strict=True)
                 if v < max(1.0, SPARSE_SHARE * n_rows))


def _with_nullable_from(spec: FeatureSpec, row: Row) -> FeatureSpec:
    nullable = tuple(c for i, c in enumerate(spec.numeric) if row[f"n{i}"])
    sparse = sparse_columns(spec.numeric, [int(row[f"e{i}"] or 0)
                                           for i in range(len(spec.numeric))], int(row["n"]))
    return FeatureSpec(spec.numeric, spec.categorical, spec.segment, nullable, sparse)


def with_nullable(spec: FeatureSpec, train: DataFrame) -> FeatureSpec:
    """The spec with the numeric columns that have a null or NaN in ``train`` (one pass)."""
    if not spec.numeric:
        return spec
    return _with_nullable_from(spec, first_row(train.selectExpr(
        "count(1) AS n", *_null_flags(spec.numeric))))


@dataclass(frozen=True)
class LabelledRows:
    """One pass over a labelled frame: its rows, its positive labels, and the feature spec with
    the numeric columns that hold a null or NaN there (:func:`with_nullable`)."""

    n: int
    positives: int
    spec: FeatureSpec


def count_labelled(spec: FeatureSpec, df: DataFrame) -> LabelledRows:
    """Rows, positives and :func:`with_nullable` of ``df`` in one aggregation (each pass over a
    product's labelled rows re-joins the stacked client frame with its labels)."""
    row = first_row(df.selectExpr("count(1) AS n", f"sum(`{LABEL}`) AS p",
                                   *_null_flags(spec.numeric)))
    return LabelledRows(int(row["n"]), int(row["p"] or 0), _with_nullable_from(spec, row))


# --- training frames ------------------------------------------------------------------------------

def labelled_frame(features: DataFrame, labels: DataFrame, product: str) -> DataFrame:
    """Features of the clients with a label for ``product`` (non-holders), label as double."""
    product_labels = (labels.where(F.col("product_code") == F.lit(product))
                      .select(*KEYS, F.col(LABEL).cast("double").alias(LABEL)))
    return features.join(product_labels, on=list(KEYS), how="inner")


def label_column(index: int) -> str:
    """The column of :func:`labels_by_product` that holds the ``index``-th product's label."""
    return f"_label_{index}"


def labels_by_product(labels: DataFrame, products: Sequence[str]) -> DataFrame:
    """One row per labelled (as_of_date, client) (and ``split``, where the labels have one) with
    its label for each of ``products`` as a double column ``label_column(i)``: NULL where the
    client has no label for that product (a holder). Joined to the client frame once, it gives
    every product's labelled rows without a join per product (:func:`product_rows`)."""
    split = ["split"] if "split" in labels.columns else []
    product = F.col("product_code")
    return labels.groupBy(*KEYS, *split).agg(*[
        F.max(F.when(product == F.lit(code), F.col(LABEL).cast("double"))).alias(label_column(i))
        for i, code in enumerate(products)])


def product_rows(labelled: DataFrame, products: Sequence[str], product: str) -> DataFrame:
    """``product``'s labelled rows of ``labelled`` (client rows joined to
    :func:`labels_by_product`): the rows :func:`labelled_frame` gives, the columns of the client
    frame and ``label``, without the other products' labels or the split."""
    column = label_column(list(products).index(product))
    others = [label_column(i) for i in range(len(products))]
    split = ["split"] if "split" in labelled.columns else []
    return (labelled.where(F.col(column).isNotNull()).withColumn(LABEL, F.col(column))
            .drop(*others, *split))


LABELLED_FOR = "_labelled_for"  # labelled_groups: '1'/'0' per product, in product order


def labelled_groups(labelled: DataFrame, products: Sequence[str],
                    numeric: Sequence[str]) -> DataFrame:
    """What :func:`count_labelled` reads, for every product in one pass over ``labelled``
    (client rows joined to :func:`labels_by_product`): one row per as-of date, split (where
    there is one) and set of products the client is labelled for (``_labelled_for``, e.g.
    ``"101"``) with its rows ``n``, each product's positives ``p<i>`` and, per ``numeric``
    column, whether it holds a null or NaN (``n<j>``, as :func:`with_nullable`). A few hundred
    rows at most; :class:`LabelCounts` adds them up per product."""
    labels = [F.col(label_column(i)) for i in range(len(products))]
    pattern = F.concat(*[F.when(c.isNotNull(), F.lit("1")).otherwise(F.lit("0"))
                         for c in labels])
    split = ["split"] if "split" in labelled.columns else []
    aggregates = ["count(1) AS n",
                  *[f"sum(`{label_column(i)}`) AS p{i}" for i in range(len(products))],
                  *_null_flags(numeric)]
    return (labelled.withColumn(LABELLED_FOR, pattern)
            .groupBy("as_of_date", *split, LABELLED_FOR)
            .agg(*[F.expr(a) for a in aggregates]))


@dataclass(frozen=True)
class LabelCounts:
    """:func:`labelled_groups`' rows (collected): :meth:`of` gives the :class:`LabelledRows`
    that :func:`count_labelled` gives on a product's rows of some as-of dates, without a pass
    over them."""

    groups: tuple[Row, ...]
    products: tuple[str, ...]
    numeric: tuple[str, ...]

    def of(self, spec: FeatureSpec, product: str, dates: Sequence[Any],
           part: str = "") -> LabelledRows:
        """``product``'s rows of ``dates``; ``part`` "train" (split not "evaluation") or
        "evaluation" (split "evaluation") where the rows have a split, "" for all."""
        i = self.products.index(product)
        wanted = set(dates)
        mine = [g for g in self.groups if g[LABELLED_FOR][i] == "1"
                and g["as_of_date"] in wanted and _in_part(g, part)]
        flags = {c: any(g[f"n{j}"] for g in mine) for j, c in enumerate(self.numeric)}
        nullable = tuple(c for c in spec.numeric if flags[c])
        values = {c: sum(int(g[f"e{j}"] or 0) for g in mine) for j, c in enumerate(self.numeric)}
        n_rows = sum(int(g["n"]) for g in mine)
        sparse = sparse_columns(spec.numeric, [values[c] for c in spec.numeric], n_rows)
        return LabelledRows(n_rows,
                            int(sum(g[f"p{i}"] or 0 for g in mine)),
                            FeatureSpec(spec.numeric, spec.categorical, spec.segment, nullable,
                                        sparse))


def _in_part(group: Row, part: str) -> bool:
    fields = group.asDict()
    if not part or "split" not in fields:
        return True
    held_out = fields["split"] == "evaluation"
    return held_out if part == "evaluation" else not held_out


def positive_weight(n_positive: int, n_negative: int, cap: float) -> float:
    """Weight of a positive row that balances the classes: n_negative / n_positive, in [1, cap]."""
    if n_positive <= 0:
        raise InputDataError("propensity: no positive label to learn from")
    return float(min(max(n_negative / n_positive, 1.0), cap))


def negative_share(n_positive: int, n_negative: int, max_rows: int,
                   per_positive: float = 0.0) -> float:
    """Share of negatives to keep so that every positive plus the kept negatives fit in
    ``max_rows`` and the negatives number at most ``per_positive`` per positive (1.0 = keep
    all; 0 = no such cap). At least as many negatives as positives are kept, so a cap below
    twice the positives is exceeded rather than starving the negative class."""
    if n_negative <= 0:
        return 1.0
    share = 1.0
    if max_rows > 0 and n_positive + n_negative > max_rows:
        share = max(max_rows - n_positive, n_positive) / n_negative
    if per_positive > 0:
        share = min(share, max(per_positive, 1.0) * n_positive / n_negative)
    return min(1.0, share)


def sample_negatives(share: float, seed: int) -> Callable[[DataFrame], DataFrame]:
    """Keep every positive and a seeded Bernoulli ``share`` of the negatives."""
    def sample(df: DataFrame) -> DataFrame:
        if share >= 1.0:
            return df
        return df.sampleBy(LABEL, fractions={0.0: share, 1.0: 1.0}, seed=seed)
    return sample


def with_class_weight(weight: float) -> Callable[[DataFrame], DataFrame]:
    """Add ``class_weight``: ``weight`` for positives, 1 for negatives."""
    def add(df: DataFrame) -> DataFrame:
        is_positive = F.col(LABEL) == F.lit(1.0)
        return df.withColumn(WEIGHT, F.when(is_positive, F.lit(weight)).otherwise(F.lit(1.0)))
    return add


def training_frame(df: DataFrame, n_positive: int, n_negative: int,
                   settings: PropensitySettings) -> tuple[DataFrame, float, float]:
    """The rows a forest is fitted on, with ``class_weight``; also (weight, negative share).

    Every positive and a seeded share of the negatives (``max_training_rows``,
    ``max_negatives_per_positive``), the weight
    balancing the classes as sampled."""
    share = negative_share(n_positive, n_negative, settings.max_training_rows,
                           settings.max_negatives_per_positive)
    weight = positive_weight(n_positive, round(n_negative * share), settings.max_positive_weight)
    frame = (df.transform(sample_negatives(share, settings.seed))
             .transform(with_class_weight(weight)))
    return frame, weight, share


# --- pipelines ------------------------------------------------------------------------------------

def numeric_stages(spec: FeatureSpec) -> tuple[list[Any], list[str]]:
    """Cast numerics to double, add missing indicators, impute nulls with the median.

    Every numeric column is imputed (not only those with nulls in training), so a null that
    first appears when scoring is filled too instead of failing the vector assembly. The
    values of a sparse column (``spec.sparse``) are left out, its missing indicator kept."""
    numeric = [c for c in spec.numeric if c not in spec.sparse]
    nullable = list(spec.nullable)
    if not numeric and not nullable:
        return [], []
    added = [f"CAST(`{c}` AS DOUBLE) AS `{DOUBLE_PREFIX}{c}`" for c in numeric]
    added += [f"CAST(`{c}` IS NULL OR isnan(CAST(`{c}` AS DOUBLE)) AS DOUBLE) "
              f"AS `{MISSING_PREFIX}{c}`" for c in nullable]
    stages: list[Any] = [SQLTransformer(statement=f"SELECT *, {', '.join(added)} FROM __THIS__")]
    if numeric:
        stages.append(Imputer(strategy="median",
                              inputCols=[f"{DOUBLE_PREFIX}{c}" for c in numeric],
                              outputCols=[f"{IMPUTED_PREFIX}{c}" for c in numeric]))
    columns = [f"{IMPUTED_PREFIX}{c}" for c in numeric]
    columns += [f"{MISSING_PREFIX}{c}" for c in nullable]
    return stages, columns


def feature_stages(spec: FeatureSpec) -> list[Any]:
    """Impute numerics, index and one-hot encode categoricals and segment_id; assemble."""
    stages, numeric_columns = numeric_stages(spec)
    onehot_inputs: list[str] = []
    # The segment id is indexed like a category: one-hot on the raw id would make a vector of
    # (highest id + 1) columns, mostly empty once ids grow across trainings, and a forest
    # drawing feature subsets from a layout that changes with the ids' values.
    if spec.categories:
        indexed = [f"{c}_index" for c in spec.categories]
        stages.append(StringIndexer(inputCols=list(spec.categories), outputCols=indexed,
                                    handleInvalid="keep", stringOrderType="alphabetAsc"))
        onehot_inputs += indexed
    if onehot_inputs:
        stages.append(OneHotEncoder(inputCols=onehot_inputs, outputCols=list(spec.encoded),
                                    handleInvalid="keep", dropLast=False))
    stages.append(VectorAssembler(inputCols=[*numeric_columns, *spec.encoded], outputCol=FEATURES,
                                  handleInvalid="keep"))
    return stages


def prior_correction_stages(weight: float) -> list[Any]:
    """Undo the positive-class weight on the forest's probability vector (see module doc).

    ``weight`` is the factor by which training inflated the positive odds: the class weight,
    divided by the share of negatives kept when they were sampled."""
    return [
        ElementwiseProduct(scalingVec=Vectors.dense([1.0, 1.0 / weight]), inputCol=RF_PROBABILITY,
                           outputCol=UNNORMALISED),
        Normalizer(p=1.0, inputCol=UNNORMALISED, outputCol=PROBABILITY),
    ]


def logistic_pipeline(spec: FeatureSpec) -> Pipeline:
    """Baseline: unweighted logistic regression on the same features (calibrated as is)."""
    return Pipeline(stages=[*feature_stages(spec),
                            LogisticRegression(featuresCol=FEATURES, labelCol=LABEL, maxIter=50,
                                               regParam=0.01, probabilityCol=PROBABILITY)])


def popularity_rates(train: DataFrame) -> DataFrame:
    """Baseline: positive rate per segment in the training labels (segment_id, rate, n)."""
    group = [SEGMENT_ID] if SEGMENT_ID in train.columns else []
    return train.groupBy(*group).agg(F.avg(LABEL).alias("rate"), F.count("*").alias("n"))


def popularity_scores(rates: DataFrame, df: DataFrame) -> DataFrame:
    """(identity_id_hash, label, probability) with the segment's training rate as the score;
    a segment unseen in training gets the overall training rate."""
    overall = rates.agg((F.sum(F.col("rate") * F.col("n")) / F.sum("n")).alias("overall"))
    if SEGMENT_ID not in rates.columns:
        return df.crossJoin(rates).select("identity_id_hash", LABEL,
                                          F.col("rate").alias(PROBABILITY))
    joined = df.join(rates, on=SEGMENT_ID, how="left").crossJoin(overall)
    return joined.select("identity_id_hash", LABEL,
                         F.coalesce(F.col("rate"), F.col("overall")).alias(PROBABILITY))


# --- scoring --------------------------------------------------------------------------------------

def positive_probability(predictions: DataFrame) -> DataFrame:
    """Replace the probability vector by its positive-class element (index 1) as a double."""
    return predictions.withColumn(PROBABILITY, vector_to_array(F.col(PROBABILITY)).getItem(1))


def model_input_columns(model: PipelineModel) -> list[str]:
    """The input columns a fitted pipeline reads (inputs of its stages that no stage produces)."""
    produced: set[str] = set()
    needed: list[str] = []
    for stage in model.stages:
        inputs: list[str] = []
        if isinstance(stage, SQLTransformer):  # our statements: CAST(`in` ...) ... AS `out`
            statement = stage.getStatement()
            inputs = list(dict.fromkeys(re.findall(r"CAST\(`([^`]+)`", statement)))
            needed += [c for c in inputs if c not in produced and c not in needed]
            produced.update(re.findall(r"AS `([^`]+)`", statement))
            continue
        if stage.hasParam("inputCols") and stage.isSet("inputCols"):
            inputs = list(stage.getOrDefault("inputCols"))
        elif stage.hasParam("inputCol") and stage.isSet("inputCol"):
            inputs = [stage.getOrDefault("inputCol")]
        needed += [c for c in inputs if c not in produced and c not in needed]
        for param in ("outputCols", "outputCol", "probabilityCol", "rawPredictionCol",
                      "predictionCol"):
            if stage.hasParam(param):
                value = stage.getOrDefault(param)
                produced.update(value if isinstance(value, list) else [value])
    return needed


def score(model: PipelineModel, features_with_segment_df: DataFrame) -> DataFrame:
    """(identity_id_hash, probability double): the positive-class probability per client."""
    required = ["identity_id_hash", *model_input_columns(model)]
    missing = [c for c in required if c not in features_with_segment_df.columns]
    if missing:
        raise SchemaMismatchError(f"propensity model input: missing column(s) {', '.join(missing)}")
    predictions = model.transform(features_with_segment_df)
    return predictions.select(
        "identity_id_hash",
        vector_to_array(F.col(PROBABILITY)).getItem(1).cast("double").alias(PROBABILITY))


def feature_label(name: str) -> str:
    """A model input as a reader knows it: ``__imputed_balance`` is ``balance``,
    ``__missing_balance`` is ``balance missing``, ``job_onehot_admin`` is ``job = admin``."""
    if name.startswith("__imputed_"):
        return name[len("__imputed_"):]
    if name.startswith("__missing_"):
        return f"{name[len('__missing_'):]} missing"
    column, onehot, value = name.partition("_onehot_")
    return f"{column} = {value}" if onehot else name


def feature_importances(model: PipelineModel, df: DataFrame) -> list[tuple[str, float]]:
    """(feature name, importance) of the model's learner, highest first (trees: Spark's
    importances; logistic regression: shares of |coefficient| x the feature's standard
    deviation over ``df``, the coefficient per standard deviation, so that a rare one-hot
    level's large coefficient on a handful of clients does not outrank a number in large
    units); names from the vector's ML attributes (one-hot slots ``<column>_onehot_<value>``,
    numerics ``__imputed_<column>``, indicators ``__missing_<column>``)."""
    fitted: Any = next(s for s in model.stages
                       if hasattr(s, "featureImportances") or hasattr(s, "coefficients"))
    assembled = PipelineModel(stages=[s for s in model.stages
                                      if s is not fitted and not _is_post(s)]).transform(df)
    attrs = assembled.schema[FEATURES].metadata.get("ml_attr", {}).get("attrs", {})
    names = {a["idx"]: a["name"] for group in attrs.values() for a in group}
    if hasattr(fitted, "featureImportances"):
        importances = fitted.featureImportances.toArray()
    else:  # logistic regression: |coefficient| x sd (one aggregate), shares of the total
        variance = first_row(assembled.select(
            Summarizer.metrics("variance").summary(F.col(FEATURES)).alias("s")))["s"]
        sds = [math.sqrt(max(float(v), 0.0)) for v in variance["variance"].toArray()]
        weights = [abs(float(c)) * sd for c, sd in zip(fitted.coefficients.toArray(), sds,
                                                       strict=True)]
        total = sum(weights) or 1.0
        importances = [w / total for w in weights]
    pairs = [(names.get(i, f"feature_{i}"), float(v)) for i, v in enumerate(importances)]
    return sorted(pairs, key=lambda p: -p[1])


def _is_post(stage: Any) -> bool:
    return isinstance(stage, (ElementwiseProduct, Normalizer))


def corrected_probability(weighted: float, weight: float) -> float:
    """Prior correction of one weighted probability: p_w / (p_w + w (1 - p_w))."""
    return weighted / (weighted + weight * (1.0 - weighted))
