"""The train stage end to end on hand-built gold tables: MLflow runs, registry, tables, load."""
from __future__ import annotations

import datetime as dt
import json

import mlflow
import pytest
from mlflow import MlflowClient
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segrec_spark import registry
from segrec_spark.config import Config
from segrec_spark.errors import InputDataError, MissingTableError
from segrec_spark.propensity import job
from segrec_spark.propensity import model as pm
from segrec_spark.propensity.calibration import from_dict
from segrec_spark.segmentation import model as seg
from segrec_spark.tables import read_table, table_path, write_slice
from tests.conftest import make_config

TRAIN_AS_OF = dt.date(2026, 1, 31)  # E - 2h with the default generator period and h = 30
EVAL_AS_OF = dt.date(2026, 3, 2)  # E - h
EARLIER = dt.date(2026, 1, 1)  # a stacked training snapshot one horizon before TRAIN_AS_OF


# Each labelled date holds other clients (ids from its offset), as different client-months do:
# snapshots stacked for training are not copies of one another.
OFFSETS = {EARLIER: 480, TRAIN_AS_OF: 0, EVAL_AS_OF: 240}


def _features(spark: SparkSession, as_of: dt.date, n: int = 240) -> DataFrame:
    i = F.col("id")
    pick = lambda values, k: F.element_at(  # noqa: E731
        F.array(*[F.lit(v) for v in values]), (k % len(values) + 1).cast("int"))
    first = OFFSETS.get(as_of, 0)
    return spark.range(first, first + n).select(
        F.lit(as_of).alias("as_of_date"),
        F.sha2(i.cast("string"), 256).alias("identity_id_hash"),
        ((i * 7) % 20).cast("int").alias("web_events_30d"),
        F.when(i % 3 == 0, 0).otherwise((i * 13) % 15).cast("int").alias("app_events_30d"),
        (i % 5).cast("int").alias("interest_mortgage_30d"),
        ((i * 3) % 4).cast("double").alias("camp_clicks_30d"),
        (i % 2).cast("int").alias("holds_savings"),
        F.lit(0).alias("holds_mortgage"),
        pick(["18-25", "26-35", "36-45"], i).alias("age_band"),
        pick(["LOW", "MID", "HIGH"], i * 5).alias("income_band"),
        pick(["PRG", "STC"], i * 11).alias("region"),
        (i % 120).cast("int").alias("tenure_months"),
    )


def _labels(features: DataFrame) -> DataFrame:
    # Mortgage buyers: high mortgage interest (two in three of them); savers: heavy app users.
    noise = F.abs(F.hash("identity_id_hash")) % 3 == 0
    mortgage = features.select(
        "as_of_date", "identity_id_hash", F.lit("MORTGAGE").alias("product_code"),
        ((F.col("interest_mortgage_30d") >= 3) & ~noise).cast("int").alias("label"))
    savings = features.where(F.col("holds_savings") == 0).select(
        "as_of_date", "identity_id_hash", F.lit("SAVINGS").alias("product_code"),
        (F.col("app_events_30d") >= 9).cast("int").alias("label"))
    return mortgage.unionByName(savings).withColumn("horizon_days", F.lit(30))


def _write_gold(spark: SparkSession, cfg: Config) -> None:
    features = (_features(spark, EARLIER).unionByName(_features(spark, TRAIN_AS_OF))
                .unionByName(_features(spark, EVAL_AS_OF)))
    write_slice(features, table_path(cfg.paths.root, "gold", "client_features"), None,
                ["as_of_date"])
    write_slice(_labels(features), table_path(cfg.paths.root, "gold", "labels"), None,
                ["as_of_date"])
    truth = _features(spark, EVAL_AS_OF).select(
        "identity_id_hash", F.lit("MORTGAGE").alias("product_code"),
        F.lit(EVAL_AS_OF).alias("window_start"), F.lit(dt.date(2026, 4, 1)).alias("window_end"),
        F.when(F.col("interest_mortgage_30d") >= 3, 0.67).otherwise(0.0).alias("true_probability"),
        # The ceiling's column, distinct from the oracle's: the same score for everyone (AUC 0.5).
        F.lit(0.2).alias("observable_probability"))
    truth.write.parquet(f"{cfg.paths.ground_truth}/true_propensity")


def _train(spark: SparkSession, tmp, *overrides: str) -> tuple[Config, dict]:
    """The hand-built gold tables under ``tmp``, trained for MORTGAGE and SAVINGS."""
    cfg = make_config(tmp, "segmentation.k_min=2", "segmentation.k_max=2",
                      "propensity.products=[MORTGAGE,SAVINGS]", "propensity.max_depth=[3]",
                      "propensity.min_positives=5",
                      # 240 hand-written rows: leaves of single rows, all features per split
                      "propensity.min_instances_per_node=1",
                      "propensity.feature_subset_strategy=all", *overrides)
    _write_gold(spark, cfg)
    return cfg, job.run(spark, cfg)


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    return _train(spark, tmp_path_factory.mktemp("train"), "propensity.num_trees=[5,10]",
                  "propensity.parallelism=2",
                  "propensity.pooled=auto")  # the code's default (conf/local.yaml: never)


def test_missing_gold_table_is_named(spark, tmp_config):
    with pytest.raises(MissingTableError, match="gold.labels"):
        job.run(spark, tmp_config)


def test_no_product_with_labels_is_one_clear_line(spark, tmp_config):
    labels = spark.createDataFrame([("GIFT_CARD",)], "product_code string")  # not configured
    with pytest.raises(InputDataError, match=r"none of the products .* at 2026-03-01"):
        job.products_to_train(tmp_config, labels, dt.date(2026, 3, 1))
    assert job.products_to_train(
        tmp_config, spark.createDataFrame([("SAVINGS",)], "product_code string")) == ["SAVINGS"]


def test_run_logs_parent_and_child_runs_and_registers_champions(trained):
    cfg, summary = trained
    assert (summary["train_as_of"], summary["eval_as_of"]) == (TRAIN_AS_OF, EVAL_AS_OF)
    # features.train_snapshots (3) stacks every labelled date a horizon apart before EVAL_AS_OF
    assert summary["train_dates"] == (EARLIER, TRAIN_AS_OF)
    assert sorted(summary["products"]) == ["MORTGAGE", "SAVINGS"]
    client = MlflowClient(cfg.mlflow.tracking_uri)
    children = client.search_runs(
        [client.get_experiment_by_name(cfg.mlflow.experiment).experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{summary['parent_run_id']}'")
    assert sorted(r.info.run_name for r in children) == [
        "propensity_mortgage", "propensity_savings", "segmentation"]
    mortgage_run = client.get_run(summary["products"]["MORTGAGE"]["run_id"])
    assert mortgage_run.data.params["best_maxDepth"] == "3"
    params = mortgage_run.data.params
    assert params["train_dates"] == f"{EARLIER},{TRAIN_AS_OF}"
    assert params["champion_dates"] == f"{EARLIER},{TRAIN_AS_OF},{EVAL_AS_OF}"
    assert params["n_train"] == str(2 * 240)  # every client labelled for MORTGAGE, two dates
    assert "random_forest_roc_auc" in mortgage_run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(mortgage_run.info.run_id)}
    assert {"tuning_grid.json", "feature_importances.json", "deciles.json",
            "gains_mortgage.png"} <= artifacts
    for name, version in (("segrec_segmentation", summary["segmentation"]["version"]),
                          ("segrec_propensity_mortgage", summary["products"]["MORTGAGE"]["version"]),
                          ("segrec_propensity_savings", summary["products"]["SAVINGS"]["version"])):
        assert str(client.get_model_version_by_alias(name, "champion").version) == version


def test_the_champions_calibration_level_counts_every_month_it_is_fitted_on(spark, trained):
    cfg, summary = trained
    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    platt = from_dict(json.loads(mlflow.artifacts.load_text(
        f"runs:/{summary['products']['MORTGAGE']['run_id']}/calibration.json")))
    assert platt is not None
    # the champion is refitted on three months: the level counts their buyers, not the latest's
    labels = read_table(spark, table_path(cfg.paths.root, "gold", "labels")).where(
        F.col("product_code") == "MORTGAGE")
    per_month = {r[0]: int(r[1]) for r in labels.groupBy("as_of_date").agg(F.sum("label"))
                 .collect()}
    assert platt.level_as_of == f"{EARLIER},{TRAIN_AS_OF},{EVAL_AS_OF}"
    assert (platt.rows, platt.positives) == (3 * 240, sum(per_month.values()))
    assert platt.positives > per_month[EVAL_AS_OF]


def test_models_beat_the_baseline_and_approach_the_oracle(trained):
    _, summary = trained
    mortgage = summary["products"]["MORTGAGE"]["metrics"]
    # Labels follow mortgage interest (2 in 3 buyers kept): the forest should rank like the oracle.
    assert mortgage["rf"]["roc_auc"] > 0.8
    assert mortgage["rf"]["roc_auc"] > mortgage["baseline"]["roc_auc"]
    assert mortgage["rf"]["roc_auc"] == pytest.approx(mortgage["oracle"]["roc_auc"], abs=0.05)
    assert summary["products"]["SAVINGS"]["metrics"]["rf"]["roc_auc"] > 0.95
    assert "oracle" not in summary["products"]["SAVINGS"]["metrics"]


def test_champions_load_and_score(spark, trained):
    cfg, _ = trained
    features = _features(spark, dt.date(2026, 4, 1), n=240)  # the training clients, a month on
    segmented = seg.assign_segments(registry.load_champion(cfg, "segrec_segmentation"), features)
    scores = pm.score(registry.load_champion(cfg, "segrec_propensity_mortgage"), segmented)
    rows = {r["identity_id_hash"]: r["probability"] for r in scores.collect()}
    interest = {r["identity_id_hash"]: r["interest_mortgage_30d"] for r in features.collect()}
    assert len(rows) == 240
    assert all(0.0 <= p <= 1.0 for p in rows.values())
    keen = [rows[k] for k, v in interest.items() if v >= 3]
    cold = [rows[k] for k, v in interest.items() if v < 3]
    # Prior-corrected: about 2/3 for the keen (the true rate), near 0 for the others.
    assert min(keen) > max(cold)
    assert sum(keen) / len(keen) == pytest.approx(2 / 3, abs=0.2)
    with pytest.raises(MissingTableError, match="segrec_nothing@champion"):
        registry.load_champion(cfg, "segrec_nothing")


def test_gold_tables_hold_metrics_and_profiles_for_the_evaluation_date(spark, trained):
    cfg, summary = trained
    metrics = read_table(spark, table_path(cfg.paths.root, "gold", "model_metrics"))
    auc = {(r["product_code"], r["model"]): r["value"]
           for r in metrics.where(F.col("metric") == "roc_auc").collect()}
    assert sorted(auc) == [("MORTGAGE", "baseline"), ("MORTGAGE", "observable_ceiling"),
                           ("MORTGAGE", "oracle"), ("MORTGAGE", "random_forest"),
                           ("SAVINGS", "baseline"), ("SAVINGS", "random_forest")]
    # Each planted score from its own column: the ceiling's is flat here, the oracle's is not.
    assert auc[("MORTGAGE", "observable_ceiling")] == pytest.approx(0.5)
    assert auc[("MORTGAGE", "oracle")] > 0.8
    roles = {r["model"]: r["role"] for r in metrics.select("model", "role").distinct().collect()}
    assert roles["observable_ceiling"] == "observable_ceiling"
    assert roles["oracle"] == "oracle"
    assert auc[("MORTGAGE", "random_forest")] == pytest.approx(
        summary["products"]["MORTGAGE"]["metrics"]["rf"]["roc_auc"])
    assert {r["as_of_date"] for r in metrics.select("as_of_date").distinct().collect()} == {EVAL_AS_OF}
    profiles = read_table(spark, table_path(cfg.paths.root, "gold", "segment_profiles"))
    rows = profiles.orderBy("segment_id").collect()
    assert [r["segment_id"] for r in rows] == list(range(summary["segmentation"]["k"]))
    assert sum(r["size"] for r in rows) == 240
    assert [r["segment_name"] for r in rows] == [
        summary["segmentation"]["names"][r["segment_id"]] for r in rows]


def test_auto_uses_the_pooled_forest_where_it_validates_higher(trained):
    cfg, summary = trained
    client = MlflowClient(cfg.mlflow.tracking_uri)
    for product in ("MORTGAGE", "SAVINGS"):
        params = client.get_run(summary["products"][product]["run_id"]).data.params
        # both candidates validated on the latest training month (TRAIN_AS_OF), fitted on EARLIER
        own, theirs = float(params["product_validation_auc"]), float(params["pooled_validation_auc"])
        assert params["validation"] == "month"
        assert params["model_scope"] == ("pooled" if theirs > own else "product")
        assert summary["products"][product]["scope"] == params["model_scope"]


@pytest.fixture(scope="module")
def trained_pooled(spark, tmp_path_factory):
    return _train(spark, tmp_path_factory.mktemp("train_pooled"), "propensity.num_trees=[10]",
                  "propensity.pooled=always", "propensity.pooled_max_depth=4",
                  "propensity.learners=[random_forest]")


@pytest.mark.integration  # a second whole training on a lake of its own: make test-slow
def test_pooled_always_registers_one_forest_per_product_that_scores_client_features(
        spark, trained_pooled):
    cfg, summary = trained_pooled
    assert {p: r["scope"] for p, r in summary["products"].items()} == {
        "MORTGAGE": "pooled", "SAVINGS": "pooled"}
    # one forest, learnt from both products' buyers, ranks each product by its own signal
    assert summary["products"]["MORTGAGE"]["metrics"]["rf"]["roc_auc"] > 0.8
    assert summary["products"]["SAVINGS"]["metrics"]["rf"]["roc_auc"] > 0.9
    features = _features(spark, dt.date(2026, 4, 1), n=240)
    segmented = seg.assign_segments(registry.load_champion(cfg, "segrec_segmentation"), features)
    scores = pm.score(registry.load_champion(cfg, "segrec_propensity_mortgage"), segmented)
    assert scores.count() == 240
    client = MlflowClient(cfg.mlflow.tracking_uri)
    run_id = summary["products"]["MORTGAGE"]["run_id"]
    assert client.get_run(run_id).data.params["model_scope"] == "pooled"
    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    names = [r["feature"] for r in json.loads(mlflow.artifacts.load_text(
        f"runs:/{run_id}/feature_importances.json"))]
    # the reasons read the product's own columns: no pooled alias, no product indicator
    assert "__imputed_interest_mortgage_30d" in names
    assert not [n for n in names if "own_" in n or n.startswith("pooled_product")]


def test_held_out_rows_are_the_split_or_the_whole_evaluation_date(spark):
    labels = spark.createDataFrame([("a", "train"), ("b", "evaluation"), ("c", None)],
                                   "identity_id_hash string, split string")

    def keys(df: DataFrame) -> list[str]:
        return sorted(r[0] for r in df.collect())
    assert keys(job.split_rows(labels, "train")) == ["a", "c"]
    assert keys(job.split_rows(labels, "evaluation")) == ["b"]
    # Out of time (a snapshot with several as-of dates, split written NULL): all of the date.
    assert keys(job.split_rows(labels, "evaluation", by_split=False)) == ["a", "b", "c"]
    assert keys(job.split_rows(labels.drop("split"), "evaluation")) == ["a", "b", "c"]
