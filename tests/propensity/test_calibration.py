"""Platt scaling (propensity.calibration) on frames whose answer is known."""
from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from segrec_spark.propensity.calibration import calibrated, fit_platt, from_dict


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
