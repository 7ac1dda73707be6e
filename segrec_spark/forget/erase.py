"""What erasing clients means for one table: pure functions, no I/O (docs/forget.md).

A client is named by its key (the contract's ``key.column``; ``identity_id_hash`` in silver and
gold). Anonymous web events carry no key, only a cookie; the cookies a client ever logged in
with are theirs too, so a table's rows with no key and one of those cookies are erased as well.
Quarantine rows hold the raw delivered record as text: a row whose record mentions a key or
cookie is erased.

``ops.forgotten_clients`` keeps one row per erased key and cookie (kind, value, when), so a later
re-delivery or re-ingest does not bring the client back (ingest drops those rows and counts them
as ``rows_forgotten``).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

CANONICAL_KEY = "identity_id_hash"
CANONICAL_COOKIE = "user_id"
RAW_COLUMNS = ("raw_record",)  # ops.quarantine, ops.snapshot_quarantine
TOMBSTONES = "forgotten_clients"
FORGOTTEN = "FORGOTTEN"  # the outcome of a row of an erased client: dropped and counted
TOMBSTONE_SCHEMA = T.StructType([
    T.StructField("kind", T.StringType(), False),  # key | cookie
    T.StructField("value", T.StringType(), False),
    T.StructField("forgotten_at", T.TimestampType(), False),
])


@dataclass(frozen=True)
class Columns:
    """Where a table holds a client: key columns, cookie columns, raw-text columns."""

    keys: tuple[str, ...] = ()
    cookies: tuple[str, ...] = ()
    raw: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.keys or self.cookies or self.raw)


def client_columns(columns: Sequence[str], key_names: Sequence[str],
                   cookie_names: Sequence[str]) -> Columns:
    """The columns of a table (``columns``) that name a client, matched by exact name."""
    keys = (*key_names, CANONICAL_KEY)
    cookies = (*cookie_names, CANONICAL_COOKIE)
    return Columns(keys=tuple(c for c in columns if c in keys),
                   cookies=tuple(c for c in columns if c in cookies and c not in keys),
                   raw=tuple(c for c in columns if c in RAW_COLUMNS))


def _text(column: str) -> Column:
    return F.col(f"`{column.replace('`', '``')}`").cast("string")


def linked_cookies(table: DataFrame, where: Columns, keys: DataFrame) -> DataFrame:
    """Distinct ``value``: the cookies seen on rows of ``table`` with one of ``keys``."""
    if not (where.keys and where.cookies):
        return keys.sparkSession.createDataFrame([], "value string")
    key_values = keys.select(F.col("value").alias("_key"))
    found = []
    for key in where.keys:
        for cookie in where.cookies:
            found.append(table.select(_text(key).alias("_key"), _text(cookie).alias("value"))
                         .where(F.col("value").isNotNull())
                         .join(key_values, "_key", "left_semi").select("value"))
    result = found[0]
    for frame in found[1:]:
        result = result.unionByName(frame)
    return result.distinct()


def erase_condition(where: Columns) -> str:
    """The MERGE condition matching a target row ``t`` to an erased value ``f`` (kind, value).

    A key column matches a key; a cookie column matches a cookie on a row whose key columns are
    all NULL (an anonymous event); a raw-text column matches when it contains the value.
    """
    def quoted(c: str) -> str:
        return "t.`" + c.replace("`", "``") + "`"

    parts = [f"(f.kind = 'key' AND CAST({quoted(k)} AS STRING) = f.value)" for k in where.keys]
    anonymous = " AND ".join(f"coalesce(trim(CAST({quoted(k)} AS STRING)), '') = ''"
                             for k in where.keys) or "TRUE"
    parts += [f"(f.kind = 'cookie' AND {anonymous} AND CAST({quoted(c)} AS STRING) = f.value)"
              for c in where.cookies]
    # A raw record mentions a value as a whole field: not inside a longer word or number.
    edge = "[^A-Za-z0-9_.-]"
    parts += [f"(f.value <> '' AND CAST({quoted(r)} AS STRING) RLIKE "
              f"concat('(^|{edge})', '\\\\Q', f.value, '\\\\E', '($|{edge})'))"
              for r in where.raw]
    if not parts:
        raise ValueError("erase_condition: the table names no client")
    return " OR ".join(parts)


def tombstones(keys: DataFrame, cookies: DataFrame, at: dt.datetime) -> DataFrame:
    """(kind, value, forgotten_at) rows of the erased keys and cookies, distinct."""
    return (keys.select(F.lit("key").alias("kind"), "value")
            .unionByName(cookies.select(F.lit("cookie").alias("kind"), "value"))
            .where(F.col("value").isNotNull() & (F.col("value") != ""))
            .distinct()
            .withColumn("forgotten_at", F.lit(at).cast("timestamp")))


FORGOTTEN_FLAG = "_forgotten"


def with_forgotten_flag(forgotten: DataFrame | None, key: str | None, cookie: str | None
                        ) -> Callable[[DataFrame], DataFrame]:
    """Add ``_forgotten``: the row's key is a tombstone, or it has no key and its cookie is one.

    ``forgotten`` is ops.forgotten_clients (kind, value), or None when nobody was forgotten.
    Joins on the tombstones (broadcast: one row per erased key or cookie), never a collect.
    """

    def add(df: DataFrame) -> DataFrame:
        if forgotten is None:
            return df.withColumn(FORGOTTEN_FLAG, F.lit(False))
        flagged = df
        hits = []
        for kind, column in (("key", key), ("cookie", cookie)):
            if not column or column not in df.columns:
                continue
            name = f"_forgotten_{kind}"
            values = F.broadcast(forgotten.where(F.col("kind") == kind)
                                 .select(F.col("value").alias(name)).distinct())
            flagged = flagged.join(values, _text(column) == F.col(name), "left")
            hit = F.col(name).isNotNull()
            if kind == "cookie" and key and key in df.columns:
                hit = hit & (F.coalesce(F.trim(_text(key)), F.lit("")) == F.lit(""))
            hits.append((name, hit))
        flag = F.lit(False)
        for _, hit in hits:
            flag = flag | hit
        return flagged.withColumn(FORGOTTEN_FLAG, flag).drop(*(n for n, _ in hits))

    return add
