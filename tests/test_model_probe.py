"""bench/model_probe.py's own parts: variant parsing and the share-of-attention columns."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from chispa import assert_df_equality

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("model_probe", ROOT / "bench" / "model_probe.py")
probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(probe)


def test_a_variant_is_a_name_and_settings_with_the_probes_own_option_taken_out():
    assert probe.parse_variant("default:") == ("default", [], False)
    assert probe.parse_variant("t:propensity.num_trees=[200]; propensity.seed=3") == (
        "t", ["propensity.num_trees=[200]", "propensity.seed=3"], False)
    assert probe.parse_variant("s:probe.interest_shares=true;propensity.max_depth=[7]") == (
        "s", ["propensity.max_depth=[7]"], True)


def test_interest_shares_divide_by_the_same_windows_channel_events_and_are_zero_without_events(
        spark):
    df = spark.createDataFrame(
        [("a", 2, 8, 3, 30, 1), ("b", 0, 0, 0, 0, 0)],
        "identity_id_hash string, web_events_7d int, app_events_7d int, "
        "interest_savings_7d int, web_events_30d int, interest_savings_30d int")
    expected = spark.createDataFrame(
        [("a", 2, 8, 3, 30, 1, 0.3, 1 / 30), ("b", 0, 0, 0, 0, 0, 0.0, 0.0)],
        "identity_id_hash string, web_events_7d int, app_events_7d int, "
        "interest_savings_7d int, web_events_30d int, interest_savings_30d int, "
        "interest_share_savings_7d double, interest_share_savings_30d double")
    assert_df_equality(probe.with_interest_shares(df), expected, ignore_nullable=True,
                       allow_nan_equality=True)
