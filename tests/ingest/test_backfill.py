"""Backfills: which gold slices a re-ingested month outdates (pure logic; the whole sequence
runs in tests/test_monthly.py)."""
from __future__ import annotations

import datetime as dt

from segrec_spark.ingest.backfill import (
    changed_deliveries,
    earliest_event,
    event_span,
    stale_as_of_dates,
    stale_label_dates,
    stale_message,
)


def _row(source, delivery, status, fingerprint):
    return {"source": source, "delivery": delivery, "status": status, "fingerprint": fingerprint}


def test_only_deliveries_ingested_before_with_other_content_count_as_changed():
    previous = {("web", "2026-02"): {"fingerprint": "a"}, ("web", "2026-03"): {"fingerprint": "b"},
                ("app", "2026-02"): {"fingerprint": "c"}}
    rows = [_row("web", "2026-02", "OK", "a2"),         # re-delivered with other content
            _row("web", "2026-03", "UNCHANGED", "b"),   # skipped
            _row("app", "2026-02", "OK", "c"),          # forced re-ingest, same content
            _row("web", "2026-04", "OK", "d")]          # a new month
    assert changed_deliveries(rows, previous) == ["web/2026-02"]


def test_slices_after_the_changed_months_first_possible_event_are_stale():
    assert earliest_event("web/2026-03", 3) == dt.date(2026, 2, 26)
    dates = [dt.date(2026, 1, 31), dt.date(2026, 2, 26), dt.date(2026, 2, 27), dt.date(2026, 4, 1)]
    assert stale_as_of_dates(["web/2026-03", "app/2026-04"], dates, 3) == [
        dt.date(2026, 2, 27), dt.date(2026, 4, 1)]
    assert stale_as_of_dates([], dates, 3) == []


def test_the_message_names_the_deliveries_the_slices_and_the_commands():
    line = stale_message(["web/2026-03"], [dt.date(2026, 4, 1), dt.date(2026, 5, 1)])
    assert "\n" not in line
    assert "web/2026-03" in line
    assert "2026-04-01, 2026-05-01" in line
    assert "segrec features --as-of" in line


def test_label_slices_whose_window_overlaps_a_changed_sales_month_are_stale():
    assert event_span("sales/2026-12", 3) == (dt.date(2026, 11, 28), dt.date(2027, 1, 3))
    dates = [dt.date(2026, 1, 20), dt.date(2026, 2, 25), dt.date(2026, 3, 2), dt.date(2026, 4, 4)]
    # sales of March hold Feb 26 - Apr 3: [Jan 20, Feb 19) and [Apr 4, May 4) miss it
    assert stale_label_dates(["sales/2026-03", "web/2026-01"], dates, 3, 30, ["sales"]) == [
        dt.date(2026, 2, 25), dt.date(2026, 3, 2)]
    assert stale_label_dates(["web/2026-03"], dates, 3, 30, ["sales"]) == []
    line = stale_message(["sales/2026-03"], [dt.date(2026, 4, 1)], [dt.date(2026, 3, 2)])
    assert "gold.labels at 2026-03-02" in line
    assert "segrec train" in line

