"""Platt scaling (propensity.calibration) on frames whose answer is known."""
from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from segrec_spark.propensity.calibration import Platt, calibrated, fit_platt, from_dict, refit_level


def _scored(spark, groups):
    """groups: (predicted probability, rows, positives) -> (label, probability) rows."""
    rows = [(1.0 if i < positives else 0.0, p) for p, n, positives in groups for i in range(n)]
    return spark.createDataFrame(rows, "label double, probability double")


def test_over_confident_scores_come_back_to_the_observed_rates(spark):
    # the model says 0.2 and 0.02 where 10 % and 1 % buy: two points, so Platt fits exactly
    scored = _scored(spark, [(0.2, 1000, 100), (0.02, 1000, 10)])
    platt = fit_platt(scored)
    assert platt is not None
    assert (platt.rows, platt.positives) == (2000, 110)
    assert platt.slope > 0
    out = scored.transform(calibrated(platt)).groupBy("label").count()  # still every row
    assert sum(r["count"] for r in out.collect()) == 2000
    by_group = {round(r["before"], 2): r["after"] for r in scored.select(
        F.col("probability").alias("before")).distinct().withColumn("probability", F.col("before"))
        .transform(calibrated(platt)).withColumnRenamed("probability", "after").collect()}
    assert by_group[0.2] == pytest.approx(0.10, abs=1e-3)
    assert by_group[0.02] == pytest.approx(0.01, abs=1e-3)
    # sums are now conversions: expected = observed
    total = scored.transform(calibrated(platt)).agg(F.sum("probability")).first()[0]
    assert total == pytest.approx(110, rel=1e-3)


def test_too_few_positives_or_a_reversing_fit_leave_scores_alone(spark):
    assert fit_platt(_scored(spark, [(0.2, 500, 5), (0.02, 500, 4)]), min_positives=10) is None
    # higher scores buy less: a negative slope would reorder the clients
    assert fit_platt(_scored(spark, [(0.2, 1000, 10), (0.02, 1000, 100)])) is None
    scored = _scored(spark, [(0.3, 3, 1)])
    assert scored.transform(calibrated(None)).collect() == scored.collect()


def test_the_logged_map_reads_back(spark):
    platt = fit_platt(_scored(spark, [(0.2, 1000, 100), (0.02, 1000, 10)]))
    assert from_dict(platt.as_dict()) == platt
    assert from_dict({}) is None
    assert from_dict(None) is None


def test_a_refitted_champion_keeps_the_slope_and_takes_the_latest_months_level(spark):
    # the refitted champion says 0.2 and 0.05 where 30 % and 10 % of the latest month bought;
    # with the slope fixed at 1 the intercept must lift the sum to the 45 conversions
    scored = _scored(spark, [(0.2, 100, 30), (0.05, 150, 15)])
    refitted = refit_level(Platt(1.0, -5.0, 2000, 110), scored, "2025-06-01")
    assert (refitted.slope, refitted.rows, refitted.positives) == (1.0, 250, 45)
    assert refitted.level_as_of == "2025-06-01"
    total = scored.transform(calibrated(refitted)).agg(F.sum("probability")).first()[0]
    assert total == pytest.approx(45, rel=1e-6)
    # the order of clients is kept: a single intercept cannot reorder them
    after = {r["before"]: r["probability"] for r in scored.select(
        F.col("probability").alias("before"), "probability").distinct()
        .transform(calibrated(refitted)).collect()}
    assert after[0.2] > after[0.05]
    assert from_dict(refitted.as_dict()) == refitted
    # no positives (or only positives) in the month: nothing to fit, the map stays
    assert refit_level(refitted, _scored(spark, [(0.2, 10, 0)])) == refitted
