"""From typed source rows to the landing text a bank's export would deliver, with planted dirt.

Every landing column is text, written as the contract's source declares it (``source.dialect``):
timestamps in ``timestamp_format`` (wall-clock time in ``time_zone``), dates in ``date_format``,
numbers with a decimal point, lists joined with ``list_separator``, CSV fields separated by
``delimiter``; an empty field is a missing value. No generated field ever contains a delimiter,
a quote or a line break, so CSV fields are never quoted.

Dirt: each row independently gets at most one kind of dirt (column ``_dirt``), drawn from a hash
of (seed, source, row id) with the configured per-kind rates; kinds that do not apply to a
source (BAD_NUMBER without numeric columns, WRONG_FIELD_COUNT for Parquet) are not drawn there.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segrec_spark.contract import Dialect, Source
from segrec_spark.generate.randomness import uniform

OUT_OF_PERIOD_SHIFT_DAYS = (-400, 200)  # far outside any delivery period and its tolerance


def applicable_dirt(source: Source, rates: Mapping[str, float]) -> dict[str, float]:
    """The kinds of dirt that can be planted in ``source`` (in a fixed order) and their rates."""
    has_number = any(c.type in ("int", "long", "double") for c in source.columns)
    has_category = any(c.type == "category" for c in source.columns)
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
    return {kind: rates.get(kind, 0.0) for kind, ok in applicable.items()
            if ok and rates.get(kind, 0.0) > 0}


def _row_key(source: Source) -> Column:
    return F.col(source.id_column or source.column_names[0])


def with_dirt_kind(seed: int, source: Source, rates: Mapping[str, float]):
    """Factory: adds ``_dirt`` (a kind of dirt or null) drawn per row from the rates."""
    source_name = source.name
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
        with_u = df.select("*",
                           uniform(seed, "dirt", source_name, _row_key(source)).alias("_u_dirt"))
        return with_u.select(*df.columns, (kind if chain is None else chain).alias("_dirt"))

    return transform


def _is(kind: str) -> Column:
    return F.col("_dirt").eqNullSafe(F.lit(kind))


def with_out_of_period_times(seed: int, source: Source):
    """Factory: moves the time column of OUT_OF_PERIOD rows far outside the delivery's period."""
    column = source.time_column

    def transform(df: DataFrame) -> DataFrame:
        backwards = uniform(seed, "oop_direction", _row_key(source)) < 0.5
        days = (F.when(backwards, F.lit(OUT_OF_PERIOD_SHIFT_DAYS[0]))
                .otherwise(F.lit(OUT_OF_PERIOD_SHIFT_DAYS[1])))
        if source.column(column).type == "date":
            shifted = F.date_add(F.col(column), days)
        else:
            shifted = F.col(column) + F.make_dt_interval(days)
        return df.withColumn(column, F.when(_is("OUT_OF_PERIOD"), shifted).otherwise(F.col(column)))

    return transform


def _is_utc(zone: str) -> bool:
    return zone.upper() in ("UTC", "Z", "GMT")


_DEFAULT_DIALECT = Dialect()  # frozen: one shared default is safe


def _as_text(kind: str, column: Column, dialect: Dialect = _DEFAULT_DIALECT) -> Column:
    if kind == "timestamp":
        local = column if _is_utc(dialect.time_zone) else F.from_utc_timestamp(column,
                                                                                dialect.time_zone)
        return F.date_format(local, dialect.timestamp_format)
    if kind == "date":
        return F.date_format(column, dialect.date_format)
    if kind == "double":
        # via decimal: never scientific notation, never locale-dependent
        return column.cast("decimal(18,2)").cast("string")
    if kind == "list":
        return F.array_join(column, dialect.list_separator)
    if kind == "boolean":
        return F.when(column, F.lit("true")).when(~column, F.lit("false"))
    return column.cast("string")


def to_landing_text(source: Source):
    """Factory: typed source rows -> the source's columns as text (plus the helper columns)."""

    def transform(df: DataFrame) -> DataFrame:
        helpers = [c for c in df.columns if c.startswith("_") or c == "client_id"]
        return df.select(*[_as_text(c.type, F.col(c.name), source.dialect).alias(c.name)
                           for c in source.columns], *helpers)

    return transform


def with_corrupted_values(seed: int, source: Source):
    """Factory: applies the value-level dirt of each row's ``_dirt`` kind to the text columns."""
    source_name = source.name
    time_col = source.time_column
    time_kind = source.column(time_col).type
    numbers = [c.name for c in source.columns if c.type in ("int", "long", "double")]
    categories = [c.name for c in source.columns if c.type == "category"]
    key_name = source.key_column
    cookie = source.role_column("cookie")
    # a bad timestamp: impossible values, or another layout than the dialect's
    other_ts = "dd.MM.yyyy HH:mm" if source.dialect.timestamp_format != "dd.MM.yyyy HH:mm" \
        else "yyyy-MM-dd'T'HH:mm:ss"
    other_date = "dd.MM.yyyy" if source.dialect.date_format != "dd.MM.yyyy" else "yyyy/MM/dd"

    def transform(df: DataFrame) -> DataFrame:
        key = _row_key(source)
        variant = F.col("_variant")
        which = F.col("_which")
        replacements: dict[str, Column] = {}
        # missing key: empty; with a cookie column also no cookie, so the row cannot be
        # attributed at all
        if key_name:
            key_col = F.col(key_name)
            malformed = (F.when(key_col.isNull(), F.lit("anonymous"))
                         .when(variant < 0.5, F.substring(key_col, 1, 40))
                         .otherwise(F.upper(key_col)))
            replacements[key_name] = (F.when(_is("MISSING_KEY"), F.lit(None).cast("string"))
                                      .when(_is("MALFORMED_KEY"), malformed).otherwise(key_col))
        if cookie:
            replacements[cookie] = (F.when(_is("MISSING_KEY"), F.lit(None).cast("string"))
                                    .otherwise(F.col(cookie)))
        dialect = source.dialect
        if time_kind == "date":
            bad_time = F.when(variant < 0.5, F.lit("2026-02-30")).otherwise(
                F.date_format(F.to_date(F.col(time_col), dialect.date_format), other_date))
        else:
            bad_time = F.when(variant < 0.5, F.lit("2026-13-45 25:61:00")).otherwise(
                F.date_format(F.to_timestamp(F.col(time_col), dialect.timestamp_format),
                              other_ts))
        replacements[time_col] = F.when(_is("BAD_TIMESTAMP"), bad_time).otherwise(F.col(time_col))
        bad_number = F.when(variant < 0.5, F.lit("1.2.3")).otherwise(F.lit("abc"))
        for i, name in enumerate(numbers):
            hit = _is("BAD_NUMBER") & (F.pmod(which, F.lit(len(numbers))) == i)
            replacements[name] = F.when(hit, bad_number).otherwise(F.col(name))
        for i, name in enumerate(categories):
            hit = _is("UNKNOWN_CATEGORY") & (F.pmod(which, F.lit(len(categories))) == i)
            replacements[name] = (F.when(hit, F.concat(F.lit("LEGACY_"), F.col(name)))
                                  .otherwise(F.col(name)))
        helpers = df.select("*", uniform(seed, "dirt_variant", source_name, key).alias("_variant"),
                            F.floor(uniform(seed, "dirt_column", source_name, key) * 1000)
                            .alias("_which"))
        return helpers.select(*[replacements.get(c, F.col(c)).alias(c) for c in df.columns])

    return transform


def with_duplicates(df: DataFrame) -> DataFrame:
    """DUPLICATE rows are delivered twice (``_copy`` 0 and 1), exactly identical."""
    copies = F.when(_is("DUPLICATE"), F.array(F.lit(0), F.lit(1))).otherwise(F.array(F.lit(0)))
    return df.select("*", F.explode(copies).alias("_copy"))


def csv_header(source: Source) -> str:
    return source.dialect.delimiter.join(source.column_names)


def with_csv_line(seed: int, source: Source):
    """Factory: adds ``_line``, the CSV text of the row (WRONG_FIELD_COUNT rows lose their last
    field or gain an extra one)."""
    sep = source.dialect.delimiter

    def transform(df: DataFrame) -> DataFrame:
        fields = [F.coalesce(F.col(c), F.lit("")) for c in source.column_names]
        fewer = uniform(seed, "field_count", source.name, _row_key(source)) < 0.5
        line = (F.when(_is("WRONG_FIELD_COUNT") & fewer, F.concat_ws(sep, *fields[:-1]))
                .when(_is("WRONG_FIELD_COUNT"), F.concat_ws(sep, *fields, F.lit("EXTRA")))
                .otherwise(F.concat_ws(sep, *fields)))
        return df.withColumn("_line", line)

    return transform


def to_landing(seed: int, source: Source, rates: Mapping[str, float]):
    """Factory: typed source rows -> landing text rows with dirt, ``_dirt`` and ``_copy``."""

    def transform(df: DataFrame) -> DataFrame:
        out = (df.transform(with_dirt_kind(seed, source, rates))
               .transform(with_out_of_period_times(seed, source))
               .transform(to_landing_text(source))
               .transform(with_corrupted_values(seed, source))
               .transform(with_duplicates))
        if source.format == "csv":
            out = out.transform(with_csv_line(seed, source))
        return out

    return transform


def manifest_metrics(source_name: str, deliveries: Sequence[str],
                     kinds: Sequence[str]) -> list[Column]:
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
