"""What sets each segment apart, in words a marketer can write a message for.

:func:`segment_traits` compares every segment with the whole population on every feature of
gold.client_features, standardised so that features on different scales compare:

* a numeric feature (activity, tenure, balances, ``holds_<product>`` 0/1 flags): the segment's
  mean minus the population mean, in population standard deviations;
* a categorical attribute (age band, income band, region): per value, the segment's share minus
  the population share, in standard deviations of that value's 0/1 indicator,
  ``(p_segment - p) / sqrt(p (1 - p))``; only over-represented values are traits.

Each segment keeps its strongest differences (``|z| >= threshold``), at most one per feature
family (a channel's activity measures, one attribute, one product's holding) so that the words
are not five ways of saying "uses the app", and at most ``top`` in all, ranked by ``|z|``:
"holds mortgage", "no investment fund", "age band 26-35", "high app events 30d",
"low ib recency days". :func:`with_traits` adds them to gold.segment_profiles as ``traits``
(ranked structs with the z-score) and ``description`` (the words, joined); :func:`conversion_rates`
adds each product's take-up rate per segment. All of it is aggregates over the clients and
column expressions: k x features numbers, nothing per client reaches the driver.
"""
from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segrec_spark.segmentation.model import (
    NUMERIC_TYPES,
    SEGMENT_ID,
    SEGMENT_NAME,
    rows_by_column_chunks,
)
from segrec_spark.segmentation.personas import (
    CHANNEL_ACTIVITY,
    DATE_DIRECTION_WORDS,
    DIRECTION_WORDS,
)

TRAIT_COLUMNS = ("segment_id", "trait_rank", "feature", "value", "z", "trait")
_NOT_TRAITS = ("identity_id_hash", "as_of_date", "segment_id", "segment_name", "label")


def profile_columns(df: DataFrame) -> tuple[list[str], list[str]]:
    """(numeric, categorical) columns of ``df`` that can describe a segment (no keys, no ids,
    no internal ``__`` columns, no take-up rates of a many-valued column: ``takeup_``)."""
    numeric, categorical = [], []
    for f in df.schema.fields:
        if f.name in _NOT_TRAITS or f.name.startswith(("__", "takeup_")):
            continue
        if isinstance(f.dataType, NUMERIC_TYPES):
            numeric.append(f.name)
        elif isinstance(f.dataType, T.StringType):
            categorical.append(f.name)
    return numeric, categorical


def _numeric_differences(assigned: DataFrame, columns: Sequence[str]) -> DataFrame:
    """Per segment and column the z-score of the segment's mean against all clients, and for
    a yes/no column (only 0, 1 or empty) the segment's share of 1s (``share``, else NULL);
    aggregated in chunks of columns (segmentation.model.rows_by_column_chunks)."""
    rows = rows_by_column_chunks(list(columns), lambda chunk: _chunk_differences(assigned, chunk))
    return assigned.sparkSession.createDataFrame(
        rows, f"{SEGMENT_ID} int, feature string, value string, z double, share double")


def _chunk_differences(assigned: DataFrame, columns: Sequence[str]) -> DataFrame:
    def double(c: str) -> Column:
        return F.col(f"`{c}`").cast("double")
    overall = assigned.agg(
        *[F.avg(double(c)).alias(f"m_{i}") for i, c in enumerate(columns)],
        *[F.stddev_pop(double(c)).alias(f"s_{i}") for i, c in enumerate(columns)],
        *[F.bool_and(double(c).isNull() | double(c).isin(0.0, 1.0)).alias(f"b_{i}")
          for i, c in enumerate(columns)])
    per_segment = assigned.groupBy(SEGMENT_ID).agg(
        *[F.avg(double(c)).alias(f"c_{i}") for i, c in enumerate(columns)])
    z = [F.when(F.col(f"s_{i}") > F.lit(1e-12), (F.col(f"c_{i}") - F.col(f"m_{i}"))
                / F.col(f"s_{i}")) for i in range(len(columns))]
    share = [F.when(F.col(f"b_{i}"), F.col(f"c_{i}")) for i in range(len(columns))]
    stacked = F.explode(F.arrays_zip(F.array(*[F.lit(c) for c in columns]).alias("feature"),
                                     F.array(*z).alias("z"), F.array(*share).alias("share")))
    return (per_segment.crossJoin(overall).select(SEGMENT_ID, stacked.alias("d"))
            .select(SEGMENT_ID, "d.feature", F.lit(None).cast("string").alias("value"), "d.z",
                    F.col("d.share").cast("double").alias("share")))


def _category_differences(assigned: DataFrame, columns: Sequence[str]) -> DataFrame:
    """Every categorical column in one pass: the rows are stacked to (feature, value) first, so
    the counts and the shares are one aggregation and a few windows over k x values rows,
    however many columns there are (a join per column made dozens of small Spark jobs)."""
    pairs = F.explode(F.array(*[F.struct(F.lit(c).alias("feature"),
                                         F.col(c).cast("string").alias("value"))
                                for c in columns])).alias("p")
    # k x (values of every column) rows: one partition holds them, so the windows below need
    # no further shuffle.
    counts = (assigned.select(SEGMENT_ID, pairs).select(SEGMENT_ID, "p.feature", "p.value")
              .filter(F.col("value").isNotNull())
              .groupBy(SEGMENT_ID, "feature", "value").count().coalesce(1))
    segment_size = F.sum("count").over(Window.partitionBy(SEGMENT_ID, "feature"))
    value_count = F.sum("count").over(Window.partitionBy("feature", "value"))
    total = F.sum("count").over(Window.partitionBy("feature"))
    shares = counts.select(SEGMENT_ID, "feature", "value",
                           (F.col("count") / segment_size).alias("p_seg"),
                           (value_count / total).alias("p"))
    z = F.when((F.col("p") > 0) & (F.col("p") < 1),
               (F.col("p_seg") - F.col("p")) / F.sqrt(F.col("p") * (F.lit(1.0) - F.col("p"))))
    return shares.select(SEGMENT_ID, "feature", "value", z.alias("z"),
                         F.lit(None).cast("double").alias("share"))


def _words(name: Column) -> Column:
    return F.lower(F.regexp_replace(name, "_", " "))


def delivered_words(column: str) -> str:
    """A delivered column's name as the words of a trait: underscores are spaces, a name in
    capitals is lower case, the rest as the bank wrote it (``Spending Score (1-100)``,
    ``CASH_ADVANCE`` -> ``cash advance``)."""
    words = re.sub(r"\s+", " ", column.replace("_", " ")).strip()
    return words.lower() if words.upper() == words else words


def trait_text(feature: Column, value: Column, z: Column,
               names: Mapping[str, str] | None = None,
               share: Column | None = None, dates: Collection[str] = ()) -> Column:
    """'holds mortgage' / 'no mortgage', 'age band 26-35', 'high app events 30d' / 'low ...',
    a date feature (in ``dates``) 'later DOB' / 'earlier DOB', and for a yes/no column its
    share of yes in the segment, 'newbie 85 %' (``share``); a feature in ``names`` (feature ->
    words, :func:`delivered_words`) reads as those words."""
    held = F.regexp_extract(feature, r"^holds_(.+)$", 1)
    words = _words(feature)
    if names:
        words = F.coalesce(F.create_map(*(F.lit(x) for pair in sorted(names.items())
                                          for x in pair))[feature], words)
    share = F.lit(None).cast("double") if share is None else share
    dated = feature.isin(*sorted(dates)) if dates else F.lit(False)
    direction = F.when(dated, _direction(z, DATE_DIRECTION_WORDS)).otherwise(
        _direction(z, DIRECTION_WORDS))
    return (F.when(held != "", F.concat(F.when(z > 0, F.lit("holds ")).otherwise(F.lit("no ")),
                                        _words(held)))
            .when(value.isNotNull(), F.concat(words, F.lit(" "), value))
            .when(share.isNotNull(),
                  F.concat(words, F.lit(" "), F.round(F.lit(100.0) * share).cast("int")
                           .cast("string"), F.lit(" %")))
            .otherwise(F.concat(direction, F.lit(" "), words)))


def _direction(z: Column, words: tuple[str, str]) -> Column:
    return F.when(z > 0, F.lit(words[0])).otherwise(F.lit(words[1]))


def trait_family(feature: Column, value: Column) -> Column:
    """One family per channel's activity (``app_*``: the name's first ``_``-separated word,
    in any letter case), per holding and per attribute; a name without ``_`` is a family of
    its own (``Age`` and ``Annual_Income`` are two)."""
    prefix = F.regexp_extract(F.lower(feature), r"^([a-z0-9]+)_", 1)
    return (F.when(feature.startswith("holds_") | value.isNotNull(), feature)
            .when(prefix == "", F.lower(feature))
            .otherwise(prefix))


def segment_traits(assigned: DataFrame, numeric: Sequence[str], categorical: Sequence[str],
                   top: int = 5, threshold: float = 0.2,
                   names: Mapping[str, str] | None = None,
                   dates: Collection[str] = ()) -> DataFrame:
    """Per segment its ``top`` strongest differences from the population (:data:`TRAIT_COLUMNS`,
    ``trait_rank`` 1 = strongest). ``assigned`` holds ``segment_id`` and the columns;
    ``names`` gives features the words of the bank's own column names and ``dates`` the date
    features (:func:`trait_text`)."""
    parts = [_numeric_differences(assigned, numeric)] if numeric else []
    if categorical:
        parts.append(_category_differences(assigned, categorical))
    if not parts:
        schema = "segment_id int, trait_rank int, feature string, value string, z double, " \
                 "trait string"
        return assigned.sparkSession.createDataFrame([], schema)
    diffs = parts[0]
    for part in parts[1:]:
        diffs = diffs.unionByName(part)
    strong = diffs.filter((F.abs("z") >= F.lit(threshold))
                          & (F.col("value").isNull() | (F.col("z") > 0)))
    family = Window.partitionBy(SEGMENT_ID, trait_family(F.col("feature"), F.col("value")))
    strongest = F.abs("z").desc()
    best_of_family = (strong.withColumn("_n", F.row_number().over(
        family.orderBy(strongest, F.col("feature"), F.col("value")))).filter(F.col("_n") == 1))
    ranked = best_of_family.withColumn("trait_rank", F.row_number().over(
        Window.partitionBy(SEGMENT_ID).orderBy(strongest, F.col("feature"), F.col("value"))))
    return (ranked.filter(F.col("trait_rank") <= top)
            .withColumn("trait", trait_text(F.col("feature"), F.col("value"), F.col("z"),
                                            names, F.col("share"), dates))
            .select(F.col(SEGMENT_ID).cast("int").alias(SEGMENT_ID),
                    F.col("trait_rank").cast("int").alias("trait_rank"), "feature", "value",
                    F.col("z").cast("double").alias("z"), "trait"))


def with_traits(profiles: DataFrame, traits: DataFrame) -> DataFrame:
    """``profiles`` (one row per segment_id) plus ``description`` (the traits' words, strongest
    first, ", "-joined; "average profile" when none stands out) and ``traits`` (ranked array of
    (trait_rank, trait, z))."""
    per_segment = traits.groupBy(SEGMENT_ID).agg(F.array_sort(F.collect_list(
        F.struct("trait_rank", "trait", "z"))).alias("traits"))
    joined = profiles.join(per_segment, SEGMENT_ID, "left")
    words = F.concat_ws(", ", F.transform(F.col("traits"), lambda t: t["trait"]))
    return joined.withColumn("description", F.when(F.size("traits") > 0, words)
                             .otherwise(F.lit("average profile")))


def conversion_rates(assigned: DataFrame, labels: DataFrame,
                     products: Sequence[str]) -> DataFrame:
    """Per segment_id: ``conversion_rate_<product>`` = the share of the segment's labelled
    clients (non-holders) who took the product up in the label window (NULL when none)."""
    labelled = assigned.select("identity_id_hash", SEGMENT_ID).join(
        labels.select("identity_id_hash", "product_code",
                      F.col("label").cast("double").alias("label")), "identity_id_hash")
    return (labelled.groupBy(SEGMENT_ID).pivot("product_code", list(products))
            .agg(F.avg("label"))
            .select(SEGMENT_ID, *[F.col(f"`{p}`").alias(f"conversion_rate_{p.lower()}")
                                  for p in products]))


def segment_profiles(assigned: DataFrame, columns: Sequence[str]) -> DataFrame:
    """Profile per segment: size, share, mean of each behavioural feature, holding rates.

    ``assigned`` is the output of :func:`assign_segments`. Columns: segment_id, segment_name,
    size, share, avg_<feature> for ``columns`` and every other numeric attribute (client
    attributes, ``has_digital_activity``), holding_rate_<product> for each holds_<product> column.
    """
    behaviour = ("holds_", "agr_", "interest_", "camp_", "__seg_", "takeup_")
    extra = [f.name for f in assigned.schema.fields
             if isinstance(f.dataType, NUMERIC_TYPES) and f.name not in columns
             and f.name != SEGMENT_ID and not f.name.startswith(behaviour)
             and not CHANNEL_ACTIVITY.match(f.name)]
    holds = [c for c in assigned.columns if c.startswith("holds_")]
    grouped = assigned.groupBy(SEGMENT_ID, SEGMENT_NAME).agg(
        F.count("*").alias("size"),
        *[F.avg(F.col(c).cast("double")).alias(f"avg_{c}") for c in [*columns, *extra]],
        *[F.avg(F.col(c).cast("double")).alias(f"holding_rate_{c.removeprefix('holds_')}")
          for c in holds],
    )
    # The total is a one-row aggregate joined to the k segment rows; a window over a literal
    # partition did the same but made Spark warn about moving all data to one partition.
    total = grouped.agg(F.sum("size").alias("_total"))
    return grouped.crossJoin(total).select(
        F.col(SEGMENT_ID).cast("int").alias(SEGMENT_ID),
        SEGMENT_NAME,
        F.col("size").cast("long").alias("size"),
        (F.col("size") / F.col("_total")).alias("share"),
        *[c for c in grouped.columns if c.startswith(("avg_", "holding_rate_"))],
    )
