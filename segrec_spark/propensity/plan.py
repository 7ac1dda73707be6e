"""Which labelled rows train a product's model and which evaluate it (pure; no Spark).

Two layouts of gold.labels are supported, whoever wrote them:

* **by date** (raw extracts, or a snapshot table with several as-of dates): the model is
  evaluated out of time on the latest labelled as-of date ``V`` (or ``--as-of``) and trained on
  the latest labelled as-of date at least one label horizon before it, so no training label
  window overlaps the evaluation one (a date whose labels record their own window in
  ``horizon_days``, as monthly holdings do, counts that window instead of the horizon). With
  ``snapshots`` = n > 1 the training rows are the labelled snapshots of up to n such dates
  stacked, each one at least a horizon before the next
  (so no two label windows overlap and no client-month is counted twice); the champion is
  refitted on as many dates ending at ``V`` (:attr:`TrainingPlan.champion_dates`);
* **by split** (a snapshot table with a split column or a held-out file): training and
  evaluation rows share the as-of date and are told apart by ``gold.labels.split``; the model
  is trained on the training rows only and evaluated on the held-out ones, never refitted on
  them.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from segrec_spark.errors import InputDataError


@dataclass(frozen=True)
class TrainingPlan:
    train_as_of: dt.date  # the latest training date
    eval_as_of: dt.date
    by_split: bool  # True: same date, rows told apart by gold.labels.split
    # Every training date, oldest first (default: train_as_of alone); the champion's refit dates.
    train_dates: tuple[dt.date, ...] = field(default=())
    champion_dates: tuple[dt.date, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.train_dates:
            object.__setattr__(self, "train_dates", (self.train_as_of,))
        if not self.champion_dates:
            object.__setattr__(self, "champion_dates", (self.eval_as_of,))

    @property
    def dates(self) -> tuple[dt.date, dt.date]:
        return self.train_as_of, self.eval_as_of


def spaced_dates(dates: Sequence[dt.date], latest: dt.date, horizon_days: int,
                 count: int, windows: Mapping[dt.date, int] | None = None) -> tuple[dt.date, ...]:
    """Up to ``count`` of ``dates``, oldest first: ``latest``, then each time the latest date
    whose label window ends by the one taken last (label windows that do not overlap)."""
    taken = [latest]
    for day in sorted(set(dates), reverse=True):
        if len(taken) >= count:
            break
        if window_end(day, horizon_days, windows) <= taken[-1]:
            taken.append(day)
    return tuple(reversed(taken))


def window_end(day: dt.date, horizon_days: int,
               windows: Mapping[dt.date, int] | None = None) -> dt.date:
    """The end of the label window of ``day``: its own length where gold.labels records one
    (``windows``: as-of date -> horizon_days, e.g. a monthly holdings snapshot's days to the
    next month), else one horizon."""
    return day + dt.timedelta(days=(windows or {}).get(day, horizon_days))


def training_plan(labelled_dates: Sequence[dt.date], split_dates: Sequence[dt.date],
                  horizon_days: int, eval_as_of: dt.date | None = None,
                  train_as_of: dt.date | None = None, snapshots: int = 1,
                  windows: Mapping[dt.date, int] | None = None) -> TrainingPlan:
    """The plan for gold.labels with ``labelled_dates`` (as-of dates that have labels), of
    which ``split_dates`` also hold held-out (split = evaluation) rows; ``snapshots`` is the
    most labelled dates stacked for training (``features.train_snapshots``); ``windows`` the
    label window each date's labels record, where it is not ``horizon_days``."""
    dates = sorted(set(labelled_dates))
    if not dates:
        raise InputDataError("train: gold.labels has no labelled as_of_date (run `segrec "
                             "features` or `segrec snapshot` first)")
    evaluation = eval_as_of or dates[-1]
    if evaluation not in dates:
        raise InputDataError(f"train: gold.labels has no labels at {evaluation} (labelled "
                             f"as-of dates: {', '.join(map(str, dates))})")
    if train_as_of is None and evaluation in split_dates:
        return TrainingPlan(evaluation, evaluation, by_split=True)
    earlier = [d for d in dates if window_end(d, horizon_days, windows) <= evaluation]
    train = train_as_of or (earlier[-1] if earlier else None)
    if train is None:
        raise InputDataError(
            f"train: out-of-time evaluation at {evaluation} needs an earlier labelled as_of_date "
            f"at least {horizon_days} days before it; gold.labels has "
            f"{', '.join(map(str, dates))} (deliver more months, or declare a split column in "
            f"a snapshot)")
    if window_end(train, horizon_days, windows) > evaluation:
        raise InputDataError(f"train: the training as_of_date {train} must be at least one "
                             f"horizon ({horizon_days} days) before the evaluation date "
                             f"{evaluation}")
    if train not in dates:
        raise InputDataError(f"train: gold.labels has no labels at {train}")
    return TrainingPlan(train, evaluation, by_split=False,
                        train_dates=spaced_dates(dates, train, horizon_days, snapshots,
                                                 windows),
                        champion_dates=spaced_dates(dates, evaluation, horizon_days, snapshots,
                                                    windows))
