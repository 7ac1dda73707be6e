"""Which labelled rows train a product's model and which evaluate it (pure; no Spark).

Two layouts of gold.labels are supported, whoever wrote them:

* **by date** (raw extracts, or a snapshot table with several as-of dates): the model is
  evaluated out of time on the latest labelled as-of date ``V`` (or ``--as-of``) and trained on
  the latest labelled as-of date at least one label horizon before it, so no training label
  window overlaps the evaluation one;
* **by split** (a snapshot table with a split column or a held-out file): training and
  evaluation rows share the as-of date and are told apart by ``gold.labels.split``; the model
  is trained on the training rows only and evaluated on the held-out ones, never refitted on
  them.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from segrec_spark.errors import InputDataError


@dataclass(frozen=True)
class TrainingPlan:
    train_as_of: dt.date
    eval_as_of: dt.date
    by_split: bool  # True: same date, rows told apart by gold.labels.split

    @property
    def dates(self) -> tuple[dt.date, dt.date]:
        return self.train_as_of, self.eval_as_of


def training_plan(labelled_dates: Sequence[dt.date], split_dates: Sequence[dt.date],
                  horizon_days: int, eval_as_of: dt.date | None = None,
                  train_as_of: dt.date | None = None) -> TrainingPlan:
    """The plan for gold.labels with ``labelled_dates`` (as-of dates that have labels), of
    which ``split_dates`` also hold held-out (split = evaluation) rows."""
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
    horizon = dt.timedelta(days=horizon_days)
    earlier = [d for d in dates if d + horizon <= evaluation]
    train = train_as_of or (earlier[-1] if earlier else None)
    if train is None:
        raise InputDataError(
            f"train: out-of-time evaluation at {evaluation} needs an earlier labelled as_of_date "
            f"at least {horizon_days} days before it; gold.labels has "
            f"{', '.join(map(str, dates))} (deliver more months, or declare a split column in "
            f"a snapshot)")
    if train + horizon > evaluation:
        raise InputDataError(f"train: the training as_of_date {train} must be at least one "
                             f"horizon ({horizon_days} days) before the evaluation date "
                             f"{evaluation}")
    if train not in dates:
        raise InputDataError(f"train: gold.labels has no labels at {train}")
    return TrainingPlan(train, evaluation, by_split=False)
