"""MLflow's per-model registration lines are dropped from a run's output; nothing else is."""
from __future__ import annotations

import sys

import pytest

from segrec_spark import registry


def test_registration_chatter_is_dropped_and_other_lines_pass(capsys):
    with registry.without_registry_chatter():
        print("Successfully registered model 'segrec_propensity_mortgage'.", file=sys.stderr)
        print("Created version '1' of model 'segrec_propensity_mortgage'.", file=sys.stderr)
        print("2026/12/03 WARNING mlflow.models: something a user should see", file=sys.stderr)
    assert capsys.readouterr().err == "2026/12/03 WARNING mlflow.models: something a user should see\n"


def _failing_registration() -> None:
    with registry.without_registry_chatter():
        print("MLflow warning before the failure", file=sys.stderr)
        raise RuntimeError("registry down")


def test_lines_written_before_an_error_still_reach_stderr(capsys):
    with pytest.raises(RuntimeError, match="registry down"):
        _failing_registration()
    assert capsys.readouterr().err == "MLflow warning before the failure\n"


def test_other_lines_pass_at_once_not_after_the_registration(capsys):
    with registry.without_registry_chatter():
        print("retrying the tracking server", file=sys.stderr)
        assert capsys.readouterr().err == "retrying the tracking server\n"
        sys.stderr.write("Created version '2' of model 'm'.\nlast line without a break")
    assert capsys.readouterr().err == "last line without a break"
