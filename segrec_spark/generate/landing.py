"""From typed source rows to the landing text a bank's export would deliver, with planted dirt.

Every landing column is text: timestamps ``yyyy-MM-dd HH:mm:ss``, dates ``yyyy-MM-dd``, numbers
with a decimal point, lists joined with ``|``; an empty field is a missing value. No field ever
contains a comma, a double quote or a line break, so CSV fields are never quoted.

Dirt: each row independently gets at most one kind of dirt (column ``_dirt``), drawn from a hash
of (seed, source, row id) with the configured per-kind rates; kinds that do not apply to a
source (BAD_NUMBER without numeric columns, WRONG_FIELD_COUNT for Parquet) are not drawn there.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segrec_spark.generate.randomness import uniform
from segrec_spark.sources import DATE_FORMAT, LIST_SEPARATOR, SOURCES, TIMESTAMP_FORMAT, Source

OUT_OF_PERIOD_SHIFT_DAYS = (-400, 200)  # far outside any delivery period and its tolerance


def applicable_dirt(source: Source, rates: Mapping[str, float]) -> dict[str, float]:
    """The kinds of dirt that can be planted in ``source`` (in a fixed order) and their rates."""
    has_number = any(c.kind in ("int", "double") for c in source.columns)
    has_category = any(c.kind == "category" for c in source.columns)
    applicable = {
        "DUPLICATE": True,
        "MISSING_KEY": True,
        "MALFORMED_KEY": True,
        "BAD_TIMESTAMP": True,
        "OUT_OF_PERIOD": True,
        "BAD_NUMBER": has_number,
        "UNKNOWN_CATEGORY": has_category,
        "WRONG_FIELD_COUNT": source.format == "csv",
    }
    return {kind: rates.get(kind, 0.0) for kind, ok in applicable.items() if ok and rates.get(kind, 0.0) > 0}


def _row_key(source: Source) -> Column:
    return F.col(source.id_column or source.column_names[0])


def with_dirt_kind(seed: int, source_name: str, rates: Mapping[str, float]):
    """Factory: adds ``_dirt`` (a kind of dirt or null) drawn per row from the rates."""
    source = SOURCES[source_name]
    kinds = applicable_dirt(source, rates)

    def transform(df: DataFrame) -> DataFrame:
        u = F.col("_u_dirt")
        kind = F.lit(None).cast("string")
        cumulative = 0.0
        chain = None
        for name, rate in kinds.items():
            cumulative += rate
            chain = (F.when(u < F.lit(cumulative), F.lit(name)) if chain is None
                     else chain.when(u < F.lit(cumulative), F.lit(name)))
        with_u = df.select("*", uniform(seed, "dirt", source_name, _row_key(source)).alias("_u_dirt"))
        return with_u.select(*df.columns, (kind if chain is None else chain).alias("_dirt"))

    return transform


def _is(kind: str) -> Column:
    return F.col("_dirt").eqNullSafe(F.lit(kind))


def with_out_of_period_times(seed: int, source_name: str):
    """Factory: moves the time column of OUT_OF_PERIOD rows far outside the delivery's period."""
    source = SOURCES[source_name]
    column = source.time_column

    def transform(df: DataFrame) -> DataFrame:
        backwards = uniform(seed, "oop_direction", _row_key(source)) < 0.5
        days = F.when(backwards, F.lit(OUT_OF_PERIOD_SHIFT_DAYS[0])).otherwise(F.lit(OUT_OF_PERIOD_SHIFT_DAYS[1]))
        if source.column(column).kind == "date":
            shifted = F.date_add(F.col(column), days)
        else:
            shifted = F.col(column) + F.make_dt_interval(days)
        return df.withColumn(column, F.when(_is("OUT_OF_PERIOD"), shifted).otherwise(F.col(column)))

    return transform


def _as_text(kind: str, column: Column) -> Column:
    if kind == "timestamp":
        return F.date_format(column, TIMESTAMP_FORMAT)
    if kind == "date":
        return F.date_format(column, DATE_FORMAT)
    if kind == "double":
        # via decimal: never scientific notation, never locale-dependent
        return column.cast("decimal(18,2)").cast("string")
    if kind == "list":
        return F.array_join(column, LIST_SEPARATOR)
    return column.cast("string")


def to_landing_text(source_name: str):
    """Factory: typed source rows -> the source's columns as text (plus the helper columns)."""
    source = SOURCES[source_name]

    def transform(df: DataFrame) -> DataFrame:
        helpers = [c for c in df.columns if c.startswith("_") or c == "client_id"]
        return df.select(*[_as_text(c.kind, F.col(c.name)).alias(c.name) for c in source.columns], *helpers)

    return transform


def with_corrupted_values(seed: int, source_name: str):
    """Factory: applies the value-level dirt of each row's ``_dirt`` kind to the text columns."""
    source = SOURCES[source_name]
    time_col = source.time_column
    time_kind = source.column(time_col).kind
    numbers = [c.name for c in source.columns if c.kind in ("int", "double")]
    categories = [c.name for c in source.columns if c.kind == "category"]

    def transform(df: DataFrame) -> DataFrame:
        key = _row_key(source)
        variant = F.col("_variant")
        which = F.col("_which")
        replacements: dict[str, Column] = {}
        # missing key: empty; on web also no cookie, so the row cannot be attributed at all
        key_col = F.col("identity_id_hash")
        malformed = (F.when(key_col.isNull(), F.lit("anonymous"))
                     .when(variant < 0.5, F.substring(key_col, 1, 40))
                     .otherwise(F.upper(key_col)))
        replacements["identity_id_hash"] = (F.when(_is("MISSING_KEY"), F.lit(None).cast("string"))
                                            .when(_is("MALFORMED_KEY"), malformed).otherwise(key_col))
        if "user_id" in source.column_names:
            replacements["user_id"] = F.when(_is("MISSING_KEY"), F.lit(None).cast("string")).otherwise(F.col("user_id"))
        if time_kind == "date":
            bad_time = F.when(variant < 0.5, F.lit("2026-02-30")).otherwise(
                F.date_format(F.to_date(F.col(time_col)), "dd.MM.yyyy"))
        else:
            bad_time = F.when(variant < 0.5, F.lit("2026-13-45 25:61:00")).otherwise(
                F.date_format(F.to_timestamp(F.col(time_col)), "dd.MM.yyyy HH:mm"))
        replacements[time_col] = F.when(_is("BAD_TIMESTAMP"), bad_time).otherwise(F.col(time_col))
        bad_number = F.when(variant < 0.5, F.lit("1.2.3")).otherwise(F.lit("abc"))
        for i, name in enumerate(numbers):
            hit = _is("BAD_NUMBER") & (F.pmod(which, F.lit(len(numbers))) == i)
            replacements[name] = F.when(hit, bad_number).otherwise(F.col(name))
        for i, name in enumerate(categories):
            hit = _is("UNKNOWN_CATEGORY") & (F.pmod(which, F.lit(len(categories))) == i)
            replacements[name] = F.when(hit, F.concat(F.lit("LEGACY_"), F.col(name))).otherwise(F.col(name))
        helpers = df.select("*", uniform(seed, "dirt_variant", source_name, key).alias("_variant"),
                            F.floor(uniform(seed, "dirt_column", source_name, key) * 1000).alias("_which"))
        return helpers.select(*[replacements.get(c, F.col(c)).alias(c) for c in df.columns])

    return transform


def with_duplicates(df: DataFrame) -> DataFrame:
    """DUPLICATE rows are delivered twice (``_copy`` 0 and 1), exactly identical."""
    copies = F.when(_is("DUPLICATE"), F.array(F.lit(0), F.lit(1))).otherwise(F.array(F.lit(0)))
    return df.select("*", F.explode(copies).alias("_copy"))


def csv_header(source_name: str) -> str:
    return ",".join(SOURCES[source_name].column_names)


def with_csv_line(seed: int, source_name: str):
    """Factory: adds ``_line``, the CSV text of the row (WRONG_FIELD_COUNT rows lose their last
    field or gain an extra one)."""
    source = SOURCES[source_name]

    def transform(df: DataFrame) -> DataFrame:
        fields = [F.coalesce(F.col(c), F.lit("")) for c in source.column_names]
        fewer = uniform(seed, "field_count", source_name, _row_key(source)) < 0.5
        line = (F.when(_is("WRONG_FIELD_COUNT") & fewer, F.concat_ws(",", *fields[:-1]))
                .when(_is("WRONG_FIELD_COUNT"), F.concat_ws(",", *fields, F.lit("EXTRA")))
                .otherwise(F.concat_ws(",", *fields)))
        return df.withColumn("_line", line)

    return transform


def to_landing(seed: int, source_name: str, rates: Mapping[str, float]):
    """Factory: typed source rows -> landing text rows with dirt, ``_dirt`` and ``_copy``."""

    def transform(df: DataFrame) -> DataFrame:
        out = (df.transform(with_dirt_kind(seed, source_name, rates))
               .transform(with_out_of_period_times(seed, source_name))
               .transform(to_landing_text(source_name))
               .transform(with_corrupted_values(seed, source_name))
               .transform(with_duplicates))
        if SOURCES[source_name].format == "csv":
            out = out.transform(with_csv_line(seed, source_name))
        return out

    return transform


def manifest_metrics(source_name: str, deliveries: Sequence[str], kinds: Sequence[str]) -> list[Column]:
    """Aggregates for an Observation: rows per delivery and planted rows per delivery and kind.

    A duplicated row counts once (its extra copy)."""
    metrics = []
    for d in deliveries:
        in_delivery = F.col("_delivery") == F.lit(d)
        metrics.append(F.sum(F.when(in_delivery, 1).otherwise(0)).alias(f"rows|{d}"))
        for kind in kinds:
            planted = in_delivery & _is(kind) & ((F.col("_copy") == 1) | F.lit(kind != "DUPLICATE"))
            metrics.append(F.sum(F.when(planted, 1).otherwise(0)).alias(f"{kind}|{d}"))
    return metrics
