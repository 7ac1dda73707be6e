"""Platt scaling (propensity.calibration) on frames whose answer is known."""
from __future__ import annotations

import math

import pytest
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import functions as F

from segrec_spark.propensity.calibration import (
    BIN_WIDTH,
    Platt,
    calibrated,
    fit_platt,
    from_dict,
    level_intercept,
    logit,
    logit_bins,
    refit_level,
)


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
    assert total == pytest.approx(45, rel=BIN_WIDTH / 2)  # fitted on logits in bins
    # the order of clients is kept: a single intercept cannot reorder them
    after = {r["before"]: r["probability"] for r in scored.select(
        F.col("probability").alias("before"), "probability").distinct()
        .transform(calibrated(refitted)).collect()}
    assert after[0.2] > after[0.05]
    assert from_dict(refitted.as_dict()) == refitted
    # no positives (or only positives) in the month: nothing to fit, the map stays
    assert refit_level(refitted, _scored(spark, [(0.2, 10, 0)])) == refitted


def _spread(spark, n=4000):
    """n rows whose probabilities take n distinct values; P(buy) = 0.6 * p, so Platt's slope is
    not 1 and the level is off."""
    rows = [(1.0 if (i * 7919) % 1000 < 600 * (0.01 + 0.2 * i / n) else 0.0,
             0.01 + 0.2 * i / n) for i in range(n)]
    return spark.createDataFrame(rows, "label double, probability double")


def test_the_fits_on_logit_bins_are_the_fits_on_every_row(spark):
    scored = _spread(spark)
    bins = logit_bins(scored)
    assert bins.count() < scored.count()  # the bins are fewer than the rows
    assert bins.agg(F.sum("_platt_rows")).first()[0] == 4000  # and hold every row
    # Platt on every row, as Spark ML fits it without the bins
    x = VectorAssembler(inputCols=["x"], outputCol="v").transform(
        scored.select(logit(F.col("probability")).alias("x"), "label"))
    exact = LogisticRegression(featuresCol="v", labelCol="label", regParam=0.0,
                               standardization=False, maxIter=100).fit(x)
    platt = fit_platt(scored)
    assert platt is not None
    assert (platt.rows, platt.positives) == (4000, scored.agg(F.sum("label")).first()[0])
    assert platt.slope == pytest.approx(float(exact.coefficients[0]), abs=1e-3)
    assert platt.intercept == pytest.approx(float(exact.intercept), abs=1e-3)
    # the level: on every row, the calibrated probabilities add up to the positives
    refitted = refit_level(Platt(platt.slope, 0.0), scored)
    total = scored.transform(calibrated(refitted)).agg(F.sum("probability")).first()[0]
    assert total == pytest.approx(platt.positives, rel=BIN_WIDTH / 2)


def test_the_level_is_the_intercept_whose_probabilities_add_up_to_the_positives():
    # one offset: the intercept is the logit of the rate
    assert level_intercept([(0.0, 100.0), (0.0, 100.0)], 50.0) == pytest.approx(math.log(1 / 3))
    # two offsets: the sum of the fitted probabilities is the positives
    offsets = [(-2.0, 300.0), (1.5, 50.0)]
    b = level_intercept(offsets, 40.0)
    assert sum(rows / (1 + math.exp(-(o + b))) for o, rows in offsets) == pytest.approx(40.0)
    # scores nearly 0 or 1 (tiny curvature): bounded steps still reach the level, no overflow
    offsets = [(-40.0, 1000.0), (35.0, 10.0)]
    b = level_intercept(offsets, 20.0)
    assert math.isfinite(b)
    assert sum(rows / (1 + math.exp(-(o + b))) for o, rows in offsets) == pytest.approx(20.0)
