"""Which labelled rows train and which evaluate: by date (out of time) or by split."""
from __future__ import annotations

import datetime as dt

import pytest

from segrec_spark.errors import InputDataError
from segrec_spark.propensity.plan import TrainingPlan, training_plan

JAN, FEB, MAR = dt.date(2026, 1, 31), dt.date(2026, 3, 2), dt.date(2026, 4, 1)


def test_out_of_time_trains_one_horizon_before_the_latest_labelled_date():
    assert training_plan([JAN, FEB], [], 30) == TrainingPlan(JAN, FEB, by_split=False)
    assert training_plan([JAN, FEB, MAR], [], 30, eval_as_of=FEB) == TrainingPlan(JAN, FEB, False)


def test_monthly_snapshots_closer_than_a_horizon_are_skipped():
    near = dt.date(2026, 2, 20)
    assert training_plan([JAN, near, FEB], [], 30).train_as_of == JAN


def test_a_held_out_split_trains_and_evaluates_on_the_same_date():
    assert training_plan([JAN], [JAN], 30) == TrainingPlan(JAN, JAN, by_split=True)


def test_one_labelled_date_without_a_split_says_what_is_missing():
    with pytest.raises(InputDataError, match="needs an earlier labelled as_of_date at least 30 "
                                             "days before it; gold.labels has 2026-03-02"):
        training_plan([FEB], [], 30)


def test_an_evaluation_date_without_labels_is_refused():
    with pytest.raises(InputDataError, match="no labels at 2026-04-01"):
        training_plan([JAN, FEB], [], 30, eval_as_of=MAR)


def test_stacked_snapshots_are_a_horizon_apart_and_end_at_the_training_date():
    near_jan = dt.date(2026, 1, 29)  # another monthly run's date, two days before JAN
    dec, nov = dt.date(2025, 12, 31), dt.date(2025, 12, 1)
    apr = dt.date(2026, 5, 1)
    plan = training_plan([nov, dec, near_jan, JAN, FEB, MAR, apr], [], 30, snapshots=4)
    assert (plan.train_as_of, plan.eval_as_of) == (MAR, apr)
    # JAN, then dec (a horizon before it), never near_jan as well: no two label windows overlap
    assert plan.train_dates == (dec, JAN, FEB, MAR)
    assert plan.champion_dates == (JAN, FEB, MAR, apr)


def test_one_snapshot_or_too_few_dates_stack_what_there_is():
    plan = training_plan([JAN, FEB, MAR], [], 30)
    assert (plan.train_dates, plan.champion_dates) == ((FEB,), (MAR,))
    plan = training_plan([JAN, FEB, MAR], [], 30, snapshots=3)
    assert (plan.train_dates, plan.champion_dates) == ((JAN, FEB), (JAN, FEB, MAR))


def test_a_split_snapshot_is_never_stacked():
    plan = training_plan([JAN, FEB], [FEB], 30, snapshots=3)
    assert (plan.by_split, plan.train_dates, plan.champion_dates) == (True, (FEB,), (FEB,))


def test_label_windows_recorded_per_date_replace_the_horizon():
    """Monthly holdings record each month's window as the days to the next month: February's
    28 days end on the evaluation date, so February trains though it is under 30 days before."""
    feb, mar, apr = dt.date(2015, 2, 1), dt.date(2015, 3, 1), dt.date(2015, 4, 1)
    windows = {feb: 28, mar: 31}
    plan = training_plan([feb, mar], [], 30, windows=windows)
    assert (plan.train_as_of, plan.eval_as_of) == (feb, mar)
    with pytest.raises(InputDataError, match="needs an earlier labelled as_of_date"):
        training_plan([feb, mar], [], 30)  # one horizon: February is too close
    stacked = training_plan([feb, mar, apr], [], 30, snapshots=3, windows=windows)
    assert (stacked.train_dates, stacked.champion_dates) == ((feb, mar), (feb, mar, apr))
    # A window longer than the gap keeps the dates apart as before.
    assert training_plan([feb, mar, apr], [], 30, windows={feb: 45, mar: 45}).train_as_of == feb
