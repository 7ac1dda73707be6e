"""The generator end to end on ``tiny``: layout, contract, row counts, dirt, determinism, signal."""
from __future__ import annotations

import datetime as dt
import glob
import os

import pytest
from chispa import assert_df_equality
from conftest import make_config
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import functions as F

from segrec_spark.generate import job
from segrec_spark.generate.bank import synthetic_contract
from segrec_spark.generate.landing import to_landing
from segrec_spark.generate.scales import EXPECTED_ROWS_PER_CLIENT, resolve_scale
from segrec_spark.generate.truth import agreements, with_monthly_probabilities

SOURCES = synthetic_contract().sources

DIRT_RATE = 0.02
EVENT_MONTHS = ["2026-01", "2026-02", "2026-03"]


@pytest.fixture(scope="module")
def generated(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gen")
    cfg = make_config(tmp, "generator.scale=tiny", f"generator.dirt_rate={DIRT_RATE}")
    stale = tmp / "landing" / "web" / "2025-12"
    stale.mkdir(parents=True)
    (stale / "part-old.csv").write_text("left over from an earlier run\n")
    written = job.run(spark, cfg)
    return cfg, written


def _landing(cfg, source):
    return f"{cfg.paths.landing}/{source}"


def test_one_folder_per_source_and_delivery_and_nothing_else(generated):
    cfg, _ = generated
    assert sorted(os.listdir(cfg.paths.landing)) == sorted(SOURCES)  # staging removed
    for source, spec in SOURCES.items():
        expected = ["2026-01"] if source == "clients" else EVENT_MONTHS
        assert sorted(os.listdir(_landing(cfg, source))) == expected, source  # stale 2025-12 gone
        files = glob.glob(f"{_landing(cfg, source)}/*/part-*.{spec.format}")
        assert files, source


def test_csv_files_start_with_the_header_and_parquet_columns_are_text(spark, generated):
    cfg, _ = generated
    for source, spec in SOURCES.items():
        for path in glob.glob(f"{_landing(cfg, source)}/*/part-*"):
            if spec.format == "csv":
                with open(path, encoding="utf-8") as fh:
                    assert fh.readline().rstrip("\n") == ",".join(spec.column_names), path
        if spec.format == "parquet":
            schema = spark.read.parquet(f"{_landing(cfg, source)}/2026-02").schema
            assert [(f.name, f.dataType.simpleString()) for f in schema] == [
                (c, "string") for c in spec.column_names]


def test_row_counts_per_source_are_near_the_scale_targets(spark, generated):
    cfg, written = generated
    scale = resolve_scale(cfg.generator)
    rows = spark.read.parquet(f"{cfg.paths.ground_truth}/landing_rows")
    per_source = {r["source"]: r["n"] for r in rows.groupBy("source").agg(F.sum("rows").alias("n")).collect()}
    assert per_source == written
    for source, per_client in EXPECTED_ROWS_PER_CLIENT.items():
        target = per_client * scale.n_clients * scale.activity
        assert 0.65 * target <= written[source] <= 1.35 * target, (source, written[source], target)
    clean_clients = written["clients"] - per_source_dirt(spark, cfg, "clients", "DUPLICATE")
    assert clean_clients == scale.n_clients


def per_source_dirt(spark, cfg, source, reason):
    manifest = spark.read.parquet(f"{cfg.paths.ground_truth}/dirt_manifest")
    row = manifest.filter((F.col("source") == source) & (F.col("reason") == reason)).agg(
        F.sum("planted_rows").alias("n")).first()
    return int(row["n"] or 0)


def test_dirt_rates_are_as_configured(spark, generated):
    cfg, written = generated
    manifest = spark.read.parquet(f"{cfg.paths.ground_truth}/dirt_manifest")
    assert {r["reason"] for r in manifest.select("reason").distinct().collect()} == {
        "DUPLICATE", "MISSING_KEY", "MALFORMED_KEY", "BAD_TIMESTAMP", "OUT_OF_PERIOD", "BAD_NUMBER",
        "UNKNOWN_CATEGORY", "WRONG_FIELD_COUNT"}
    by_kind = {r["reason"]: r["n"] for r in manifest.groupBy("reason").agg(F.sum("planted_rows").alias("n")).collect()}
    total = sum(written.values())
    for kind in ("DUPLICATE", "MISSING_KEY", "MALFORMED_KEY", "BAD_TIMESTAMP", "OUT_OF_PERIOD"):
        assert 0.6 * DIRT_RATE <= by_kind[kind] / total <= 1.4 * DIRT_RATE, (kind, by_kind[kind], total)


def test_manifest_matches_what_is_in_the_files(spark, generated):
    cfg, _ = generated
    for source in ("web", "camp", "ib"):
        lines = spark.read.text(f"{_landing(cfg, source)}/*/part-*.csv")
        header = ",".join(SOURCES[source].column_names)
        data = lines.filter(F.col("value") != header)
        n_fields = len(SOURCES[source].column_names)
        wrong = data.filter(F.size(F.split("value", ",")) != n_fields).count()
        assert wrong == per_source_dirt(spark, cfg, source, "WRONG_FIELD_COUNT"), source
        duplicates = data.count() - data.distinct().count()
        assert duplicates == per_source_dirt(spark, cfg, source, "DUPLICATE"), source
    app = spark.read.parquet(f"{_landing(cfg, 'app_logins')}/*")
    assert app.filter(F.col("identity_id_hash").isNull()).count() == per_source_dirt(
        spark, cfg, "app_logins", "MISSING_KEY")


def test_ground_truth_windows_and_future_sales(spark, generated):
    cfg, _ = generated
    gt = cfg.paths.ground_truth
    truth = spark.read.parquet(f"{gt}/true_propensity")
    windows = truth.select("window_start", "window_end").distinct().orderBy("window_start").collect()
    assert [tuple(w) for w in windows] == [
        (dt.date(2026, 1, 31), dt.date(2026, 3, 2)), (dt.date(2026, 3, 2), dt.date(2026, 4, 1)),
        (dt.date(2026, 4, 1), dt.date(2026, 5, 1))]
    assert truth.count() == 300 * 8 * 3
    assert truth.filter((F.col("true_probability") < 0) | (F.col("true_probability") >= 1)).count() == 0
    future = spark.read.parquet(f"{gt}/future_sales")
    assert future.columns == list(SOURCES["prodeje"].column_names)
    months = {r[0] for r in future.select(F.date_format("signed_date", "yyyy-MM")).distinct().collect()}
    assert months == {"2026-04"}


@pytest.mark.integration  # the generator twice / a model fit: make test-slow
def test_same_seed_gives_the_same_rows_whatever_the_partitioning(spark, tmp_path):
    frames = []
    for partitions in (1, 3):
        cfg = make_config(tmp_path, "generator.scale=tiny", "generator.n_clients=40",
                          f"generator.partitions={partitions}", "generator.dirt_rate=0.05")
        settings = cfg.generator
        scale = resolve_scale(settings)
        clients = job.clients_frame(spark, settings, scale)
        builders = job.source_builders(settings, scale, cfg.contract)
        frames.append({s: clients.transform(builders[s])
                       .transform(to_landing(settings.seed, cfg.contract.sources[s], settings.dirt_rates))
                       for s in ("web", "app_push", "prodeje")})
    for source in ("web", "app_push", "prodeje"):
        one, three = frames[0][source], frames[1][source]
        assert one.rdd.getNumPartitions() != three.rdd.getNumPartitions()
        assert_df_equality(one, three, ignore_row_order=True)


@pytest.mark.integration  # the generator twice / a model fit: make test-slow
def test_planted_signal_is_learnable_from_the_true_traits(spark, tmp_path):
    """A logistic regression on the true traits, fitted on months 1-2, ranks month 3's buyers."""
    cfg = make_config(tmp_path, "generator.n_clients=3000")
    settings = cfg.generator
    clients = job.clients_frame(spark, settings, resolve_scale(settings))
    rows = clients.transform(with_monthly_probabilities(settings.seed, 4))
    bought = rows.transform(agreements(settings.seed, settings.start_date, 4)).select(
        "client_id", "product_code", "month", F.lit(1.0).alias("label"))
    need = F.expr("CASE product_code " + " ".join(
        f"WHEN '{p}' THEN need_{p.lower()}" for p in synthetic_contract().product_codes) + " END")
    not_held = rows.filter(F.col("p_0") > 0).select("client_id", "product_code", need.alias("need"),
                                                    "income_z", "age")
    months = not_held.select("*", F.explode(F.array(F.lit(0), F.lit(1), F.lit(2))).alias("month"))
    data = (months.join(bought, ["client_id", "product_code", "month"], how="left")
            .fillna(0.0, ["label"]))
    data = VectorAssembler(inputCols=["need", "income_z", "age"], outputCol="features").transform(data)
    model = LogisticRegression(maxIter=20).fit(data.filter(F.col("month") < 2))
    scored = model.transform(data.filter(F.col("month") == 2))
    auc = BinaryClassificationEvaluator(labelCol="label").evaluate(scored)
    assert scored.filter(F.col("label") == 1).count() >= 100
    assert auc > 0.7, auc


def test_behaviour_follows_the_needs(spark, tmp_path):
    """Clients who browse mortgage pages have clearly higher mortgage need than those who don't."""
    cfg = make_config(tmp_path, "generator.n_clients=1500", "generator.activity=1.0")
    settings = cfg.generator
    scale = resolve_scale(settings)
    clients = job.clients_frame(spark, settings, scale)
    web = clients.transform(job.source_builders(settings, scale, cfg.contract)["web"])
    browsed = web.filter(F.col("page_category") == "MORTGAGE").select("client_id").distinct()
    web_users = web.filter(F.col("client_id") >= 0).select("client_id").distinct()
    flagged = (web_users.join(browsed.select("client_id", F.lit(1).alias("mortgage_pages")), "client_id", how="left")
               .fillna(0, ["mortgage_pages"]).join(clients.select("client_id", "need_mortgage"), "client_id", how="inner"))
    means = {r["mortgage_pages"]: r["need"] for r in
             flagged.groupBy("mortgage_pages").agg(F.avg("need_mortgage").alias("need")).collect()}
    assert means[1] - means[0] > 0.3, means
