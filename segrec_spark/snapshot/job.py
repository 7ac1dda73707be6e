"""The ``segrec snapshot`` stage: a bank's own client snapshot -> gold features and labels.

Replaces ingest and features when the contract declares a ``snapshot`` source. Reads the table
(CSV with the contract's dialect, JSON, Parquet, a Delta folder, or a catalog table), plus the
optional held-out table, computes the columns declared with an ``expression``, decides each
column's use (:func:`frames.plan_columns`); a transaction log (``grain: transactions``) is
summed up per client and as-of date first (:func:`_clients_of_transactions`), and a log beside
a client table joins the table's rows with its per-client features at each as-of date
(:func:`frames.with_log_features`). It writes

* ``gold.client_features`` and ``gold.labels``, one slice per as_of_date (replaceWhere; whole
  tables for dates derived from a log), the same shapes the features stage writes, so
  ``segrec train`` and ``segrec score`` run unchanged;
* ``ops.snapshot_quarantine``: rows without a key or an as-of date, repeated keys, JSON lines
  that do not parse (MALFORMED_ROW), transactions dated after the run (FUTURE_DATE) and log
  rows of clients the table beside it does not hold (UNKNOWN_CLIENT), with the reason and the
  raw row as JSON, per source;
* ``ops.snapshot_columns``: what every delivered column was used as (declared or inferred).

Counts add up: rows read = rows accepted + rows quarantined + rows of forgotten clients (keys
in ``ops.forgotten_clients``, see docs/forget.md: dropped, never quarantined), logged per run.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from pyspark.errors import PySparkException
from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.utils import AnalysisException

from segrec_spark.config import Config, ConfigError, resolve_path
from segrec_spark.contract import DAYS_SINCE_1970, Column, Source
from segrec_spark.errors import InputDataError
from segrec_spark.forget.erase import FORGOTTEN, FORGOTTEN_FLAG, TOMBSTONES, with_forgotten_flag
from segrec_spark.snapshot import frames as sf
from segrec_spark.tables import (
    aggregated_in_chunks,
    first_row,
    read_table_if_exists,
    register_table,
    sql_literal,
    table_path,
    write_slice,
)

log = logging.getLogger(__name__)

SPLIT_FROM_FILE = "_segrec_split"
EVALUATION_PREFIX = "evaluation-"


def snapshot_source(cfg: Config) -> Source:
    source = cfg.contract.snapshot
    if source is None:
        raise ConfigError(f"{cfg.contract.path}: no source of kind snapshot (segrec snapshot "
                          f"reads a client snapshot table; raw extracts go through ingest and "
                          f"features)")
    return source


def _location(cfg: Config, location: str) -> str:
    """A relative location is relative to the project root, like every path of the config."""
    return resolve_path(location, Path(cfg.base_dir))


def read_delivered(spark: SparkSession, source: Source, location: str) -> DataFrame:
    """The snapshot as delivered, with the file's own types (CSV: inferred from the values);
    a byte-order mark or stray spaces around a header name are dropped."""
    df = _read(spark, source, location)
    if source.format in ("csv", "xlsx") and not source.dialect.header:
        df = headerless_named(df, source, location)
    else:
        clean = [c.lstrip("\ufeff").strip() for c in df.columns]
        df = df.toDF(*clean) if clean != df.columns else df
    return with_computed_columns(df, source, location)


def with_computed_columns(df: DataFrame, source: Source, location: str) -> DataFrame:
    """``df`` with the declared columns that have an ``expression`` (Spark SQL over the
    delivered columns, e.g. ``Quantity * UnitPrice``) computed; an expression Spark cannot
    parse or resolve is one line naming the column."""
    delivered = {c.lower() for c in df.columns}
    for column in source.columns:
        if not column.expression:
            continue
        if column.name.lower() in delivered:
            raise InputDataError(
                f"snapshot {source.name}: column {column.name}: {location} holds a column of "
                f"that name; an expression computes a column the file does not hold (give it "
                f"another name)")
        try:
            # withColumn resolves the expression against the delivered columns at once
            df = df.withColumn(column.name, F.expr(column.expression))
        except AnalysisException as exc:
            message = str(exc).strip().splitlines()[0]
            raise InputDataError(
                f"snapshot {source.name}: column {column.name}: the expression "
                f"{column.expression!r} cannot be computed on {location}: {message}") from None
    return df


def headerless_names(columns: Sequence[str], source: Source) -> list[str] | None:
    """The names of a CSV file's columns when it has no header line (dialect ``header:
    false``; ``columns``: Spark's positional names): the source's ``names`` (every column, in
    file order), else the declared columns' names in the order they are declared; Spark's own
    where every declared name is one of them (``_c0`` is the first column, the rest are
    inferred). None when the count differs from the file's."""
    declared = [c.name for c in source.delivered_columns]
    if not source.names and set(declared) <= set(columns):
        return list(columns)
    names = list(source.names) or declared
    return names if len(names) == len(columns) else None


def headerless_named(df: DataFrame, source: Source, location: str) -> DataFrame:
    """``df`` read from a file without a header line, its columns named by
    :func:`headerless_names`; a count that differs from the file's is one line."""
    names = headerless_names(df.columns, source)
    if names is None:
        given, what = ((len(source.names), "names") if source.names
                       else (len(source.delivered_columns), "declared column(s)"))
        raise InputDataError(
            f"snapshot {source.name}: {location} has no header line (dialect header: false) "
            f"and {len(df.columns)} columns, but the contract has {given} {what}: list "
            f"every column in file order in names, or name columns by position (_c0 is the "
            f"first)")
    return df.toDF(*names) if names != df.columns else df


def _read(spark: SparkSession, source: Source, location: str) -> DataFrame:
    try:
        if source.format == "table":
            return spark.table(location)
        if source.format == "delta":
            return spark.read.format("delta").load(location)
        if source.format == "parquet":
            return spark.read.parquet(location)
        if source.format == "json":
            return _read_json(spark, source, location)
        if source.format == "xlsx":
            return _read_excel(spark, source, location)
        d = source.dialect
        reader = (spark.read.option("header", d.header).option("sep", d.delimiter)
                  .option("quote", d.quote).option("escape", d.escape)
                  .option("encoding", d.charset).option("multiLine", d.multiline)
                  .option("dateFormat", d.date_format)
                  .option("timestampFormat", d.timestamp_format)
                  .option("mode", "PERMISSIVE"))
        inferred = reader.option("inferSchema", True).csv(location)
        schema = text_schema(inferred.schema, source)
        return inferred if schema is None else reader.schema(schema).csv(location)
    except AnalysisException as exc:
        message = str(exc).splitlines()[0]
        raise InputDataError(f"snapshot {source.name}: cannot read {location} as "
                             f"{source.format}: {message}") from None


# The first bytes of an Excel 97-2003 workbook (.xls, an OLE2 compound file): openpyxl reads
# only .xlsx and would say "File is not a zip file".
OLD_EXCEL_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _read_excel(spark: SparkSession, source: Source, location: str) -> DataFrame:
    """An Excel workbook's sheet (``dialect.sheet``, else the first), one file read on the
    driver (openpyxl) into text columns, so that numbers, dates and categories are inferred from the
    values as a CSV file's are: a number cell as its digits, a date cell as
    ``2010-01-27 00:00:00``, an empty cell empty. Without a header (``dialect.header:
    false``) the columns take Spark's positional names (``_c0``, ...), as in a CSV file."""
    import io

    import pandas as pd

    d = source.dialect
    # The file's bytes through Spark's own file systems (a lake on s3a: or abfss: too); the
    # workbook is then parsed on the driver.
    files = spark.read.format("binaryFile").load(location).select("path", "content").collect()
    if len(files) != 1:
        raise InputDataError(f"snapshot {source.name}: {location} names {len(files)} files; "
                             f"a workbook (format xlsx) is read from one file")
    content = bytes(files[0]["content"])
    if content.startswith(OLD_EXCEL_SIGNATURE):
        raise InputDataError(f"snapshot {source.name}: {location} is an Excel 97-2003 workbook "
                             f"(.xls), which is not read: save it as .xlsx (format: xlsx) or "
                             f"as CSV")
    try:
        book = pd.ExcelFile(io.BytesIO(content), engine="openpyxl")
        sheet = pd.read_excel(book, sheet_name=d.sheet or 0,
                              header=0 if d.header else None, dtype=str,
                              keep_default_na=False)
    except ValueError as exc:  # not a workbook, no such sheet
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputDataError(f"snapshot {source.name}: cannot read {location} as an Excel "
                             f"workbook (xlsx): {first}") from None
    except Exception as exc:  # noqa: BLE001 - openpyxl's own errors on a damaged file
        raise InputDataError(f"snapshot {source.name}: cannot read {location} as an Excel "
                             f"workbook (xlsx): {type(exc).__name__}: {exc}") from None
    if not d.sheet and d.header:
        _check_first_sheet(book, [str(c) for c in sheet.columns], source, location)
    names = ([str(c) for c in sheet.columns] if d.header
             else [f"_c{i}" for i in range(len(sheet.columns))])
    if not names:
        raise InputDataError(f"snapshot {source.name}: {location}: the sheet "
                             f"{d.sheet or '(first)'} holds no column")
    cells = sheet.astype(object).where(sheet != "", None)
    cells.columns = names
    # A column of TRUE/FALSE cells (Excel's booleans) is boolean, as Spark's CSV reader
    # infers such a column: a numeric feature either way, not a category.
    flags = [n for n in names if _is_boolean_text(cells[n])]
    for n in flags:
        cells[n] = cells[n].map(lambda v: None if v is None else v.strip().lower() == "true")
    schema = T.StructType([T.StructField(n, T.BooleanType() if n in flags else T.StringType(),
                                         True) for n in names])
    return spark.createDataFrame(cells, schema)


def _is_boolean_text(cells) -> bool:
    """Whether a sheet's column (text cells, None when empty) holds true/false words only."""
    present = cells.dropna().map(lambda v: v.strip().lower())
    return len(present) > 0 and bool(present.isin(["true", "false"]).all())


def _check_first_sheet(book, names: Sequence[str], source: Source, location: str) -> None:
    """InputDataError when the workbook's first sheet (read as no ``dialect.sheet`` is set)
    lacks a declared column (a cover or description sheet before the data): names the sheet
    that holds them all, if one does, and the workbook's sheets."""
    import pandas as pd

    missing = missing_columns(names, source, optional_labels=True)
    if not missing or len(book.sheet_names) < 2:
        return
    holding = [s for s in book.sheet_names[1:] if not missing_columns(
        [str(c) for c in pd.read_excel(book, sheet_name=s, nrows=0).columns], source,
        optional_labels=True)]
    where = (f"sheet {holding[0]!r} holds them: set sources.{source.name}.dialect.sheet: "
             f"{holding[0]}" if holding else
             f"no sheet holds them all: set sources.{source.name}.dialect.sheet")
    raise InputDataError(
        f"snapshot {source.name}: the first sheet {book.sheet_names[0]!r} of {location} "
        f"lacks declared column(s) {', '.join(missing)}; {where} (its sheets: "
        f"{', '.join(map(str, book.sheet_names))})")


# Field delimiters a CSV export is commonly written with.
DELIMITERS = (",", ";", "\t", "|")


def sniffed_delimiter(first_line: str, declared: str, quote: str = '"') -> str | None:
    """The delimiter a CSV file is written with when it is not the declared one: None when
    ``first_line`` (outside quoted fields) holds the declared delimiter, else the most frequent
    of :data:`DELIMITERS` in it (None when it holds none: a one-column file)."""
    bare = re.sub(f"{re.escape(quote)}[^{re.escape(quote)}]*{re.escape(quote)}", "", first_line)
    if declared in bare:
        return None
    counts = {c: bare.count(c) for c in DELIMITERS if c != declared}
    best = max(counts, key=lambda c: counts[c])
    return best if counts[best] else None


# The encoding a file that is not UTF-8 is read with: every byte is a character, and the
# letters of Windows' Western European code page (windows-1252) are the same.
SINGLE_BYTE_ENCODING = "ISO-8859-1"


def with_file_dialect(spark: SparkSession, source: Source, location: str) -> Source:
    """``source`` with the delimiter and encoding a CSV file is written with, where they are
    not the declared ones (logged): the delimiter of the first line when it holds no declared
    one (a tab-separated export read with the default ``,``), and ISO-8859-1 for a file
    declared UTF-8 that holds bytes UTF-8 does not allow (an export in a Windows code page:
    ``Médico`` would read ``M\ufffddico``)."""
    if source.format != "csv":
        return source
    d = source.dialect
    lines = spark.read.text(location)
    first = lines.first()
    found = sniffed_delimiter(first[0] if first else "", d.delimiter, d.quote)
    if found is not None:
        # a notice, not a warning: every row is read, with the delimiter the file is written in
        log.info("snapshot %s: the first line of %s holds no %r but %r: read with %r (set "
                 "sources.%s.dialect.delimiter to say so)", source.name, location,
                 d.delimiter, found, found, source.name)
        d = dataclasses.replace(d, delimiter=found)
    if d.charset == "utf-8" and (
            lines.filter(~F.is_valid_utf8("value")).limit(1).count()):
        log.warning("snapshot %s: %s is not UTF-8 (a byte no UTF-8 text holds): read as %s "
                    "(set sources.%s.dialect.encoding to the file's encoding)", source.name,
                    location, SINGLE_BYTE_ENCODING, source.name)
        d = dataclasses.replace(d, encoding=SINGLE_BYTE_ENCODING)
    return source if d == source.dialect else dataclasses.replace(source, dialect=d)


def _read_json(spark: SparkSession, source: Source, location: str) -> DataFrame:
    """JSON lines (one object per line), or a file holding one JSON array or one object over
    several lines (read whole when line by line finds no object); nested objects become dotted
    columns (``value.amount``), and a line that is not JSON keeps its text in ``_corrupt_record``
    (quarantined as MALFORMED_ROW)."""
    d = source.dialect
    reader = (spark.read.option("encoding", d.charset).option("dateFormat", d.date_format)
              .option("timestampFormat", d.timestamp_format).option("mode", "PERMISSIVE")
              .option("columnNameOfCorruptRecord", sf.CORRUPT_RECORD))
    text = F.regexp_replace(F.col("value"), r"^[\s\x{FEFF}]+", "")
    first = (spark.read.text(location).select(F.substring(text, 1, 1).alias("c"))
             .filter(F.col("c") != "").limit(1).collect())  # one character
    whole = d.multiline or (bool(first) and first[0]["c"] == "[")
    df = reader.option("multiLine", whole).json(location)
    if not whole and df.columns == [sf.CORRUPT_RECORD]:  # one object written over lines
        df = reader.option("multiLine", True).json(location)
    return df.transform(sf.flattened_structs)


def text_schema(inferred: T.StructType, source: Source) -> T.StructType | None:
    """The inferred CSV schema with some columns read as text instead, or None when none needs
    it: a declared key, category or text column (the reader made ``00012345`` the number
    12345, and the bank's key is the text), under a decimal comma every number column (the
    reader took ``1.234`` for a fraction; sf.text_number parses it), and every date or time
    column. The reader's dates follow Spark's calendar (``yy`` is 2000-2099: a client born
    ``3/15/65`` in 2065) and a quarantined row would keep the parsed value instead of the
    delivered text; sf.text_date and sf.as_of_column read the text the same way in every
    file format."""
    d = source.dialect
    names = [f.name.lstrip("\ufeff").strip() for f in inferred.fields]
    if not d.header:
        names = headerless_names(names, source) or names
    text = {c.name for c in source.columns
            if c.role in ("key", "categorical") or c.type in ("string", "category")}
    as_text = [isinstance(f.dataType, sf.TEMPORAL_TYPES)
               or isinstance(f.dataType, T.NumericType) and (d.decimal == "," or name in text)
               for f, name in zip(inferred.fields, names, strict=True)]
    if not any(as_text):
        return None
    return T.StructType([T.StructField(f.name, T.StringType() if text_ else f.dataType, True)
                         for f, text_ in zip(inferred.fields, as_text, strict=True)])


def with_row_numbers(df: DataFrame, prefix: str = "") -> DataFrame:
    """Add ``_row_number`` (prefix + 1-based position in file order) for key-less tables.

    monotonically_increasing_id holds the partition index in its upper bits and the row's
    position inside the partition in its lower 33 bits; partitions of one file follow its byte
    order, so position = rows of the earlier partitions + position inside the partition. Only
    one count per partition reaches the driver."""
    tagged = (df.withColumn("_pid", F.spark_partition_id())
              .withColumn("_mid", F.monotonically_increasing_id()))
    counts = sorted((r["_pid"], r["count"]) for r in tagged.groupBy("_pid").count().collect())
    offsets, total = [], 0
    for pid, n in counts:
        offsets.append((pid, total))
        total += n
    offset_df = df.sparkSession.createDataFrame(offsets, "_pid int, _offset long")
    position = F.col("_offset") + F.expr("_mid & 8589934591") + F.lit(1)
    return (tagged.join(F.broadcast(offset_df), on="_pid", how="inner")
            .withColumn(sf.ROW_NUMBER, F.concat(F.lit(prefix), position.cast("string")))
            .drop("_pid", "_mid", "_offset"))


def missing_columns(names: Collection[str], source: Source,
                    optional_labels: bool = False) -> list[str]:
    """The required declared columns not among ``names`` (``optional_labels``: but for the
    label and split columns, which a held-out file may lack)."""
    return [c.name for c in source.columns if c.name not in names and c.required
            and not (optional_labels and c.role in ("label", "split"))]


def check_declared_columns(df: DataFrame, source: Source, location: str,
                           optional_labels: bool = False) -> None:
    missing = missing_columns(df.columns, source, optional_labels)
    if missing:
        raise InputDataError(f"snapshot {source.name}: {location} lacks declared column(s) "
                             f"{', '.join(missing)} (found: {', '.join(df.columns)})"
                             f"{_header_hint(df.columns, source) or _lower_header(df, missing)}")


HEADER_SEARCH_ROWS = 5


def _lower_header(df: DataFrame, missing: Sequence[str]) -> str:
    """Where the missing names are a row of the first few under the header (a line of codes,
    ``X1, X2, ...``, above the real names), say so: that line is read as the header."""
    wanted = {m.strip() for m in missing}
    rows = df.limit(HEADER_SEARCH_ROWS).collect()  # a few rows, on the failure path only
    for n, row in enumerate(rows, start=2):
        if wanted <= {str(v).strip() for v in row if v is not None}:
            return (f"; line {n} of the file holds them: the line(s) above it are read as the "
                    f"header: delete them from the file")
    return ""


def _header_hint(names: Sequence[str], source: Source) -> str:
    """A header line made of numbers or true/false is a data row read as a header."""
    def is_value(name: str) -> bool:
        text = name.strip().lower()
        try:
            float(text)
            return True
        except ValueError:
            return text in ("true", "false")
    if not source.dialect.header or not any(is_value(n) for n in names):
        return ""
    return ("; the first line looks like a data row: if the file has no header line, set "
            "dialect header: false and list the file's columns in order in names")


def delivered_frame(spark: SparkSession, cfg: Config, source: Source) -> tuple[DataFrame, Source]:
    """The snapshot (and the held-out table, marked by a split column) as one frame."""
    assert source.location is not None
    location = _location(cfg, source.location)
    source = with_file_dialect(spark, source, location)
    df = read_delivered(spark, source, location)
    check_declared_columns(df, source, location)
    if source.key_column is None:
        df = with_row_numbers(df)
    if source.evaluation_location is None:
        return df, source
    held_location = _location(cfg, source.evaluation_location)
    held = read_delivered(spark, source, held_location)
    check_declared_columns(held, source, held_location, optional_labels=True)
    if source.key_column is None:
        held = with_row_numbers(held, EVALUATION_PREFIX)
    df, held = sf.with_types_of_both(df, held)
    if source.key_column is not None:
        _refuse_shared_keys(df, held, source, held_location)
    declared_split = source.role_column("split")
    if declared_split is not None:
        # Rows of the held-out file are held out, whatever their split column says (or lacks).
        held = held.withColumn(declared_split, F.lit(source.split_evaluation[0]))
        return df.unionByName(held, allowMissingColumns=True), source
    both = (df.withColumn(SPLIT_FROM_FILE, F.lit("train"))
            .unionByName(held.withColumn(SPLIT_FROM_FILE, F.lit("evaluation")),
                         allowMissingColumns=True))
    split = Column(name=SPLIT_FROM_FILE, type="string", role="split")
    return both, _with_column(source, split)


def _refuse_shared_keys(train: DataFrame, held: DataFrame, source: Source,
                        held_location: str) -> None:
    """A key in both files would make one client two rows: refuse it in one line."""
    key = f"`{source.key_column}`"
    shared = (train.select(F.trim(F.col(key).cast("string")).alias("k"))
              .join(held.select(F.trim(F.col(key).cast("string")).alias("k")), on="k",
                    how="left_semi").distinct())
    examples = [r["k"] for r in shared.limit(3).collect()]
    if examples:
        raise InputDataError(
            f"snapshot {source.name}: {shared.count()} key(s) of {held_location} also appear in "
            f"the training table (e.g. {', '.join(examples)}); a key must name one client across "
            f"both files (leave the key column undeclared to key rows by their position)")


def _with_column(source: Source, column: Any) -> Source:
    return dataclasses.replace(source, columns=(*source.columns, column))


def column_report(spark: SparkSession, plan: sf.SnapshotPlan) -> DataFrame:
    per_client = {"numeric": " (the client's average)",
                  "categorical": " (the client's most frequent value)"} if plan.summaries else {}
    rows: list[tuple[str, str | None, str]] = [
        (a.source_name, a.name, a.kind + per_client.get(a.kind, "") + _stray_note(a))
        for a in plan.attributes if a.kind != sf.TAKE_UP]
    rows += [(a.source_name, name, f"take-up of {p} among the training clients with the same "
              f"value (out of fold)") for a, p, name in plan.take_up_columns]
    rows += [(c.name, c.feature_name, f"label of {p}") for p, c in plan.labels.items()]
    rows += [(c.name, c.feature_name, f"holding of {p}" + (
        "; take-up = held at the next as-of date" if p in plan.derived else ""))
        for p, c in plan.holdings.items()]
    rows += [(name, None, "key") for name in [plan.key] if name]
    rows += [(name, None, "transaction date" if plan.summaries else "as_of_date")
             for name in [plan.time] if name]
    rows += [((plan.amount if s.statistic in sf.AMOUNT_SUMMARIES else
               plan.outcome_column if s.statistic.startswith(sf.OF_PRODUCT) else plan.time)
              or "", s.name, f"per client: {sf.summary_text(s, plan)}") for s in plan.summaries]
    rows += [(name, None, "amount") for name in [plan.amount] if name]
    rows += [(name, None, "split") for name in [plan.split]
             if name and name != SPLIT_FROM_FILE]  # ours: which file the row came from
    rows += [(name, None, "ignored") for name in plan.ignored]
    rows += [(name, None, f"outcome: read by the expression of {computed} (not a feature)")
             for name, computed in plan.outcome_inputs.items()]
    return spark.createDataFrame(rows, "column string, feature string, used_as string")


def _stray_note(attribute: sf.Attribute) -> str:
    if attribute.levels:
        return (f" ({len(attribute.levels)} common values, {attribute.covered:.0%} of the "
                f"cells; the others as {sf.OTHER})")
    n = attribute.stray_cells
    comma = (" (decimal comma)" if attribute.decimal == "," else
             f" (dates {attribute.date_format}, as {DAYS_SINCE_1970})"
             if attribute.date_format else f" (dates, as {DAYS_SINCE_1970})"
             if attribute.typed_date else "")
    what = "a date" if attribute.date_format else "a number"
    return comma + (f"; {n} cell{'s' if n != 1 else ''} not {what} read as missing"
                    if n else "")


def _plan(df: DataFrame, source: Source) -> tuple[sf.SnapshotPlan, int]:
    """The column plan and the number of rows read (counted once, on the cached frame)."""
    counted = sf.columns_to_count(source, df.schema)
    texts = [c for c in counted if isinstance(df.schema[c].dataType, T.StringType)]
    n_rows = df.count()
    distinct: dict[str, int] = {}
    numeric_text: dict[str, int] = {}
    comma: dict[str, int] = {}
    dates: dict[str, tuple[str, int, tuple[str, ...]]] = {}
    common: dict[str, tuple[tuple[str, ...], float]] = {}
    d = source.dialect
    # In a file not separated by commas, a number may be written with a decimal comma ("k"):
    # "3,983" is then 3.983, not 3983 (as with thousands grouped, "t"), unless it also reads as
    # a number with a point and no grouping ("p").
    comma_too = d.decimal == "." and d.delimiter != ","
    point = {"t": (d.decimal, True)}
    if counted:
        # One pass per few hundred aggregates (over the cached frame); approximate counts are
        # enough to tell ids and free text from categories; text columns are also checked for
        # numbers with empty cells, and for commas.
        shapes = [sf.date_shaped_count(c, d.date_format).alias(f"s{i}")
                  for i, c in enumerate(texts)]
        commas = [F.count_if(F.col(f"`{c}`").contains(",")).alias(f"m{i}")
                  for i, c in enumerate(texts) if comma_too]
        row = aggregated_in_chunks(df, [
            *(F.approx_count_distinct(F.col(f"`{c}`")).alias(f"c{i}")
              for i, c in enumerate(counted)), *_number_aggregates(texts, point), *shapes,
            *commas])
        distinct = {c: int(row[f"c{i}"]) for i, c in enumerate(counted)}
        counts = _number_counts(row, texts, point)
        numeric_text = sf.numeric_text_columns(counts["t"], distinct, n_rows)
        if comma_too:
            # Only a column with a comma in a cell can hold a decimal comma's fraction: the two
            # other readings are counted over those columns only, in one more pass (in a file
            # of many text columns they were two thirds of the first pass's work).
            with_comma = [c for i, c in enumerate(texts) if row[f"m{i}"]]
            other = {"k": (",", True), "p": (".", False)}
            counts.update(_number_counts(
                aggregated_in_chunks(df, _number_aggregates(with_comma, other)), with_comma,
                other))
            comma = sf.comma_decimal_columns(counts["p"], counts["k"], distinct, n_rows,
                                             counts["t"])
            numeric_text.update(comma)
        dates = _text_dates(df, source, {c: row[f"s{i}"] for i, c in enumerate(texts)},
                            {c: n + other for c, (n, _, other) in counts["t"].items()})
        numeric_text = {c: n for c, n in numeric_text.items() if c not in dates}
        comma = {c: n for c, n in comma.items() if c not in dates}
        common = _common_levels(df, source, sf.many_valued_text(
            [c for c in texts if c not in numeric_text and c not in dates], distinct, n_rows,
            source.max_categories))
    plan = sf.plan_columns(source, df.schema, distinct, n_rows, numeric_text, comma, dates,
                           common)
    if comma:
        log.warning("snapshot %s: column(s) %s hold numbers written with a decimal comma "
                    "(0,5): read so (set sources.%s.dialect.decimal: \",\" to say it for "
                    "every column)", source.name, ", ".join(sorted(comma)), source.name)
    for a in plan.attributes:
        if a.stray_cells and not a.date_format:
            log.warning("snapshot %s: column %s holds numbers and %d cell(s) of other text; "
                        "read as a number column, those cells as missing values (declare it "
                        "role: categorical to keep it as text)", source.name, a.source_name,
                        a.stray_cells)
    return plan, n_rows


def _number_aggregates(texts: Sequence[str], marks: dict[str, tuple[str, bool]]
                       ) -> list[SparkColumn]:
    """sf.number_text_counts of each text column under each reading in ``marks`` ({mark:
    (decimal, grouping)}), aliased ``<mark><i>_<j>`` for :func:`_number_counts`."""
    return [agg.alias(f"{m}{i}_{j}") for m, (decimal, grouping) in marks.items()
            for i, c in enumerate(texts)
            for j, agg in enumerate(sf.number_text_counts(c, decimal, grouping))]


def _number_counts(row: dict[str, Any], texts: Sequence[str],
                   marks: dict[str, tuple[str, bool]]
                   ) -> dict[str, dict[str, tuple[int, int, int]]]:
    """{mark: {column: (numbers, fractions, other text)}} from :func:`_number_aggregates`."""
    return {m: {c: (int(row[f"{m}{i}_0"]), int(row[f"{m}{i}_1"]), int(row[f"{m}{i}_2"]))
                for i, c in enumerate(texts)} for m in marks}


def _common_levels(df: DataFrame, source: Source, columns: list[str]
                   ) -> dict[str, tuple[tuple[str, ...], float]]:
    """The text columns of more than max_categories values that keep their common values
    as categories (sf.common_levels), counted in one more pass over those columns only,
    logged; the others are free text."""
    if not columns:
        return {}
    rows = sf.common_value_counts(columns)(df).collect()  # a few rows per column
    common = sf.common_levels(((columns[r["column"]], r["value"], r["cells"], r["filled"])
                               for r in rows), source.max_categories)
    for name, (levels, covered) in sorted(common.items()):
        log.warning("snapshot %s: column %s has more than %d values (max_categories); the %d "
                    "that each fill at least %.0f%% of its non-empty cells fill %.0f%% together "
                    "and are kept as categories, the others read as %s", source.name, name,
                    source.max_categories, len(levels), 100 * sf.COMMON_SHARE, 100 * covered,
                    sf.OTHER)
    return common


def _text_dates(df: DataFrame, source: Source, shaped: dict[str, int],
                non_missing: dict[str, int]) -> dict[str, tuple[str, int, tuple[str, ...]]]:
    """Text columns of dates (sf.date_text_columns), read with the dialect's date_format or
    one of sf.DATE_FORMATS; a second pass over the columns whose cells are shaped like dates
    (a few at most), logged."""
    share = 1 - sf.STRAY_TEXT_SHARE
    candidates = [c for c, n in non_missing.items() if n and shaped.get(c, 0) >= share * n]
    if not candidates:
        return {}
    declared = source.dialect.date_format
    formats = list(dict.fromkeys([declared, sf.lenient_format(declared), *sf.DATE_FORMATS]))
    row = aggregated_in_chunks(df, [agg.alias(f"d{i}_{j}") for i, c in enumerate(candidates)
                                    for j, agg in enumerate(sf.date_text_counts(c, formats))])
    parsed = {c: [int(row[f"d{i}_{j}"]) for j in range(len(formats))]
              for i, c in enumerate(candidates)}
    dates = sf.date_text_columns(parsed, non_missing, formats)
    chosen = sf.lenient_format(declared)
    for name, (date_format, stray, others) in sorted(dates.items()):
        # a column read in the declared format was chosen so: no other reading to name
        also = (f"; its dates read as {', '.join(others)} too: set sources.{source.name}"
                f".dialect.date_format to choose"
                if others and sf.lenient_format(date_format) != chosen else "")
        # a warning where a cell is lost or the format is a guess among several; else a notice
        log.log(logging.WARNING if stray or also else logging.INFO,
                "snapshot %s: column %s holds dates (%s): read as %s, "
                "%d cell(s) not a date in 1900-2199 as missing%s", source.name, name,
                date_format, DAYS_SINCE_1970, stray, also)
    return dates


@dataclasses.dataclass
class _Table:
    """One delivered snapshot source, conformed (cached) and counted."""

    source: Source
    plan: sf.SnapshotPlan
    delivered: DataFrame
    conformed: DataFrame
    n_read: int
    accepted: int = 0
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    forgotten: int = 0

    @property
    def usable(self) -> DataFrame:
        return self.conformed.filter(F.col("_reject").isNull())

    def unpersist(self) -> None:
        self.conformed.unpersist()
        self.delivered.unpersist()


def _read_table(spark: SparkSession, cfg: Config, source: Source
                ) -> tuple[DataFrame, Source, sf.SnapshotPlan, int]:
    delivered, source = delivered_frame(spark, cfg, source)
    delivered = delivered.cache()
    plan, n_read = _computed(lambda: _plan(delivered, source), source)
    return delivered, _with_time_format(delivered, source, plan.time), plan, n_read


def _with_time_format(delivered: DataFrame, source: Source, time: str | None) -> Source:
    """``source`` with the date format its text time column is written in, where the dialect's
    date_format and timestamp_format read fewer of its cells than one of sf.DATE_FORMATS
    (``27/01/2024`` under the default ``yyyy-MM-dd``), logged; else ``source`` as it is."""
    if time is None or not isinstance(delivered.schema[time].dataType, T.StringType):
        return source
    plan = sf.SnapshotPlan(key=None, time=time, split=None, labels={}, holdings={},
                           attributes=(), ignored=())
    declared = sf.as_of_column(plan, dt.date(2000, 1, 1), source, T.StringType())
    formats = list(dict.fromkeys([sf.lenient_format(source.dialect.date_format),
                                  *sf.DATE_FORMATS]))  # the declared order wins a tie
    # A format of four-digit years also reads two (sf.text_date); the cells shaped with four
    # tell which of the two the log names (a shape, not a parse: no exception per cell).
    word = F.substring_index(F.trim(F.col(f"`{time}`").cast("string")), " ", 1)
    four = [sf.date_format_shape(f) if sf.two_digit_year(f) else None for f in formats]
    row = first_row(delivered.agg(F.count_if(declared.isNotNull()).alias("declared"), *(
        n.alias(f"f{i}") for i, n in enumerate(sf.date_text_counts(time, formats))), *(
        F.count_if(word.rlike(shape)).alias(f"w{i}")
        for i, shape in enumerate(four) if shape)))
    counts = [int(row[f"f{i}"]) for i in range(len(formats))]
    best = max(counts)
    if best <= int(row["declared"]):
        return source
    at = counts.index(best)
    chosen = formats[at]
    written = sf.two_digit_year(chosen)
    if not four[at] or 2 * int(row[f"w{at}"]) >= best:
        written = chosen
    also = [f for f, n in zip(formats, counts, strict=True) if n == best and f != chosen]
    log.warning("snapshot %s: the time column %s is written %s, not in the dialect's "
                "date_format %r: read so%s", source.name, time, written,
                source.dialect.date_format,
                f" (its dates read as {', '.join(also)} too: set sources.{source.name}"
                f".dialect.date_format to choose)" if also else "")
    return dataclasses.replace(source, dialect=dataclasses.replace(source.dialect,
                                                                   date_format=chosen))


def _conformed(delivered: DataFrame, source: Source, plan: sf.SnapshotPlan,
               products: Sequence[str], default_as_of: dt.date, erased: DataFrame | None
               ) -> DataFrame:
    """Typed rows with ``_reject``: no key, no date, a repeated key (a client table) or a
    date after today (a log); an erased client's rows are FORGOTTEN, never quarantined."""
    transactions = source.grain == "transactions"  # many rows per client, summed up later
    return (delivered.withColumn(sf.RAW_RECORD, sf.raw_record(delivered.columns))
            .transform(sf.conformed_snapshot(plan, source, products, default_as_of))
            .transform(sf.future_rows_rejected(dt.date.today()) if transactions
                       else sf.without_duplicate_keys)
            .transform(with_forgotten_flag(erased, sf.KEY, None))
            .withColumn("_reject", F.when(F.col(FORGOTTEN_FLAG), F.lit(FORGOTTEN))
                        .otherwise(F.col("_reject")))
            .drop(FORGOTTEN_FLAG))


def _counted(table: _Table) -> _Table:
    """``table`` with its conformed rows cached and counted; counts must add up, and a table
    with no usable row stops the run in one line."""
    source, plan, conformed = table.source, table.plan, table.conformed.cache()
    counts = {r["_reject"] or "ACCEPTED": int(r["n"]) for r in
              conformed.groupBy("_reject").agg(F.count("*").alias("n")).collect()}  # few rows
    accepted = counts.pop("ACCEPTED", 0)
    forgotten = counts.pop(FORGOTTEN, 0)  # erased clients (segrec forget): not quarantined
    if accepted + sum(counts.values()) + forgotten != table.n_read:
        raise InputDataError(f"snapshot {source.name}: counts do not add up (read "
                             f"{table.n_read}, accepted {accepted}, rejected {counts})")
    if accepted == 0:
        hint = (f"; no value of the time column {plan.time!r} is a date in the dialect's "
                f"date_format {source.dialect.date_format!r} or timestamp_format "
                f"{source.dialect.timestamp_format!r} (set one to the column's pattern, "
                f"e.g. yyyyMM or dd/MM/yyyy)" if "BAD_TIMESTAMP" in counts and plan.time else "")
        raise InputDataError(f"snapshot {source.name}: no usable row (rejected: {counts}){hint}")
    return dataclasses.replace(table, conformed=conformed, accepted=accepted, counts=counts,
                               forgotten=forgotten)


def run(spark: SparkSession, cfg: Config) -> dict[str, Any]:
    """Write gold.client_features, gold.labels and the snapshot's ops tables; return counts."""
    began = time.monotonic()
    products = cfg.contract.product_codes
    erased = read_table_if_exists(spark, table_path(cfg.paths.root, "ops", TOMBSTONES))
    delivered, source, plan, n_read = _read_table(spark, cfg, snapshot_source(cfg))
    _warn_unlabelled(source, plan, products)
    log_rows, log_latest = None, None
    if cfg.contract.snapshot_log is not None:  # a transaction log beside the client table
        log_delivered, log_source, log_plan, log_read = _read_table(
            spark, cfg, cfg.contract.snapshot_log)
        log_plan = sf.beside_client_table(plan, log_plan)
        log_rows = _Table(log_source, log_plan, log_delivered, _conformed(
            log_delivered, log_source, log_plan, (), dt.date(2000, 1, 1), erased), log_read)
        log_latest = first_row(log_rows.usable.agg(F.max(sf.AS_OF)))[0]
    table = _counted(_Table(source, plan, delivered, _conformed(
        delivered, source, plan, products, _default_as_of(source, log_latest), erased), n_read))
    if log_rows is not None:
        log_rows = _counted(dataclasses.replace(log_rows, conformed=log_rows.conformed.transform(
            sf.unknown_clients_rejected(table.usable))))
    usable = table.usable
    if source.grain == "transactions":  # one row per client and as-of date
        usable, dates = _clients_of_transactions(usable, source, plan, products,
                                                 cfg.features.train_snapshots + 1)
    else:
        dates = sorted(r[0] for r in usable.select(sf.AS_OF).distinct().collect())  # per date
    held_out = _automatic_holdout(usable, source, plan, dates)
    if held_out is not None:
        usable = usable.transform(held_out)
    plan = _take_up_plan(source, plan, len(dates), log_rows is not None)
    table = dataclasses.replace(table, plan=plan)
    features_plan = plan
    if log_rows is not None:
        usable = usable.transform(sf.with_log_features(log_rows.usable, log_rows.plan, dates))
        features_plan = dataclasses.replace(
            plan, attributes=(*plan.attributes, *log_rows.plan.attributes),
            summaries=log_rows.plan.summaries)
    # Only the features hold the take-up rates: the labels below need not count them again.
    features = sf.snapshot_features(usable.transform(sf.with_take_up_rates(plan)),
                                    features_plan, products)
    # Take-ups read from the next month see only usable rows (never a repeated or erased key).
    next_month = sf.take_up_from_next_snapshot(plan.derived, dates)
    labels = sf.snapshot_labels(usable.transform(next_month), products,
                                source.outcome_days if source.grain == "transactions"
                                else cfg.features.horizon_days, plan.derived)
    # A log is the whole history each time: every as-of date derived from it (a log alone's,
    # or a table's dated by the log beside it) is replaced, so a log that has grown leaves no
    # dates of its shorter self behind.
    dated_by_log = log_rows is not None and plan.time is None and not source.as_of_date
    predicate = (None if source.grain == "transactions" or dated_by_log else
                 " OR ".join(f"as_of_date = {sql_literal(d.isoformat())}" for d in dates))
    for name, frame in (("client_features", features), ("labels", labels)):
        path = table_path(cfg.paths.root, "gold", name)
        write_slice(frame, path, predicate, partition_by=["as_of_date"], merge_schema=True)
        register_table(spark, "gold", name, path)
    for written in (table, log_rows):
        if written is not None:
            _write_ops(spark, cfg, written.source, written.plan, written.conformed)
            written.unpersist()
    summary = {"rows_read": n_read, "accepted": table.accepted, "quarantined": table.counts,
               "forgotten": table.forgotten,
               "as_of_dates": dates, "attributes": len(plan.attributes),
               "labels": sorted(plan.labels), "derived_labels": list(plan.derived),
               "ignored": list(plan.ignored), "seconds": round(time.monotonic() - began, 1)}
    if log_rows is not None:
        summary["log"] = {"rows_read": log_rows.n_read, "accepted": log_rows.accepted,
                          "quarantined": log_rows.counts, "forgotten": log_rows.forgotten,
                          "features": list(log_rows.plan.feature_names)}
        log.info("snapshot %s (transaction log beside %s): read %d rows, accepted %d, "
                 "quarantined %s, forgotten %d; %d per-client feature(s) at each as-of date",
                 log_rows.source.name, source.name, log_rows.n_read, log_rows.accepted,
                 log_rows.counts or "none", log_rows.forgotten,
                 len(log_rows.plan.feature_names))
    log.info("snapshot %s: read %d rows, accepted %d, quarantined %s, forgotten %d; %d "
             "attribute(s)%s, labels for %s, take-up from the next as-of date for %s, ignored "
             "%s; as-of %s (%.1f s)", source.name, n_read, table.accepted,
             table.counts or "none", table.forgotten, len(plan.attributes),
             f" and {len(plan.summaries)} per-client summaries of the transactions"
             if plan.summaries else "",
             ", ".join(sorted(plan.labels) or [source.outcome_product, *plan.outcome_values]
                       ).strip(", ") or "none",
             ", ".join(plan.derived) or "none", ", ".join(plan.ignored) or "none",
             ", ".join(map(str, dates)), summary["seconds"])
    return summary


def _computed(action: Callable[[], Any], source: Source) -> Any:
    """``action()`` (the first pass over the delivered rows); a row on which a column's
    ``expression`` fails (a text cell cast to a number, a division by zero) is one line
    naming the expressions instead of a Java stack."""
    computed = [c for c in source.columns if c.expression]
    try:
        return action()
    except PySparkException as exc:
        if not computed:
            raise
        message = str(exc).strip().splitlines()[0]
        names = ", ".join(f"{c.name} = {c.expression!r}" for c in computed)
        raise InputDataError(
            f"snapshot {source.name}: computing {names} failed on a row: {message} (the "
            f"expression sees the columns as read; try_cast, try_divide and the like give NULL "
            f"instead of failing)") from None


def _clients_of_transactions(usable: DataFrame, source: Source, plan: sf.SnapshotPlan,
                             products: Sequence[str], labelled: int
                             ) -> tuple[DataFrame, list[dt.date]]:
    """A transaction log's accepted rows -> one row per client and as-of date, and the dates.

    The scoring date is the day after the latest transaction. With ``outcome_product``, up to
    ``labelled`` earlier dates, ``outcome_days`` apart, each summing up the transactions before
    it and labelled by whether the client transacted in the ``outcome_days`` after it
    (sf.outcome_cutoffs, sf.with_bought_again): training and out-of-time evaluation dates. With
    one labelled date only, a share of the clients is held out instead (holdout_share)."""
    first, latest = first_row(usable.agg(F.min(sf.AS_OF), F.max(sf.AS_OF)))
    score_date = latest + dt.timedelta(days=1)
    days = source.outcome_days
    # product -> the outcome values whose transactions take it up (None: any transaction)
    outcomes: dict[str, tuple[str, ...] | None] = {
        **({source.outcome_product: None} if source.outcome_product else {}),
        **plan.outcome_values}
    product = ", ".join(outcomes)
    cutoffs = sf.outcome_cutoffs(first, score_date, days, labelled) if outcomes else []
    if outcomes and not cutoffs:
        raise InputDataError(
            f"snapshot {source.name}: the log runs from {first} to {latest}, so no client has "
            f"a transaction before {score_date - dt.timedelta(days=days)} to be labelled by "
            f"one in the {days} days after it (outcome_days): deliver a longer log or shorten "
            f"outcome_days")
    frames = []
    for day in [*cutoffs, score_date]:
        clients = (usable.filter(F.col(sf.AS_OF) < F.lit(day))
                   .transform(sf.per_client_from_transactions(plan, day, products)))
        for code, values in outcomes.items() if day != score_date else ():
            clients = clients.transform(sf.with_bought_again(usable, code, day, days, values))
        frames.append(clients)
    clients = frames[0]
    for frame in frames[1:]:
        clients = clients.unionByName(frame)
    if len(cutoffs) == 1 and source.holdout_share > 0:
        log.info("snapshot %s: one labelled as-of date (%s): %.0f %% of the clients (by a hash "
                 "of the key) are held out to evaluate the %s model (sources.%s.holdout_share)",
                 source.name, cutoffs[0], 100 * source.holdout_share, product, source.name)
        clients = clients.transform(sf.held_out_by_key(source.holdout_share))
    elif cutoffs:
        log.info("snapshot %s: %s taken up = a transaction within %d days of the as-of date; "
                 "labelled at %s, scored at %s", source.name, product, days,
                 ", ".join(map(str, cutoffs)), score_date)
    return clients, [*cutoffs, score_date]


def _automatic_holdout(usable: DataFrame, source: Source, plan: sf.SnapshotPlan,
                       dates: Sequence[dt.date]) -> Callable[[DataFrame], DataFrame] | None:
    """``sf.held_out_by_key`` when the table gives the model nothing to be evaluated on: labels
    at one as-of date, none of them held out (no split column, no held-out file, or a held-out
    file without labels); else None. ``sources.<name>.holdout_share`` 0 turns it off."""
    if not plan.labels or len(dates) != 1 or source.holdout_share == 0:
        return None
    labelled = F.coalesce(*(F.col(f"label_{p.lower()}") for p in plan.labels)).isNotNull()
    held = first_row(usable.agg(F.count_if(labelled & (F.col(sf.SPLIT) == sf.EVALUATION))))[0]
    if held:
        return None
    log.info("snapshot %s: no held-out labelled row: %.0f %% of the clients (by a hash of the "
             "key, the same on every run) are held out to evaluate the models "
             "(sources.%s.holdout_share)", source.name, 100 * source.holdout_share, source.name)
    return sf.held_out_by_key(source.holdout_share)


def _take_up_plan(source: Source, plan: sf.SnapshotPlan, n_dates: int, with_log: bool
                  ) -> sf.SnapshotPlan:
    """``plan``, its take-up attributes logged; left out (ignored, logged) where the rows hold
    more than one as-of date (a rate counted over every month would hold the month it
    predicts) or a transaction log sits beside them. A table dated by a log holds one date,
    but on the KPMG file (docs/own-data.md) the take-up of its job titles lowered the
    held-out AUC from 0.7021 to 0.6754, and its cross-validated AUC too. The models now keep
    a take-up column only where validation says it helps (propensity.learners.select_learner),
    and with it counted beside the KPMG log they left it out; counting it beside a log is
    not measured to help anywhere, so it stays out."""
    attributes = [a for a in plan.attributes if a.kind == sf.TAKE_UP]
    if not attributes:
        return plan
    names = ", ".join(a.source_name for a in attributes)
    if n_dates != 1 or with_log:
        why = ("beside a transaction log, no take-up rate is counted" if with_log else
               f"the table holds {n_dates} as-of dates, and a take-up rate counted over them "
               f"would hold the months it predicts")
        log.warning("snapshot %s: column(s) %s have many repeated values and are left out: %s "
                    "(declare them role: categorical to keep every value)", source.name, names,
                    why)
        return dataclasses.replace(
            plan, attributes=tuple(a for a in plan.attributes if a.kind != sf.TAKE_UP),
            ignored=(*plan.ignored, *(a.source_name for a in attributes)))
    log.info("snapshot %s: column(s) %s have more than %d values, none common enough to keep "
             "as a category, each repeated on %d rows or more on average: each becomes, per "
             "product, the take-up among the training clients with the same value (counted "
             "out of fold; %s)", source.name, names, source.max_categories,
             sf.TAKE_UP_MIN_ROWS, ", ".join(c for _, _, c in plan.take_up_columns))
    return plan


def _warn_unlabelled(source: Source, plan: sf.SnapshotPlan, products: Sequence[str]) -> None:
    """A product of the catalogue with no outcome in the table cannot be trained: say why."""
    if source.grain == "transactions":  # its only outcomes: later transactions
        others = [p for p in products
                  if p != source.outcome_product and p not in source.outcome_values]
        if others:
            log.warning("snapshot %s: product(s) %s have no outcome in a transaction log, so "
                        "no model scores them: a log's outcomes are its outcome_product (%s) "
                        "and the products of its outcome_values (%s)", source.name,
                        ", ".join(others), source.outcome_product or "none declared",
                        ", ".join(source.outcome_values) or "none declared")
        elif not products:
            log.info("snapshot %s: no outcome_product: the clients are segmented only, no "
                     "product is scored", source.name)
        return
    if not plan.labels and not plan.derived and not plan.holdings:
        if products:
            log.warning("snapshot %s: no label or holding column, so the product(s) %s of the "
                        "catalogue have no outcome: the clients are segmented only (declare a "
                        "column of role label to score a product)", source.name,
                        ", ".join(products))
        else:
            log.info("snapshot %s: no label or holding column: the clients are segmented only, "
                     "no product is scored", source.name)
        return
    for product in products:
        if product in plan.labels or product in plan.derived:
            continue
        why = ("its holding column cannot give a take-up without an as-of date (declare a "
               "column of role time)" if product in plan.holdings else
               "declare a column of role label, or of role holding in a table with a column "
               "of role time")
        log.warning("snapshot %s: product %s has no outcome in the table, so it is scored "
                    "by no model: %s", source.name, product, why)


def _default_as_of(source: Source, log_latest: dt.date | None = None) -> dt.date:
    """The as-of date of a table without a time column: its ``as_of_date``; when it has none,
    the day after the latest transaction of the log beside it, else 2000-01-01."""
    if not source.as_of_date:
        return log_latest + dt.timedelta(days=1) if log_latest else dt.date(2000, 1, 1)
    try:
        return dt.date.fromisoformat(source.as_of_date)
    except ValueError:
        raise ConfigError(f"sources.{source.name}.as_of_date: expected YYYY-MM-DD, found "
                          f"{source.as_of_date!r}") from None


def _write_ops(spark: SparkSession, cfg: Config, source: Source, plan: sf.SnapshotPlan,
               conformed: DataFrame) -> None:
    report_path = table_path(cfg.paths.root, "ops", "snapshot_columns")
    write_slice(column_report(spark, plan).withColumn("source", F.lit(source.name)),
                report_path, f"source = {sql_literal(source.name)}", merge_schema=True)
    register_table(spark, "ops", "snapshot_columns", report_path)
    rejects = (conformed.filter(F.col("_reject").isNotNull() & (F.col("_reject") != FORGOTTEN))
               .select(F.lit(source.name).alias("source"), F.col("_reject").alias("reason"),
                       F.col(sf.KEY).alias("key"), F.col(sf.AS_OF).alias("as_of_date"),
                       F.col(sf.RAW_RECORD).alias("raw_record"),
                       F.current_timestamp().alias("quarantined_at")))
    path = table_path(cfg.paths.root, "ops", "snapshot_quarantine")
    write_slice(rejects, path, f"source = {sql_literal(source.name)}", merge_schema=True)
    register_table(spark, "ops", "snapshot_quarantine", path)


def main(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> None:
    run(spark, cfg)
