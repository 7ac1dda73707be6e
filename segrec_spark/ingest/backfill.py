"""Backfills: which gold slices a re-ingested month leaves computed from data that changed.

A delivery of month ``M`` (folder ``YYYY-MM``) holds events from ``late_tolerance_days`` before
``M`` to as many days after it. When an already ingested month is re-ingested with different
content (a corrected export, a backfill), bronze has that month's new rows at once, but every
``gold.client_features`` slice with an as-of date after the month's first event was computed
from the old rows: features look back from their as-of date. Ingest names those slices (one
warning line, with the command that recomputes them) and changes nothing else; recomputing is
the user's call (``segrec features --as-of <date>``, then ``segrec score --as-of <date>``).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


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


def earliest_event(delivery: str, late_tolerance_days: int) -> dt.date:
    """The first day a delivery ``YYYY-MM`` may hold events of (its month, minus the tolerance)."""
    year, month = (int(part) for part in delivery.split("/")[-1].split("-"))
    return dt.date(year, month, 1) - dt.timedelta(days=late_tolerance_days)


def stale_as_of_dates(changed: Sequence[str], as_of_dates: Iterable[dt.date],
                      late_tolerance_days: int) -> list[dt.date]:
    """The as-of dates (of slices already written) whose look-back reads a changed delivery."""
    if not changed:
        return []
    first = min(earliest_event(d, late_tolerance_days) for d in changed)
    return sorted({d for d in as_of_dates if d > first})


def stale_message(changed: Sequence[str], stale: Sequence[dt.date]) -> str:
    """One line: what changed, which slices read it, the commands that recompute them."""
    dates = ", ".join(d.isoformat() for d in stale)
    return (f"ingest: {', '.join(changed)} replaced data ingested before; gold.client_features "
            f"(and everything scored from it) at {dates} was computed from the earlier rows and "
            f"is left as it is: recompute with `segrec features --as-of <date>` then "
            f"`segrec score --as-of <date>` for each of them")
