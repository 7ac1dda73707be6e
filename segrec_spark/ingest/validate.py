"""Row validation, deduplication and typing of one landing delivery (pure DataFrame functions).

A delivery is first read as text: one string column per contract column, plus
``_corrupt_record`` (the raw CSV line when Spark found the wrong number of fields, else null),
``_raw_record`` (the record as delivered: CSV line or JSON of the Parquet row) and
``_source_file``. The functions here then

1. hash the record and flag text that was not UTF-8 (:mod:`segrec_spark.ingest.dedup`),
2. give every row at most one reject reason, the first failing rule in :data:`RULE_ORDER`
   (:func:`flag_rejects`),
3. mark exact duplicates and conflicting versions, and settle one outcome per row
   (:mod:`segrec_spark.ingest.dedup`), so rows read = accepted + quarantined + duplicates by
   construction,
4. cast accepted rows to the typed bronze schema (:func:`typed_bronze`) and shape rejected rows
   for the quarantine table (:func:`quarantine_records`).
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import or_

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segrec_spark.contract import UNKNOWN, Column, Contract, Source
from segrec_spark.decimals import with_decimal_point
from segrec_spark.errors import InputDataError
from segrec_spark.ingest.settings import IngestSettings

CORRUPT_RECORD = "_corrupt_record"
RAW_RECORD = "_raw_record"
SOURCE_FILE = "_source_file"
LINE_ORDER = "_line"  # (file block start, read position): a row's place in its file
ROW_HASH = "_row_hash"
REJECT_REASON = "_reject_reason"
IS_DUPLICATE = "_is_duplicate"
UNDECODABLE = "_undecodable"
REPLACEMENT_CHAR = "\ufffd"  # what the UTF-8 decoder puts in place of bytes that are not UTF-8
OUTCOME = "_outcome"
DUPLICATE = "DUPLICATE"
ACCEPTED = "ACCEPTED"
BOOLEAN_TRUE = ("true", "1", "yes")  # compared without letter case and surrounding blanks
BOOLEAN_FALSE = ("false", "0", "no")

# One reason per row: the first rule that fails, in this order.
NUMBER_TYPES = ("int", "long", "double", "boolean")  # their parse failures are BAD_NUMBER
RULE_ORDER: tuple[str, ...] = ("WRONG_FIELD_COUNT", "MISSING_KEY", "MALFORMED_KEY",
                               "BAD_TIMESTAMP", "OUT_OF_PERIOD", "BAD_NUMBER",
                               "UNKNOWN_CATEGORY")

_DELIVERY = re.compile(r"^(\d{4})-(\d{2})$")
# A number as a bank's export writes it: optional sign, digits with an optional decimal point,
# optional exponent. Anything else (NaN, Infinity, 0x1p3, 12d, 1_000, 1,5) is not a number,
# although Spark's cast accepts some of it (Java literal syntax).
DECIMAL_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


# --- the delivery's period ----------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """A delivery month [start, end) widened by ``tolerance_days`` on both sides."""

    start: dt.date
    end: dt.date  # first day of the next month (exclusive)
    tolerance_days: int = 0

    @property
    def lower(self) -> dt.date:
        return self.start - dt.timedelta(days=self.tolerance_days)

    @property
    def upper(self) -> dt.date:  # exclusive
        return self.end + dt.timedelta(days=self.tolerance_days)


def is_delivery_name(name: str) -> bool:
    match = _DELIVERY.match(name)
    return match is not None and 1 <= int(match.group(2)) <= 12


def delivery_period(delivery: str, tolerance_days: int = 0) -> Period:
    """The period of delivery folder ``YYYY-MM``: that month, widened by the tolerance."""
    if not is_delivery_name(delivery):
        raise InputDataError(f"delivery folder {delivery!r}: expected a month YYYY-MM")
    year, month = int(delivery[:4]), int(delivery[5:7])
    start = dt.date(year, month, 1)
    end = dt.date(year + month // 12, month % 12 + 1, 1)
    return Period(start, end, tolerance_days)


# --- column expressions ----------------------------------------------------------------------

def is_empty(name: str) -> SparkColumn:
    return F.col(name).isNull() | (F.trim(F.col(name)) == "")


def _parsed_boolean(value: SparkColumn) -> SparkColumn:
    text = F.lower(F.trim(value))
    return (F.when(text.isin(*BOOLEAN_TRUE), F.lit(True))
            .when(text.isin(*BOOLEAN_FALSE), F.lit(False))
            .otherwise(F.lit(None).cast("boolean")))


def local_time(source: Source, column: Column) -> SparkColumn:
    """A timestamp/date column parsed with the source's dialect, as the wall-clock time it was
    delivered in (``dialect.time_zone``); null when it does not parse."""
    value = F.col(column.name)
    if column.type == "timestamp":
        return F.try_to_timestamp(value, F.lit(source.dialect.timestamp_format))
    if column.type == "date":
        return F.to_date(F.try_to_timestamp(value, F.lit(source.dialect.date_format)))
    raise ValueError(f"column {column.name} of type {column.type} is not a time")


def parsed(source: Source, column: Column) -> SparkColumn:
    """The typed value of a timestamp/date/int/long/double/boolean column, null when it does not
    parse. Timestamps are converted from ``dialect.time_zone`` to UTC."""
    value = F.col(column.name)
    if column.type == "timestamp":
        local = local_time(source, column)
        zone = source.dialect.time_zone
        return local if zone.upper() in ("UTC", "Z", "GMT") else F.to_utc_timestamp(local, zone)
    if column.type == "date":
        return local_time(source, column)
    if column.type in ("int", "long", "double"):
        text = with_decimal_point(F.trim(value), source.dialect.decimal)
        number = text.try_cast(column.bronze_type)
        if column.type == "double":  # 1e309 overflows to Infinity: not a finite number either
            number = F.when(~F.isnan(number) & (F.abs(number) != F.lit(float("inf"))), number)
        return F.when(text.rlike(DECIMAL_NUMBER), number)
    if column.type == "boolean":
        return _parsed_boolean(value)
    raise ValueError(f"column {column.name} of type {column.type} has no parsed value")


def list_items(source: Source, name: str) -> SparkColumn:
    """A ``dialect.list_separator``-separated list as an array; empty or null: an empty array."""
    return F.when(is_empty(name), F.array().cast("array<string>")).otherwise(
        F.split(F.col(name), re.escape(source.dialect.list_separator)))


def _unparseable(source: Source, column: Column) -> SparkColumn:
    empty = is_empty(column.name)
    not_parsing = ~empty & parsed(source, column).isNull()
    return not_parsing | empty if not column.nullable else not_parsing


def _unknown_value(contract: Contract, source: Source, column: Column) -> SparkColumn:
    """A categorical value outside its value set (an empty value counts when not nullable).
    A column without a value set accepts any value."""
    values = contract.values_of(source, column)
    if not values:
        return F.lit(False)
    if column.type == "list":
        return F.exists(list_items(source, column.name), lambda item: ~item.isin(*values))
    empty = is_empty(column.name)
    outside = ~empty & ~F.col(column.name).isin(*values)
    return outside if column.nullable else outside | empty


def any_of(conditions: list[SparkColumn]) -> SparkColumn:
    return reduce(or_, conditions, F.lit(False))


def _columns_of(source: Source, *types: str) -> list[Column]:
    return [c for c in source.columns if c.type in types]


def _key_rules(contract: Contract, source: Source) -> tuple[SparkColumn, SparkColumn]:
    """(MISSING_KEY, MALFORMED_KEY) conditions. A row without key but with a cookie (a column of
    role ``cookie``) is an anonymous visitor, not a reject; a row without its natural id is."""
    key = source.key_column
    cookie = source.role_column("cookie")
    key_empty = is_empty(key) if key else F.lit(True)
    key_missing = key_empty & is_empty(cookie) if cookie else key_empty
    if source.id_column and source.id_column != key:
        key_missing = key_missing | is_empty(source.id_column)
    key_malformed = (~key_empty & ~F.col(key).rlike(contract.key.pattern) if key
                     else F.lit(False))
    return key_missing, key_malformed


def rule_conditions(contract: Contract, source: Source, period: Period,
                    settings: IngestSettings) -> dict[str, SparkColumn]:
    """Each reject reason's condition for ``source``, as named boolean column expressions."""
    has_wrong_field_count = F.col(CORRUPT_RECORD).isNotNull()
    key_missing, key_malformed = _key_rules(contract, source)
    out_of_period = F.lit(False)  # a source without a time column (e.g. clients) has no period
    if source.role_column("time") is not None:
        time_column = source.column(source.time_column)
        time_value = local_time(source, time_column)  # the delivery's month is the bank's month
        if time_column.type == "date":
            lower, upper = F.lit(period.lower), F.lit(period.upper)
        else:
            lower = F.lit(dt.datetime.combine(period.lower, dt.time()))
            upper = F.lit(dt.datetime.combine(period.upper, dt.time()))
        out_of_period = (time_value < lower) | (time_value >= upper)
    unknown_category = any_of([_unknown_value(contract, source, c)
                             for c in _columns_of(source, "category", "list")])
    conditions = {
        "WRONG_FIELD_COUNT": has_wrong_field_count,
        "MISSING_KEY": key_missing,
        "MALFORMED_KEY": key_malformed,
        "BAD_TIMESTAMP": any_of([_unparseable(source, c)
                               for c in _columns_of(source, "timestamp", "date")]),
        "OUT_OF_PERIOD": out_of_period,
        # numbers and booleans (true/false/1/0/yes/no, any letter case) that do not parse
        "BAD_NUMBER": any_of([_unparseable(source, c)
                            for c in _columns_of(source, *NUMBER_TYPES)]),
    }
    if settings.unknown_category == "reject":
        conditions["UNKNOWN_CATEGORY"] = unknown_category
    return conditions


def flag_rejects(contract: Contract, source: Source, period: Period, settings: IngestSettings
                 ) -> Callable[[DataFrame], DataFrame]:
    """Add ``_reject_reason``: the first failing rule of :data:`RULE_ORDER`, null if none."""
    conditions = rule_conditions(contract, source, period, settings)

    def transform(df: DataFrame) -> DataFrame:
        reason = F.lit(None).cast("string")
        for name in reversed(RULE_ORDER):
            if name in conditions:
                reason = F.when(conditions[name], F.lit(name)).otherwise(reason)
        return df.withColumn(REJECT_REASON, reason)

    return transform


# --- outputs ----------------------------------------------------------------------------------

def _typed(contract: Contract, source: Source, column: Column) -> SparkColumn:
    name = column.name
    if column.type in ("timestamp", "date", "int", "long", "double", "boolean"):
        return parsed(source, column)
    values = contract.values_of(source, column)
    if column.type == "category":
        value = (F.when(F.col(name).isin(*values), F.col(name)).otherwise(F.lit(UNKNOWN))
                 if values else F.col(name))
        return F.when(is_empty(name), F.lit(None if column.nullable else UNKNOWN)).otherwise(value)
    if column.type == "list":
        items = list_items(source, name)
        if not values:
            return items
        return F.transform(items, lambda item: F.when(item.isin(*values), item)
                           .otherwise(F.lit(UNKNOWN)))
    return F.when(is_empty(name), F.lit(None).cast("string")).otherwise(F.col(name))


def typed_bronze(contract: Contract, source: Source, extra_columns: tuple[str, ...] = ()
                 ) -> Callable[[DataFrame], DataFrame]:
    """Accepted rows in the bronze schema: typed contract columns (named as delivered), kept extra
    columns, then the metadata columns. Expects ``_delivery``, ``_batch_id``, ``_source_file``,
    ``_row_hash`` and ``_ingested_at`` on the input. Unknown category values become ``UNKNOWN``
    and set ``_has_unknown_category``. ``event_date`` is the (UTC) date of the time column, or the
    delivery month's first day for a source without one."""
    categorical = _columns_of(source, "category", "list")

    def transform(df: DataFrame) -> DataFrame:
        data = [_typed(contract, source, c).cast(c.bronze_type).alias(c.name)
                for c in source.columns]
        has_unknown = any_of([_unknown_value(contract, source, c) for c in categorical])
        event_date = (F.to_date(parsed(source, source.column(source.time_column)))
                      if source.role_column("time") is not None
                      else F.to_date(F.concat(F.col("_delivery"), F.lit("-01"))))
        return df.select(
            *data,
            *[F.col(c) for c in extra_columns],
            F.col("_delivery"),
            F.col("_batch_id"),
            F.col(SOURCE_FILE),
            F.col(ROW_HASH),
            has_unknown.alias("_has_unknown_category"),
            F.col("_ingested_at"),
            event_date.alias("event_date"),
        )

    return transform


def quarantine_records(source: str, delivery: str, batch_id: str, quarantined_at: dt.datetime
                       ) -> Callable[[DataFrame], DataFrame]:
    """Rejected rows in the quarantine schema (source, batch, raw record and reason)."""

    def transform(df: DataFrame) -> DataFrame:
        return df.select(
            F.lit(source).alias("source"),
            F.lit(delivery).alias("delivery"),
            F.lit(batch_id).alias("batch_id"),
            F.col(SOURCE_FILE).alias("source_file"),
            F.col(REJECT_REASON).alias("reason"),
            F.col(RAW_RECORD).alias("raw_record"),
            F.col(ROW_HASH).alias("row_hash"),
            F.lit(quarantined_at).alias("quarantined_at"),
        )

    return transform
