"""The calendar (DESIGN.md section 3): as-of dates from the data's own dates, never from settings
of the generator.

Pure date logic, the bottom of the import graph (no Spark, no stage): the features stage finds
the first and last date of the data in bronze and everything else follows from them here.

* The data's end ``E`` is the first day after its last *complete* month: a month is complete when
  the data reaches its last day (late rows a few days into the next month do not make that month
  complete). ``features.score_as_of`` or ``--as-of`` replaces ``E`` when given.
* With ``h = features.horizon_days`` the default as-of dates are ``E - 2h`` and ``E - h``
  (labelled: training and validation) and ``E`` (scoring). ``features.train_as_of`` replaces
  ``E - h``; the earliest date is always one horizon before the training date.
* With ``features.train_snapshots`` = n > 1, up to n - 1 more labelled dates one horizon apart
  before ``E - 2h`` (``E - 3h``, ``E - 4h``, ...), each only when the data holds its whole longest
  look-back window (:func:`stacked_dates`): training stacks these monthly snapshots.
* A labelled as-of date needs the longest look-back window before it and a whole label horizon
  after it inside the data; when the data is shorter, :func:`require_history` says by how much.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

from segrec_spark.errors import InputDataError
from segrec_spark.typed_yaml import ConfigError

DAYS_PER_MONTH = 30  # for messages only ("about N months")


def add_months(first_of_month: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after (or before) ``first_of_month``'s month."""
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def is_month_end(day: dt.date) -> bool:
    return (day + dt.timedelta(days=1)).day == 1


def end_of_complete_months(last_date: dt.date) -> dt.date:
    """E: the first day after the last complete month of data whose latest date is ``last_date``.

    2026-03-31 -> 2026-04-01 (March is complete); 2026-04-02 (a few late rows) -> 2026-04-01;
    2026-03-30 -> 2026-03-01 (March is not complete).
    """
    if is_month_end(last_date):
        return last_date + dt.timedelta(days=1)
    return month_start(last_date)


def parse_as_of(text: str) -> dt.date:
    """An ``--as-of`` argument as a date (one-line ConfigError when it is not YYYY-MM-DD)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--as-of: expected a date YYYY-MM-DD, found {text!r}") from None


def as_of_dates(end: dt.date, horizon_days: int, train_as_of: dt.date | None = None,
                score_as_of: dt.date | None = None) -> tuple[dt.date, dt.date, dt.date]:
    """(E - 2h, E - h, E): two labelled training/validation dates and the scoring date.

    ``score_as_of`` replaces ``end`` and ``train_as_of`` replaces E - h when set; the earliest
    date is always one horizon before the training date.
    """
    horizon = dt.timedelta(days=horizon_days)
    score = score_as_of or end
    train = train_as_of or score - horizon
    if train >= score:
        raise ConfigError(f"features.train_as_of: must be before the scoring as_of_date {score}, "
                          f"found {train}")
    return train - horizon, train, score


def default_as_of_dates(cfg: Any, end: dt.date) -> tuple[dt.date, dt.date, dt.date]:
    """:func:`as_of_dates` with the ``features`` settings of ``cfg`` and the data's end ``end``."""
    features = cfg.features
    return as_of_dates(end, features.horizon_days, features.train_as_of, features.score_as_of)


def stacked_dates(first_date: dt.date, earliest: dt.date, horizon_days: int, max_window: int,
                  snapshots: int) -> list[dt.date]:
    """Up to ``snapshots - 1`` dates one horizon apart before ``earliest`` (oldest first), each
    with its whole longest look-back window inside the data that starts at ``first_date``."""
    horizon, window = dt.timedelta(days=horizon_days), dt.timedelta(days=max_window)
    dates: list[dt.date] = []
    day = earliest - horizon
    while len(dates) < snapshots - 1 and day - window >= first_date:
        dates.append(day)
        day -= horizon
    return sorted(dates)


def has_label_window(as_of: dt.date, horizon_days: int, end: dt.date) -> bool:
    """Labels exist when the whole window [as_of, as_of + horizon) lies inside the data."""
    return as_of + dt.timedelta(days=horizon_days) <= end


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole calendar months from ``start`` to ``end`` (complete months when both are 1st days)."""
    first = start if start.day == 1 else add_months(month_start(start), 1)
    return max(0, (end.year - first.year) * 12 + end.month - first.month)


def require_history(first_date: dt.date, end: dt.date, max_window_days: int,
                    horizon_days: int) -> None:
    """InputDataError unless [first_date, end) holds the longest window plus one label horizon."""
    needed = max_window_days + horizon_days
    found_days = (end - first_date).days
    if found_days < needed:
        raise InputDataError(
            f"not enough data for a labelled as_of_date: the longest look-back window "
            f"({max_window_days} days) plus one label horizon ({horizon_days} days) need "
            f"{needed} days (about {math.ceil(needed / DAYS_PER_MONTH)} months) of data before "
            f"{end}, found {max(found_days, 0)} days ({months_between(first_date, end)} complete "
            f"months) from {first_date}; deliver more months or shorten features.windows / "
            f"features.horizon_days")
