"""The own-data yardstick's pieces (bench/own_data.py): the contract it writes for two files is
one the project accepts, outcomes are read as the docs say, held-out scores are matched by key."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from segrec_spark.contract import contract_from_dict

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bench_own_data", ROOT / "bench" / "own_data.py")
own = importlib.util.module_from_spec(spec)
spec.loader.exec_module(own)


@pytest.mark.parametrize("key", [None, "customer_id"])
def test_the_contract_for_two_files_is_accepted_with_or_without_a_key(key):
    data = own.file_contract(Path("/d/train.csv"), Path("/d/test.csv"), "y", ("yes",), ";", key)

    contract = contract_from_dict(data)

    (source,) = contract.sources.values()
    assert source.kind == "snapshot"
    assert [p.code for p in contract.products] == ["OUTCOME"]
    assert (source.key_column == "customer_id") == (key is not None)


def test_columns_written_after_the_outcome_are_declared_ignored():
    data = own.file_contract(Path("/d/train.csv"), Path("/d/test.csv"), "visit", ("1",), ",",
                             None, ("conversion", "spend"))

    (source,) = contract_from_dict(data).sources.values()
    assert {c.name: c.role for c in source.columns} == {
        "visit": "label", "conversion": "ignore", "spend": "ignore"}


def test_outcomes_are_compared_without_case_or_surrounding_spaces():
    values = pd.Series([" Yes", "no", "YES ", "1", None])

    assert own.positive(values, ("yes",)).tolist() == [1, 0, 1, 0, 0]
    assert own.positive(pd.Series([1, 0, 1]), ("1",)).tolist() == [1, 0, 1]


def test_held_out_auc_matches_scores_by_key_and_refuses_a_missing_score():
    scores = pd.DataFrame({"identity_id_hash": ["evaluation-1", "evaluation-2", "x"],
                           "probability": [0.9, 0.1, 0.5]})
    keys = pd.Series(["evaluation-2", "evaluation-1"])

    assert own.held_out_auc(scores, keys, pd.Series([0, 1])) == 1.0
    with pytest.raises(SystemExit, match="no score"):
        own.held_out_auc(scores, pd.Series(["evaluation-3"]), pd.Series([1]))


def test_text_numbers_and_dates_reach_the_yardstick_as_numbers():
    frame = pd.DataFrame({
        "income": [" $84,835.00 ", "$57,091.00", None, "18.2%"],
        "since": ["6/16/14", "05/11/2014", "", "14-Jan-15"],
        "month": ["May", "Nov", "May", "Feb"],       # a category, not dates
        "job": ["admin.", "retired", "admin.", "1"],  # text with a number in it
    })
    got = own.numbers_and_dates(frame)
    assert got["income"].tolist()[:2] == [84835.0, 57091.0]
    assert got["income"].isna().tolist() == [False, False, True, False]
    days = (pd.Timestamp(2014, 6, 16) - pd.Timestamp(1970, 1, 1)).days
    assert got["since"].iloc[0] == days
    assert got["since"].iloc[2] != got["since"].iloc[2]  # empty: missing
    assert got["month"].tolist() == frame["month"].tolist()
    assert got["job"].tolist() == frame["job"].tolist()
