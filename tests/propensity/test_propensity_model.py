"""Propensity pipeline pieces: feature selection, weights, prior correction, positive class."""
from __future__ import annotations

import statistics
from dataclasses import replace

import pytest
from chispa import assert_df_equality
from pyspark.ml import PipelineModel
from pyspark.ml.linalg import Vectors
from pyspark.sql import functions as F

from segrec_spark.config import ConfigError
from segrec_spark.errors import InputDataError, SchemaMismatchError
from segrec_spark.propensity import learners
from segrec_spark.propensity import model as pm
from segrec_spark.propensity.settings import PropensitySettings


def test_feature_spec_reads_the_schema(spark):
    # The feature table holds features only (ids and free text never reach it), so every
    # number is a numeric feature and every text column a categorical one; keys, labels and
    # the segment name are not features.
    df = spark.createDataFrame([], "as_of_date date, identity_id_hash string, web_n int, "
                                   "agr_x double, region string, age_band string, "
                                   "segment_id int, segment_name string, label double, "
                                   "holds_mortgage int, horizon_days int, split string")
    assert pm.feature_spec(df) == pm.FeatureSpec(
        numeric=("web_n", "agr_x", "holds_mortgage"), categorical=("region", "age_band"),
        segment="segment_id")
    assert pm.feature_spec(df).encoded == ("region_onehot", "age_band_onehot", "segment_id_onehot")
    assert pm.feature_spec(df, use_segment=False).segment is None


def test_count_labelled_counts_rows_positives_and_nullable_columns_in_one_pass(spark):
    df = spark.createDataFrame(
        [("a", 1.0, float("nan"), 2, 1.0), ("b", None, 0.5, 3, 0.0), ("c", 2.0, 1.5, 4, 1.0),
         ("d", 3.0, 2.5, 5, 0.0)],
        "identity_id_hash string, income double, ratio double, visits int, label double")
    spec = pm.feature_spec(df)
    counted = pm.count_labelled(spec, df)
    assert (counted.n, counted.positives) == (4, 2)
    assert counted.spec.nullable == ("income", "ratio")
    assert counted.spec == pm.with_nullable(spec, df)
    empty = pm.count_labelled(spec, df.limit(0))
    assert (empty.n, empty.positives, empty.spec.nullable) == (0, 0, ())


def test_missing_numbers_are_imputed_with_an_indicator_and_never_fail_scoring(spark):
    rows = [(f"c{i}", None if i % 4 == 0 else float(i % 7), float(i % 3), float(i % 2))
            for i in range(60)]
    df = spark.createDataFrame(rows, "identity_id_hash string, income double, x double, "
                                     "label double")
    spec = pm.with_nullable(pm.feature_spec(df), df)
    assert spec.nullable == ("income",)
    pipeline, _ = learners.learner_pipeline("logistic_regression", spec, 1.0, PropensitySettings())
    model = pipeline.fit(df)
    # x has no gap in training but one when scoring: imputed too, not a Spark error.
    scoring = spark.createDataFrame([("n1", None, None, 0.0), ("n2", 3.0, 1.0, 1.0)],
                                    "identity_id_hash string, income double, x double, "
                                    "label double")
    scored = pm.score(model, scoring).collect()
    assert len(scored) == 2
    assert all(0.0 < r["probability"] < 1.0 for r in scored)
    names = [n for n, _ in pm.feature_importances(model, df)]
    assert "__missing_income" in names
    assert "__missing_x" not in names


def test_a_number_column_with_values_on_under_one_percent_of_rows_is_sparse():
    assert pm.sparse_columns(["a", "b", "c", "d"], [0, 9, 10, 1], 1000) == ("a", "b", "d")
    assert pm.sparse_columns(["a", "b"], [0, 1], 50) == ("a",)  # one value is enough there


@pytest.mark.parametrize("learner", ["logistic_regression", "random_forest"])
def test_a_number_column_with_no_value_in_training_is_left_out(spark, learner):
    rows = [(f"c{i}", None, float(i % 3), float(i % 2)) for i in range(40)]
    df = spark.createDataFrame(rows, "identity_id_hash string, blank double, x double, "
                                     "label double").transform(pm.with_class_weight(1.0))
    spec = pm.count_labelled(pm.feature_spec(df), df).spec
    assert (spec.sparse, spec.nullable) == (("blank",), ("blank",))
    assert pm.with_nullable(pm.feature_spec(df), df) == spec
    pipeline, _ = learners.learner_pipeline(learner, spec, 1.0, PropensitySettings())
    model = pipeline.fit(df)  # the median imputer would fail on a column of nulls alone
    scoring = spark.createDataFrame([("n1", 5.0, 1.0, 0.0)],
                                    "identity_id_hash string, blank double, x double, "
                                    "label double")
    assert 0.0 < pm.score(model, scoring).first()["probability"] < 1.0
    # the values are left out; the missing indicator (constant here) stays
    assert not [n for n, _ in pm.feature_importances(model, df) if n == "__imputed_blank"]


def test_positive_weight_balances_and_caps():
    assert pm.positive_weight(10, 90, 100.0) == 9.0
    assert pm.positive_weight(1, 999, 50.0) == 50.0
    assert pm.positive_weight(60, 40, 50.0) == 1.0
    with pytest.raises(InputDataError, match="no positive"):
        pm.positive_weight(0, 10, 50.0)


def test_with_class_weight(spark):
    df = spark.createDataFrame([(1.0,), (0.0,)], "label double")
    expected = spark.createDataFrame([(1.0, 4.0), (0.0, 1.0)], "label double, class_weight double")
    assert_df_equality(df.transform(pm.with_class_weight(4.0)), expected, ignore_nullable=True)


def test_prior_correction_turns_weighted_odds_back_into_probabilities(spark):
    # Positives weighted 4x: weighted 0.8 = odds 4 = 4 x true odds 1 -> true probability 0.5.
    model = PipelineModel(stages=pm.prior_correction_stages(4.0))
    df = spark.createDataFrame([("a", Vectors.dense([0.2, 0.8])), ("b", Vectors.dense([1.0, 0.0])),
                                ("c", Vectors.dense([0.0, 1.0]))],
                               ["identity_id_hash", pm.RF_PROBABILITY])
    expected = spark.createDataFrame([("a", 0.5), ("b", 0.0), ("c", 1.0)],
                                     "identity_id_hash string, probability double")
    assert_df_equality(pm.score(model, df), expected, ignore_nullable=True, ignore_row_order=True)
    assert pm.corrected_probability(0.8, 4.0) == pytest.approx(0.5)


def test_score_takes_the_positive_class_element(spark):
    # A forest on one perfectly separating feature: x = 1 is certainly class 1. Taking element 0
    # of the probability vector would give exactly the opposite.
    rows = [(f"c{i}", float(i % 2), float(i % 2)) for i in range(40)]
    train = spark.createDataFrame(rows, "identity_id_hash string, x double, label double")
    spec = pm.FeatureSpec(numeric=("x",), categorical=(), segment=None)
    pipeline, _ = learners.forest_pipeline(spec, 3.0, PropensitySettings(num_trees=(3,), max_depth=(2,),
                                                                     min_instances_per_node=1))
    model = pipeline.fit(train.transform(pm.with_class_weight(3.0)))
    to_score = spark.createDataFrame([("yes", 1.0), ("no", 0.0)], "identity_id_hash string, x double")
    expected = spark.createDataFrame([("yes", 1.0), ("no", 0.0)],
                                     "identity_id_hash string, probability double")
    assert_df_equality(pm.score(model, to_score), expected, ignore_nullable=True,
                       ignore_row_order=True)
    with pytest.raises(SchemaMismatchError, match="missing column.*x"):
        pm.score(model, to_score.drop("x"))


def test_negative_share_fits_the_row_cap():
    assert pm.negative_share(100, 900, 0) == 1.0  # no cap
    assert pm.negative_share(100, 900, 1000) == 1.0  # fits already
    assert pm.negative_share(1_000, 99_000, 25_000) == pytest.approx(24_000 / 99_000)
    # a cap below twice the positives still keeps as many negatives as positives
    assert pm.negative_share(1_000, 99_000, 1_500) == pytest.approx(1_000 / 99_000)
    with pytest.raises(ConfigError, match="max_training_rows"):
        PropensitySettings(max_training_rows=10).validate()


def test_negative_share_keeps_at_most_the_ratio_of_negatives_per_positive_and_the_lower_cap():
    assert pm.negative_share(100, 9_900, 0, per_positive=15) == pytest.approx(1_500 / 9_900)
    assert pm.negative_share(100, 900, 0, per_positive=15) == 1.0  # 9 per positive already
    # whichever cap keeps fewer negatives wins
    assert pm.negative_share(1_000, 99_000, 5_000, per_positive=15) == pytest.approx(
        4_000 / 99_000)
    assert pm.negative_share(1_000, 99_000, 250_000, per_positive=15) == pytest.approx(
        15_000 / 99_000)
    with pytest.raises(ConfigError, match="max_negatives_per_positive"):
        PropensitySettings(max_negatives_per_positive=0.5).validate()


def test_sample_negatives_keeps_every_positive(spark):
    df = spark.range(2_000).select((F.col("id") < 50).cast("double").alias("label"))
    sampled = df.transform(pm.sample_negatives(0.1, seed=5))
    counts = {r["label"]: r["count"] for r in sampled.groupBy("label").count().collect()}
    assert counts[1.0] == 50
    assert 120 <= counts[0.0] <= 270  # Bernoulli 0.1 of 1,950 negatives: 195 expected
    assert df.transform(pm.sample_negatives(1.0, seed=5)) is df


def test_prior_correction_also_undoes_negative_sampling(spark):
    # True rates: 20 % of x = 1 clients buy, 2 % of x = 0 clients. The forest is fitted on every
    # buyer and a quarter of the non-buyers, with balancing weights; the corrected probability
    # must come back to the population rates (correcting for the weight alone gives ~0.5 / ~0.08).
    rows = [(f"c{i}", float(i % 2), float((i % 2 == 1 and i % 10 == 1) or i % 100 == 0))
            for i in range(8_000)]
    data = spark.createDataFrame(rows, "identity_id_hash string, x double, label double")
    n_pos = sum(1 for r in rows if r[2] == 1.0)
    settings = PropensitySettings(num_trees=(3,), max_depth=(2,), min_instances_per_node=1,
                                  max_training_rows=2_500, seed=3)
    fit_rows, weight, share = pm.training_frame(data, n_pos, len(rows) - n_pos, settings)
    assert share < 0.4
    spec = pm.FeatureSpec(numeric=("x",), categorical=(), segment=None)
    pipeline, _ = learners.forest_pipeline(spec, weight, settings, negative_share=share)
    model = pipeline.fit(fit_rows)
    scored = {r["x"]: r["probability"] for r in
              pm.score(model, data).join(data, "identity_id_hash").groupBy("x")
              .agg(F.avg("probability").alias("probability")).collect()}
    assert scored[1.0] == pytest.approx(0.2, abs=0.03)
    assert scored[0.0] == pytest.approx(0.02, abs=0.01)


def test_labelled_frame_joins_one_product(spark):
    features = spark.createDataFrame([("2026-02-01", "a", 1), ("2026-02-01", "b", 2)],
                                     "as_of_date string, identity_id_hash string, web_n int")
    labels = spark.createDataFrame(
        [("2026-02-01", "a", "MORTGAGE", 1), ("2026-02-01", "b", "SAVINGS", 0),
         ("2026-02-01", "b", "MORTGAGE", 0)],
        "as_of_date string, identity_id_hash string, product_code string, label int")
    expected = spark.createDataFrame([("2026-02-01", "a", 1, 1.0), ("2026-02-01", "b", 2, 0.0)],
                                     "as_of_date string, identity_id_hash string, web_n int, "
                                     "label double")
    assert_df_equality(pm.labelled_frame(features, labels, "MORTGAGE"), expected,
                       ignore_nullable=True, ignore_row_order=True)


def test_every_products_labels_joined_once_give_each_products_labelled_frame(spark):
    features = spark.createDataFrame(
        [("2026-02-01", "a", 1), ("2026-02-01", "b", 2), ("2026-02-01", "c", 3),
         ("2026-03-01", "a", 4)],
        "as_of_date string, identity_id_hash string, web_n int")
    labels = spark.createDataFrame(
        [("2026-02-01", "a", "MORTGAGE", 1, "train"), ("2026-02-01", "b", "SAVINGS", 0, "train"),
         ("2026-02-01", "b", "MORTGAGE", 0, "train"), ("2026-03-01", "a", "SAVINGS", 1, None)],
        "as_of_date string, identity_id_hash string, product_code string, label int, "
        "split string")  # c holds both products: no label, no row
    products = ["MORTGAGE", "SAVINGS", "PENSION"]
    wide = pm.labels_by_product(labels, products)
    assert sorted(tuple(r) for r in wide.collect()) == [
        ("2026-02-01", "a", "train", 1.0, None, None),
        ("2026-02-01", "b", "train", 0.0, 0.0, None),
        ("2026-03-01", "a", None, None, 1.0, None)]
    joined = features.join(wide, on=list(pm.KEYS))
    for product in products:
        assert_df_equality(pm.product_rows(joined, products, product),
                           pm.labelled_frame(features, labels, product),
                           ignore_nullable=True, ignore_row_order=True)


def test_label_counts_of_every_product_in_one_pass_equal_counting_its_rows(spark):
    nan = float("nan")
    features = spark.createDataFrame(
        [("2026-02-01", "a", 1.0, 1), ("2026-02-01", "b", None, 2), ("2026-02-01", "c", 3.0, 3),
         ("2026-03-01", "a", nan, 4), ("2026-03-01", "b", 5.0, None), ("2026-04-01", "a", 6.0, 5)],
        "as_of_date string, identity_id_hash string, income double, visits int")
    labels = spark.createDataFrame(
        [("2026-02-01", "a", "MORTGAGE", 1, "train"), ("2026-02-01", "b", "SAVINGS", 0, "train"),
         ("2026-02-01", "c", "MORTGAGE", 0, "evaluation"),
         ("2026-02-01", "c", "SAVINGS", 1, "evaluation"),
         ("2026-03-01", "a", "SAVINGS", 1, None), ("2026-03-01", "b", "MORTGAGE", 1, "train"),
         ("2026-04-01", "a", "MORTGAGE", 0, None)],
        "as_of_date string, identity_id_hash string, product_code string, label int, "
        "split string")
    products = ["MORTGAGE", "SAVINGS", "PENSION"]
    joined = features.join(pm.labels_by_product(labels, products), on=list(pm.KEYS)).cache()
    numeric = pm.feature_spec(pm.product_rows(joined, products, "MORTGAGE")).numeric
    assert numeric == ("income", "visits")
    counts = pm.LabelCounts(tuple(pm.labelled_groups(joined, products, numeric).collect()),
                            tuple(products), numeric)
    dates = [["2026-02-01"], ["2026-03-01"], ["2026-02-01", "2026-03-01"],
             ["2026-02-01", "2026-03-01", "2026-04-01"]]
    seen = set()
    for product in products:
        for wanted in dates:
            for part in ("", "train", "evaluation"):
                rows = joined.where(F.col("as_of_date").isin(wanted))
                if part:
                    held_out = F.col("split") == "evaluation"
                    rows = rows.where(held_out if part == "evaluation"
                                      else ~held_out | F.col("split").isNull())
                own = pm.product_rows(rows, products, product)
                spec = pm.feature_spec(own)
                expected = pm.count_labelled(spec, own)
                assert counts.of(spec, product, wanted, part) == expected, (product, wanted, part)
                seen.add((expected.n, expected.positives, expected.spec.nullable))
    # the cases differ: rows, positives and nullable columns all vary
    assert {(1, 1, ()), (2, 1, ("income",)), (0, 0, ()), (1, 1, ("visits",))} <= seen
    joined.unpersist()


def test_popularity_baseline_scores_by_training_segment_rate(spark):
    train = spark.createDataFrame([(0, 1.0), (0, 0.0), (0, 0.0), (0, 1.0), (1, 0.0), (1, 0.0)],
                                  "segment_id int, label double")
    test = spark.createDataFrame([("a", 0, 1.0), ("b", 1, 0.0), ("c", 7, 0.0)],
                                 "identity_id_hash string, segment_id int, label double")
    # segment 7 unseen in training: overall training rate 2/6.
    expected = spark.createDataFrame([("a", 1.0, 0.5), ("b", 0.0, 0.0), ("c", 0.0, 2 / 6)],
                                     "identity_id_hash string, label double, probability double")
    assert_df_equality(pm.popularity_scores(pm.popularity_rates(train), test), expected,
                       ignore_nullable=True, ignore_row_order=True)


def test_feature_importances_are_named_from_the_vector_attributes(spark):
    rows = [(f"c{i}", float(i % 2), float(i % 3), ["PRG", "STC"][i % 2], float(i % 2))
            for i in range(40)]
    df = spark.createDataFrame(rows, "identity_id_hash string, x double, noise double, "
                                     "region string, label double")
    spec = pm.feature_spec(df)
    pipeline, _ = learners.forest_pipeline(spec, 1.0, PropensitySettings(num_trees=(3,), max_depth=(2,),
                                                                     min_instances_per_node=1))
    model = pipeline.fit(df.transform(pm.with_class_weight(1.0)))
    names = [n for n, _ in pm.feature_importances(model, df)]
    # One-hot slots are named <column>_onehot_<value> (the indexer's "__unknown" and the
    # encoder's "invalidValues" slots take unseen values); x separates the classes perfectly,
    # so it carries the most importance.
    assert sorted(names) == ["__imputed_noise", "__imputed_x", "region_onehot_PRG",
                             "region_onehot_STC", "region_onehot___unknown",
                             "region_onehot_invalidValues"]
    assert names[0] == "__imputed_x"


def test_logistic_importances_weigh_each_coefficient_by_its_features_spread(spark):
    # x in thousands, z in units: the raw coefficients are in their units; the importance is
    # the coefficient per standard deviation, shares of the total
    rows = [(f"c{i}", 1000.0 * (i % 7), float(i % 5), float((i % 7) + (i % 5) > 5))
            for i in range(60)]
    df = spark.createDataFrame(rows, "identity_id_hash string, x double, z double, label double")
    model = pm.logistic_pipeline(pm.feature_spec(df)).fit(df)
    coefficients = dict(zip(["__imputed_x", "__imputed_z"],
                            model.stages[-1].coefficients.toArray(), strict=True))
    spread = {"__imputed_x": statistics.stdev(r[1] for r in rows),
              "__imputed_z": statistics.stdev(r[2] for r in rows)}
    weights = {n: abs(c) * spread[n] for n, c in coefficients.items()}
    got = dict(pm.feature_importances(model, df))
    assert got == pytest.approx({n: w / sum(weights.values()) for n, w in weights.items()})


def test_cross_validation_folds_keep_each_clients_snapshots_together(spark):
    # three monthly snapshots of 40 clients: every row of a client gets the same fold, and the
    # folds split the clients (not all in one fold)
    rows = spark.range(40).crossJoin(spark.range(3).withColumnRenamed("id", "month")).select(
        F.sha2(F.col("id").cast("string"), 256).alias("identity_id_hash"), "month")
    folded = rows.withColumn(learners.FOLD, learners.client_fold(3))
    per_client = folded.groupBy("identity_id_hash").agg(
        F.countDistinct(learners.FOLD).alias("folds"), F.count("*").alias("rows"))
    assert {(r["folds"], r["rows"]) for r in per_client.collect()} == {(1, 3)}
    sizes = {r[0]: r[1] for r in folded.groupBy(learners.FOLD).count().collect()}
    assert set(sizes) == {0, 1, 2}
    assert min(sizes.values()) >= 3 * 5


def test_a_cv_figure_is_the_mean_over_folds_of_a_fit_on_the_others_and_nothing_is_refitted(
        spark):
    train = (_segment_rows(spark, planted=False).transform(pm.with_class_weight(1.0))
             .withColumn(learners.FOLD, learners.client_fold(3)).cache())
    spec = pm.FeatureSpec(("x",), (), None)
    settings = PropensitySettings(learners=("logistic_regression",), lr_reg_param=(0.0, 0.3),
                                  folds=3)
    pipeline, estimator = learners.learner_pipeline("logistic_regression", spec, 1.0, settings)
    grid = learners.learner_grid("logistic_regression", estimator, settings)

    aucs = learners.validation_aucs(pipeline, grid, train, "cv", settings)

    for point, auc in zip(grid, aucs, strict=True):
        per_fold = [learners.roc_evaluator().evaluate(
            pipeline.fit(train.where(F.col(learners.FOLD) != k), point)
            .transform(train.where(F.col(learners.FOLD) == k))) for k in range(3)]
        assert auc == pytest.approx(sum(per_fold) / 3, abs=1e-12)
    fit_rows, score_rows = train.randomSplit([0.8, 0.2], seed=settings.seed)
    split = learners.validation_aucs(pipeline, grid, train, "split", settings)
    assert split == pytest.approx([learners.roc_evaluator().evaluate(
        pipeline.fit(fit_rows, point).transform(score_rows)) for point in grid], abs=1e-12)
    with pytest.raises(ValueError, match="unknown validation mode 'holdout'"):
        learners.validation_aucs(pipeline, grid, train, "holdout", settings)


def _segment_rows(spark, planted: bool):
    """400 clients: with ``planted``, segment 3 buys far more often and x is noise; without, one
    segment for everyone and the label follows x."""
    rows = []
    for i in range(400):
        x = (i * 37 % 101) / 101
        if planted:
            segment = i % 4
            label = 1.0 if (i % 5 < 2 if segment == 3 else i % 19 == 0) else 0.0
        else:
            segment, label = 0, 1.0 if x > 0.7 and i % 3 else 0.0
        rows.append((f"c{i}", x, segment, label))
    return spark.createDataFrame(rows, "identity_id_hash string, x double, segment_id int, "
                                       "label double")


@pytest.mark.parametrize(("planted", "setting", "expected"), [
    (True, "auto", "segment_id"),  # the segment carries the signal: kept
    (False, "auto", None),  # one segment for all adds nothing: left out
    (True, "never", None),
    (False, "always", "segment_id"),
])
def test_the_segment_is_an_input_only_where_it_helps_on_validation(spark, planted, setting,
                                                                   expected):
    train = _segment_rows(spark, planted).cache()
    spec = pm.feature_spec(train)
    assert spec.segment == "segment_id"
    settings = PropensitySettings(learners=("logistic_regression",), lr_reg_param=(0.0, 0.01),
                                  validation="split", segment_feature=setting)

    selection = learners.select_learner(train, spec, 1.0, settings)

    assert selection.spec.segment == expected
    assert selection.params == {"regParam": selection.params["regParam"]}
    tried = {r["segment"] for r in selection.results}
    # auto tunes the grid without the segment, then refits only the best point with it
    assert tried == ({False, True} if setting == "auto" else {expected is not None})
    assert len(selection.results) == (3 if setting == "auto" else 2)
    scored = pm.positive_probability(selection.model.transform(train))
    assert scored.count() == 400
    if setting == "auto":
        by = {r["segment"]: r["validation_areaUnderROC"] for r in selection.results
              if r["regParam"] == selection.params["regParam"]}
        assert (by[True] > by[False]) == (expected is not None)


def _take_up_rows(spark, planted: bool):
    """400 clients: with ``planted``, buyers are told apart by their take-up feature and x is
    noise; without, the take-up feature says nothing (every client's value is the overall
    take-up, as for values no training client has) and the label follows x."""
    rows = []
    for i in range(400):
        x, noise = (i * 37 % 101) / 101, (i * 53 % 97) / 97
        signal = 1.0 if i % 5 < 2 else 0.0
        if planted:
            label = signal if i % 7 else 1.0 - signal  # mostly, not always
            rows.append((f"c{i}", noise, 0.1 + 0.3 * signal + 0.05 * x, label))
        else:
            rows.append((f"c{i}", x, 0.25, 1.0 if x > 0.7 and i % 3 else 0.0))
    return spark.createDataFrame(rows, "identity_id_hash string, x double, "
                                       "takeup_deposit_route double, label double")


@pytest.mark.parametrize("planted", [True, False])
def test_take_up_features_are_inputs_only_where_they_help_on_validation(spark, planted):
    train = _take_up_rows(spark, planted).transform(pm.with_class_weight(1.0)).cache()
    spec = pm.feature_spec(train)
    assert learners.take_up_columns(spec) == ("takeup_deposit_route",)
    # one learner at one point: the take-up features are still a choice to validate
    settings = PropensitySettings(learners=("logistic_regression",), lr_reg_param=(0.01,),
                                  validation="split")
    assert learners.has_choice(settings, spec)

    two = replace(settings, learners=("logistic_regression", "random_forest"), num_trees=(5,),
                  max_depth=(3,))

    selection = learners.select_learner(train, spec, 1.0, two)

    kept = learners.take_up_columns(selection.spec)
    assert kept == (("takeup_deposit_route",) if planted else ())
    # the learners are tuned without them; only the one chosen so tries them
    [tried] = [r for r in selection.results if r["take_up"]]
    assert {r["learner"] for r in selection.results if not r["take_up"]} == set(two.learners)
    without = max(r["validation_areaUnderROC"] for r in selection.results
                  if r["learner"] == tried["learner"] and not r["take_up"])
    assert (tried["validation_areaUnderROC"] > without) == planted  # a tie leaves them out
    assert "x" in selection.spec.numeric
    assert pm.positive_probability(selection.model.transform(train)).count() == 400


def test_an_unknown_segment_feature_setting_is_named():
    with pytest.raises(ConfigError, match="segment_feature"):
        PropensitySettings(segment_feature="sometimes").validate()


@pytest.mark.parametrize(("settings", "choice"), [
    (PropensitySettings(learners=("logistic_regression",), lr_reg_param=(0.01,)), False),
    (PropensitySettings(learners=("logistic_regression",), lr_reg_param=(0.0, 0.01)), True),
    (PropensitySettings(learners=("logistic_regression", "random_forest"),
                        lr_reg_param=(0.01,), num_trees=(3,), max_depth=(2,)), True),
    (PropensitySettings(learners=("logistic_regression",), lr_reg_param=(0.01,),
                        segment_feature="auto"), True),
])
def test_validation_runs_only_when_there_is_a_choice(spark, settings, choice):
    train = _segment_rows(spark, planted=True).transform(pm.with_class_weight(1.0)).cache()
    spec = pm.feature_spec(train)
    assert learners.has_choice(settings, spec) is choice

    selection = learners.select_learner(train, spec, 1.0, replace(settings, validation="split"))

    scored = [r["validation_areaUnderROC"] for r in selection.results]
    assert (None in scored) is not choice
    if not choice:  # the one point, fitted once on every row: the same model as a plain fit
        assert selection.results == [{"regParam": 0.01, "validation_areaUnderROC": None,
                                      "learner": "logistic_regression", "segment": True}]
        pipeline, _ = learners.learner_pipeline("logistic_regression", spec, 1.0, settings)
        direct = pm.positive_probability(pipeline.fit(train).transform(train))
        chosen = pm.positive_probability(selection.model.transform(train))
        assert_df_equality(chosen.select("identity_id_hash", pm.PROBABILITY),
                           direct.select("identity_id_hash", pm.PROBABILITY),
                           ignore_row_order=True)



def test_the_model_does_not_depend_on_the_segment_ids_values(spark):
    # Segment ids grow across trainings (new ids above old ones); the same segments under
    # other ids must give the same forest (the id is indexed, not one-hot on its raw value).
    rows = _segment_rows(spark, planted=True).transform(pm.with_class_weight(1.0))
    renumbered = rows.withColumn("segment_id", F.col("segment_id") + 15)
    settings = PropensitySettings(num_trees=(5,), max_depth=(3,), min_instances_per_node=1)

    def scores(train):
        pipeline, _ = learners.forest_pipeline(pm.feature_spec(train), 1.0, settings)
        return pm.positive_probability(pipeline.fit(train).transform(train)).select(
            "identity_id_hash", pm.PROBABILITY)

    assert_df_equality(scores(rows), scores(renumbered), ignore_row_order=True)


@pytest.mark.parametrize(("validation", "n_dates", "latest_positives", "n_rows", "mode"), [
    ("auto", 3, 150, 50_000, "month"),  # stacked snapshots, a later month with enough buyers
    ("auto", 3, 40, 50_000, "cv"),  # the latest month is too thin to judge on: folds
    ("auto", 1, 150, 50_000, "cv"),  # one snapshot (a client file): nothing later to validate on
    ("auto", 1, 150, 500_000, "split"),
    ("month", 2, 100, 500_000, "month"),
    ("month", 1, 0, 500_000, "split"),  # month asked for, impossible: auto's rule
    ("cv", 3, 150, 500_000, "cv"),
    ("split", 3, 150, 50_000, "split"),
])
def test_validation_is_on_a_later_month_where_the_data_has_one(validation, n_dates,
                                                                latest_positives, n_rows, mode):
    settings = PropensitySettings(validation=validation, month_min_positives=100,
                                  cv_max_rows=100_000)
    assert learners.validation_mode(settings, n_rows, n_dates, latest_positives) == mode


def test_an_unknown_validation_is_named():
    with pytest.raises(ConfigError, match="validation: expected one of auto, month, cv, split"):
        PropensitySettings(validation="holdout").validate()


def _two_months(spark):
    """300 clients in two monthly snapshots: the label follows x in the earlier one and y in the
    later one, so a model's ranking on the later month depends on the rows it was fitted on."""
    rows = []
    for month, day in ((0, "2026-04-02"), (1, "2026-05-02")):
        for i in range(300):
            x, y = ((i * 37) % 101) / 101, ((i * 53 + 7) % 97) / 97
            driver = x if month == 0 else y
            label = 1.0 if (driver > 0.6 and i % 3) or i % 23 == 0 else 0.0
            rows.append((day, f"c{i}", x, y, label))
    return (spark.createDataFrame(rows, "as_of_date string, identity_id_hash string, x double, "
                                        "y double, label double")
            .withColumn("as_of_date", F.to_date("as_of_date"))
            .transform(pm.with_class_weight(1.0)).cache())


def test_later_month_validation_fits_on_the_earlier_months_and_scores_the_latest(spark):
    train = _two_months(spark)
    spec = pm.FeatureSpec(("x", "y"), (), None)
    settings = PropensitySettings(learners=("logistic_regression",), lr_reg_param=(0.0, 0.3),
                                  validation="auto", month_min_positives=20)

    selection = learners.select_learner(train, spec, 1.0, settings)

    assert selection.validation == "month"
    may_buyers = train.where("as_of_date = '2026-05-02' AND label = 1").count()
    assert learners._latest_date_positives(train) == (2, may_buyers)
    thin = learners.select_learner(train, spec, 1.0, replace(settings,
                                                             month_min_positives=may_buyers + 1))
    assert thin.validation == "cv"  # too few buyers in the later month: folds by client
    pipeline, estimator = learners.learner_pipeline("logistic_regression", spec, 1.0, settings)
    earlier = train.where("as_of_date < '2026-05-02'")
    later = train.where("as_of_date = '2026-05-02'")
    for row in selection.results:  # each point's figure: fitted on April, scored on May
        point = {estimator.getParam("regParam"): row["regParam"]}
        expected = learners.roc_evaluator().evaluate(
            pipeline.fit(earlier, point).transform(later))
        assert row["validation_areaUnderROC"] == pytest.approx(expected, abs=1e-12)
    best = max(selection.results, key=lambda r: r["validation_areaUnderROC"])
    assert selection.params == {"regParam": best["regParam"]}
    refit = pipeline.fit(train, {estimator.getParam("regParam"): best["regParam"]})
    assert_df_equality(  # the chosen point is refitted on both months
        pm.positive_probability(selection.model.transform(train)).select(
            "as_of_date", "identity_id_hash", pm.PROBABILITY),
        pm.positive_probability(refit.transform(train)).select(
            "as_of_date", "identity_id_hash", pm.PROBABILITY), ignore_row_order=True)
