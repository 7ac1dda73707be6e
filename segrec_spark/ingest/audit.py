"""The ingest audit: one row per source and delivery, read back to skip unchanged deliveries."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segrec_spark.errors import SegrecError
from segrec_spark.forget.erase import FORGOTTEN
from segrec_spark.ingest.validate import ACCEPTED, DUPLICATE
from segrec_spark.tables import delta_exists, read_table, table_path

AUDIT = "ingest_audit"

AUDIT_SCHEMA = T.StructType([
    T.StructField("source", T.StringType(), False),
    T.StructField("delivery", T.StringType(), False),
    T.StructField("batch_id", T.StringType(), False),
    T.StructField("files", T.ArrayType(T.StringType()), False),
    T.StructField("rows_read", T.LongType(), False),
    T.StructField("rows_accepted", T.LongType(), False),
    T.StructField("rows_quarantined", T.LongType(), False),
    T.StructField("duplicates_dropped", T.LongType(), False),
    T.StructField("quarantine_reasons", T.MapType(T.StringType(), T.LongType()), False),
    T.StructField("status", T.StringType(), False),  # OK | EMPTY
    T.StructField("started_at", T.TimestampType(), False),
    T.StructField("finished_at", T.TimestampType(), False),
    T.StructField("extra_columns", T.ArrayType(T.StringType()), False),
    T.StructField("message", T.StringType(), True),
    T.StructField("fingerprint", T.StringType(), False),  # content + settings, for re-run skips
    T.StructField("rows_forgotten", T.LongType(), True),  # erased clients' rows (segrec forget)
])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _audit_row(source: str, delivery: str, files: list[str], counts: dict[str, int],
               status: str, started_at: dt.datetime, extras: tuple[str, ...], message: str,
               fingerprint: str) -> dict[str, Any]:
    reasons = {k: v for k, v in sorted(counts.items())
               if k not in (ACCEPTED, DUPLICATE, FORGOTTEN)}
    return {
        "source": source, "delivery": delivery, "batch_id": f"{source}/{delivery}",
        "files": files, "rows_read": sum(counts.values()),
        "rows_accepted": counts.get(ACCEPTED, 0), "rows_quarantined": sum(reasons.values()),
        "duplicates_dropped": counts.get(DUPLICATE, 0), "quarantine_reasons": reasons,
        "status": status, "started_at": started_at, "finished_at": _now(),
        "extra_columns": list(extras), "message": message, "fingerprint": fingerprint,
        "rows_forgotten": counts.get(FORGOTTEN, 0),
    }


def previous_audits(spark: SparkSession, root: str, sources: Sequence[str]
                    ) -> dict[tuple[str, str], dict[str, Any]]:
    """{(source, delivery): last audit row} of ``sources`` (one row per delivery ever ingested)."""
    path = table_path(root, "ops", AUDIT)
    if not delta_exists(spark, path) or not sources:
        return {}
    rows = read_table(spark, path).filter(F.col("source").isin(*sources)).collect()
    return {(r["source"], r["delivery"]): r.asDict(recursive=True) for r in rows}


def _check_counts(row: dict[str, Any]) -> None:
    parts = (row["rows_accepted"] + row["rows_quarantined"] + row["duplicates_dropped"]
             + (row.get("rows_forgotten") or 0))
    if row["rows_read"] != parts:  # impossible by construction; guards against a future bug
        raise SegrecError(f"{row['batch_id']}: rows read {row['rows_read']} != accepted + "
                          f"quarantined + duplicates + forgotten ({parts})")


# --- entry points -------------------------------------------------------------------------------


def tally(rows: Sequence[dict[str, Any]]) -> str:
    """One line for the audit rows of some deliveries: their counts added up, and how many
    deliveries ended in each status (OK, UNCHANGED, EMPTY)."""
    total = {k: sum(int(r.get(k) or 0) for r in rows if r["status"] != "UNCHANGED")
             for k in ("rows_read", "rows_accepted", "rows_quarantined", "duplicates_dropped",
                       "rows_forgotten")}
    statuses = sorted({r["status"] for r in rows})
    by_status = ", ".join(f"{sum(r['status'] == s for r in rows)} {s}" for s in statuses)
    return (f"{len(rows)} deliveries ({by_status or 'none'}): read {total['rows_read']} = "
            f"accepted {total['rows_accepted']} + quarantined {total['rows_quarantined']} + "
            f"duplicates dropped {total['duplicates_dropped']}"
            + (f" + forgotten {total['rows_forgotten']}" if total["rows_forgotten"] else ""))
