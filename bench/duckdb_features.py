"""The single-machine yardstick: the features stage's tables built by DuckDB from the same bronze.

    .venv/bin/python bench/duckdb_features.py --lake W/lake [--threads 2] [--out DIR] [--conf ...]

From the bronze Delta tables (read through ``deltalake`` as Arrow datasets, so DuckDB scans the
very files Spark read) it builds what ``segrec features`` writes: ``silver.events``
(sessionized), ``silver.identity_map``, ``gold.client_features`` for the as_of_dates Spark wrote,
and ``gold.labels`` for its labelled dates, each written as Parquet (the writes are timed). Then
it compares its client features with Spark's ``gold.client_features``, key by key and column by
column (numbers within 1e-9 relative, the rest exactly), and its labels with ``gold.labels``.

The SQL mirrors the pure functions of :mod:`segrec_spark.features` (conform, silver,
client_features, definitions, labels): the same facts table grouped once by (as_of_date,
client), the same tie-breaking. Feature names and their order come from
:func:`segrec_spark.features.definitions.feature_definitions`; a definition family this file
does not know stops it with an error rather than a silent gap. DuckDB runs on as many threads as
Spark has cores (``--threads``), so the time ratio compares like with like. DuckDB is a benchmark
tool here, never part of the pipeline.
"""
from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from segrec_spark.contract import UNKNOWN, Contract, Source  # noqa: E402
from segrec_spark.features.conform import (  # noqa: E402
    CANONICAL,
    attribute_columns,
    label_statuses,
)
from segrec_spark.features.definitions import feature_definitions, token  # noqa: E402
from segrec_spark.features.settings import FeatureSettings  # noqa: E402

SQL_TYPES = {"string": "VARCHAR", "timestamp": "TIMESTAMP", "double": "DOUBLE", "date": "DATE",
             "array<string>": "VARCHAR[]", "int": "INTEGER"}
FACT_COLUMNS = (("identity_id_hash", "VARCHAR"), ("kind", "VARCHAR"), ("channel", "VARCHAR"),
                ("product", "VARCHAR"), ("fact_date", "DATE"), ("n", "BIGINT"),
                ("amount", "DOUBLE"), ("duration_sec", "DOUBLE"), ("outcome", "VARCHAR"),
                ("products_held", "VARCHAR[]"))
TOLERANCE = 1e-9


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def in_list(values: Sequence[str]) -> str:
    return ", ".join(lit(v) for v in values)


def date_lit(value: dt.date) -> str:
    return f"DATE '{value.isoformat()}'"


# --- conform and silver ---------------------------------------------------------------------

def conformed_select(source: Source) -> str:
    """The canonical columns of a bronze table (conform.conform) as a SELECT list."""
    selected = []
    for role, name, dtype in CANONICAL[source.kind]:
        column = source.role_column(role)
        if column is None:
            value = f"CAST(NULL AS {SQL_TYPES[dtype]})"
        else:
            value = ident(column)
            if dtype == "double" and source.column(column).type == "boolean":
                value = f"CAST({value} AS INTEGER)"
            value = f"CAST({value} AS {SQL_TYPES[dtype]})"
        selected.append(f"{value} AS {ident(name)}")
    if source.kind == "clients":
        selected += [f"CAST({ident(n)} AS {SQL_TYPES[t]}) AS {ident(n)}"
                     for n, t in attribute_columns(source)]
    return ", ".join(selected)


def source_events_sql(source: Source) -> str:
    """silver.source_events: usable rows of one events source in the event columns."""
    usable = ["(identity_id_hash IS NOT NULL OR user_id IS NOT NULL)", "event_ts IS NOT NULL"]
    if source.passive_event_types:
        usable.append(f"(event_type IS NULL OR event_type NOT IN "
                      f"({in_list(source.passive_event_types)}))")
    return (f"SELECT identity_id_hash, user_id, event_id, event_ts, CAST(event_ts AS DATE) AS "
            f"event_date, {lit(source.channel)} AS channel, event_type, product_area, "
            f"{lit(source.name)} AS source, duration_sec FROM {conformed_view(source)} "
            f"WHERE {' AND '.join(usable)}")


def conformed_view(source: Source) -> str:
    return ident(f"c_{source.name}")


def sessionized_sql(sources: Sequence[Source], gap_minutes: int) -> str:
    """silver.events: the unified stream with session_id / session_start_ts (silver.sessionize:
    a new session after a gap > gap_minutes or at midnight; the start is the latest start so
    far, which, the rows being in time order, is the largest)."""
    union = " UNION ALL ".join(source_events_sql(s) for s in sources)
    window = ("PARTITION BY channel, _session_key, event_date ORDER BY event_ts, event_id")
    return f"""
        WITH keyed AS (SELECT *, coalesce(user_id, identity_id_hash) AS _session_key
                       FROM ({union})),
        lagged AS (SELECT *, lag(event_ts) OVER ({window}) AS _previous_ts FROM keyed),
        started AS (
            SELECT *, max(CASE WHEN _previous_ts IS NULL
                                 OR epoch_us(event_ts) // 1000000 - epoch_us(_previous_ts)
                                    // 1000000 > {gap_minutes * 60}
                               THEN event_ts END)
                      OVER ({window} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                      AS session_start_ts
            FROM lagged)
        SELECT identity_id_hash, user_id, event_id, event_ts, event_date, channel, event_type,
               product_area, source, duration_sec,
               channel || ':' || _session_key || ':' || strftime(session_start_ts,
                   '%Y%m%dT%H%M%S') AS session_id,
               session_start_ts
        FROM started"""


IDENTITY_ORDER = {"most_recent": "last_seen DESC, logged_in_events DESC",
                  "most_frequent": "logged_in_events DESC, last_seen DESC"}


def identity_map_sql(events: str, resolution: str) -> str:
    """silver.identity_map of ``events`` (a relation): one client per cookie."""
    return f"""
        SELECT user_id, identity_id_hash, first_seen, last_seen FROM (
            SELECT *, row_number() OVER (PARTITION BY user_id
                ORDER BY {IDENTITY_ORDER[resolution]}, identity_id_hash) AS _rank
            FROM (SELECT user_id, identity_id_hash, min(event_ts) AS first_seen,
                         max(event_ts) AS last_seen, count(*) AS logged_in_events
                  FROM {events}
                  WHERE user_id IS NOT NULL AND identity_id_hash IS NOT NULL
                  GROUP BY user_id, identity_id_hash))
        WHERE _rank = 1"""


# --- facts ----------------------------------------------------------------------------------

def facts(kind: str, attributes: Sequence[tuple[str, str]], **columns: str) -> str:
    """A SELECT list in the facts schema (client_features.as_facts): typed NULLs elsewhere."""
    out = []
    for name, sql_type in (*FACT_COLUMNS, *((n, SQL_TYPES[t]) for n, t in attributes)):
        if name == "kind":
            value = lit(kind)
        elif name == "identity_id_hash":
            value = columns.get(name, "identity_id_hash")
        else:
            value = columns.get(name, "NULL")
        out.append(f"CAST({value} AS {sql_type}) AS {ident(name)}")
    return ", ".join(out)


def facts_sql(as_of: dt.date, settings: FeatureSettings, contract: Contract) -> str:
    """client_features.client_facts_table for ``as_of``, tagged with it."""
    clients = contract.one_of_kind("clients")
    camp = contract.one_of_kind("campaigns")
    sales = contract.one_of_kind("sales")
    assert sales is not None
    attributes = attribute_columns(clients)
    d, window = date_lit(as_of), settings.max_window
    before = f"event_ts < CAST({d} AS TIMESTAMP)"
    statuses = label_statuses(settings, contract)
    take_up = f"status IN ({in_list(statuses)})" if statuses else "TRUE"
    parts = [
        f"SELECT DISTINCT identity_id_hash FROM events WHERE {before} "
        f"AND identity_id_hash IS NOT NULL",
        f"SELECT DISTINCT identity_id_hash FROM {conformed_view(sales)} WHERE {before} "
        f"AND identity_id_hash IS NOT NULL"]
    if camp is not None:
        parts.append(f"SELECT DISTINCT identity_id_hash FROM {conformed_view(camp)} "
                     f"WHERE {before} AND identity_id_hash IS NOT NULL")
    seen = f"SELECT DISTINCT identity_id_hash FROM ({' UNION ALL '.join(parts)})"
    union = [
        f"SELECT {facts('seen', attributes)} FROM seen",
        f"SELECT {facts('day', attributes, channel='channel', fact_date='event_date', n='n')} "
        f"FROM (SELECT identity_id_hash, channel, event_date, sum(n) AS n FROM stitched "
        f"GROUP BY ALL)",
        f"SELECT {facts('area', attributes, product='product_area', fact_date='event_date', n='n')}"
        f" FROM (SELECT identity_id_hash, product_area, event_date, sum(n) AS n FROM stitched "
        f"GROUP BY ALL)",
        f"SELECT {facts('session', attributes, channel='channel', fact_date='CAST(start_ts AS DATE)', duration_sec='epoch_us(end_ts) // 1000000 - epoch_us(start_ts) // 1000000 + coalesce(last_duration, 0.0)')}"  # noqa: E501
        f" FROM (SELECT identity_id_hash, channel, session_id, min(start_ts) AS start_ts, "
        f"max(end_ts) AS end_ts, arg_max_null(last_duration, {{'e': end_ts, "
        f"'d': coalesce(last_duration, '-inf'::DOUBLE)}}) AS last_duration FROM stitched "
        f"GROUP BY ALL)",
        f"SELECT {facts('agreement', attributes, product='product_code', fact_date='CAST(event_ts AS DATE)', amount='amount')}"  # noqa: E501
        f" FROM {conformed_view(sales)} WHERE {before} AND {take_up} "
        f"AND identity_id_hash IS NOT NULL",
    ]
    if camp is not None:
        union.append(
            f"SELECT {facts('contact', attributes, product='product_code', fact_date='CAST(event_ts AS DATE)', outcome='outcome')}"  # noqa: E501
            f" FROM {conformed_view(camp)} WHERE {before} AND CAST(event_ts AS DATE) >= "
            f"{d} - {window} AND identity_id_hash IS NOT NULL")
    if clients is not None:
        snapshot = {name: name for name, _ in attributes}
        union.append(
            f"SELECT {facts('client', attributes, fact_date='snapshot_date', products_held='products_held', **snapshot)}"  # noqa: E501
            f" FROM (SELECT *, row_number() OVER (PARTITION BY identity_id_hash ORDER BY "
            f"snapshot_date DESC NULLS LAST) AS _rank FROM {conformed_view(clients)} "
            f"WHERE identity_id_hash IS NOT NULL AND (snapshot_date IS NULL OR snapshot_date < "
            f"{d})) WHERE _rank = 1")
    return f"""
        WITH before AS (SELECT * FROM events WHERE {before}),
        links AS ({identity_map_sql('before', settings.identity_resolution)}),
        activity AS (
            SELECT identity_id_hash, user_id, channel, event_date, session_id, product_area,
                   count(*) AS n, min(session_start_ts) AS start_ts, max(event_ts) AS end_ts,
                   arg_max_null(duration_sec, {{'t': event_ts, 'i': coalesce(event_id, ''),
                                                's': source,
                                                'd': coalesce(duration_sec, '-inf'::DOUBLE)}})
                       AS last_duration
            FROM before WHERE event_date >= {d} - {window}
            GROUP BY ALL),
        stitched AS (
            SELECT * FROM activity WHERE identity_id_hash IS NOT NULL
            UNION ALL BY NAME
            SELECT a.* EXCLUDE (identity_id_hash), l.identity_id_hash
            FROM activity a JOIN links l USING (user_id) WHERE a.identity_id_hash IS NULL),
        seen AS ({seen})
        SELECT {d} AS as_of_date, * FROM ({' UNION ALL '.join(union)})"""


# --- features (definitions.py) --------------------------------------------------------------

def count_where(condition: str, value: str = "1") -> str:
    return f"coalesce(sum(CASE WHEN {condition} THEN {value} END), 0)"


def in_window(days: int) -> str:
    return f"fact_date >= as_of_date - {days}"


def days_since_latest(condition: str, sentinel: int) -> str:
    return (f"coalesce(datediff('day', max(CASE WHEN {condition} THEN fact_date END), "
            f"as_of_date), {sentinel})")


def ratio(numerator: str, denominator: str) -> str:
    return (f"CASE WHEN {denominator} > 0 THEN CAST({numerator} AS DOUBLE) / {denominator} "
            f"ELSE 0.0 END")


def feature_sql(settings: FeatureSettings, contract: Contract) -> list[tuple[str, str]]:
    """(name, aggregate SQL) of every feature, in the registry's order."""
    out: list[tuple[str, str]] = []
    for channel in contract.channels:
        c, day = token(channel), f"kind = 'day' AND channel = {lit(channel)}"
        session = f"kind = 'session' AND channel = {lit(channel)}"
        for w in settings.windows:
            out += [
                (f"{c}_events_{w}d", count_where(f"{day} AND {in_window(w)}", "n")),
                (f"{c}_active_days_{w}d", count_where(f"{day} AND {in_window(w)}")),
                (f"{c}_sessions_{w}d", count_where(f"{session} AND {in_window(w)}")),
                (f"{c}_avg_session_sec_{w}d", f"coalesce(avg(CASE WHEN {session} AND "
                                              f"{in_window(w)} THEN duration_sec END), 0.0)")]
        out.append((f"{c}_recency_days", days_since_latest(day, settings.recency_sentinel_days)))
    for product in contract.products:
        for w in settings.windows:
            out.append((f"interest_{token(product.code)}_{w}d", count_where(
                f"kind = 'area' AND product = {lit(product.product_area)} AND {in_window(w)}",
                "n")))
    if contract.one_of_kind("campaigns") is not None:
        lag, funnel = settings.campaign_outcome_lag_days, contract.funnel
        matured = f"fact_date < as_of_date - {lag}"
        for w in settings.windows:
            contact = f"kind = 'contact' AND {in_window(w)}"
            out.append((f"camp_contacts_{w}d", count_where(contact)))
            for step, what in (("opens", funnel.opened), ("clicks", funnel.clicked),
                               ("conversions", funnel.converted)):
                if what:
                    out.append((f"camp_{step}_{w}d", count_where(
                        f"{contact} AND {matured} AND outcome IN ({in_list(what)})")))
            if funnel.opened:
                out.append((f"camp_engagement_rate_{w}d", ratio(
                    count_where(f"{contact} AND {matured} AND outcome IN "
                                f"({in_list(funnel.opened)})"),
                    count_where(f"{contact} AND {matured}"))))
    for code in contract.product_codes:
        p, agreed = token(code), f"kind = 'agreement' AND product = {lit(code)}"
        out += [(f"agr_{p}_count", count_where(agreed)),
                (f"agr_{p}_recency_days",
                 days_since_latest(agreed, settings.agreement_recency_sentinel_days)),
                (f"agr_{p}_amount", f"coalesce(sum(CASE WHEN {agreed} THEN amount END), 0.0)")]
    for code in contract.product_codes:
        out.append((f"holds_{token(code)}", (
            f"coalesce(greatest(max(CASE WHEN kind = 'agreement' AND product = {lit(code)} "
            f"THEN 1 END), max(CASE WHEN kind = 'client' AND coalesce(list_contains("
            f"products_held, {lit(code)}), FALSE) THEN 1 END)), 0)")))
    out.append(("has_digital_activity", "coalesce(max(CASE WHEN kind = 'day' THEN 1 END), 0)"))
    for name, dtype in attribute_columns(contract.one_of_kind("clients")):
        latest = f"max(CASE WHEN kind = 'client' THEN {ident(name)} END)"
        out.append((name, f"coalesce({latest}, {lit(UNKNOWN)})" if dtype == "string"
                    else latest))
    return out


def features_select(settings: FeatureSettings, contract: Contract) -> str:
    """The aggregate list, each cast to its registry type; the names checked against it."""
    defs = feature_definitions(settings, contract)
    sql = feature_sql(settings, contract)
    if [d.name for d in defs] != [name for name, _ in sql]:
        missing = sorted({d.name for d in defs} - {name for name, _ in sql})
        raise SystemExit(f"bench/duckdb_features.py: the feature registry changed (not "
                         f"mirrored here: {missing or 'the order'}); update feature_sql")
    return ", ".join(f"CAST({expr} AS {SQL_TYPES[d.dtype]}) AS {ident(d.name)}"
                     for d, (_, expr) in zip(defs, sql, strict=True))


def labels_sql(as_of: dt.date, settings: FeatureSettings, contract: Contract) -> str:
    """gold.labels for ``as_of`` from client_features (labels.labels)."""
    sales = contract.one_of_kind("sales")
    assert sales is not None
    d = date_lit(as_of)
    statuses = label_statuses(settings, contract)
    take_up = f"status IN ({in_list(statuses)})" if statuses else "TRUE"
    pairs = " UNION ALL ".join(
        f"SELECT as_of_date, identity_id_hash, {lit(code)} AS product_code FROM client_features "
        f"WHERE as_of_date = {d} AND {ident('holds_' + token(code))} = 0"
        for code in contract.product_codes)
    return f"""
        SELECT p.as_of_date, p.identity_id_hash, p.product_code,
               CAST(coalesce(t.taken, 0) AS INTEGER) AS label,
               CAST({settings.horizon_days} AS INTEGER) AS horizon_days
        FROM ({pairs}) p LEFT JOIN (
            SELECT DISTINCT identity_id_hash, product_code, 1 AS taken
            FROM {conformed_view(sales)}
            WHERE CAST(event_ts AS DATE) >= {d}
              AND CAST(event_ts AS DATE) < {d} + {settings.horizon_days}
              AND {take_up} AND identity_id_hash IS NOT NULL) t
        USING (identity_id_hash, product_code)"""


# --- run and compare ------------------------------------------------------------------------

def connect(threads: int, memory_limit: str | None = None, temp_directory: Path | None = None):
    """A DuckDB connection on ``threads`` threads. ``memory_limit`` (e.g. "6GB"; DuckDB's own
    default is 80 % of the machine) caps it to the memory Spark's driver has, like with like, and
    leaves the rest to the JVM it shares the machine with; beyond it DuckDB spills to
    ``temp_directory``."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if temp_directory:
        con.execute(f"SET temp_directory = '{temp_directory}'")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET default_null_order = 'nulls_first'")  # Spark's ascending order
    con.execute("SET preserve_insertion_order = false")
    return con


def register_delta(con, name: str, path: str) -> None:
    """A Delta table (its current version) as a DuckDB view over its Arrow dataset."""
    from deltalake import DeltaTable

    con.register(f"_arrow_{name}", DeltaTable(path).to_pyarrow_dataset())
    con.execute(f"CREATE OR REPLACE VIEW {ident(name)} AS SELECT * FROM {ident('_arrow_' + name)}")


def build(con, lake: Path, out: Path, dates: Sequence[dt.date], labelled: Sequence[dt.date],
          settings: FeatureSettings, contract: Contract) -> float:
    """Build and write the four tables from bronze; return the wall seconds (reads, compute and
    Parquet writes)."""
    started = time.perf_counter()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    used = [*contract.of_kind("events"),
            *(s for s in (contract.one_of_kind(k) for k in ("sales", "campaigns", "clients"))
              if s is not None)]
    for source in used:
        register_delta(con, f"bronze_{source.name}", str(lake / "bronze" / source.name))
        con.execute(f"CREATE OR REPLACE VIEW {conformed_view(source)} AS SELECT "
                    f"{conformed_select(source)} FROM {ident('bronze_' + source.name)}")
    con.execute("CREATE OR REPLACE TABLE events AS "
                + sessionized_sql(contract.of_kind("events"), settings.session_gap_minutes))
    con.execute(f"COPY events TO '{out / 'silver_events'}' (FORMAT parquet, "
                f"PARTITION_BY (channel))")
    con.execute(f"COPY ({identity_map_sql('events', settings.identity_resolution)}) "
                f"TO '{out / 'identity_map.parquet'}' (FORMAT parquet)")
    stacked = " UNION ALL ".join(f"({facts_sql(d, settings, contract)})" for d in dates)
    con.execute(f"CREATE OR REPLACE TABLE client_features AS SELECT as_of_date, "
                f"identity_id_hash, {features_select(settings, contract)} FROM ({stacked}) "
                f"GROUP BY as_of_date, identity_id_hash")
    con.execute(f"COPY client_features TO '{out / 'client_features'}' (FORMAT parquet, "
                f"PARTITION_BY (as_of_date))")
    if labelled:
        con.execute("CREATE OR REPLACE TABLE labels AS " + " UNION ALL ".join(
            f"({labels_sql(d, settings, contract)})" for d in labelled))
        con.execute(f"COPY labels TO '{out / 'labels'}' (FORMAT parquet, "
                    f"PARTITION_BY (as_of_date))")
    return time.perf_counter() - started


def compare(con, table: str, spark_table: str, keys: Sequence[str],
            doubles: Sequence[str], others: Sequence[str]) -> dict:
    """Rows only in one of DuckDB's ``table`` / Spark's ``spark_table`` (joined on ``keys``) and,
    per column, how many joined rows differ (doubles beyond TOLERANCE relative)."""
    on = " AND ".join(f"d.{ident(k)} = s.{ident(k)}" for k in keys)
    checks = [f"sum(CASE WHEN NOT (d.{ident(c)} IS NOT DISTINCT FROM s.{ident(c)} OR "
              f"abs(d.{ident(c)} - s.{ident(c)}) <= {TOLERANCE} * greatest(1, abs(d.{ident(c)}), "
              f"abs(s.{ident(c)}))) THEN 1 ELSE 0 END)" for c in doubles]
    checks += [f"sum(CASE WHEN d.{ident(c)} IS DISTINCT FROM s.{ident(c)} THEN 1 ELSE 0 END)"
               for c in others]
    k = ident(keys[-1])
    both = f"FILTER (WHERE d.{k} IS NOT NULL AND s.{k} IS NOT NULL)"
    checks = [f"{c} {both}" for c in checks]
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE s.{k} IS NULL), count(*) FILTER (WHERE d.{k} IS NULL), "
        f"count(*) FILTER (WHERE d.{k} IS NOT NULL AND s.{k} IS NOT NULL)"
        + "".join(f", {c}" for c in checks)
        + f" FROM {table} d FULL OUTER JOIN {spark_table} s ON {on}").fetchone()
    columns = [*doubles, *others]
    differing = {c: int(v or 0) for c, v in zip(columns, row[3:], strict=True) if v}
    return {"only_duckdb": row[0], "only_spark": row[1], "joined": row[2],
            "columns": len(columns), "differing_columns": differing}


def check(con, lake: Path, dates: Sequence[dt.date], labelled: Sequence[dt.date],
          settings: FeatureSettings, contract: Contract) -> dict:
    """DuckDB's client_features and labels against Spark's gold tables, for the same dates."""
    in_dates = ", ".join(date_lit(d) for d in dates)
    register_delta(con, "spark_features_all", str(lake / "gold" / "client_features"))
    con.execute(f"CREATE OR REPLACE VIEW spark_features AS SELECT * FROM spark_features_all "
                f"WHERE as_of_date IN ({in_dates})")
    defs = feature_definitions(settings, contract)
    result = {"client_features": compare(
        con, "client_features", "spark_features", ("as_of_date", "identity_id_hash"),
        [d.name for d in defs if d.dtype == "double"],
        [d.name for d in defs if d.dtype != "double"])}
    if labelled:
        register_delta(con, "spark_labels_all", str(lake / "gold" / "labels"))
        con.execute(f"CREATE OR REPLACE VIEW spark_labels AS SELECT * FROM spark_labels_all "
                    f"WHERE as_of_date IN ({', '.join(date_lit(d) for d in labelled)})")
        result["labels"] = compare(con, "labels", "spark_labels",
                                   ("as_of_date", "identity_id_hash", "product_code"), [],
                                   ["label", "horizon_days"])
    return result


def written_dates(lake: Path, table: str) -> list[dt.date]:
    """The as_of_dates of a gold table (read with ``deltalake``)."""
    from deltalake import DeltaTable

    column = DeltaTable(str(lake / "gold" / table)).to_pyarrow_dataset().to_table(
        columns=["as_of_date"]).column("as_of_date")
    return sorted(set(column.to_pylist()))


def identical(result: dict) -> bool:
    return all(not r["only_duckdb"] and not r["only_spark"] and not r["differing_columns"]
               for r in result.values())


def describe(result: dict) -> str:
    parts = []
    for table, r in result.items():
        state = ("identical" if not (r["only_duckdb"] or r["only_spark"]
                                     or r["differing_columns"]) else "DIFFERENT")
        parts.append(f"{table} {state}: {r['joined']:,} rows joined, {r['only_spark']} only in "
                     f"Spark, {r['only_duckdb']} only in DuckDB, {r['columns']} columns compared"
                     + (f", differing {r['differing_columns']}" if r["differing_columns"] else ""))
    return "; ".join(parts)


def yardstick(lake: Path, dates: Sequence[dt.date], labelled: Sequence[dt.date],
              settings: FeatureSettings, contract: Contract, threads: int,
              out: Path | None = None, memory_limit: str | None = None) -> dict:
    """Build with DuckDB (timed), then compare with Spark's tables: {seconds, threads, check}."""
    scratch = out or Path(tempfile.mkdtemp(prefix="segrec_duckdb_"))
    con = connect(threads, memory_limit, scratch / "spill")
    try:
        seconds = build(con, lake, scratch / "duckdb", dates, labelled, settings, contract)
        result = check(con, lake, dates, labelled, settings, contract)
    finally:
        con.close()
        if out is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return {"seconds": round(seconds, 2), "threads": threads, "memory_limit": memory_limit,
            "check": result, "identical": identical(result)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", required=True, help="paths.root of a run that wrote features")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (Spark's cores)")
    parser.add_argument("--memory-limit", default="6GB",
                        help="DuckDB's memory limit (Spark's driver memory; default 6GB)")
    parser.add_argument("--out", help="keep DuckDB's Parquet tables here (default: removed)")
    parser.add_argument("--conf", help="the run's configuration file (default: conf/local.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override, as in `segrec --set`")
    parser.add_argument("--spark-seconds", type=float,
                        help="the features stage's time, to print the ratio")
    args = parser.parse_args()

    from segrec_spark.config import load_config

    cfg = load_config(args.conf, args.set)
    lake = Path(args.lake)

    result = yardstick(lake, written_dates(lake, "client_features"),
                       written_dates(lake, "labels"), cfg.features,
                       cfg.contract, args.threads, Path(args.out) if args.out else None,
                       args.memory_limit)
    print(f"duckdb: {result['seconds']:.1f} s on {args.threads} threads; "
          f"{describe(result['check'])}")
    if args.spark_seconds:
        print(f"features spark/duckdb ratio {args.spark_seconds / result['seconds']:.2f}")
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
