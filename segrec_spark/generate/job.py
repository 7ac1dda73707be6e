"""The generate stage's I/O: build every source with Spark, write landing files and ground truth.

Landing (read by ingest), exactly as the synthetic bank's contract declares it
(``conf/contracts/synthetic_bank.yaml``, ``cfg.contract``; :mod:`segrec_spark.generate.bank`)::

    <paths.landing>/<source>/<YYYY-MM>/part-*.csv|parquet

Ground truth (never read by the pipeline)::

    <paths.ground_truth>/traits/            latent traits per client (Parquet)
    <paths.ground_truth>/true_propensity/   identity_id_hash, product_code, window_start,
                                            window_end, true_probability (Parquet)
    <paths.ground_truth>/future_sales/      the month after the data, prodeje columns, typed, clean
    <paths.ground_truth>/dirt_manifest/     source, delivery, reason, planted_rows (Parquet)
    <paths.ground_truth>/landing_rows/      source, delivery, rows: lines written per delivery

Every write replaces the generator's own folders, so a re-run with the same settings gives the
same files' content.
"""
from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segrec_spark import tables
from segrec_spark.config import Config, ConfigError
from segrec_spark.contract import Contract, Source
from segrec_spark.errors import SegrecError
from segrec_spark.generate import app_events, contacts
from segrec_spark.generate import events as ev
from segrec_spark.generate.bank import check_generatable
from segrec_spark.generate.landing import applicable_dirt, csv_header, manifest_metrics, to_landing
from segrec_spark.generate.population import TRAIT_COLUMNS, population
from segrec_spark.generate.scales import Scale, resolve_scale
from segrec_spark.generate.settings import GeneratorSettings
from segrec_spark.generate.truth import (
    STATUS_WEIGHTS,
    agreements,
    label_windows,
    month_start,
    true_propensity,
    window_months,
    with_monthly_probabilities,
)

log = logging.getLogger(__name__)

STAGING = "_generating"
# Sources are written by a few concurrent Spark jobs: building each plan costs driver time
# (thousands of expression nodes) that overlaps with the executors working on another source.
CONCURRENT_WRITES = 3


def source_builders(settings: GeneratorSettings, scale: Scale, contract: Contract
                    ) -> dict[str, Callable[[DataFrame], DataFrame]]:
    """Per landing source: clients -> typed rows (columns of the source + client_id, _delivery)."""
    seed = settings.seed
    period = ev.Period(settings.start_date, settings.months)
    n_months = settings.months + 1  # sales get the "future" month too

    def prodeje(clients: DataFrame) -> DataFrame:
        return (clients.transform(with_monthly_probabilities(seed, n_months))
                .transform(agreements(seed, settings.start_date, n_months))
                .filter(F.col("month") < settings.months)
                .select(*contract.sources["prodeje"].column_names, "client_id",
                        ev.delivery(F.col("signed_date")).alias("_delivery")))

    return {
        "web": lambda c: c.transform(ev.web_actors(seed, settings.anonymous_visitors,
                                                   scale.n_clients, scale.activity,
                                                   scale.partitions))
                          .transform(ev.web_events(seed, period)),
        "app_logins": lambda c: c.transform(app_events.app_logins(seed, period)),
        "app_screens": lambda c: c.transform(app_events.app_screens(seed, period)),
        "app_actions": lambda c: c.transform(app_events.app_actions(seed, period)),
        "app_push": lambda c: c.transform(app_events.app_push(seed, period)),
        "ib": lambda c: c.transform(ev.ib_events(seed, period)),
        "prodeje": prodeje,
        "camp": lambda c: c.transform(contacts.campaign_contacts(seed, period)),
        "clients": lambda c: c.transform(contacts.client_attributes(settings.start_date)),
        "consent": lambda c: c.transform(contacts.consent_records(seed, period)),
    }


def deliveries(settings: GeneratorSettings, source: str) -> list[str]:
    if source == "clients":
        return [settings.start_date.strftime("%Y-%m")]
    return [month_start(settings.start_date, m).strftime("%Y-%m") for m in range(settings.months)]


def clients_frame(spark: SparkSession, settings: GeneratorSettings, scale: Scale) -> DataFrame:
    return population(spark, settings.seed, scale.n_clients, scale.partitions, scale.activity,
                      settings.no_digital_share, settings.heavy_user_share)


# --- file system helpers (Hadoop FS: works for file:, hdfs:, s3a:, abfss:) -------------------

def _fs(spark: SparkSession, path: str):
    jvm = tables.jvm(spark)
    p = jvm.org.apache.hadoop.fs.Path(path)
    return p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), p


def _delete(spark: SparkSession, path: str) -> None:
    fs, p = _fs(spark, path)
    if fs.exists(p):
        fs.delete(p, True)


def _publish_deliveries(spark: SparkSession, staging: str, target: str) -> None:
    """Replace ``target`` by the ``_delivery=YYYY-MM`` folders of ``staging``, renamed YYYY-MM."""
    jvm = tables.jvm(spark)
    _delete(spark, target)
    fs, target_path = _fs(spark, target)
    fs.mkdirs(target_path)
    for status in fs.listStatus(jvm.org.apache.hadoop.fs.Path(staging)):
        name = status.getPath().getName()
        if status.isDirectory() and name.startswith("_delivery="):
            destination = jvm.org.apache.hadoop.fs.Path(target_path, name.split("=", 1)[1])
            if not fs.rename(status.getPath(), destination):
                raise SegrecError(f"generate: could not move {status.getPath().toString()} to "
                                  f"{destination.toString()}")
    _delete(spark, staging)


# --- writers ----------------------------------------------------------------------------------

def write_landing_source(spark: SparkSession, landing: DataFrame, source: Source,
                         landing_root: str, deliveries_: list[str], kinds: list[str]
                         ) -> dict[str, int]:
    """Write one source's landing rows (one folder per delivery); return the observed metrics."""
    root = landing_root.rstrip("/")
    staging = f"{root}/{STAGING}/{source.name}"
    observation = Observation(f"generate_{source.name}")
    observed = landing.observe(observation, *manifest_metrics(source.name, deliveries_, kinds))
    dialect = source.dialect
    if source.format == "csv":
        # One text column named like the header line: Spark writes the header into every file
        # and the pre-built line verbatim (a separator that is not the contract's delimiter and
        # no quote character never trigger).
        sep = "\u0001" if dialect.delimiter == "\t" else "\t"
        (observed.select(F.col("_delivery"), F.col("_line").alias(csv_header(source)))
         .write.mode("overwrite").partitionBy("_delivery")
         .option("header", dialect.header).option("sep", sep).option("quote", "\u0000")
         .option("encoding", dialect.charset)
         .option("escapeQuotes", False).option("ignoreLeadingWhiteSpace", False)
         .option("ignoreTrailingWhiteSpace", False).csv(staging))
    elif source.format == "parquet":
        (observed.select(*source.column_names, "_delivery")
         .write.mode("overwrite").partitionBy("_delivery").parquet(staging))
    else:
        raise ConfigError(f"sources.{source.name}.format: the generator writes csv or parquet, "
                          f"found {source.format}")
    location = source.location.rstrip("/") if source.location else f"{root}/{source.name}"
    _publish_deliveries(spark, staging, location)
    return {k: int(v or 0) for k, v in observation.get.items()}


def manifest_rows(source: str, metrics: dict[str, int]) -> tuple[list[tuple], list[tuple]]:
    """(dirt manifest rows, landing row-count rows) from one source's observed metrics."""
    dirt, rows = [], []
    for name, value in sorted(metrics.items()):
        kind, delivery = name.split("|", 1)
        if kind == "rows":
            rows.append((source, delivery, value))
        else:
            dirt.append((source, delivery, kind, value))
    return dirt, rows


MANIFEST_SCHEMA = T.StructType([
    T.StructField("source", T.StringType(), False),
    T.StructField("delivery", T.StringType(), False),
    T.StructField("reason", T.StringType(), False),
    T.StructField("planted_rows", T.LongType(), False),
])
ROWS_SCHEMA = T.StructType([
    T.StructField("source", T.StringType(), False),
    T.StructField("delivery", T.StringType(), False),
    T.StructField("rows", T.LongType(), False),
])


def ground_truth_writers(cfg: Config, clients: DataFrame) -> dict[str, Callable[[], None]]:
    """The ground-truth writes (traits, true propensity per window, future sales), by name."""
    settings: GeneratorSettings = cfg.generator
    gt = cfg.paths.ground_truth.rstrip("/")
    n_months = settings.months + 1
    horizon = int(getattr(cfg.features, "horizon_days", 30))
    statuses = (tuple(getattr(cfg.features, "label_statuses", ())) or cfg.contract.label_statuses
                or tuple(STATUS_WEIGHTS))
    label_share = sum(STATUS_WEIGHTS.get(s, 0.0) for s in statuses)
    windows = label_windows(settings.start_date, settings.months, horizon)
    monthly = clients.transform(with_monthly_probabilities(
        settings.seed, n_months, window_months(settings.start_date, n_months, windows)))
    prodeje = cfg.contract.sources["prodeje"]

    def traits() -> None:
        clients.select(*TRAIT_COLUMNS).write.mode("overwrite").parquet(f"{gt}/traits")

    def propensity() -> None:
        (monthly.transform(true_propensity(settings.start_date, n_months, windows, label_share))
         .write.mode("overwrite").partitionBy("window_start").parquet(f"{gt}/true_propensity"))

    def future_sales() -> None:
        (monthly.transform(agreements(settings.seed, settings.start_date, n_months))
         .filter(F.col("month") == settings.months)
         .select(*[F.col(c.name).cast(c.bronze_type) for c in prodeje.columns])
         .write.mode("overwrite").parquet(f"{gt}/future_sales"))

    return {"traits": traits, "true_propensity": propensity, "future_sales": future_sales}


def run(spark: SparkSession, cfg: Config) -> dict[str, int]:
    """Generate every landing source and the ground truth; return landing rows per source."""
    settings: GeneratorSettings = cfg.generator
    scale = resolve_scale(settings)
    log.info("generate: scale %s, %d clients, activity %.2f, %d partitions, seed %d",
             scale.name, scale.n_clients, scale.activity, scale.partitions, settings.seed)
    contract = cfg.contract
    check_generatable(contract)
    clients = clients_frame(spark, settings, scale)
    rates = settings.dirt_rates

    def generate_source(name: str, build: Callable[[DataFrame], DataFrame]) -> dict[str, int]:
        started = time.monotonic()
        source = contract.sources[name]
        kinds = list(applicable_dirt(source, rates))
        typed = clients.transform(build)
        missing = [c for c in source.column_names if c not in typed.columns]
        if missing:
            raise ConfigError(f"{contract.path}: sources.{name}.columns: the generator does not "
                              f"write {', '.join(missing)} (it writes the synthetic bank only)")
        landing = typed.transform(to_landing(settings.seed, source, rates))
        metrics = write_landing_source(spark, landing, source, cfg.paths.landing,
                                       deliveries(settings, name), kinds)
        log.debug("generate: %s written in %.1f s", name, time.monotonic() - started)
        return metrics

    with ThreadPoolExecutor(max_workers=CONCURRENT_WRITES) as pool:
        futures = {source: pool.submit(generate_source, source, build)
                   for source, build in source_builders(settings, scale, contract).items()}
        truth = [pool.submit(write) for write in ground_truth_writers(cfg, clients).values()]
        observed = {source: future.result() for source, future in futures.items()}
        for future in truth:
            future.result()
    all_dirt: list[tuple] = []
    all_rows: list[tuple] = []
    written: dict[str, int] = {}
    for source, metrics in observed.items():
        dirt, rows = manifest_rows(source, metrics)
        all_dirt += dirt
        all_rows += rows
        written[source] = sum(r[2] for r in rows)
        log.debug("generate: %s: %d rows", source, written[source])
    gt = cfg.paths.ground_truth.rstrip("/")
    (spark.createDataFrame(all_dirt, MANIFEST_SCHEMA).coalesce(1)
     .write.mode("overwrite").parquet(f"{gt}/dirt_manifest"))
    (spark.createDataFrame(all_rows, ROWS_SCHEMA).coalesce(1)
     .write.mode("overwrite").parquet(f"{gt}/landing_rows"))
    _delete(spark, f"{cfg.paths.landing.rstrip('/')}/{STAGING}")
    log.info("generate: %d landing rows in total", sum(written.values()))
    return written


def main(spark: SparkSession, cfg: Config, args: argparse.Namespace | None = None) -> None:
    started = time.monotonic()
    written = run(spark, cfg)
    log.info("generate: done in %.1f s: %s", time.monotonic() - started,
             ", ".join(f"{k}={v}" for k, v in written.items()))
