"""The calendar from the data's own dates (segrec_spark.calendar): no Spark, no settings of the
generator."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from segrec_spark import calendar
from segrec_spark.errors import InputDataError
from segrec_spark.typed_yaml import ConfigError


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.mark.parametrize(("last", "end"), [
    ("2026-03-31", "2026-04-01"),  # the data reaches March's last day: March is complete
    ("2026-04-02", "2026-04-01"),  # a few late rows do not make April complete
    ("2026-03-30", "2026-03-01"),  # March is not complete
    ("2024-02-29", "2024-03-01"),  # leap year
    ("2025-12-31", "2026-01-01"),
])
def test_the_data_ends_after_its_last_complete_month(last, end):
    assert calendar.end_of_complete_months(d(last)) == d(end)


def test_add_months_and_whole_months():
    assert calendar.add_months(d("2026-11-01"), 3) == d("2027-02-01")
    assert calendar.add_months(d("2026-01-01"), -1) == d("2025-12-01")
    assert calendar.months_between(d("2026-01-01"), d("2026-04-01")) == 3
    assert calendar.months_between(d("2026-01-15"), d("2026-04-01")) == 2  # January partial


def test_as_of_dates_follow_the_data_end_and_the_horizon():
    assert calendar.as_of_dates(d("2026-04-01"), 30) == (
        d("2026-01-31"), d("2026-03-02"), d("2026-04-01"))
    assert calendar.as_of_dates(d("2026-04-01"), 14, train_as_of=d("2026-03-01"),
                                score_as_of=d("2026-03-15")) == (
        d("2026-02-15"), d("2026-03-01"), d("2026-03-15"))
    cfg = SimpleNamespace(features=SimpleNamespace(horizon_days=30, train_as_of=None,
                                                   score_as_of=d("2026-05-01")))
    assert calendar.default_as_of_dates(cfg, d("2026-04-01"))[2] == d("2026-05-01")
    with pytest.raises(ConfigError, match="features.train_as_of: must be before"):
        calendar.as_of_dates(d("2026-04-01"), 30, train_as_of=d("2026-04-01"))


def test_label_window_must_lie_inside_the_data():
    assert calendar.has_label_window(d("2026-03-02"), 30, d("2026-04-01"))
    assert not calendar.has_label_window(d("2026-03-03"), 30, d("2026-04-01"))


def test_enough_history_passes_at_exactly_one_window_plus_one_horizon():
    calendar.require_history(d("2026-01-01"), d("2026-04-01"), 60, 30)  # 90 days


def test_too_few_months_is_one_line_saying_what_is_needed_and_what_exists():
    with pytest.raises(InputDataError) as error:
        calendar.require_history(d("2026-02-01"), d("2026-04-01"), 60, 30)
    message = str(error.value)
    assert "\n" not in message
    assert "need 90 days (about 3 months)" in message
    assert "found 59 days (2 complete months) from 2026-02-01" in message


def test_bad_as_of_argument_is_named():
    assert calendar.parse_as_of("2026-03-01") == d("2026-03-01")
    with pytest.raises(ConfigError, match="--as-of: expected a date YYYY-MM-DD, found '03/01'"):
        calendar.parse_as_of("03/01")


def test_stacked_dates_go_back_one_horizon_at_a_time_while_the_whole_window_fits():
    first = dt.date(2026, 1, 1)
    # six months: E = 2026-07-01, E - 2h = 2026-05-02; 2026-03-03 still has 60 days before it
    assert calendar.stacked_dates(first, dt.date(2026, 5, 2), 30, 60, 3) == [
        dt.date(2026, 3, 3), dt.date(2026, 4, 2)]
    assert calendar.stacked_dates(first, dt.date(2026, 5, 2), 30, 60, 9) == [
        dt.date(2026, 3, 3), dt.date(2026, 4, 2)]
    assert calendar.stacked_dates(first, dt.date(2026, 5, 2), 30, 60, 1) == []
    # three months: nothing before E - 2h has its 60-day window
    assert calendar.stacked_dates(first, dt.date(2026, 1, 31), 30, 60, 3) == []
