"""Foundation: Delta-enabled session, version pairing, configuration errors, CLI."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from segrec_spark import cli, tables
from segrec_spark.config import ConfigError, SparkSettings, load_config
from segrec_spark.spark import delta_maven_coordinate, installed_versions, spark_conf
from segrec_spark.tables import aggregated_in_chunks, read_table, write_slice

ROOT = Path(__file__).resolve().parent.parent


def test_delta_write_read_and_time_travel(spark, tmp_path):
    path = str(tmp_path / "t")
    v0 = spark.createDataFrame([(1, "a"), (2, "b")], "id int, v string")
    v1 = spark.createDataFrame([(3, "c")], "id int, v string")
    v0.write.format("delta").save(path)
    v1.write.format("delta").mode("append").save(path)

    assert_df_equality(read_table(spark, path), v0.unionByName(v1), ignore_row_order=True)
    assert_df_equality(read_table(spark, path, version=0), v0, ignore_row_order=True)


def test_pyspark_and_delta_versions_match(spark, tmp_path):
    spark_version, delta_version = installed_versions()
    assert spark.version == spark_version
    path = str(tmp_path / "v")
    spark.range(1).write.format("delta").save(path)
    engine = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").select("engineInfo").first()[0]
    # The running jars are the ones the installed packages expect.
    assert engine == f"Apache-Spark/{spark_version} Delta-Lake/{delta_version}"
    minor = ".".join(spark_version.split(".")[:2])
    assert delta_maven_coordinate() == f"io.delta:delta-spark_{minor}_2.13:{delta_version}"


def test_write_slice_replaces_only_its_slice(spark, tmp_path):
    path = str(tmp_path / "s")
    schema = "d string, x int"
    write_slice(spark.createDataFrame([("a", 1), ("b", 2)], schema), path, "d = 'a'", ["d"])
    write_slice(spark.createDataFrame([("b", 20)], schema), path, "d = 'b'", ["d"])
    write_slice(spark.createDataFrame([("b", 20)], schema), path, "d = 'b'", ["d"])
    expected = spark.createDataFrame([("a", 1), ("b", 20)], schema)
    assert_df_equality(read_table(spark, path), expected, ignore_row_order=True)


def test_aggregates_in_chunks_give_the_row_of_one_aggregation(spark, monkeypatch):
    df = spark.createDataFrame([("a", 1), ("b", 2), ("b", None)], "t string, x int")
    aggregates = [F.count("*").alias("n"), F.sum("x").alias("total"), F.max("t").alias("top"),
                  F.count_if(F.col("x").isNull()).alias("missing"),
                  F.countDistinct("t").alias("texts")]
    whole = df.agg(*aggregates).first().asDict()
    passes = []
    real_agg = type(df).agg
    monkeypatch.setattr(tables, "AGGREGATE_CHUNK", 2)
    monkeypatch.setattr(type(df), "agg", lambda self, *a: passes.append(len(a)) or real_agg(self, *a))
    assert aggregated_in_chunks(df, aggregates) == whole == {
        "n": 3, "total": 3, "top": "b", "missing": 1, "texts": 2}
    assert passes == [2, 2, 1]


def test_local_conf_has_delta_and_small_machine_defaults():
    conf = spark_conf(SparkSettings())
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf["spark.sql.catalog.spark_catalog"].endswith("DeltaCatalog")
    assert conf["spark.jars.packages"].startswith("io.delta:delta-spark_")
    assert conf["spark.sql.shuffle.partitions"] == "4"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.pyspark.python"] == sys.executable  # workers match the driver's Python


def test_conf_under_spark_submit_leaves_master_and_packages_alone(monkeypatch):
    monkeypatch.setenv("SEGREC_SUBMITTED", "1")
    conf = spark_conf(SparkSettings())
    assert "spark.master" not in conf
    assert "spark.jars.packages" not in conf
    assert "spark.driver.extraJavaOptions" not in conf  # the submitted JVM is already running


def test_driver_java_options_come_before_the_users_own():
    key = "spark.driver.extraJavaOptions"
    assert spark_conf(SparkSettings())[key] == SparkSettings().driver_java_options
    own = spark_conf(SparkSettings(conf={key: "-XX:+UseG1GC -Dx=1"}))[key]
    assert own == f"{SparkSettings().driver_java_options} -XX:+UseG1GC -Dx=1"  # the last wins
    assert spark_conf(SparkSettings(driver_java_options="", conf={key: "-Dx=1"}))[key] == "-Dx=1"
    assert key not in spark_conf(SparkSettings(driver_java_options=""))


def test_default_config_loads_and_resolves_paths():
    cfg = load_config()
    assert cfg.spark.master == "local[2]"
    assert Path(cfg.paths.root).is_absolute()
    assert cfg.mlflow.tracking_uri.startswith("sqlite:////")


def test_cluster_example_config_is_valid():
    cfg = load_config(ROOT / "conf" / "cluster.yaml")
    assert cfg.paths.root.startswith("s3a://")


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("spark:\n  shuffle_partitons: 4\n", "spark.shuffle_partitons: unknown setting"),
        ("spark:\n  shuffle_partitions: four\n",
         "spark.shuffle_partitions: expected int, found str 'four'"),
        ("features:\n  windows: [7, -1]\n", "features.windows: must be a non-empty list"),
        ("featurez: {}\n", "featurez: unknown section"),
        ("generator:\n  start_date: 2026-13-01\n", "generator.start_date: expected a date"),
        ("scoring:\n  tier_high: 0.2\n", "scoring.tier_high: thresholds must satisfy"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, yaml_text, message):
    file = tmp_path / "bad.yaml"
    file.write_text(yaml_text)
    with pytest.raises(ConfigError) as err:
        load_config(file)
    text = str(err.value)
    assert text.startswith(str(file) + ": ")
    assert message in text
    assert "\n" not in text


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: configuration file not found"):
        load_config(tmp_path / "nope.yaml")


def test_command_line_override_wins_and_is_validated():
    assert load_config(None, ["generator.scale=tiny"]).generator.scale == "tiny"
    with pytest.raises(ConfigError, match="generator.scale: expected one of"):
        load_config(None, ["generator.scale=huge"])


def test_cli_reports_bad_config_in_one_line(tmp_path, capsys):
    code = cli.main(["features", "--set", "spark.driver_memory=lots"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("segrec: configuration error:")
    assert "spark.driver_memory" in err
    assert len(err.splitlines()) == 1


def test_segrec_help_lists_every_stage():
    out = subprocess.run([sys.executable, "-m", "segrec_spark.cli", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for stage in ("generate", "ingest", "features", "train", "score", "serve-sql", "run"):
        assert stage in out


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("spark.conf={spark.hadoop.fs.s3a.secret.key: abc}", "spark.conf.spark.hadoop.fs.s3a.secret.key"),
        ("spark.conf={fs.azure.account.key.x.dfs.core.windows.net: abc, fs.azure.sas.key: y}", "spark.conf.fs.azure"),
        ("mlflow.tracking_uri=https://bob:hunter2@mlflow.bank.internal", "mlflow.tracking_uri"),
    ],
)
def test_credentials_in_config_are_refused(override, key):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    assert key in str(err.value)
    assert "environment" in str(err.value)
    assert "hunter2" not in str(err.value)
    assert "abc" not in str(err.value).split(":", 2)[-1]


def test_sql_endpoint_binds_to_loopback_by_default():
    assert load_config().sql.host == "127.0.0.1"


def test_register_table_repoints_a_name_registered_with_another_location(spark, tmp_path):
    import shutil

    from segrec_spark.errors import MissingTableError
    from segrec_spark.tables import qualified, register_table

    first, second, third = (str(tmp_path / d / "t") for d in ("a", "b", "c"))
    for value, path in enumerate((first, second, third), start=1):
        spark.createDataFrame([(value,)], "x int").write.format("delta").save(path)
    register_table(spark, "regtest", "t", first)
    assert spark.table("regtest.t").first()["x"] == 1
    register_table(spark, "regtest", "t", f"file:{first}/")  # the same place: left as it is
    assert spark.table("regtest.t").first()["x"] == 1
    register_table(spark, "regtest", "t", second)  # paths.root moved: the name follows it
    assert spark.table("regtest.t").first()["x"] == 2
    assert spark.read.format("delta").load(first).count() == 1  # the old data is not touched
    shutil.rmtree(second)  # the registered location is gone: re-pointed all the same
    register_table(spark, "regtest", "t", third)
    assert spark.table("regtest.t").first()["x"] == 3
    assert qualified(spark, f"file:///{first.lstrip('/')}/") == qualified(spark, first)
    spark.sql("DROP TABLE regtest.t")
    # a managed table of that name is not this pipeline's: one line, nothing dropped
    spark.createDataFrame([(9,)], "x int").write.format("delta").saveAsTable("regtest.m")
    with pytest.raises(MissingTableError, match="regtest.m exists as a MANAGED table"):
        register_table(spark, "regtest", "m", first)
    assert spark.table("regtest.m").first()["x"] == 9
    spark.sql("DROP TABLE regtest.m")
    # a root with a quote or a backslash in its name is quoted, not spliced into the SQL
    odd = str(tmp_path / "bank's \\ lake" / "t")
    spark.createDataFrame([(7,)], "x int").write.format("delta").save(odd)
    register_table(spark, "regtest", "q", odd)
    assert spark.table("regtest.q").first()["x"] == 7
    spark.sql("DROP TABLE regtest.q")
