"""Backfills: which gold slices a re-ingested month leaves computed from data that changed.

A delivery of month ``M`` (folder ``YYYY-MM``) holds events from ``late_tolerance_days`` before
``M`` to as many days after it. When an already ingested month is re-ingested with different
content (a corrected export, a backfill), bronze has that month's new rows at once, but every
``gold.client_features`` slice with an as-of date after the month's first event was computed
from the old rows (features look back from their as-of date), and so was every ``gold.labels``
slice whose label window overlaps a changed sales delivery. Ingest names those slices in one
warning line, with the commands that recompute them, and changes nothing else: recomputing is
the user's call (``segrec features --as-of <date>``, then ``segrec score --as-of <date>``, and
``segrec train`` for labels).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pyspark.sql import SparkSession

from segrec_spark.config import Config
from segrec_spark.tables import read_table_if_exists, table_path

log = logging.getLogger(__name__)


def changed_deliveries(rows: Iterable[Mapping[str, Any]],
                       previous: Mapping[tuple[str, str], Mapping[str, Any]]) -> list[str]:
    """``source/delivery`` of the deliveries written by this run that had been ingested before
    with other content or settings (their audit fingerprint changed), sorted."""
    out = []
    for row in rows:
        last = previous.get((row["source"], row["delivery"]))
        if row["status"] != "UNCHANGED" and last is not None \
                and last["fingerprint"] != row["fingerprint"]:
            out.append(f"{row['source']}/{row['delivery']}")
    return sorted(out)


def event_span(delivery: str, late_tolerance_days: int) -> tuple[dt.date, dt.date]:
    """(first, last) day a delivery ``[source/]YYYY-MM`` may hold events of: its month, widened
    by the late tolerance on each side."""
    year, month = (int(part) for part in delivery.split("/")[-1].split("-"))
    start = dt.date(year, month, 1)
    end = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    slack = dt.timedelta(days=late_tolerance_days)
    return start - slack, end + slack


def earliest_event(delivery: str, late_tolerance_days: int) -> dt.date:
    return event_span(delivery, late_tolerance_days)[0]


def stale_as_of_dates(changed: Sequence[str], as_of_dates: Iterable[dt.date],
                      late_tolerance_days: int) -> list[dt.date]:
    """The as-of dates (of feature slices already written) whose look-back reads a changed
    delivery: every date after its first possible event."""
    if not changed:
        return []
    first = min(earliest_event(d, late_tolerance_days) for d in changed)
    return sorted({d for d in as_of_dates if d > first})


def stale_label_dates(changed: Sequence[str], label_dates: Iterable[dt.date],
                      late_tolerance_days: int, horizon_days: int,
                      label_sources: Sequence[str]) -> list[dt.date]:
    """The as-of dates of gold.labels slices whose window [as_of, as_of + horizon) overlaps a
    changed delivery of a source labels come from (the contract's sales source)."""
    spans = [event_span(d, late_tolerance_days) for d in changed
             if d.split("/")[0] in label_sources]
    horizon = dt.timedelta(days=horizon_days)
    return sorted({d for d in label_dates
                   if any(d <= last and d + horizon > first for first, last in spans)})


def stale_message(changed: Sequence[str], stale: Sequence[dt.date],
                  stale_labels: Sequence[dt.date] = ()) -> str:
    """One line: what changed, which slices read it, the commands that recompute them."""
    dates = ", ".join(d.isoformat() for d in stale)
    labels = (f"; gold.labels at {', '.join(d.isoformat() for d in stale_labels)} (read by "
              f"`segrec train`)" if stale_labels else "")
    return (f"ingest: {', '.join(changed)} replaced data ingested before; gold.client_features "
            f"(and everything scored from it) at {dates}{labels} was computed from the earlier "
            f"rows and is left as it is: recompute with `segrec features --as-of <date>` then "
            f"`segrec score --as-of <date>` for each of them"
            + (", and `segrec train` for the labels" if stale_labels else ""))


def warn_stale_slices(spark: SparkSession, cfg: Config, rows: Iterable[Mapping[str, Any]],
                      previous: Mapping[tuple[str, str], Mapping[str, Any]]) -> str | None:
    """Log (and return) the one warning line when this run re-ingested changed deliveries."""
    changed = changed_deliveries(rows, previous)
    if not changed:
        return None

    def written(name: str) -> list[dt.date]:
        table = read_table_if_exists(spark, table_path(cfg.paths.root, "gold", name))
        return [] if table is None else [
            r[0] for r in table.select("as_of_date").distinct().collect()]  # a row per date

    tolerance = cfg.ingest.late_tolerance_days
    sales = [s.name for s in cfg.contract.of_kind("sales")]
    stale = stale_as_of_dates(changed, written("client_features"), tolerance)
    stale_labels = stale_label_dates(changed, written("labels"), tolerance,
                                     cfg.features.horizon_days, sales)
    if not stale and not stale_labels:
        return None
    line = stale_message(changed, stale, stale_labels)
    log.warning(line)
    return line
