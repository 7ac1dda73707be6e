"""A bank's own client snapshot -> gold.client_features and gold.labels (pure transforms).

A snapshot is one row per client (per as-of date): attribute columns, one label column per
product ("took it up in the window after the as-of date") and optionally one holding column per
product ("held it at the as-of date"), a key, an as-of date, a split column. A product with a
holding column and no label column, in a table with an as-of date (monthly holdings), takes its
label from the client's holding at the next as-of date (:func:`take_up_from_next_snapshot`).
The contract's snapshot source declares which column is which (see
:mod:`segrec_spark.contract`); undeclared columns are inferred from their type when
``undeclared_columns: infer``.

A snapshot of grain ``transactions`` is a transaction log instead (one row per purchase,
payment or invoice line of a client, with a key and a date): its rows are summed up per client
(:func:`per_client_from_transactions`: how many transactions, on how many days, days since the
last and the first, the amount's total and average, every other number's average, every text
column's most frequent value) at one as-of date, the day after the latest transaction.

The output has exactly the shape the features stage writes for raw extracts, so training and
scoring do not care where the features came from:

* features: ``as_of_date, identity_id_hash, <numeric attributes as double>, <categorical
  attributes as string, UNKNOWN when missing>, holds_<product> (0/1)``;
* labels: ``as_of_date, identity_id_hash, product_code, label, horizon_days, split`` for every
  client and product that the client does not hold and whose label is known; ``split`` is
  ``train``, ``evaluation`` or NULL (no split declared).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segrec_spark.contract import TAKE_UP_PREFIX, UNKNOWN, Column, Source, safe_name
from segrec_spark.decimals import number_as_written

KEY = "identity_id_hash"
AS_OF = "as_of_date"
SPLIT = "split"
ROW_NUMBER = "_row_number"
RAW_RECORD = "_raw_record"
NEXT_AS_OF = "_next_as_of"
AMOUNT = "_amount"
CORRUPT_RECORD = "_corrupt_record"  # a JSON line that does not parse (Spark's name for it)
TRAIN, EVALUATION = "train", "evaluation"
TRUE_WORDS = ("1", "1.0", "true", "t", "yes", "y")
FALSE_WORDS = ("0", "0.0", "false", "f", "no", "n")
NUMERIC_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType,
                 T.DecimalType)
INTEGRAL_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
TEMPORAL_TYPES = (T.DateType, T.TimestampType, T.TimestampNTZType)


@dataclass(frozen=True)
class Attribute:
    """One feature column of the snapshot: its name as delivered, as a feature, and its kind."""

    source_name: str
    name: str
    kind: str  # "numeric" | "categorical" | "take_up" (TAKE_UP_PREFIX)
    # a text column read as numbers: its cells that held neither a number nor a missing word
    # (``#N/A``, a description line under the header), read as missing values
    stray_cells: int = 0
    # a text column of numbers written with a decimal comma (``0,5``) in a file whose dialect
    # says a point: "," (the dialect's decimal mark otherwise)
    decimal: str = ""
    # a text column of dates (``27/01/2010``): the format its cells were read with
    # (:data:`DATE_FORMATS`); the feature is the day as days since 1970-01-01
    date_format: str = ""
    # a text column of more than ``max_categories`` values: the common ones it keeps (most
    # frequent first, :func:`common_levels`), the others read as OTHER; and the share of its
    # non-empty cells they hold
    levels: tuple[str, ...] = ()
    covered: float = 0.0
    # a column typed as dates (a Parquet file's, a Delta or catalog table's): days since
    # 1970-01-01, as a text date column's
    typed_date: bool = False


@dataclass(frozen=True)
class Summary:
    """A per-client feature of a transaction log: the statistic (a key of :data:`SUMMARIES`)
    and its feature name."""

    statistic: str
    name: str


# The per-client summaries of a transaction log: feature name (before the amount column's name
# for the amount's), and what it says (ops.snapshot_columns).
SUMMARIES: dict[str, str] = {
    "transactions": "transactions of the client",
    "active_days": "days with a transaction",
    "recency_days": "days from the last transaction to the as-of date",
    "tenure_days": "days from the first transaction to the as-of date",
    "total": "the client's total amount",
    "average": "the client's average amount per transaction",
}
AMOUNT_SUMMARIES = ("total", "average")


@dataclass(frozen=True)
class SnapshotPlan:
    """What each column of a delivered snapshot is used for (declared or inferred)."""

    key: str | None
    time: str | None
    split: str | None
    labels: dict[str, Column]  # product code -> label column
    holdings: dict[str, Column]  # product code -> holding column
    attributes: tuple[Attribute, ...]
    ignored: tuple[str, ...]  # inferred as ids or free text, or declared ignore
    # Products with a holding column and no label column in a table with an as-of date: their
    # take-up is read from the client's holding at the next as-of date (monthly holdings files).
    derived: tuple[str, ...] = ()
    # grain transactions: the amount column (role amount), and the per-client summaries of the
    # transactions (:data:`SUMMARIES`) by feature name
    amount: str | None = None
    summaries: tuple[Summary, ...] = ()
    # grain transactions with outcome_column: product -> the column's values (trimmed, lower
    # case) whose transactions take it up; each gets a summary, the client's transactions of it
    outcome_values: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    outcome_column: str | None = None
    # delivered columns an outcome's expression reads (a label computed as ``offer = 'card'``
    # or ``spend > 0``), left out of the features: column -> the computed outcome column
    outcome_inputs: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """gold.client_features' attribute columns: the summaries, then the attributes (a
        take-up attribute as its columns, :attr:`take_up_columns`)."""
        names = [s.name for s in self.summaries]
        for a in self.attributes:
            names += ([c for b, _, c in self.take_up_columns if b is a] if a.kind == TAKE_UP
                      else [a.name])
        return tuple(names)

    @property
    def take_up_columns(self) -> tuple[tuple[Attribute, str, str], ...]:
        """(attribute, product, feature name) for each take-up attribute and labelled
        product: ``takeup_<product>_<attribute>`` (:func:`with_take_up_rates`)."""
        return tuple((a, p, f"{TAKE_UP_PREFIX}{p.lower()}_{a.name}")
                     for a in self.attributes if a.kind == TAKE_UP for p in self.labels)


def _declared_names(source: Source) -> set[str]:
    """The contract's columns and the row position added for a key-less table (ours, not the
    bank's: never inferred, counted or reported as ignored)."""
    return {c.name for c in source.columns} | {ROW_NUMBER, CORRUPT_RECORD}


# String literals of a Spark SQL expression ('...' or "..."), which name no column.
_SQL_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def outcome_inputs(source: Source, names: Iterable[str]) -> dict[str, str]:
    """The columns among ``names`` that an expression of a label column reads, each with the
    label's name: they carry the outcome (``offer = 'card'``, ``spend > 0``), so a model must
    not see them. A name counts when it stands in the expression outside string literals,
    alone or in backticks, in any letter case, and not as a function (``year(...)``)."""
    found: dict[str, str] = {}
    for column in source.columns:
        if column.role != "label" or not column.expression:
            continue
        text = _SQL_STRING.sub(" ", column.expression)
        for name in names:
            bare = rf"(?<![\w.`]){re.escape(name)}(?![\w`])(?!\s*\()"
            if re.search(rf"`{re.escape(name)}`|{bare}", text, re.IGNORECASE):
                found.setdefault(name, column.name)
    return found


def _declared(source: Source, role: str) -> list[Column]:
    return [c for c in source.columns if c.role == role]


def plan_columns(source: Source, schema: T.StructType,
                 distinct_counts: dict[str, int], n_rows: int,
                 numeric_text: Mapping[str, int] | Collection[str] = (),
                 comma_decimal: Collection[str] = (),
                 text_dates: Mapping[str, tuple[str, int, tuple[str, ...]]] | None = None,
                 common: Mapping[str, tuple[tuple[str, ...], float]] | None = None
                 ) -> SnapshotPlan:
    """Decide every column's use from the contract and, for undeclared ones, their type.

    An undeclared column becomes a numeric feature when it is a number (or a date, as days
    since 1970-01-01) or boolean, or text whose every value is a number or blank
    (``numeric_text``, see :func:`numeric_text_columns`: a number column with a few empty or
    stray text cells, which the CSV reader reads as text; a mapping gives each column's stray
    cells; ``comma_decimal`` those of them written with a decimal comma), or text dates
    (``text_dates``, :func:`date_text_columns`: days since 1970-01-01); a categorical one
    when it is other text with at most ``source.max_categories`` distinct values, or with
    more whose common values hold most of its cells (``common``, :func:`common_levels`: those
    values, the others as OTHER); a whole-number or text column with a distinct value on
    (almost) every row is an id and is ignored, as is other free text."""
    declared = _declared_names(source)
    inputs = outcome_inputs(source, [f.name for f in schema.fields if f.name not in declared])
    stray = numeric_text if isinstance(numeric_text, Mapping) else {}
    dates = dict(text_dates or {})  # a dotted date is no number, even under a decimal comma
    common = common or {}
    # Take-up rates need labels to count and one as-of date (no time column: a month's rate
    # would be counted on the month it predicts).
    take_up = (bool(_declared(source, "label")) and source.role_column("time") is None
               and source.grain != "transactions")
    attributes = [Attribute(c.name, c.feature_name, c.role) for c in source.columns
                  if c.role in ("numeric", "categorical")]
    ignored = [c.name for c in source.columns if c.role == "ignore"]
    if source.undeclared_columns == "infer":
        for field in schema.fields:
            if field.name in declared or field.name in inputs:
                continue
            kind = ("numeric" if field.name in numeric_text or field.name in dates else
                    _inferred_kind(field, distinct_counts.get(field.name, 0), n_rows,
                                   source.max_categories))
            if field.name in dates:
                date_format, stray_dates, _ = dates[field.name]
                attributes.append(Attribute(field.name, safe_name(field.name), "numeric",
                                            stray_dates, date_format=date_format))
            elif kind is None and field.name in common:
                levels, covered = common[field.name]
                attributes.append(Attribute(field.name, safe_name(field.name), "categorical",
                                            levels=levels, covered=covered))
            elif kind is None and take_up and repeated_text(
                    field, distinct_counts.get(field.name, 0), n_rows, source.max_categories):
                attributes.append(Attribute(field.name, safe_name(field.name), TAKE_UP))
            elif kind is None:
                ignored.append(field.name)
            else:
                numeric = kind == "numeric"
                attributes.append(Attribute(
                    field.name, safe_name(field.name), kind,
                    stray.get(field.name, 0) if numeric else 0,
                    "," if numeric and field.name in comma_decimal else "",
                    typed_date=isinstance(field.dataType, TEMPORAL_TYPES)))
    else:
        ignored += [f.name for f in schema.fields
                    if f.name not in declared and f.name not in inputs]
    labels = {c.product: c for c in _declared(source, "label")}
    holdings = {c.product: c for c in _declared(source, "holding")}
    time = source.role_column("time")
    amount = source.role_column("amount")
    summaries = (transaction_summaries(amount, list(source.outcome_values))
                 if source.grain == "transactions" else ())
    # Summaries come first: an attribute named like one (a column "transactions") is renamed.
    named = distinct_feature_names([*(Attribute(s.statistic, s.name, "numeric")
                                      for s in summaries), *attributes])
    return SnapshotPlan(
        key=source.key_column, time=time, split=source.role_column("split"),
        labels=labels, holdings=holdings, attributes=named[len(summaries):],
        ignored=tuple(ignored),
        derived=tuple(p for p in holdings if p not in labels) if time else (),
        amount=amount,
        summaries=tuple(Summary(a.source_name, a.name) for a in named[:len(summaries)]),
        outcome_inputs=inputs, outcome_values=outcome_values(source),
        outcome_column=source.outcome_column or None)


# The statistic of a per-product summary: "of:<product>" (the client's transactions that take
# the product up, :func:`transaction_summaries`).
OF_PRODUCT = "of:"
# Conformed rows of a log with an outcome_column: its value, trimmed, in lower case.
OUTCOME_VALUE = "_outcome_value"


def outcome_values(source: Source) -> dict[str, tuple[str, ...]]:
    """``source.outcome_values`` as compared: trimmed, in lower case."""
    return {p: tuple(str(v).strip().lower() for v in values)
            for p, values in source.outcome_values.items()}


def transaction_summaries(amount: str | None, products: Sequence[str] = ()
                          ) -> tuple[Summary, ...]:
    """The per-client summaries of a transaction log; the amount's (``<amount>_total``,
    ``<amount>_average``) when it has an amount column; per product of ``products`` (an
    outcome_values product), the client's transactions of it (``transactions_<product>``)."""
    counts = [Summary(s, s) for s in SUMMARIES if s not in AMOUNT_SUMMARIES]
    money = [Summary(s, f"{safe_name(amount)}_{s}") for s in AMOUNT_SUMMARIES] if amount else []
    kinds = [Summary(f"{OF_PRODUCT}{p}", f"transactions_{p.lower()}") for p in products]
    return (*counts, *money, *kinds)


def summary_text(summary: Summary, plan: SnapshotPlan) -> str:
    """What a summary is (ops.snapshot_columns)."""
    if summary.statistic.startswith(OF_PRODUCT):
        product = summary.statistic[len(OF_PRODUCT):]
        return (f"the client's transactions that take {product} up (outcome_values: "
                f"{', '.join(plan.outcome_values[product])})")
    return SUMMARIES[summary.statistic]


# Column names the pipeline itself gives (gold tables, model frames; compared in lower case,
# as Spark resolves names): a feature of the same name would be ambiguous. Feature names start
# with a letter or digit (contract_schema.safe_name), so the "_"/"__" names cannot clash.
RESERVED_NAMES = frozenset({KEY, AS_OF, SPLIT, "label", "class_weight", "probability",
                            "features", "prediction", "rawprediction", "segment_id",
                            "segment_name", "product_code", "horizon_days", "pooled_product",
                            "rf_probability", "rf_probability_prior_corrected"})
# A feature of a many-valued text column: the take-up of a product among the training clients
# with the same value (with_take_up_rates).
TAKE_UP = "take_up"
RESERVED_PREFIXES = ("holds_", "label_", TAKE_UP_PREFIX)


def distinct_feature_names(attributes: Sequence[Attribute]) -> tuple[Attribute, ...]:
    """``attributes`` with feature names the pipeline does not use and that differ from each
    other in lower case: a reserved name gets ``c_`` in front (``split`` -> ``c_split``), a
    repeat a number after it (``a.b`` and ``a_b`` -> ``a_b``, ``a_b_2``)."""
    taken: set[str] = set()
    named = []
    for attribute in attributes:
        name = attribute.name
        if name.lower() in RESERVED_NAMES or name.lower().startswith(RESERVED_PREFIXES):
            name = f"c_{name}"
        base, n = name, 2
        while name.lower() in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name.lower())
        named.append(dataclasses.replace(attribute, name=name))
    return tuple(named)


# A text column of more than max_categories values keeps the values that each hold at least
# COMMON_SHARE of its non-empty cells (a country, a branch), the others read as OTHER, when
# those hold at least COVERED_SHARE of its cells together; else it is free text (a name, a
# comment, a street) and left out. A value on fewer cells has too few buyers to learn from
# (the share below which a number column keeps only its missing indicator, SPARSE_SHARE).
COMMON_SHARE = 0.01
COVERED_SHARE = 0.5
OTHER = "OTHER"


def _many_valued(distinct: int, n_rows: int, max_categories: int) -> bool:
    """More than ``max_categories`` distinct values, and no id."""
    return distinct > max_categories and not looks_like_id(distinct, n_rows)


def many_valued_text(texts: Iterable[str], distinct: Mapping[str, int], n_rows: int,
                     max_categories: int) -> list[str]:
    """The text columns of ``texts`` with more than ``max_categories`` values that are no id:
    the ones :func:`common_value_counts` counts."""
    return [c for c in texts if _many_valued(distinct.get(c, 0), n_rows, max_categories)]


# A text column of more than max_categories values, none of them common enough to keep
# (common_levels), whose values repeat on TAKE_UP_MIN_ROWS rows or more on average (a route, a
# postcode, a branch code; not a surname or a comment) becomes, per labelled product, the
# take-up among the training clients with the same value (with_take_up_rates): out of fold
# (TAKE_UP_FOLDS folds by a hash of the key) for a training row, so that no row's own label
# is in its feature; shrunk to the product's rate by TAKE_UP_SMOOTHING clients' weight, so a
# value seen on a few clients says little.
TAKE_UP_MIN_ROWS = 5
TAKE_UP_FOLDS = 5
TAKE_UP_SMOOTHING = 20.0


def repeated_text(field: T.StructField, distinct: int, n_rows: int, max_categories: int
                  ) -> bool:
    """A text column of more than ``max_categories`` values, no id, with at least
    :data:`TAKE_UP_MIN_ROWS` rows per value on average."""
    return (isinstance(field.dataType, T.StringType)
            and _many_valued(distinct, n_rows, max_categories)
            and distinct * TAKE_UP_MIN_ROWS <= n_rows)


def with_take_up_rates(plan: SnapshotPlan, salt: str = "segrec-take-up"
                       ) -> Callable[[DataFrame], DataFrame]:
    """Factory: usable snapshot rows (``label_<product>``, ``split``) -> the same rows with
    each of ``plan.take_up_columns``: the product's take-up among the training rows (labelled
    for it, not held out) with the same value of the attribute, ``(buyers + m * rate) /
    (clients + m)`` with ``m`` = :data:`TAKE_UP_SMOOTHING` and ``rate`` the product's take-up
    over all training rows. A training row's counts leave out its own fold (of
    :data:`TAKE_UP_FOLDS`, by a hash of the key); held-out and unlabelled rows use every
    training row. One aggregation per attribute, joined back on (value, fold)."""
    fold = "_take_up_fold"
    m = F.lit(TAKE_UP_SMOOTHING)

    def trained(product: str) -> SparkColumn:
        held_out = F.coalesce(F.col(SPLIT) == F.lit(EVALUATION), F.lit(False))
        return F.col(f"label_{product.lower()}").isNotNull() & ~held_out

    def transform(df: DataFrame) -> DataFrame:
        attributes = list(dict.fromkeys(a for a, _, _ in plan.take_up_columns))
        if not attributes:
            return df
        out = df.withColumn(fold, key_bucket(salt, TAKE_UP_FOLDS))
        for attribute in attributes:
            columns = [(p, name) for a, p, name in plan.take_up_columns if a is attribute]
            counts = out.groupBy(F.col(f"`{attribute.name}`").alias("_tu_value"),
                                 F.col(fold).alias("_tu_fold")).agg(*[
                agg for i, (p, _) in enumerate(columns) for agg in (
                    F.count_if(trained(p)).alias(f"_tu_n{i}"),
                    F.sum(F.when(trained(p), F.col(f"label_{p.lower()}"))).alias(f"_tu_s{i}"))])
            by_value = Window.partitionBy("_tu_value")
            totals = counts.select("_tu_value", "_tu_fold", *[
                c for i in range(len(columns)) for c in (
                    F.col(f"_tu_n{i}"), F.coalesce(F.col(f"_tu_s{i}"), F.lit(0.0)).alias(
                        f"_tu_s{i}"),
                    F.sum(f"_tu_n{i}").over(by_value).alias(f"_tu_tn{i}"),
                    F.coalesce(F.sum(f"_tu_s{i}").over(by_value), F.lit(0.0)).alias(
                        f"_tu_ts{i}"))])
            # One row: every product's take-up over all training rows, joined to every value.
            overall = counts.agg(*[(F.sum(f"_tu_s{i}") / F.sum(f"_tu_n{i}")).alias(f"_tu_r{i}")
                                   for i in range(len(columns))])
            stats = totals.crossJoin(overall)
            joined = out.join(stats, (F.col(f"`{attribute.name}`") == F.col("_tu_value"))
                              & (F.col(fold) == F.col("_tu_fold")), "left")
            rates = []
            for i, (p, name) in enumerate(columns):
                own = trained(p)
                n = F.col(f"_tu_tn{i}") - F.when(own, F.col(f"_tu_n{i}")).otherwise(F.lit(0))
                buyers = (F.col(f"_tu_ts{i}")
                          - F.when(own, F.col(f"_tu_s{i}")).otherwise(F.lit(0.0)))
                rates.append(((buyers + m * F.col(f"_tu_r{i}")) / (n + m)).alias(name))
            out = joined.select(*[F.col(f"`{c}`") for c in out.columns], *rates)
        return out.drop(fold)
    return transform


def common_value_counts(columns: Sequence[str]) -> Callable[[DataFrame], DataFrame]:
    """Factory: delivered rows -> for each of ``columns`` (``column``: its position), the
    values (trimmed) on at least COMMON_SHARE of its non-empty cells: ``column, value, cells,
    filled`` (``filled``: the column's non-empty cells). A few rows per column at most."""
    def transform(df: DataFrame) -> DataFrame:
        cells = F.explode(F.array(*(
            F.struct(F.lit(i).alias("column"),
                     F.trim(F.col(f"`{c}`").cast("string")).alias("value"))
            for i, c in enumerate(columns))))
        counted = (df.select(cells.alias("cell")).select("cell.*")
                   .filter(F.col("value").isNotNull() & (F.col("value") != ""))
                   .groupBy("column", "value").agg(F.count(F.lit(1)).alias("cells")))
        filled = counted.groupBy("column").agg(F.sum("cells").alias("filled"))
        return (counted.join(F.broadcast(filled), "column")
                .filter(F.col("cells") >= COMMON_SHARE * F.col("filled")))
    return transform


def common_levels(counts: Iterable[tuple[str, str, int, int]], max_categories: int
                  ) -> dict[str, tuple[tuple[str, ...], float]]:
    """Per column, from its common values' ``(column, value, cells, filled)``: the values
    kept (most frequent first, ties in sort order, at most ``max_categories``) and the share
    of the non-empty cells they hold; only the columns where that share is at least
    COVERED_SHARE (the others are free text)."""
    by_column: dict[str, list[tuple[str, int, int]]] = {}
    for column, value, cells, filled in counts:
        by_column.setdefault(column, []).append((value, cells, filled))
    found = {}
    for column, rows in by_column.items():
        kept = sorted(rows, key=lambda r: (-r[1], r[0]))[:max_categories]
        covered = sum(r[1] for r in kept) / kept[0][2]
        if covered >= COVERED_SHARE:
            found[column] = (tuple(r[0] for r in kept), covered)
    return found


def with_types_of_both(first: DataFrame, second: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Two files of one table (a training and a held-out file), each read with the types
    inferred from its own cells, with one type per column: where those differ (a number
    column with an ``NA`` in one file only is text there), the column is text in both, and
    its numbers are read from the text like any text column's; two number types are left to
    the union, which widens them."""
    theirs = {f.name: f.dataType for f in second.schema.fields}
    differ = [f.name for f in first.schema.fields if f.name in theirs
              and f.dataType != theirs[f.name]
              and not (isinstance(f.dataType, NUMERIC_TYPES)
                       and isinstance(theirs[f.name], NUMERIC_TYPES))]

    def as_text(df: DataFrame) -> DataFrame:
        return df.withColumns({c: F.col(f"`{c}`").cast("string") for c in differ})
    return (as_text(first), as_text(second)) if differ else (first, second)


def looks_like_id(distinct: int, n_rows: int) -> bool:
    """A column with a distinct value on at least 95 % of (more than 20) rows identifies rows."""
    return n_rows > 20 and distinct >= 0.95 * n_rows


def _inferred_kind(field: T.StructField, distinct: int, n_rows: int,
                   max_categories: int) -> str | None:
    dtype = field.dataType
    if isinstance(dtype, T.BooleanType):
        return "numeric"
    if isinstance(dtype, TEMPORAL_TYPES):
        return "numeric"
    if isinstance(dtype, NUMERIC_TYPES):
        if isinstance(dtype, INTEGRAL_TYPES) and looks_like_id(distinct, n_rows):
            return None
        return "numeric"
    if isinstance(dtype, T.StringType):
        if distinct > max_categories or looks_like_id(distinct, n_rows):
            return None
        return "categorical"
    return None


# Cells that mean "no value" in a column of numbers (compared trimmed, in lower case).
MISSING_WORDS = ("", "na", "n/a", "nan", "null", "none", "?", "-")


def text_number(name: str, decimal: str = ".", grouping: bool = True) -> SparkColumn:
    """The number a text column holds (NULL when it holds none), written with ``decimal`` as
    its decimal mark (``dialect.decimal``), maybe with a currency or percent sign, grouped
    thousands, a negative in parentheses or a trailing minus (:func:`number_as_written`)."""
    return number_as_written(F.trim(F.col(f"`{name}`").cast("string")), decimal, grouping
                             ).try_cast("double")


def number_text_counts(name: str, decimal: str = ".", grouping: bool = True
                       ) -> tuple[SparkColumn, SparkColumn, SparkColumn]:
    """Aggregates over a text column: rows holding a number, rows holding a number with a
    fraction, rows holding neither a number nor a missing word (:data:`MISSING_WORDS`)."""
    text = F.trim(F.col(f"`{name}`"))
    number = text_number(name, decimal, grouping)
    missing = text.isNull() | F.lower(text).isin(*MISSING_WORDS)
    return (F.count_if(number.isNotNull()), F.count_if(number != F.floor(number)),
            F.count_if(number.isNull() & ~missing))


# A text column whose cells are numbers but for at most this share of its non-empty cells is a
# number column with stray text (``#N/A``, ``n.a.``, a description line under the header): the
# stray cells are read as missing values and counted in ops.snapshot_columns. Above it, the
# column is text (a category or free text), e.g. codes that are mostly numbers.
STRAY_TEXT_SHARE = 0.01


def numeric_text_columns(counts: dict[str, tuple[int, int, int]],
                         distinct_counts: dict[str, int], n_rows: int) -> dict[str, int]:
    """Text columns to read as numbers (:func:`number_text_counts` of each), with their stray
    cells: at least one number, and besides missing words at most :data:`STRAY_TEXT_SHARE` of
    the non-empty cells other text, i.e. a number column with empty, "NA" or stray cells,
    which the CSV reader reads as text. Whole numbers with a distinct value on almost every
    row are an id, as in a number column."""
    return {name: other for name, (numbers, fractions, other) in counts.items()
            if numbers > 0 and other <= STRAY_TEXT_SHARE * (numbers + other)
            and (fractions > 0 or not looks_like_id(distinct_counts.get(name, 0), n_rows))}


# Dates as exports write them in text, tried in this order on a cell's first word (a time after
# it is left out): ISO with "-" or "/", day first (most of the world), month first (the US),
# with dots (central Europe), with a month name (``27-Jan-2010``). A column whose dates read
# both day and month first (no day above 12) is read day first, with a warning.
DATE_FORMATS = ("yyyy-M-d", "yyyy/M/d", "d/M/yyyy", "M/d/yyyy", "d-M-yyyy", "M-d-yyyy",
                "d.M.yyyy", "d-MMM-yyyy")


def date_format_shape(date_format: str) -> str | None:
    """A regular expression that every word ``date_format`` reads as a date in 1900-2199
    matches: a day or month of one or two digits, a year of four under ``yyyy``, of two under
    ``yy`` (of any number under another count of ``y``), a month name of letters, the
    separators as written; None for a format with any other field or a quoted literal (every
    word is then parsed)."""
    shape = []
    for run in re.findall(r"y+|M+|d+|[A-Za-z']+|[^A-Za-z']+", date_format):
        if run[0] == "y":
            shape.append({4: r"\d{4}", 2: r"\d{2}"}.get(len(run), r"\d+"))
        elif run[0] == "M":
            shape.append(r"\d{1,2}" if len(run) <= 2 else r"\p{L}+")
        elif run[0] == "d":
            shape.append(r"\d{1,2}")
        elif run[0].isalpha() or run[0] == "'":
            return None
        else:
            shape.append(re.escape(run))
    return "^" + "".join(shape) + "$"


# A year written with two digits (``6/16/14``) is read in 1940-2039: 40-99 as 1940-1999, 00-39
# as 2000-2039. A client table's dates are mostly past (a birth, the start of a relationship),
# some a few years ahead (a contract's end). Spark's ``yy`` reads 2000-2099, which would put a
# client born in 1965 in 2065; POSIX strptime's ``%y`` (1969-2068) would too.
TWO_DIGIT_PIVOT = 40


def two_digit_year(date_format: str) -> str | None:
    """``date_format`` with its four-digit year written with two (``M/d/yyyy`` ->
    ``M/d/yy``); None for a format whose year is not one ``yyyy`` after the day and month
    (``27/01/10`` is no ISO date)."""
    if re.findall(r"y+", date_format) != ["yyyy"] or date_format.startswith("y"):
        return None
    return date_format.replace("yyyy", "yy")


def has_two_digit_year(date_format: str) -> bool:
    """Whether ``date_format`` writes its year with two digits (``M/d/yy``)."""
    return re.findall(r"y+", date_format) == ["yy"]


def parsed_text(text: SparkColumn, date_format: str) -> SparkColumn:
    """The date ``text`` holds in ``date_format`` (a time in it is dropped), NULL when it
    holds none; a two-digit year in 1940-2039 (:data:`TWO_DIGIT_PIVOT`)."""
    day = F.to_date(F.try_to_timestamp(text, F.lit(date_format)))
    return in_two_digit_century(day) if has_two_digit_year(date_format) else day


def in_two_digit_century(day: SparkColumn) -> SparkColumn:
    """A date read with a two-digit year (2000-2099 in Spark) in 1940-2039
    (:data:`TWO_DIGIT_PIVOT`)."""
    return F.when(F.year(day) >= 2000 + TWO_DIGIT_PIVOT, F.add_months(day, -1200)
                  ).otherwise(day)


def text_date(name: str, date_format: str) -> SparkColumn:
    """The date a text cell of column ``name`` starts with, read with ``date_format`` (NULL
    when it holds none); a time after it (``27/01/2010 14:33``, ``2010-01-27T14:33``) is
    left out. A format with a four-digit year also reads the year written with two, as a
    column may mix both (``6/16/14`` and ``05/11/2014``), and a two-digit year is read in
    1940-2039 (:data:`TWO_DIGIT_PIVOT`). A word not shaped like the format
    (:func:`date_format_shape`) is not parsed: each failed parse throws and catches an
    exception in the JVM, which made the search for a text column's format (ten formats a
    cell) most of the time of planning a file of many date columns (docs/performance.md,
    "Planning a wide file")."""
    word = F.substring_index(F.trim(F.col(f"`{name}`").cast("string")), " ", 1)
    if date_format.startswith("y"):
        word = F.substring_index(word, "T", 1)

    def parsed(fmt: str) -> SparkColumn:
        day = parsed_text(word, fmt)  # a two-digit year in 1940-2039
        shape = date_format_shape(fmt)
        return day if shape is None else F.when(word.rlike(shape), day)

    short = two_digit_year(date_format)
    if short is None:
        return parsed(date_format)
    return F.coalesce(parsed(date_format), parsed(short))


# What a date of :data:`DATE_FORMATS` looks like, its year of four digits, or of two after the
# day and month (a cheap first test, before parsing).
DATE_SHAPE = ("^([0-9]{4}[-/][0-9]{1,2}[-/][0-9]{1,2}"
              "|[0-9]{1,2}[-/.][0-9]{1,2}[-/.]([0-9]{4}|[0-9]{2})"
              "|[0-9]{1,2}-[A-Za-z]{3}-([0-9]{4}|[0-9]{2}))([ T].*)?$")


def date_shaped_count(name: str, date_format: str | None = None) -> SparkColumn:
    """Aggregate over a text column: the rows shaped like a date (:data:`DATE_SHAPE`, or
    like ``date_format``, a dialect's, when given; a time may follow)."""
    text = F.trim(F.col(f"`{name}`").cast("string"))
    shaped = text.rlike(DATE_SHAPE)
    own = date_format_shape(lenient_format(date_format)) if date_format else None
    if own is not None:
        shaped = shaped | F.substring_index(text, " ", 1).rlike(own)
    return F.count_if(shaped)


def valid_day(day: SparkColumn) -> SparkColumn:
    """``day``, or NULL for a placeholder outside 1900-2199 (``9999-12-31``, an open end;
    ``0001-01-01``): no date a bank's client table means."""
    return F.when(F.year(day).between(1900, 2199), day)


def text_days(name: str, date_format: str) -> SparkColumn:
    """A text date column's feature: days since 1970-01-01; NULL (missing) for no date or a
    placeholder (:func:`valid_day`)."""
    return F.datediff(valid_day(text_date(name, date_format)),
                      F.lit(dt.date(1970, 1, 1))).cast("double")


def lenient_format(date_format: str) -> str:
    """``date_format`` reading one-digit days and months too (``MM/dd/yyyy`` -> ``M/d/yyyy``):
    a declared format's order, tried before :data:`DATE_FORMATS` so it wins their ties."""
    return date_format.replace("MM", "M").replace("dd", "d")


def date_text_counts(name: str, formats: Sequence[str]) -> list[SparkColumn]:
    """Aggregates over a text column: the rows holding a date of each of ``formats`` (not a
    placeholder, :func:`valid_day`)."""
    return [F.count_if(valid_day(text_date(name, f)).isNotNull()) for f in formats]


def date_text_columns(parsed: Mapping[str, Sequence[int]], non_missing: Mapping[str, int],
                      formats: Sequence[str]) -> dict[str, tuple[str, int, tuple[str, ...]]]:
    """Text columns of dates, from :func:`date_text_counts` of each (``parsed``, in the order
    of ``formats``) and its cells that are not a missing word: the first format that reads
    them all but for at most :data:`STRAY_TEXT_SHARE` (stray cells, read as missing), with
    those stray cells and the other formats that read them as well (an ambiguous order)."""
    found = {}
    for name, counts in parsed.items():
        total = non_missing.get(name, 0)
        fit = [(f, n) for f, n in zip(formats, counts, strict=True)
               if n > 0 and total - n <= STRAY_TEXT_SHARE * total]
        if fit:
            best, n = max(fit, key=lambda fn: fn[1])  # the first of equals
            # another format that reads the cells alike (yyyy-M-d beside yyyy-MM-dd) is no
            # other reading
            found[name] = (best, total - n, tuple(
                f for f, _ in fit if lenient_format(f) != lenient_format(best)))
    return found


def comma_decimal_columns(point: dict[str, tuple[int, int, int]],
                          comma: dict[str, tuple[int, int, int]],
                          distinct_counts: dict[str, int], n_rows: int,
                          grouped: dict[str, tuple[int, int, int]] | None = None
                          ) -> dict[str, int]:
    """Text columns (:func:`number_text_counts` of each, read with a point and with a comma as
    the decimal mark) that are numbers written with a decimal comma, ``0,5``, in a file whose
    dialect says a point, with their stray cells: numbers with a comma
    (:func:`numeric_text_columns`) and not with a point, nor with a point and thousands
    grouped by commas and a fraction (``grouped``: ``1,234.50`` is not 1.23450)."""
    with_point = set(numeric_text_columns(point, distinct_counts, n_rows))
    with_point |= {name for name in numeric_text_columns(grouped or {}, distinct_counts, n_rows)
                   if (grouped or {})[name][1] > 0}
    return {name: stray for name, stray in
            numeric_text_columns(comma, distinct_counts, n_rows).items()
            if name not in with_point and comma[name][1] > 0}


def columns_to_count(source: Source, schema: T.StructType) -> list[str]:
    """Undeclared columns whose distinct count decides how they are inferred."""
    if source.undeclared_columns != "infer":
        return []
    declared = _declared_names(source)
    return [f.name for f in schema.fields if f.name not in declared
            and isinstance(f.dataType, (T.StringType, *INTEGRAL_TYPES))]


def _numeric(name: str, dtype: T.DataType, decimal: str = ".") -> SparkColumn:
    col = F.col(f"`{name}`")
    if isinstance(dtype, TEMPORAL_TYPES):
        return F.datediff(col.cast("date"), F.lit(dt.date(1970, 1, 1))).cast("double")
    if isinstance(dtype, T.BooleanType):
        return col.cast("double")
    if isinstance(dtype, NUMERIC_TYPES):
        return col.cast("double")
    # text declared numeric: a number, or a yes/no word, else NULL (imputed by the model)
    text = F.lower(F.trim(col.cast("string")))
    return (F.when(text.isin(*TRUE_WORDS[2:]), 1.0).when(text.isin(*FALSE_WORDS[2:]), 0.0)
            .otherwise(text_number(name, decimal)))


def _categorical(name: str, levels: Collection[str] = ()) -> SparkColumn:
    """A text column as a category: UNKNOWN when empty; with ``levels``, OTHER where it holds
    none of them."""
    text = F.trim(F.col(f"`{name}`").cast("string"))
    known = F.when(text.isin(*levels), text).otherwise(F.lit(OTHER)) if levels else text
    return F.when(text.isNull() | (text == ""), F.lit(UNKNOWN)).otherwise(known)


def flag(column: Column, name: str) -> SparkColumn:
    """1.0 / 0.0 / NULL for a label or holding column: its positive values, or yes/no words."""
    text = F.lower(F.trim(F.col(f"`{name}`").cast("string")))
    if column.positive:
        positive = [v.strip().lower() for v in column.positive]
        return (F.when(text.isNull() | (text == ""), F.lit(None))
                .when(text.isin(*positive), 1.0).otherwise(0.0))
    return (F.when(text.isin(*TRUE_WORDS), 1.0).when(text.isin(*FALSE_WORDS), 0.0)
            .otherwise(F.lit(None).cast("double")))


def as_of_column(plan: SnapshotPlan, default: dt.date, source: Source,
                 dtype: T.DataType | None = None) -> SparkColumn:
    """The row's as-of date: ``default`` without a time column; a delivered date or timestamp
    as it is; else the text (or a number such as ``201501``, which the CSV reader reads as
    one) parsed with the dialect's ``date_format``, then its ``timestamp_format``, then the
    ``date_format`` on its first word (``27/01/2024 14:33``), then as an
    ISO date (``2015-01-28``, ``2015-01``). NULL (a BAD_TIMESTAMP reject) when nothing parses
    or the year is outside 1900-2199."""
    if plan.time is None:
        return F.lit(default).cast("date")
    column = F.col(f"`{plan.time}`")
    if isinstance(dtype, TEMPORAL_TYPES):
        day = F.to_date(column)
    else:
        text = F.trim(column.cast("string"))
        day = F.coalesce(
            parsed_text(text, source.dialect.date_format),
            parsed_text(text, source.dialect.timestamp_format),
            text_date(plan.time, source.dialect.date_format),  # a time after the date
            text.try_cast("date"))
    return valid_day(day)


def key_column(plan: SnapshotPlan) -> SparkColumn:
    if plan.key is None:
        return F.col(ROW_NUMBER).cast("string")
    return F.trim(F.col(f"`{plan.key}`").cast("string"))


def split_column(plan: SnapshotPlan, source: Source) -> SparkColumn:
    if plan.split is None:
        return F.lit(None).cast("string")
    text = F.lower(F.trim(F.col(f"`{plan.split}`").cast("string")))
    train = [v.lower() for v in source.split_train]
    evaluation = [v.lower() for v in source.split_evaluation]
    return (F.when(text.isin(*train), F.lit(TRAIN))
            .when(text.isin(*evaluation), F.lit(EVALUATION)).otherwise(F.lit(None)))


def key_bucket(salt: str, buckets: int) -> SparkColumn:
    """A client's bucket in 0 .. ``buckets`` - 1: a hash of the key and ``salt`` (the same on
    every run; another salt, other buckets)."""
    return F.pmod(F.xxhash64(F.col(KEY), F.lit(salt)), F.lit(buckets))


def held_out_by_key(share: float, salt: str = "segrec-holdout"
                    ) -> Callable[[DataFrame], DataFrame]:
    """Factory: snapshot rows -> the same rows with ``split`` evaluation for a ``share`` of the
    clients, train for the others; for a table that holds out nothing itself (one file, no
    split column, one as-of date). The choice is a hash of the key, so a client is held out
    on every run; a row already marked evaluation (from a held-out file) keeps it."""
    threshold = int(round(share * 10_000))

    def transform(df: DataFrame) -> DataFrame:
        bucket = key_bucket(salt, 10_000)
        return df.withColumn(SPLIT, F.when(F.col(SPLIT) == EVALUATION, F.lit(EVALUATION))
                             .when(bucket < threshold, F.lit(EVALUATION))
                             .otherwise(F.lit(TRAIN)))
    return transform


def conformed_snapshot(plan: SnapshotPlan, source: Source, products: Sequence[str],
                       default_as_of: dt.date) -> Callable[[DataFrame], DataFrame]:
    """Factory: delivered snapshot -> one typed row per client with keys, attributes, holdings,
    labels (``label_<product>``, NULL when unknown) and the split; also ``_reject`` (a reason
    when the row cannot be used: no key, no as-of date)."""
    def transform(df: DataFrame) -> DataFrame:
        types = {f.name: f.dataType for f in df.schema.fields}
        attrs = [(text_days(a.source_name, a.date_format)
                  if a.date_format
                  else text_number(a.source_name, a.decimal or source.dialect.decimal)
                  if a.stray_cells or a.decimal
                  else _numeric(a.source_name, types[a.source_name], source.dialect.decimal)
                  if a.kind == "numeric"
                  else _categorical(a.source_name, a.levels)).alias(a.name)
                 for a in plan.attributes]
        holds = [(F.coalesce(flag(plan.holdings[p], plan.holdings[p].name), F.lit(0.0))
                  if p in plan.holdings else F.lit(0.0)).cast("int").alias(f"holds_{p.lower()}")
                 for p in products]
        labels = [(flag(plan.labels[p], plan.labels[p].name) if p in plan.labels
                   else F.lit(None).cast("double")).alias(f"label_{p.lower()}")
                  for p in products]
        key = key_column(plan)
        as_of = as_of_column(plan, default_as_of, source, types.get(plan.time or ""))
        malformed = (F.col(CORRUPT_RECORD).isNotNull() if CORRUPT_RECORD in df.columns
                     else F.lit(False))
        reject = (F.when(malformed, F.lit("MALFORMED_ROW"))
                  .when(key.isNull() | (key == ""), F.lit("MISSING_KEY"))
                  .when(as_of.isNull(), F.lit("BAD_TIMESTAMP")))
        raw = [F.col(RAW_RECORD)] if RAW_RECORD in df.columns else []
        amount = ([_numeric(plan.amount, types[plan.amount], source.dialect.decimal)
                   .alias(AMOUNT)] if plan.amount else [])
        if source.outcome_column:
            amount.append(F.lower(F.trim(F.col(f"`{source.outcome_column}`").cast("string")))
                          .alias(OUTCOME_VALUE))
        return df.select(as_of.alias(AS_OF), key.alias(KEY), *attrs, *amount, *holds, *labels,
                         split_column(plan, source).alias(SPLIT), reject.alias("_reject"), *raw)
    return transform


def flattened_structs(df: DataFrame) -> DataFrame:
    """``df`` with every nested object (struct) column replaced by its fields, named with the
    path joined by dots (``value.amount``; nested objects again, to any depth); other columns
    (lists included) as they are."""
    def columns(prefix: str, dtype: T.StructType, path: SparkColumn | None
                ) -> list[SparkColumn]:
        out: list[SparkColumn] = []
        for field in dtype.fields:
            name = f"{prefix}.{field.name}" if prefix else field.name
            col = F.col(f"`{field.name}`") if path is None else path.getField(field.name)
            if isinstance(field.dataType, T.StructType):
                out += columns(name, field.dataType, col)
            else:
                out.append(col.alias(name))
        return out
    if not any(isinstance(f.dataType, T.StructType) for f in df.schema.fields):
        return df
    return df.select(*columns("", df.schema, None))


def raw_record(columns: Sequence[str]) -> SparkColumn:
    """The delivered row as JSON (kept for quarantined rows)."""
    return F.to_json(F.struct(*(F.col(f"`{c}`") for c in columns)))


def without_duplicate_keys(df: DataFrame) -> DataFrame:
    """Mark the second and later rows of a (as_of_date, key) as DUPLICATE_KEY rejects."""
    order = Window.partitionBy(AS_OF, KEY).orderBy(F.monotonically_increasing_id())
    first = F.row_number().over(order) == 1
    return df.withColumn("_reject", F.coalesce(F.col("_reject"),
                                               F.when(~first, F.lit("DUPLICATE_KEY"))))


def snapshot_features(conformed: DataFrame, plan: SnapshotPlan,
                      products: Sequence[str]) -> DataFrame:
    """gold.client_features rows of the accepted snapshot rows."""
    return (conformed.filter(F.col("_reject").isNull())
            .select(AS_OF, KEY, *plan.feature_names,
                    *(f"holds_{p.lower()}" for p in products)))


def _most_frequent(name: str) -> SparkColumn:
    """A text column's most frequent known value (ties: the first in sort order); UNKNOWN
    only when no value is known."""
    known = F.when(F.col(name) != F.lit(UNKNOWN), F.col(name))
    return F.coalesce(F.mode(known, True), F.lit(UNKNOWN))


def future_rows_rejected(today: dt.date) -> Callable[[DataFrame], DataFrame]:
    """Factory: conformed transaction rows -> the same, a row dated after ``today`` marked
    FUTURE_DATE (a mistyped year would otherwise move the log's as-of date and every
    client's recency)."""
    def transform(df: DataFrame) -> DataFrame:
        return df.withColumn("_reject", F.coalesce(F.col("_reject"), F.when(
            F.col(AS_OF) > F.lit(today), F.lit("FUTURE_DATE"))))
    return transform


def per_client_from_transactions(plan: SnapshotPlan, as_of: dt.date, products: Sequence[str]
                                 ) -> Callable[[DataFrame], DataFrame]:
    """Factory: accepted rows of a transaction log (conformed: ``as_of_date`` is the day of
    the transaction) -> one row per client at ``as_of`` (the day after the latest transaction),
    in the shape of a client snapshot's conformed rows:

    * the summaries (:data:`SUMMARIES`): transactions, days with one, days since the last and
      since the first, and the amount's total and average per transaction (a missing amount
      counts in neither);
    * each numeric attribute's average over the client's transactions (NULL when it is
      missing on every one), each categorical attribute's most frequent known value (ties:
      the first in sort order; UNKNOWN when none is known);
    * no product held, no label, no split, no reject."""
    day = F.col(AS_OF)
    statistics = {"transactions": F.count(F.lit(1)), "active_days": F.count_distinct(day),
                  "recency_days": F.datediff(F.lit(as_of), F.max(day)),
                  "tenure_days": F.datediff(F.lit(as_of), F.min(day)),
                  "total": F.sum(AMOUNT), "average": F.avg(AMOUNT)}

    def statistic(summary: Summary) -> SparkColumn:
        if summary.statistic.startswith(OF_PRODUCT):
            values = plan.outcome_values[summary.statistic[len(OF_PRODUCT):]]
            return F.count_if(F.col(OUTCOME_VALUE).isin(*values))
        return statistics[summary.statistic]

    def transform(df: DataFrame) -> DataFrame:
        summaries = [statistic(s).cast("double").alias(s.name) for s in plan.summaries]
        attributes = [(F.avg(a.name) if a.kind == "numeric" else _most_frequent(a.name))
                      .alias(a.name) for a in plan.attributes]
        return (df.groupBy(KEY).agg(*summaries, *attributes)
                .select(F.lit(as_of).alias(AS_OF), KEY, *plan.feature_names,
                        *(F.lit(0).alias(f"holds_{p.lower()}") for p in products),
                        *(F.lit(None).cast("double").alias(f"label_{p.lower()}")
                          for p in products),
                        F.lit(None).cast("string").alias(SPLIT),
                        F.lit(None).cast("string").alias("_reject")))
    return transform


def unknown_clients_rejected(known: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Factory: conformed rows of a transaction log delivered beside a client table -> the
    same, a row whose client is not among ``known`` (the table's accepted keys, column
    ``identity_id_hash``) marked UNKNOWN_CLIENT: its features would join no client."""
    keys = known.select(F.col(KEY).alias("_known")).distinct()

    def transform(df: DataFrame) -> DataFrame:
        return (df.join(keys, F.col(KEY) == F.col("_known"), "left")
                .withColumn("_reject", F.coalesce(F.col("_reject"), F.when(
                    F.col("_known").isNull(), F.lit("UNKNOWN_CLIENT"))))
                .drop("_known"))
    return transform


def beside_client_table(table: SnapshotPlan, log: SnapshotPlan) -> SnapshotPlan:
    """``log``'s plan with feature names that differ from the client table's (the table keeps
    its names; a log summary or attribute named like one gets a number)."""
    named = distinct_feature_names([*table.attributes,
                                    *(Attribute(s.statistic, s.name, "numeric")
                                      for s in log.summaries),
                                    *(dataclasses.replace(a, name=safe_name(a.source_name))
                                      for a in log.attributes)])  # named afresh
    summaries = named[len(table.attributes):len(table.attributes) + len(log.summaries)]
    return dataclasses.replace(
        log, attributes=named[len(table.attributes) + len(log.summaries):],
        summaries=tuple(Summary(a.source_name, a.name) for a in summaries))


def with_log_features(transactions: DataFrame, log: SnapshotPlan, dates: Sequence[dt.date]
                      ) -> Callable[[DataFrame], DataFrame]:
    """Factory: conformed client rows -> the same with the per-client features of the accepted
    ``transactions`` of a log (:func:`per_client_from_transactions`), at each row's as-of
    date from the transactions before it. A client without one has 0 transactions, active
    days and total amount, and no value (NULL, imputed by the model) for the rest."""
    zero: dict[str, bool | float | int | str] = {s.name: 0.0 for s in log.summaries
            if s.statistic in ("transactions", "active_days", "total")}

    def transform(clients: DataFrame) -> DataFrame:
        per_date = [transactions.filter(F.col(AS_OF) < F.lit(day))
                    .transform(per_client_from_transactions(log, day, ()))
                    .select(AS_OF, KEY, *log.feature_names) for day in dates]
        features = per_date[0]
        for frame in per_date[1:]:
            features = features.unionByName(frame)
        return (clients.join(features, on=[AS_OF, KEY], how="left")
                .fillna(zero))
    return transform


def outcome_cutoffs(first_day: dt.date, score_date: dt.date, days: int,
                    count: int) -> list[dt.date]:
    """The labelled as-of dates of a transaction log with a buy-again outcome, oldest first:
    ``score_date`` (the day after the latest transaction) minus 1, 2, .. ``count`` times
    ``days``, so that each label window [date, date + days) ends by the next date and the last
    by ``score_date``; only dates with a transaction before them (``first_day`` < date)."""
    cutoffs = [score_date - dt.timedelta(days=k * days) for k in range(count, 0, -1)]
    return [d for d in cutoffs if d > first_day]


def with_bought_again(transactions: DataFrame, product: str, as_of: dt.date, days: int,
                      values: Sequence[str] | None = None) -> Callable[[DataFrame], DataFrame]:
    """Factory: one row per client at ``as_of`` (:func:`per_client_from_transactions`) -> the
    same rows with ``label_<product>`` 1.0 for a client with a transaction of
    ``transactions`` (accepted rows, ``as_of_date`` = the transaction's day) in the ``days``
    from ``as_of`` on, else 0.0; with ``values``, only a transaction whose outcome column
    (``_outcome_value``) holds one of them counts."""
    window = (F.col(AS_OF) >= F.lit(as_of)) & (F.col(AS_OF) < F.lit(as_of + dt.timedelta(days)))
    if values is not None:
        window = window & F.col(OUTCOME_VALUE).isin(*values)
    label = f"label_{product.lower()}"

    def transform(clients: DataFrame) -> DataFrame:
        again = (transactions.filter(window).select(KEY).distinct()
                 .withColumn("_again", F.lit(1.0)))
        return (clients.join(again, on=KEY, how="left")
                .withColumn(label, F.coalesce(F.col("_again"), F.lit(0.0))).drop("_again"))
    return transform


def take_up_from_next_snapshot(products: Collection[str],
                               dates: Sequence[dt.date]) -> Callable[[DataFrame], DataFrame]:
    """Factory: accepted snapshot rows -> the same rows with ``label_<p>`` of each of
    ``products`` read from the client's holdings one snapshot later, for tables that hold
    products month by month but no outcome column (a take-up is a product held at the next
    as-of date and not at this one):

    * ``label_<p>`` = the client's ``holds_<p>`` at the next as-of date of the table
      (``dates``, every accepted as-of date); NULL (unknown: scored, never trained or evaluated
      on) at the latest date and for a client without a row at the next date;
    * ``_next_as_of``: that next date (the label window ends there), NULL at the latest.

    Rows where ``p`` is held already keep their value here; :func:`snapshot_labels` writes no
    label row for them (a client who holds a product is not a target for it)."""
    ordered = sorted(set(dates))
    pairs = [F.lit(day) for pair in zip(ordered, ordered[1:], strict=False) for day in pair]

    def transform(df: DataFrame) -> DataFrame:
        if not products:
            return df
        next_as_of = (F.create_map(*pairs)[F.col(AS_OF)] if pairs
                      else F.lit(None).cast("date"))
        by_client = Window.partitionBy(KEY).orderBy(AS_OF)
        seen_next = F.lead(AS_OF).over(by_client) == F.col(NEXT_AS_OF)
        return (df.withColumn(NEXT_AS_OF, next_as_of)
                .withColumns({f"label_{p.lower()}": F.when(
                    seen_next, F.lead(f"holds_{p.lower()}").over(by_client).cast("double"))
                    for p in products}))
    return transform


def snapshot_labels(conformed: DataFrame, products: Sequence[str],
                    horizon_days: int, derived: Collection[str] = ()) -> DataFrame:
    """gold.labels rows: (client, product) pairs not held, with a known label, and the split.

    ``horizon_days`` is the label window of declared labels; a label of ``derived`` (see
    :func:`take_up_from_next_snapshot`) spans the days to the next as-of date."""
    def horizon(product: str) -> SparkColumn:
        if product in derived:
            return F.datediff(F.col(NEXT_AS_OF), F.col(AS_OF))
        return F.lit(horizon_days)
    if not products:  # segments only: no label row, but the slice is still replaced
        return (conformed.filter(F.lit(False))
                .select(AS_OF, KEY, F.lit(None).cast("string").alias("product_code"),
                        F.lit(None).cast("int").alias("label"),
                        F.lit(None).cast("int").alias("horizon_days"), SPLIT))
    per_product = F.array(*(F.struct(F.lit(p).alias("product_code"),
                                     F.col(f"holds_{p.lower()}").alias("held"),
                                     F.col(f"label_{p.lower()}").alias("label"),
                                     horizon(p).alias("horizon_days"))
                            for p in products))
    return (conformed.filter(F.col("_reject").isNull())
            .select(AS_OF, KEY, SPLIT, F.explode(per_product).alias("_p"))
            .filter((F.col("_p.held") == 0) & F.col("_p.label").isNotNull())
            .select(AS_OF, KEY, F.col("_p.product_code").alias("product_code"),
                    F.col("_p.label").cast("int").alias("label"),
                    F.col("_p.horizon_days").cast("int").alias("horizon_days"), SPLIT))
