"""Checks of a classified delivery that may stop or redo a batch: text that was not UTF-8,
rows broken by line breaks inside quotes, read errors turned into one line."""
from __future__ import annotations

import logging
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segrec_spark.contract import Source
from segrec_spark.ingest.dedup import (
    undecodable_columns,
)
from segrec_spark.ingest.discovery import Delivery
from segrec_spark.ingest.reading import (
    DeliveryReadError,
    csv_options,
    java_cause,
    literal_path,
)
from segrec_spark.ingest.validate import (
    ACCEPTED,
    CORRUPT_RECORD,
    OUTCOME,
    SOURCE_FILE,
)

log = logging.getLogger("segrec_spark.ingest.job")


class _ReadMultiline(Exception):  # noqa: N818 - control flow inside ingest_source
    """CSV files whose rows hold line breaks inside quotes: read them again, multi-line."""

    def __init__(self, paths: frozenset[str]) -> None:
        super().__init__(", ".join(sorted(paths)))
        self.paths = paths


def _check_line_breaks(spark: SparkSession, classified: DataFrame, tally: list[Any],
                       source: Source, deliveries: list[Delivery]) -> None:
    """Raise _ReadMultiline for the CSV files best read multi-line.

    Files are read line by line (splittable, fast) unless ``dialect.multiline``. A line break
    inside a quoted field then cuts the record in two, both halves WRONG_FIELD_COUNT with an odd
    number of quote characters. Such a file is read both ways and kept multi-line when that
    gives more well-formed rows (a stray, unclosed quote read multi-line would swallow the rest
    of the file into one field, so it gives fewer and stays line by line).
    """
    if not any(r[OUTCOME] == "WRONG_FIELD_COUNT" for r in tally):
        return
    quote = source.dialect.quote
    record = F.col(CORRUPT_RECORD)
    odd_quotes = ((F.length(record) - F.length(F.replace(record, F.lit(quote), F.lit("")))) % 2
                  == 1)
    labels = {r[SOURCE_FILE] for r in classified
              .filter((F.col(OUTCOME) == "WRONG_FIELD_COUNT") & odd_quotes)
              .select(SOURCE_FILE).distinct().collect()}
    if not labels:
        return
    options = csv_options(source.dialect)
    better: set[str] = set()
    for d in deliveries:
        for file in d.schemas:
            if (f"{source.name}/{d.name}/{file.relative_name}" not in labels
                    or file.path in d.multiline):
                continue
            names = [n or "_trailing" for n in file.names]
            schema = T.StructType([T.StructField(f"c{i}", T.StringType())
                                   for i in range(len(names))]
                                  + [T.StructField(CORRUPT_RECORD, T.StringType())])

            def good_rows(multiline: bool, path: str = file.path, schema: Any = schema,
                          width: int = len(names)) -> int:
                df = (spark.read.schema(schema)
                      .options(**{**options, "multiLine": str(multiline).lower()})
                      .option("mode", "PERMISSIVE")
                      .option("columnNameOfCorruptRecord", CORRUPT_RECORD)
                      .csv(literal_path(path)))
                # every column is used, so none is pruned and wrong field counts stay flagged
                fields = [F.col(f"c{i}") for i in range(width)]
                row = df.agg(F.count_if(F.col(CORRUPT_RECORD).isNull()).alias("good"),
                             F.max(F.xxhash64(*fields)).alias("any")).first()
                return int(row["good"]) if row is not None else 0

            if good_rows(True) > good_rows(False):
                log.info("%s: line breaks inside quoted fields; read multi-line", file.path)
                better.add(file.path)
    if better:
        raise _ReadMultiline(frozenset(better))


def _read_error(exc: BaseException, source: Source, deliveries: list[Delivery]) -> BaseException:
    """A DeliveryReadError naming the landing file that Spark failed to read (a truncated or
    corrupt file), or ``exc`` itself when the failure names none of the batch's files."""
    message = str(exc)
    for d in deliveries:
        for file in d.schemas:
            name = file.path.rsplit("/", 1)[-1]
            if f"/{d.name}/{name}" in message:
                return DeliveryReadError(
                    f"{file.path}: cannot be read to its end ({java_cause(exc)}); the file is "
                    f"truncated or corrupt. Source {source.name} stopped at delivery {d.name}: "
                    "nothing of it or later deliveries written", d.name)
    return exc


def _check_utf8(classified: DataFrame, tally: list[Any], source: Source,
                deliveries: list[Delivery], kept_extras: tuple[str, ...]) -> None:
    """Raise DeliveryReadError for the first delivery whose accepted rows hold text that was not
    UTF-8 (decoded to U+FFFD): bronze never keeps text whose bytes were lost on the way in.

    A rejected row keeps its reason (bad bytes in a key are a MALFORMED_KEY) and goes to
    quarantine as read. The message names files and columns, never the rows' contents.
    """
    bad = {r["_delivery"] for r in tally if r[OUTCOME] == ACCEPTED and r["undecodable"]}
    for d in deliveries:
        if d.name not in bad:
            continue
        mine = classified.filter((F.col("_delivery") == d.name) & (F.col(OUTCOME) == ACCEPTED))
        found = undecodable_columns(mine, [*source.column_names, *kept_extras]).collect()
        where = "; ".join(
            f"{r[SOURCE_FILE]}: {r['rows']} row(s), column(s) {', '.join(r['columns'])}"
            for r in sorted(found, key=lambda r: r[SOURCE_FILE]))
        enc = source.dialect.encoding
        raise DeliveryReadError(
            f"{d.folder}: text that is not {enc} (bytes lost in decoding) in {where}. The "
            f"{source.name} contract is {enc} (dialect.encoding): re-export the file(s) as {enc} "
            f"(`iconv -f {enc} -t {enc} FILE` shows the first bad byte). Source "
            f"{source.name} stopped at delivery {d.name}: nothing of it or later deliveries "
            "written", d.name)
