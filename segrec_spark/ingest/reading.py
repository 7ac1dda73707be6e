"""Reading one source's delivery files as text, with the contract's dialect (I/O only).

Every reader returns the same frame: the file's columns as text, ``_corrupt_record`` (the raw
CSV line when Spark found the wrong number of fields, else null), ``_raw_record`` (the record as
delivered: CSV line, or JSON of a Parquet/Delta row) and ``_source_file``; :func:`landing_frame`
then puts it in the contract's column order. CSV files are read with ``source.dialect``
(delimiter, quote, escape, encoding, header, multi-line fields); Parquet files carry text columns;
a Delta delivery is a Delta table whose columns are cast to text (timestamps and dates rendered
with the dialect's formats), so every format is validated by the same rules.
"""
from __future__ import annotations

import csv
import re
from typing import Any

from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segrec_spark.contract import Dialect, Source
from segrec_spark.errors import InputDataError, SchemaMismatchError
from segrec_spark.ingest.schema import FileSchema, header_problem
from segrec_spark.ingest.validate import CORRUPT_RECORD, LINE_ORDER, RAW_RECORD, SOURCE_FILE
from segrec_spark.tables import jvm as driver_jvm


class DeliveryReadError(SchemaMismatchError):
    """A delivery's file broke the contract in a way only reading it shows (a truncated or corrupt
    compressed file, text that is not in the contract's encoding). Raised before anything of the
    batch is written."""

    def __init__(self, message: str, delivery: str) -> None:
        super().__init__(message)
        self.delivery = delivery


def java_cause(exc: BaseException) -> str:
    """The innermost cause of a Spark/Py4J error as one line (``EOFException: Unexpected end of
    input stream``), instead of the whole Java stack trace."""
    java = getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)
    text = str(exc)
    try:
        while java is not None:
            text = str(java.toString())
            java = java.getCause()
    except Exception:  # noqa: BLE001 - best effort: fall back to the Python message
        pass
    line = (text.strip().splitlines() or [""])[0]
    return re.sub(r"^(?:[a-z_$][\w$]*\.)+(?=[A-Z])", "", line)  # drop the Java package


_GLOB = re.compile(r"([\\{}\[\]*?])")


def literal_path(path: str) -> str:
    """``path`` for Spark's readers, which expand glob patterns: ``[``, ``{``, ``*``, ``?`` and
    ``\\`` in a file name are escaped so they name exactly that file."""
    return _GLOB.sub(r"\\\1", path)


def hadoop_path(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """(Hadoop FileSystem, Path) of ``path``: s3a:, abfss:, hdfs: work as file: does."""
    jvm = driver_jvm(spark)
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hpath


# --- headers and schemas, read before any row ---------------------------------------------------

def read_first_line(spark: SparkSession, path: str, encoding: str = "UTF-8") -> str | None:
    """The first line of a (possibly compressed) text file, None if the file is empty."""
    jvm = driver_jvm(spark)
    fs, hpath = hadoop_path(spark, path)
    try:
        stream = fs.open(hpath)
    except Py4JJavaError as exc:  # e.g. no read permission
        raise InputDataError(f"{path}: cannot be opened ({java_cause(exc)})") from None
    codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(
        spark.sparkContext._jsc.hadoopConfiguration()).getCodec(hpath)
    if codec is not None:
        stream = codec.createInputStream(stream)
    reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, encoding))
    try:
        line = reader.readLine()
    except Py4JJavaError as exc:  # e.g. a truncated or corrupt .csv.gz
        raise SchemaMismatchError(
            f"{path}: cannot read its first line ({java_cause(exc)}); the file is truncated, "
            "corrupt or not compressed as its name says") from None
    finally:
        reader.close()
    return None if line is None else str(line)


def _csv_dialect(dialect: Dialect) -> dict[str, Any]:
    """Python csv module options for a header line written in ``dialect``."""
    if dialect.escape == dialect.quote:
        return {"delimiter": dialect.delimiter, "quotechar": dialect.quote, "doublequote": True}
    return {"delimiter": dialect.delimiter, "quotechar": dialect.quote, "doublequote": False,
            "escapechar": dialect.escape}


def csv_header(spark: SparkSession, path: str, source: Source) -> FileSchema:
    """The columns of a CSV file: its header line, or the contract's columns when the dialect
    says the files have no header (then an empty file has none)."""
    dialect = source.dialect
    line = (read_first_line(spark, path, dialect.encoding) or "").lstrip("\ufeff")
    problem = header_problem(line)
    if problem:
        raise SchemaMismatchError(f"{path}: not a CSV file: {problem}")
    if not dialect.header:
        names = list(source.column_names) if line else []
    else:
        try:
            names = next(csv.reader([line], **_csv_dialect(dialect)), [])
        except csv.Error as exc:
            raise SchemaMismatchError(f"{path}: the first line is not a CSV header ({exc})"
                                      ) from None
    return FileSchema(path, tuple((name.strip(), "string") for name in names))


def parquet_schema(spark: SparkSession, path: str) -> FileSchema:
    try:
        fields = spark.read.parquet(literal_path(path)).schema.fields
    except (Py4JJavaError, PySparkException) as exc:  # truncated, corrupt or not Parquet at all
        raise SchemaMismatchError(f"{path}: not a readable Parquet file ({java_cause(exc)})"
                                  ) from None
    return FileSchema(path, tuple((f.name, f.dataType.simpleString()) for f in fields))


def delta_schema(spark: SparkSession, path: str) -> FileSchema:
    """The columns of the Delta table at ``path`` (one delivery of a ``delta`` source)."""
    try:
        fields = spark.read.format("delta").load(path).schema.fields
    except (Py4JJavaError, PySparkException) as exc:
        raise SchemaMismatchError(f"{path}: not a readable Delta table ({java_cause(exc)})"
                                  ) from None
    return FileSchema(path, tuple((f.name, f.dataType.simpleString()) for f in fields))


# --- rows ---------------------------------------------------------------------------------------

def file_label(source: str, delivery: str, subfolder: str = "") -> Any:
    """``<source>/<delivery>/<subfolder><file name>``, the name as on disk (Spark gives it
    URI-encoded: ``e%20f.csv`` for ``e f.csv``; a ``+`` stays a plus)."""
    name = F.url_decode(F.replace(F.col("_metadata.file_name"), F.lit("+"), F.lit("%2B")))
    return F.concat(F.lit(f"{source}/{delivery}/{subfolder}"), name)


def _line_order() -> Any:
    """Where a row sits in its file: (block start, position in the read): the file's line
    order (rows of one file block are read in order by one task)."""
    return F.struct(F.col("_metadata.file_block_start").alias("block"),
                    F.monotonically_increasing_id().alias("row"))


def union(frames: list[DataFrame]) -> DataFrame:
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame, allowMissingColumns=True)
    return result


def csv_options(dialect: Dialect) -> dict[str, str]:
    """Spark CSV reader options of ``dialect`` (quote doubled inside quotes by default)."""
    return {"sep": dialect.delimiter, "quote": dialect.quote, "escape": dialect.escape,
            "encoding": dialect.charset, "header": str(dialect.header).lower(),
            "multiLine": str(dialect.multiline).lower()}


def read_csv_files(spark: SparkSession, source: Source, delivery: str,
                   files: list[FileSchema], multiline: frozenset[str] = frozenset(),
                   keep: tuple[str, ...] = ()) -> DataFrame:
    """Text frame of CSV files, grouped by header and folder; wrong field counts land in
    _corrupt_record. Files in ``multiline`` (paths) are read with quoted line breaks allowed
    (``dialect.multiline`` reads every file so). Header columns that are neither contract
    columns nor in ``keep`` (kept extra columns) are read under placeholder names and dropped,
    so an ignored column never clashes with another name."""
    frames = []
    groups: dict[tuple[tuple[str, ...], str, bool], list[str]] = {}
    for file in files:
        key = (file.names, file.subfolder, source.dialect.multiline or file.path in multiline)
        groups.setdefault(key, []).append(literal_path(file.path))
    options = csv_options(source.dialect)
    to_csv_options = {k: options[k] for k in ("sep", "quote", "escape")}
    wanted = {*source.column_names, *keep}
    for (header, subfolder, lines), paths in groups.items():
        names = [n if n in wanted else f"_ignored_{i}" for i, n in enumerate(header)]
        schema = T.StructType([T.StructField(n, T.StringType()) for n in names]
                              + [T.StructField(CORRUPT_RECORD, T.StringType())])
        df = (spark.read.schema(schema)
              .options(**{**options, "multiLine": str(lines).lower()})
              .option("mode", "PERMISSIVE")
              .option("columnNameOfCorruptRecord", CORRUPT_RECORD)
              .csv(paths))
        # Spark flags too many and too few fields alike, but only while every column is parsed:
        # with CSV column pruning a query that needs fewer columns loses the flag. The raw line
        # and _row_hash use all columns and every output depends on them, so none is pruned.
        raw_line = F.coalesce(F.col(CORRUPT_RECORD),
                              F.to_csv(F.struct(*[F.col(f"`{n}`") for n in names]),
                                       to_csv_options))
        frames.append(df.withColumn(RAW_RECORD, raw_line)
                      .withColumn(SOURCE_FILE, file_label(source.name, delivery, subfolder))
                      .withColumn(LINE_ORDER, _line_order()))
    return union(frames)


def read_parquet_files(spark: SparkSession, source: Source, delivery: str,
                       files: list[FileSchema], multiline: frozenset[str] = frozenset(),
                       keep: tuple[str, ...] = ()) -> DataFrame:
    """Frame of Parquet files, grouped by schema; the raw record is the row as JSON."""
    frames = []
    by_schema: dict[tuple[tuple[tuple[str, str], ...], str], list[str]] = {}
    for file in files:
        by_schema.setdefault((file.columns, file.subfolder), []).append(literal_path(file.path))
    for (columns, subfolder), paths in by_schema.items():
        names = [name for name, _ in columns]
        df = spark.read.parquet(*paths)
        raw_json = F.to_json(F.struct(*[F.col(f"`{n}`") for n in names]),
                             {"ignoreNullFields": "false"})
        frames.append(df.withColumn(CORRUPT_RECORD, F.lit(None).cast("string"))
                      .withColumn(RAW_RECORD, raw_json)
                      .withColumn(SOURCE_FILE, file_label(source.name, delivery, subfolder))
                      .withColumn(LINE_ORDER, _line_order()))
    return union(frames)


def _as_text(source: Source, name: str, spark_type: str) -> Any:
    """A Delta column as the text a CSV delivery would hold (in the dialect's formats and zone)."""
    value = F.col(f"`{name}`")
    dialect = source.dialect
    zone = dialect.time_zone
    if spark_type.startswith("timestamp"):
        local = value if zone.upper() in ("UTC", "Z", "GMT") else F.from_utc_timestamp(value, zone)
        return F.date_format(local, dialect.timestamp_format)
    if spark_type == "date":
        return F.date_format(value, dialect.date_format)
    if spark_type.startswith("array<"):
        return F.array_join(value.cast("array<string>"), dialect.list_separator)
    if spark_type == "boolean":
        return F.when(value, F.lit("true")).when(~value, F.lit("false"))
    return value.cast("string")


def read_delta_files(spark: SparkSession, source: Source, delivery: str,
                     files: list[FileSchema], multiline: frozenset[str] = frozenset(),
                     keep: tuple[str, ...] = ()) -> DataFrame:
    """Text frame of a Delta delivery (``files`` holds the one table): every column cast to text;
    the raw record is the row as JSON, the source file the delivery's table."""
    (table,) = files
    text = [_as_text(source, name, spark_type).alias(name) for name, spark_type in table.columns]
    df = spark.read.format("delta").load(table.path).select(*text)
    names = [name for name, _ in table.columns]
    raw_json = F.to_json(F.struct(*[F.col(f"`{n}`") for n in names]),
                         {"ignoreNullFields": "false"})
    return (df.withColumn(CORRUPT_RECORD, F.lit(None).cast("string"))
            .withColumn(RAW_RECORD, raw_json)
            .withColumn(SOURCE_FILE, F.lit(f"{source.name}/{delivery}"))
            .withColumn(LINE_ORDER, F.struct(F.lit(0).cast("long").alias("block"),
                                             F.monotonically_increasing_id().alias("row"))))


READERS = {"csv": read_csv_files, "parquet": read_parquet_files, "delta": read_delta_files}


def landing_frame(df: DataFrame, source: Source, extra_columns: tuple[str, ...]) -> DataFrame:
    """The read frame's schema contract: contract columns as text (absent optional ones null),
    kept extra columns, then _corrupt_record, _raw_record and _source_file."""
    present = set(df.columns)
    data = [F.col(f"`{c}`").cast("string").alias(c) if c in present
            else F.lit(None).cast("string").alias(c) for c in source.column_names]
    extras = [F.col(f"`{c}`") if c in present else F.lit(None).alias(c) for c in extra_columns]
    return df.select(*data, *extras, F.col(CORRUPT_RECORD), F.col(RAW_RECORD), F.col(SOURCE_FILE),
                     F.col(LINE_ORDER))
