"""Shared fixtures: one local SparkSession with Delta for the whole test session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from segrec_spark.config import Config, SparkSettings, load_config

# Tests never run under spark-submit, even if the caller's shell says so.
os.environ.pop("SEGREC_SUBMITTED", None)
TEST_SPARK = SparkSettings(master="local[2]", shuffle_partitions=2, driver_memory="2g",
                           ui_enabled=False, log_level="ERROR",
                           conf={"spark.sql.adaptive.coalescePartitions.enabled": "true",
                                 "spark.default.parallelism": "2",
                                 "spark.sql.warehouse.dir": "",
                                 "spark.driver.extraJavaOptions": "-Dderby.system.home=/tmp",
                                 # Frames of a few rows: Spark's interpreted expressions, not
                                 # code generated and compiled for each of the suite's
                                 # thousands of plans (about 13 % faster, README "Tests").
                                 # The pipeline keeps generated code; `make test-slow`'s
                                 # cluster test runs it so, through spark-submit.
                                 "spark.sql.codegen.wholeStage": "false",
                                 "spark.sql.codegen.factoryMode": "NO_CODEGEN"})


def pytest_collection_modifyitems(config, items):
    """A test on the shared end-to-end run (fixture ``e2e``, about 150 s to make) must be marked
    ``integration``, so that `make test` never makes it: it is a whole pipeline."""
    unmarked = [item.nodeid for item in items if "e2e" in getattr(item, "fixturenames", ())
                and item.get_closest_marker("integration") is None]
    if unmarked:
        raise pytest.UsageError("tests on the shared e2e run must be marked integration: "
                                + ", ".join(unmarked))


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from segrec_spark.spark import get_spark

    warehouse = tmp_path_factory.mktemp("warehouse")
    settings = SparkSettings(**{**TEST_SPARK.__dict__,
                                "conf": {**TEST_SPARK.conf, "spark.sql.warehouse.dir": str(warehouse)}})
    session = get_spark(settings)
    yield session
    session.stop()


def make_config(tmp: Path, *overrides: str) -> Config:
    """The local default configuration with every path under ``tmp`` and test-sized Spark."""
    base = [
        f"paths.root={tmp}/lake",
        f"paths.landing={tmp}/landing",
        f"paths.ground_truth={tmp}/ground_truth",
        f"paths.reports={tmp}/reports",
        f"mlflow.tracking_uri=sqlite:///{tmp}/mlflow/mlflow.db",
        f"mlflow.artifact_location={tmp}/mlflow/artifacts",
        "spark.shuffle_partitions=2",
        # The shortest data with an out-of-time month, so that the suite stays fast and its
        # dates stay put; the default (6 months) is what `make run` and the bench generate.
        "generator.months=3",
    ]
    return load_config(None, [*base, *overrides])


@pytest.fixture
def tmp_config(tmp_path) -> Config:
    return make_config(tmp_path)


# --- one small end-to-end run shared by the tests that need it ---------------------------------

E2E_SCALE = os.environ.get("SEGREC_E2E_SCALE", "tiny")
# The smallest run that still writes every table: tiny's activity with 3,000 clients (so two
# products have enough buyers to train), one forest setting (conf/local.yaml: the forest on one
# validation split) and k = 3. Model quality is judged on a run of its own at `small`
# (tests/test_model_quality.py, `make test-quality`) and by the bench.
E2E_PRODUCTS = ("MORTGAGE", "CREDIT_CARD")
E2E_OVERRIDES = ("generator.n_clients=3000", "propensity.min_positives=5",
                 f"propensity.products=[{', '.join(E2E_PRODUCTS)}]",
                 "propensity.num_trees=[20]", "propensity.max_depth=[5]",
                 "propensity.min_instances_per_node=10",
                 "segmentation.k_min=3", "segmentation.k_max=3")


@pytest.fixture(scope="session")
def e2e(spark, tmp_path_factory):
    """The whole pipeline (generate -> score) once, on generated data, in a temporary root.

    Returns (config, PipelineResult). Scale: SEGREC_E2E_SCALE (default tiny, with
    :data:`E2E_OVERRIDES`; any other scale runs with the default configuration).
    """
    from segrec_spark import pipeline

    tmp = tmp_path_factory.mktemp("e2e")
    extra = E2E_OVERRIDES if E2E_SCALE == "tiny" else ()
    cfg = make_config(tmp, f"generator.scale={E2E_SCALE}", *extra)
    result = pipeline.run(spark, cfg)
    return cfg, result
