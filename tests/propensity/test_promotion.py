"""Champion / challenger: the alias moves only to a model that beats baseline and champion."""
from __future__ import annotations

import pytest
from mlflow import MlflowClient
from pyspark.sql import functions as F

from segrec_spark.propensity import job
from segrec_spark.propensity.promotion import champion_is_comparable, promotion_decision
from segrec_spark.tables import read_table, table_path
from tests.conftest import make_config
from tests.propensity.test_train_job import _write_gold


def test_the_challenger_must_beat_the_baseline_by_the_margin():
    decision = promotion_decision(0.70, 0.66, None, margin=0.05, champion_note="not judged")
    assert not decision.promoted
    assert decision.reason.startswith("challenger AUC 0.7000 does not beat the baseline 0.6600")


def test_the_challenger_must_beat_a_judged_champion():
    assert not promotion_decision(0.70, 0.60, 0.72, margin=0.0).promoted
    kept = promotion_decision(0.73, 0.60, 0.72, margin=0.02)
    assert not kept.promoted
    assert "champion's 0.7200" in kept.reason
    assert promotion_decision(0.75, 0.60, 0.72, margin=0.02).promoted


def test_the_first_model_is_always_promoted_so_every_product_is_scored():
    decision = promotion_decision(0.70, 0.60, None, margin=0.0, has_champion=False)
    assert decision.promoted
    assert decision.reason.startswith("no champion yet")
    weak = promotion_decision(0.55, 0.60, None, margin=0.0, has_champion=False)
    assert weak.promoted
    assert "does NOT beat the baseline 0.6000" in weak.reason


def test_a_champion_that_saw_the_evaluation_month_is_not_judged_on_it():
    assert champion_is_comparable("2026-01-31", "2026-03-02", by_split=False)
    assert not champion_is_comparable("2026-03-02", "2026-03-02", by_split=False)
    assert not champion_is_comparable("", "2026-03-02", by_split=False)
    assert champion_is_comparable("2026-03-02", "2026-03-02", by_split=True)


@pytest.fixture(scope="module")
def two_trainings(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("promotion")
    settings = ["segmentation.k_min=2", "segmentation.k_max=2", "propensity.products=[MORTGAGE]",
                "propensity.num_trees=[5]", "propensity.max_depth=[3]",
                "propensity.min_positives=5", "propensity.min_instances_per_node=1",
                "propensity.feature_subset_strategy=auto"]
    cfg = make_config(tmp, *settings)
    _write_gold(spark, cfg)
    first = job.run(spark, cfg)
    # An impossible margin: the second model cannot beat the baseline by 0.45.
    strict = make_config(tmp, *settings, "propensity.promotion_margin=0.45")
    second = job.run(spark, strict)
    return cfg, first, second


@pytest.mark.integration  # two trainings on one lake and registry
def test_the_alias_stays_when_the_challenger_is_not_promoted(spark, two_trainings):
    cfg, first, second = two_trainings
    assert first["products"]["MORTGAGE"]["promoted"] is True
    assert second["products"]["MORTGAGE"]["promoted"] is False
    client = MlflowClient(cfg.mlflow.tracking_uri)
    alias = client.get_model_version_by_alias("segrec_propensity_mortgage", "champion")
    assert str(alias.version) == first["products"]["MORTGAGE"]["version"]
    assert second["products"]["MORTGAGE"]["version"] != alias.version  # registered, no alias
    run = client.get_run(second["products"]["MORTGAGE"]["run_id"])
    assert run.data.tags["promoted"] == "false"
    assert "by the margin 0.45" in run.data.tags["promotion_reason"]


@pytest.mark.integration  # two trainings on one lake and registry
def test_model_metrics_say_which_model_is_which(spark, two_trainings):
    cfg, _, second = two_trainings
    metrics = read_table(spark, table_path(cfg.paths.root, "gold", "model_metrics"))
    auc = metrics.where(F.col("metric") == "roc_auc").select(
        "model", "role", "promoted", "reason").collect()
    roles = {r["role"]: r for r in auc}
    assert {"challenger", "baseline"} <= set(roles)
    assert roles["challenger"]["promoted"] is False
    assert roles["challenger"]["reason"] == second["products"]["MORTGAGE"]["reason"]


def test_an_almost_perfect_held_out_auc_is_named_as_a_likely_leak():
    importances = [("__imputed_spend", 0.91), ("channel_onehot_Web", 0.05),
                   ("__missing_age", 0.02), ("x", 0.01)]
    message = job.leak_warning("CONVERSION", 0.9991, importances)
    assert message is not None
    assert message.startswith("propensity CONVERSION: held-out ROC-AUC 0.9991 is almost perfect")
    assert message.endswith("leans most on: spend (0.91), channel = Web (0.05), age missing (0.02)")
    assert "\n" not in message
    assert job.leak_warning("CONVERSION", 0.93, importances) is None
    assert job.leak_warning("CONVERSION", float("nan"), importances) is None


def test_a_model_no_better_than_the_baseline_or_chance_is_named_in_a_warning():
    below = job.weak_model_warning("BIKE", 0.4235, 0.517)
    assert below is not None
    assert below.startswith("propensity BIKE: held-out ROC-AUC 0.4235 is no better than the "
                            "baseline (0.5170)")
    assert "\n" not in below
    chance = job.weak_model_warning("BIKE", 0.49, 0.45)
    assert chance is not None
    assert "no better than chance (0.5000)" in chance
    assert job.weak_model_warning("BIKE", 0.694, 0.6958) is not None
    assert job.weak_model_warning("BIKE", 0.71, 0.6958) is None
    assert job.weak_model_warning("BIKE", 0.71, float("nan")) is None
    assert job.weak_model_warning("BIKE", float("nan"), 0.5) is None


def test_the_log_line_names_the_planted_truth_only_where_there_is_one():
    synthetic = {"rf": {"roc_auc": 0.7}, "observable_ceiling": {"roc_auc": 0.8123},
                 "oracle": {"roc_auc": 0.9}}
    assert job.truth_note(synthetic) == " observable ceiling=0.812 oracle=0.900"
    assert job.truth_note({"rf": {"roc_auc": 0.7}, "baseline": {"roc_auc": 0.6}}) == ""


def test_a_level_calibrated_on_few_buyers_is_named_with_its_uncertainty():
    from segrec_spark.propensity.calibration import THIN_LEVEL, Platt

    thin = job.thin_level_warning("CMP2", Platt(1.0, -2.0, rows=448, positives=25))
    assert thin is not None
    assert "calibrated on 25 buyer(s) of the held-out rows (448 clients)" in thin
    assert "about 20 %" in thin  # 1 / sqrt(25)
    months = job.thin_level_warning("CMP2", Platt(1.0, -2.0, 900, 64, "2024-01-31,2024-02-29"))
    assert months is not None
    assert "the labelled months 2024-01-31,2024-02-29" in months
    assert job.thin_level_warning("CMP2", Platt(1.0, -2.0, 5000, THIN_LEVEL)) is None
    assert job.thin_level_warning("CMP2", None) is None
