"""Out-of-time metrics on hand-written scored frames."""
from __future__ import annotations

import datetime as dt
import math

import pytest
from chispa import assert_df_equality
from pyspark.ml.evaluation import BinaryClassificationEvaluator

from segrec_spark.propensity import evaluation as ev

SCORED = "identity_id_hash string, label double, probability double"


def _scored(spark):
    # 20 clients, scores 0.95 .. 0.0 in steps of 0.05; buyers at ranks 1, 2, 4, 11.
    buyers = {0, 1, 3, 10}
    rows = [(f"c{i}", 1.0 if i in buyers else 0.0, round(0.95 - 0.05 * i, 2)) for i in range(20)]
    return spark.createDataFrame(rows, SCORED)


def test_top_share_lift_and_capture(spark):
    top10 = ev.top_share(_scored(spark), 0.10)  # 2 clients, both buyers
    assert (top10["n_top"], top10["positives_top"]) == (2.0, 2.0)
    assert top10["capture"] == pytest.approx(0.5)  # 2 of 4 buyers
    assert top10["lift"] == pytest.approx((2 / 2) / (4 / 20))  # 5x
    top20 = ev.top_share(_scored(spark), 0.20)  # 4 clients, 3 buyers
    assert top20["capture"] == pytest.approx(0.75)
    assert top20["lift"] == pytest.approx((3 / 4) / (4 / 20))


def test_top_share_breaks_ties_at_their_expected_rate(spark):
    # All 10 clients tied; 2 buyers: the top 10 % (1 client) holds 0.2 buyers on average.
    rows = [(f"c{i}", 1.0 if i < 2 else 0.0, 0.3) for i in range(10)]
    stats = ev.top_share(spark.createDataFrame(rows, SCORED), 0.10)
    assert stats["positives_top"] == pytest.approx(0.2)
    assert stats["lift"] == pytest.approx(1.0)
    assert stats["capture"] == pytest.approx(0.1)


def test_score_deciles_and_calibration(spark):
    rows = [("a", 1.0, 0.9), ("b", 1.0, 0.9), ("c", 0.0, 0.5), ("d", 1.0, 0.5),
            ("e", 0.0, 0.1), ("f", 0.0, 0.1)]
    deciles = ev.score_deciles(spark.createDataFrame(rows, SCORED), bins=3)
    expected = spark.createDataFrame(
        [(1, 2, 2.0, 0.9, 1.0), (2, 2, 1.0, 0.5, 0.5), (3, 2, 0.0, 0.1, 0.0)],
        "bin int, n long, positives double, mean_predicted double, observed_rate double")
    assert_df_equality(deciles, expected, ignore_nullable=True)
    summary = ev.calibration_summary([r.asDict() for r in deciles.collect()])
    assert summary["calibration_error"] == pytest.approx((0.1 + 0.0 + 0.1) / 3)
    assert summary["mean_predicted"] == pytest.approx(0.5)
    assert summary["observed_rate"] == pytest.approx(0.5)
    curve = ev.gains_curve([r.asDict() for r in deciles.collect()])
    assert [v for point in curve for v in point] == pytest.approx(
        [0.0, 0.0, 1 / 3, 2 / 3, 2 / 3, 1.0, 1.0, 1.0])


def test_auc_metrics_on_a_perfect_and_a_reversed_ranking(spark):
    perfect = spark.createDataFrame([("a", 1.0, 0.9), ("b", 0.0, 0.1), ("c", 1.0, 0.8)], SCORED)
    reversed_ = spark.createDataFrame([("a", 1.0, 0.1), ("b", 0.0, 0.9), ("c", 1.0, 0.2)], SCORED)
    assert ev.auc_metrics(perfect) == {"roc_auc": pytest.approx(1.0), "pr_auc": pytest.approx(1.0)}
    assert ev.auc_metrics(reversed_)["roc_auc"] == pytest.approx(0.0)
    assert ev.brier_score(perfect) == pytest.approx((0.01 + 0.01 + 0.04) / 3)


@pytest.mark.parametrize("decimals", [1, 3])  # 1: many tied scores
def test_auc_metrics_equal_sparks_unbinned_curves(spark, decimals):
    rows = [(f"c{i}", float(i % 3 == 0 or i % 7 == 0), round((i * 37 % 101) / 101, decimals))
            for i in range(300)]
    scored = spark.createDataFrame(rows, SCORED)

    ours = ev.auc_metrics(scored)

    for key, metric in (("roc_auc", "areaUnderROC"), ("pr_auc", "areaUnderPR")):
        spark_value = BinaryClassificationEvaluator(
            rawPredictionCol=ev.PROBABILITY, labelCol=ev.LABEL, metricName=metric,
            numBins=0).evaluate(scored)
        assert ours[key] == pytest.approx(spark_value, rel=1e-12)
    assert 0.0 < ours["roc_auc"] < 1.0


def test_auc_metrics_without_buyers_are_nan(spark):
    scored = spark.createDataFrame([("a", 0.0, 0.9), ("b", 0.0, 0.1)], SCORED)
    metrics = ev.auc_metrics(scored)
    assert math.isnan(metrics["roc_auc"])
    assert math.isnan(metrics["pr_auc"])


def test_oracle_scores_use_the_window_starting_at_the_evaluation_date(spark):
    truth = spark.createDataFrame(
        [("a", "MORTGAGE", dt.date(2026, 3, 2), dt.date(2026, 4, 1), 0.7),
         ("a", "MORTGAGE", dt.date(2026, 1, 31), dt.date(2026, 3, 2), 0.1),
         ("a", "SAVINGS", dt.date(2026, 3, 2), dt.date(2026, 4, 1), 0.2),
         ("b", "MORTGAGE", dt.date(2026, 3, 2), dt.date(2026, 4, 1), 0.05)],
        "identity_id_hash string, product_code string, window_start date, window_end date, "
        "true_probability double")
    labelled = spark.createDataFrame([("a", 1.0, 3), ("b", 0.0, 4)],
                                     "identity_id_hash string, label double, web_n int")
    expected = spark.createDataFrame([("a", 1.0, 0.7), ("b", 0.0, 0.05)], SCORED)
    assert_df_equality(ev.oracle_scores(truth, labelled, "MORTGAGE", dt.date(2026, 3, 2)), expected,
                       ignore_nullable=True, ignore_row_order=True)


def test_evaluate_scores_collects_every_metric(spark):
    metrics, deciles = ev.evaluate_scores(_scored(spark), (0.1, 0.2))
    buyers = {0, 1, 3, 10}
    squared = sum(((0.95 - 0.05 * i) - (1.0 if i in buyers else 0.0)) ** 2 for i in range(20))
    assert metrics["lift_top10"] == pytest.approx(5.0)
    assert metrics["capture_top10"] == pytest.approx(0.5)
    assert metrics["lift_top20"] == pytest.approx(3.75)
    assert (metrics["n_clients"], metrics["n_positives"]) == (20.0, 4.0)
    assert metrics["brier"] == pytest.approx(squared / 20)
    assert [(d["bin"], d["n"], d["positives"]) for d in deciles] == [
        (1, 2, 2.0), (2, 2, 1.0), (3, 2, 0.0), (4, 2, 0.0), (5, 2, 0.0), (6, 2, 1.0),
        (7, 2, 0.0), (8, 2, 0.0), (9, 2, 0.0), (10, 2, 0.0)]


def test_evaluate_many_gives_each_frame_its_own_metrics(spark):
    # Three frames in one evaluation: each gets what it gets alone, an empty one NaN.
    ranked = _scored(spark)
    reversed_ = ranked.selectExpr("identity_id_hash", "label", "0.95 - probability AS probability")
    empty = ranked.where("false")
    both = ev.evaluate_many({"ranked": ranked, "reversed": reversed_, "empty": empty},
                            (0.1, 0.2))

    for name, frame in (("ranked", ranked), ("reversed", reversed_)):
        metrics, deciles = both[name]
        assert metrics["roc_auc"] == pytest.approx(ev.auc_metrics(frame)["roc_auc"])
        assert metrics["lift_top10"] == pytest.approx(ev.top_share(frame, 0.1)["lift"])
        assert metrics["capture_top20"] == pytest.approx(ev.top_share(frame, 0.2)["capture"])
        expected = [r.asDict() for r in ev.score_deciles(frame).collect()]
        assert deciles == [pytest.approx(d) for d in expected]
    assert both["reversed"][0]["roc_auc"] == pytest.approx(1.0 - both["ranked"][0]["roc_auc"])
    metrics, deciles = both["empty"]
    assert math.isnan(metrics["roc_auc"])
    assert math.isnan(metrics["lift_top10"])
    assert (metrics["n_clients"], deciles) == (0.0, [])
