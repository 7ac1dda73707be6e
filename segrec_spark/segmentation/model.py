"""K-Means behavioural segmentation: pipeline, choice of k, persona names, profile table.

The fitted model is ONE Spark ML ``PipelineModel`` that carries everything scoring needs:

    log1p (SQLTransformer) -> VectorAssembler -> StandardScaler -> [PCA] -> KMeans
        -> naming (SQLTransformer: cluster -> segment_id, segment_name)

so ``assign_segments(model, features)`` works on any as_of_date with nothing but the model
(loaded from MLflow). Segment ids are renumbered by cluster size (0 = largest) at the first fit
and carried over from the previous model at every refit (segmentation.continuity); persona names
are derived from the cluster centroids by fixed rules (:func:`persona_name`), never hand-written.
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.pool import ThreadPool
from typing import Any

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.clustering import KMeans
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.feature import PCA, SQLTransformer, StandardScaler, VectorAssembler
from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segrec_spark.errors import InputDataError, SchemaMismatchError
from segrec_spark.segmentation.continuity import Continuation, continued_segments
from segrec_spark.segmentation.personas import (  # noqa: F401 - re-exported for callers
    CHANNEL_ACTIVITY,
    CHANNEL_LABELS,
    INACTIVE_NAME,
    channel_label,
    channels_in,
    distinguishing_names,
    is_digitally_inactive,
    persona_name,
    persona_scores,
    unique_names,
)
from segrec_spark.segmentation.settings import SegmentationSettings

log = logging.getLogger(__name__)

LOG_PREFIX = "__seg_log_"
RAW_VECTOR = "__seg_raw"
SCALED_VECTOR = "__seg_scaled"
PCA_VECTOR = "__seg_pca"
CLUSTER = "__seg_cluster"
SEGMENT_ID = "segment_id"
SEGMENT_NAME = "segment_name"
PREVIOUS = "__seg_previous"
NUMERIC_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType,
                 T.DecimalType)

# --- columns -----------------------------------------------------------------------------------

def behavioural_columns(df: DataFrame, prefixes: Sequence[str]) -> list[str]:
    """Numeric columns of ``df`` whose name starts with one of ``prefixes``, in schema order."""
    return [f.name for f in df.schema.fields
            if isinstance(f.dataType, NUMERIC_TYPES) and f.name.startswith(tuple(prefixes))]


def _require_columns(df: DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaMismatchError(f"{what}: missing column(s) {', '.join(missing)}")


def _log_column(name: str) -> str:
    return f"{LOG_PREFIX}{name}"


def log1p_statement(columns: Sequence[str]) -> str:
    """SQLTransformer statement adding the signed log1p of each column, sign(x) ln(1 + |x|):
    tames heavy users, keeps the order of negative values (balances), and counts a missing
    value (null or NaN) as 0."""
    def signed_log(c: str) -> str:
        value = f"COALESCE(NANVL(CAST(`{c}` AS DOUBLE), 0D), 0D)"
        return f"SIGNUM({value}) * LN(1D + ABS({value})) AS `{_log_column(c)}`"
    return f"SELECT *, {', '.join(signed_log(c) for c in columns)} FROM __THIS__"


# --- pipeline ----------------------------------------------------------------------------------

def preprocessing_stages(columns: Sequence[str], settings: SegmentationSettings) -> list[Any]:
    """log1p -> assemble -> standardise -> optional PCA on ``columns``: every stage but KMeans."""
    if not columns:
        raise InputDataError(
            "segmentation: no behavioural feature columns (numeric columns starting with "
            f"{', '.join(settings.feature_prefixes)}) in gold.client_features")
    stages: list[Any] = [
        SQLTransformer(statement=log1p_statement(columns)),
        VectorAssembler(inputCols=[_log_column(c) for c in columns], outputCol=RAW_VECTOR,
                        handleInvalid="error"),
        StandardScaler(inputCol=RAW_VECTOR, outputCol=SCALED_VECTOR, withMean=True, withStd=True),
    ]
    if settings.use_pca:
        stages.append(PCA(k=min(settings.pca_components, len(columns)), inputCol=SCALED_VECTOR,
                          outputCol=PCA_VECTOR))
    return stages


def clustering_features_column(settings: SegmentationSettings) -> str:
    """The vector column of :func:`preprocessing_stages` that KMeans clusters (scaled or PCA)."""
    return PCA_VECTOR if settings.use_pca else SCALED_VECTOR


def kmeans(k: int, settings: SegmentationSettings) -> KMeans:
    """KMeans(k) on the scaled (or PCA) vector of :func:`preprocessing_stages`."""
    return KMeans(k=k, seed=settings.seed, maxIter=settings.max_iter,
                  featuresCol=clustering_features_column(settings), predictionCol=CLUSTER)


def build_pipeline(columns: Sequence[str], k: int, settings: SegmentationSettings) -> Pipeline:
    """log1p -> assemble -> standardise -> optional PCA -> KMeans(k) on ``columns``."""
    return Pipeline(stages=[*preprocessing_stages(columns, settings), kmeans(k, settings)])


def cluster_sizes(clustered: DataFrame) -> DataFrame:
    """(cluster, size) of a frame with the KMeans prediction column."""
    return clustered.groupBy(F.col(CLUSTER).alias("cluster")).agg(F.count("*").alias("size"))


@dataclass(frozen=True)
class KTrial:
    """One k of the sweep: silhouette (None when fewer than 2 clusters) and collapse."""

    k: int
    silhouette: float | None
    clusters_found: int  # non-empty clusters
    smallest_share: float
    collapsed: bool


def assess_k(k: int, sizes: Mapping[int, int], silhouette: float | None,
             min_cluster_share: float) -> KTrial:
    """Judge one k from its cluster sizes: collapsed = an empty cluster or one below the share."""
    total = sum(sizes.values())
    non_empty = [s for s in sizes.values() if s > 0]
    smallest = min(non_empty) / total if total and non_empty else 0.0
    collapsed = len(non_empty) < k or smallest < min_cluster_share
    return KTrial(k=k, silhouette=silhouette, clusters_found=len(non_empty),
                  smallest_share=smallest, collapsed=collapsed)


def best_trial(trials: Sequence[KTrial]) -> KTrial:
    """Highest silhouette among non-collapsed k; if all collapsed, the best of the rest.

    Ties go to the smaller k (simpler segmentation). With no silhouette at all (every k found a
    single cluster), the smallest k is returned: the data has no cluster structure to find.
    """
    if not trials:
        raise ValueError("no k tried")
    healthy = [t for t in trials if not t.collapsed and t.silhouette is not None]
    pool = healthy or [t for t in trials if t.silhouette is not None]
    if not pool:
        return min(trials, key=lambda t: t.k)
    return max(pool, key=lambda t: (t.silhouette, -t.k))


def choose_k(df: DataFrame, columns: Sequence[str],
             settings: SegmentationSettings) -> tuple[PipelineModel, list[KTrial]]:
    """Fit k = k_min..k_max, score each by silhouette; return the chosen fit and the sweep.

    The stages before KMeans do not depend on k: they are fitted once, then
    ``settings.parallelism`` values of k are fitted at a time on their output (each fit is a
    chain of short jobs that leaves cores idle). Their vectors are not cached: K-Means persists
    its own converted input when given an uncached frame, and converts a cached frame's columns
    back to vectors in every iteration (docs/performance.md). A k that leaves a cluster empty
    or tiny (collapsed) is recorded, not fatal; a k that finds a single cluster gets silhouette
    None instead of the evaluator's assertion error.
    """
    n_rows = df.count()
    if n_rows < 2:
        raise InputDataError(f"segmentation: {n_rows} client row(s); need at least 2 to cluster")
    ks = list(range(settings.k_min, min(settings.k_max, n_rows) + 1))
    if not ks:
        raise InputDataError(f"segmentation: {n_rows} client rows; "
                             f"fewer than k_min={settings.k_min}")
    prepared = Pipeline(stages=preprocessing_stages(columns, settings)).fit(df)
    features = clustering_features_column(settings)
    vectors = prepared.transform(df).select(features)

    def fit_k(k: int) -> tuple[KTrial, Any]:
        model = kmeans(k, settings).fit(vectors)
        clustered = model.transform(vectors).cache()
        sizes = {int(r["cluster"]): int(r["size"]) for r in cluster_sizes(clustered).collect()}
        sizes = {c: sizes.get(c, 0) for c in range(k)}
        found = sum(1 for s in sizes.values() if s > 0)
        silhouette = None
        if found >= 2:
            evaluator = ClusteringEvaluator(featuresCol=features, predictionCol=CLUSTER,
                                            metricName="silhouette",
                                            distanceMeasure="squaredEuclidean")
            silhouette = float(evaluator.evaluate(clustered))
            if math.isnan(silhouette):
                silhouette = None
        clustered.unpersist()
        trial = assess_k(k, sizes, silhouette, settings.min_cluster_share)
        log.debug("segmentation k=%d silhouette=%s clusters=%d smallest=%.4f%s", k, silhouette,
                  trial.clusters_found, trial.smallest_share,
                  " COLLAPSED" if trial.collapsed else "")
        return trial, model

    with ThreadPool(max(1, min(settings.parallelism, len(ks)))) as pool:
        results = pool.map(fit_k, ks)  # in k order
    trials = [trial for trial, _ in results]
    fits = {trial.k: model for trial, model in results}
    chosen = best_trial(trials)
    if chosen.collapsed:
        log.warning("segmentation: every k in [%d, %d] collapsed; using k=%d with %d clusters",
                    settings.k_min, settings.k_max, chosen.k, chosen.clusters_found)
    return PipelineModel(stages=[*prepared.stages, fits[chosen.k]]), trials


# --- centroid profile and persona names -----------------------------------------------------------

# Columns aggregated in one Spark aggregation by :func:`rows_by_column_chunks`. A few hundred
# averages and deviations in one aggregation make generated code too large to compile, and
# Spark runs it interpreted: 56 s for 369 columns of 76,020 clients against 21 s in chunks of 40
# (docs/performance.md). The chunks are collected one by one: their union ran the driver out
# of memory while planning.
COLUMN_CHUNK = 50


def rows_by_column_chunks(columns: Sequence[str],
                          per_chunk: Callable[[Sequence[str]], DataFrame]) -> list[Row]:
    """The rows of ``per_chunk`` over ``columns`` in chunks of :data:`COLUMN_CHUNK` (a few
    rows per column: per segment and column)."""
    return [row for i in range(0, len(columns), COLUMN_CHUNK)
            for row in per_chunk(columns[i:i + COLUMN_CHUNK]).collect()]


def centroid_zscores(clustered: DataFrame, columns: Sequence[str]) -> DataFrame:
    """(cluster, feature, z, level, share) per cluster and behavioural feature.

    ``z`` = cluster mean of log1p(feature) minus the overall mean, in overall (population)
    standard deviations, i.e. the centroid in the scaler's space; null for a feature that does not
    vary (it says nothing about the cluster). ``level`` = the cluster mean of log1p(feature), an
    absolute activity level. ``share`` = for a yes/no feature (only 0, 1 or empty) the cluster's
    share of 1s, else null. ``clustered`` must hold the columns, their log columns and the
    cluster column. Many columns: collect :func:`centroid_zscore_rows` instead.
    """
    def raw(c: str) -> Column:
        return F.col(f"`{c}`").cast("double")
    overall = clustered.agg(
        *[F.avg(_log_column(c)).alias(f"m_{i}") for i, c in enumerate(columns)],
        *[F.stddev_pop(_log_column(c)).alias(f"s_{i}") for i, c in enumerate(columns)],
        *[F.bool_and(raw(c).isNull() | raw(c).isin(0.0, 1.0)).alias(f"b_{i}")
          for i, c in enumerate(columns)],
    )
    per_cluster = clustered.groupBy(F.col(CLUSTER).alias("cluster")).agg(
        *[F.avg(_log_column(c)).alias(f"c_{i}") for i, c in enumerate(columns)],
        *[F.avg(raw(c)).alias(f"r_{i}") for i, c in enumerate(columns)])
    joined = per_cluster.crossJoin(overall)
    varies = [F.col(f"s_{i}") > F.lit(1e-12) for i in range(len(columns))]
    z_exprs = [F.when(varies[i], (F.col(f"c_{i}") - F.col(f"m_{i}")) / F.col(f"s_{i}"))
               for i in range(len(columns))]
    stacked = F.explode(F.arrays_zip(
        F.array(*[F.lit(c) for c in columns]).alias("feature"),
        F.array(*z_exprs).alias("z"),
        F.array(*[F.col(f"c_{i}") for i in range(len(columns))]).alias("level"),
        F.array(*[F.when(F.col(f"b_{i}"), F.col(f"r_{i}")) for i in range(len(columns))]
                ).alias("share"),
    ))
    return (joined.select(F.col("cluster").cast("int").alias("cluster"), stacked.alias("fz"))
            .select("cluster", F.col("fz.feature").alias("feature"), F.col("fz.z").alias("z"),
                    F.col("fz.level").alias("level"),
                    F.col("fz.share").cast("double").alias("share")))


def centroid_zscore_rows(clustered: DataFrame, columns: Sequence[str]) -> list[Row]:
    """The rows of :func:`centroid_zscores`, aggregated in chunks of columns (k x features)."""
    return rows_by_column_chunks(list(columns), lambda chunk: centroid_zscores(clustered, chunk))


def segment_order(sizes: Mapping[int, int]) -> dict[int, int]:
    """cluster -> segment_id, numbering non-empty clusters by size (0 = largest, ties by
    cluster)."""
    ranked = sorted((c for c, s in sizes.items() if s > 0), key=lambda c: (-sizes[c], c))
    return {cluster: segment for segment, cluster in enumerate(ranked)}


def naming_statement(cluster_to_segment: Mapping[int, int], names: Mapping[int, str]) -> str:
    """SQLTransformer statement mapping the cluster column to segment_id and segment_name."""
    def quoted(text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    ids = " ".join(f"WHEN {c} THEN {s}" for c, s in sorted(cluster_to_segment.items()))
    labels = " ".join(f"WHEN {c} THEN {quoted(names[s])}"
                      for c, s in sorted(cluster_to_segment.items()))
    # An empty cluster never receives rows at fit time; map it (defensively) to segment -1.
    return (f"SELECT *, CAST(CASE `{CLUSTER}` {ids} ELSE -1 END AS INT) AS `{SEGMENT_ID}`, "
            f"CASE `{CLUSTER}` {labels} ELSE 'unassigned' END AS `{SEGMENT_NAME}` FROM __THIS__")


@dataclass(frozen=True)
class Segmentation:
    """A fitted segmentation: the full model, its k sweep, names and the centroid rationale."""

    model: PipelineModel
    columns: tuple[str, ...]
    k: int
    trials: tuple[KTrial, ...]
    names: dict[int, str]  # segment_id -> persona name
    basis: dict[int, dict[str, float]]  # segment_id -> persona scores behind the name
    # segment_id -> the previous model's segment it continues (segmentation.continuity)
    continued: dict[int, Continuation] = field(default_factory=dict)


def fitting_sample(max_rows: int, seed: int) -> Callable[[DataFrame], DataFrame]:
    """A seeded Bernoulli sample of about ``max_rows`` rows (all rows when fewer or max_rows 0)."""
    def sample(df: DataFrame) -> DataFrame:
        if max_rows <= 0:
            return df
        n_rows = df.count()
        if n_rows <= max_rows:
            return df
        log.info("segmentation: fitting on a %d-row sample of %d clients", max_rows, n_rows)
        return df.sample(fraction=max_rows / n_rows, seed=seed)
    return sample


def default_prefixes(columns: Sequence[str]) -> tuple[str, ...]:
    """Every channel whose activity features the features stage wrote, plus interest_, camp_."""
    channels = dict.fromkeys(m.group(1) for c in columns if (m := CHANNEL_ACTIVITY.match(c)))
    return (*(f"{c}_" for c in channels), "interest_", "camp_")


def clustering_columns(features: DataFrame, prefixes: Sequence[str]) -> list[str]:
    """The behavioural columns with ``prefixes``; a feature table without any (a bank's own
    snapshot of attributes) is clustered on all its numeric attributes but the holdings and
    the take-up rates of a many-valued column (``takeup_``, docs/own-data.md): those are
    counted from the labels, which segments describe clients without."""
    columns = behavioural_columns(features, prefixes)
    if columns:
        return columns
    return [f.name for f in features.schema.fields
            if isinstance(f.dataType, NUMERIC_TYPES)
            and not f.name.startswith(("holds_", "takeup_"))]


SINGLE_SEGMENT_NAME = "all clients"


def single_segment() -> Segmentation:
    """The segmentation of a feature table with nothing numeric to cluster: one segment."""
    naming = SQLTransformer(statement=f"SELECT *, 0 AS `{SEGMENT_ID}`, "
                                      f"'{SINGLE_SEGMENT_NAME}' AS `{SEGMENT_NAME}` FROM __THIS__")
    return Segmentation(model=PipelineModel(stages=[naming]), columns=(), k=1, trials=(),
                        names={0: SINGLE_SEGMENT_NAME}, basis={0: {}})


def fit_segmentation(features: DataFrame, settings: SegmentationSettings,
                     prefixes: Sequence[str] | None = None,
                     previous: PipelineModel | None = None,
                     first_fresh_id: int = 0, dates: Collection[str] = ()) -> Segmentation:
    """Choose k, fit K-Means, name the segments; the returned model adds segment_id/_name.

    ``prefixes`` (default ``settings.feature_prefixes``) select the behavioural columns. Given
    the ``previous`` model (and ``settings.continuity``), segments that continue its segments
    keep their ids and new ones get ids above its ids and ``first_fresh_id``
    (segmentation.continuity); otherwise ids number the segments by size. ``dates``: the
    date features, named later / earlier (personas.distinguishing_name)."""
    prefixes = tuple(prefixes or settings.feature_prefixes or default_prefixes(features.columns))
    columns = clustering_columns(features, prefixes)
    if not columns:
        log.warning("segmentation: gold.client_features has no numeric column to cluster on "
                    "(behavioural prefixes %s): every client is in one segment",
                    ", ".join(prefixes))
        return single_segment()
    previous = previous if settings.continuity else None
    previous_names = segment_names_map(previous) if previous is not None else {}
    before = model_columns(previous) if previous is not None else []
    if any(c not in features.columns for c in before):
        log.warning("segmentation: the previous model reads columns gold.client_features no "
                    "longer has; every segment gets a new id")
        previous, before = None, []
    data = features.select(*dict.fromkeys([*columns, *before])).transform(
        fitting_sample(settings.max_fit_rows, settings.seed)).cache()
    try:
        fitted, trials = choose_k(data.select(*columns), columns, settings)
        both = data if previous is None else (  # each fitting client's previous segment too
            assign_segments(previous, data).withColumnRenamed(SEGMENT_ID, PREVIOUS))
        clustered = fitted.transform(both).cache()
        sizes = {int(r["cluster"]): int(r["size"]) for r in cluster_sizes(clustered).collect()}
        z_rows = centroid_zscore_rows(clustered, columns)  # k x features: tiny
        overlap = [] if previous is None else [  # k x previous k rows
            (int(r[CLUSTER]), int(r[PREVIOUS]), int(r["count"]))
            for r in clustered.groupBy(CLUSTER, PREVIOUS).count().collect()]
        clustered.unpersist()
    finally:
        data.unpersist()
    z_by_cluster: dict[int, dict[str, float | None]] = {c: {} for c, n in sizes.items() if n}
    levels: dict[int, dict[str, float]] = {c: {} for c in z_by_cluster}
    shares: dict[int, dict[str, float]] = {c: {} for c in z_by_cluster}
    for row in z_rows:
        if row["cluster"] in z_by_cluster:
            z_by_cluster[row["cluster"]][row["feature"]] = row["z"]
            levels[row["cluster"]][row["feature"]] = float(row["level"])
            if row["share"] is not None:
                shares[row["cluster"]][row["feature"]] = float(row["share"])
    behavioural = bool(behavioural_columns(features, prefixes))
    personas = ({c: persona_name(z, levels[c]) for c, z in z_by_cluster.items()}
                if behavioural else distinguishing_names(z_by_cluster, shares, dates))
    continued: dict[int, Continuation] = {}
    if previous_names or first_fresh_id:
        order, continued = continued_segments(sizes, overlap, previous_names,
                                              settings.continuity_min_share, personas,
                                              first_fresh_id)
    else:
        order = segment_order(sizes)
    z_by_segment = {order[c]: z for c, z in z_by_cluster.items()}
    names = unique_names({order[c]: name for c, name in personas.items()})
    naming = SQLTransformer(statement=naming_statement(order, names))
    model = PipelineModel(stages=[*fitted.stages, naming])
    kmeans: Any = fitted.stages[-1]
    return Segmentation(model=model, columns=tuple(columns), k=kmeans.getK(), trials=tuple(trials),
                        names=names, continued=continued,
                        basis={s: persona_scores(z) for s, z in z_by_segment.items()})


# --- using a fitted model -------------------------------------------------------------------------

def model_columns(model: PipelineModel) -> list[str]:
    """The gold.client_features columns a fitted segmentation model reads."""
    assembler = next((s for s in model.stages if isinstance(s, VectorAssembler)), None)
    if assembler is None:  # the single-segment model reads nothing
        return []
    return [c.removeprefix(LOG_PREFIX) for c in assembler.getInputCols()]


def assign_segments(model: PipelineModel, features_df: DataFrame) -> DataFrame:
    """``features_df`` plus ``segment_id`` (int) and ``segment_name`` (string)."""
    _require_columns(features_df, model_columns(model), "segmentation model input")
    for taken in (SEGMENT_ID, SEGMENT_NAME):
        if taken in features_df.columns:
            features_df = features_df.drop(taken)
    assigned = model.transform(features_df)
    return assigned.select(*features_df.columns, SEGMENT_ID, SEGMENT_NAME)


def segment_names_map(model: PipelineModel) -> dict[int, str]:
    """segment_id -> segment_name, read back from the model's naming stage (no data needed)."""
    naming: Any = model.stages[-1]
    statement = naming.getStatement()
    if "CASE" not in statement:  # the single-segment model
        return {0: SINGLE_SEGMENT_NAME}
    ids = dict(re.findall(r"WHEN (\d+) THEN (\d+)", statement.split(f"AS `{SEGMENT_ID}`")[0]))
    labels = re.findall(r"WHEN (\d+) THEN '((?:[^'\\]|\\.)*)'", statement)
    return {int(ids[c]): name.replace("\\'", "'").replace("\\\\", "\\") for c, name in labels}
