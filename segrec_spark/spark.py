"""The one SparkSession factory used by every job and test.

It configures Delta Lake (SQL extension + catalog), resolves Delta's jars from Maven Central via
``spark.jars.packages`` (coordinate derived from the installed delta-spark and pyspark, so the
two always match), and applies small-machine defaults from :class:`SparkSettings`.

Under ``spark-submit`` (``spark-submit.sh`` sets ``SEGREC_SUBMITTED=1``) master, packages and
driver memory come from the submit command line and are not overridden here.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

from pyspark.sql import SparkSession

from segrec_spark.config import SparkSettings

log = logging.getLogger(__name__)

SCALA_VERSION = "2.13"
DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"

# Delta's Maven artifact depends on jars that pyspark already ships in newer versions; pulling
# the older copies onto the classpath invites version clashes, so they are excluded.
JARS_EXCLUDES = (
    "org.apache.hadoop:hadoop-client-api",
    "org.apache.hadoop:hadoop-client-runtime",
    "org.apache.parquet:parquet-column",
    "org.apache.parquet:parquet-common",
    "org.apache.parquet:parquet-encoding",
    "org.apache.parquet:parquet-format-structures",
    "org.apache.parquet:parquet-hadoop",
    "org.apache.parquet:parquet-jackson",
    "org.apache.logging.log4j:log4j-api",
    "org.apache.logging.log4j:log4j-core",
    "org.apache.logging.log4j:log4j-slf4j2-impl",
    "org.slf4j:slf4j-api",
    "com.fasterxml.jackson.core:jackson-annotations",
    "com.fasterxml.jackson.core:jackson-core",
    "com.fasterxml.jackson.core:jackson-databind",
    "com.fasterxml.jackson.datatype:jackson-datatype-jdk8",
    "org.xerial.snappy:snappy-java",
    "com.github.luben:zstd-jni",
    "org.roaringbitmap:RoaringBitmap",
    "org.roaringbitmap:shims",
    "commons-logging:commons-logging",
)


def installed_versions() -> tuple[str, str]:
    """(pyspark version, delta-spark version) as installed in this environment."""
    return version("pyspark"), version("delta-spark")


def delta_maven_coordinate() -> str:
    """Maven coordinate of the Delta jar matching the installed pyspark and delta-spark."""
    spark_version, delta_version = installed_versions()
    spark_minor = ".".join(spark_version.split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_{SCALA_VERSION}:{delta_version}"


def submitted() -> bool:
    """True when running inside spark-submit (master and packages come from its command line)."""
    return os.environ.get("SEGREC_SUBMITTED") == "1"


JAVA_OPTIONS = "spark.driver.extraJavaOptions"


def spark_conf(settings: SparkSettings) -> dict[str, str]:
    """The Spark configuration this project needs, as plain key/value pairs."""
    conf = {
        "spark.app.name": settings.app_name,
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.ui.enabled": str(settings.ui_enabled).lower(),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.catalogImplementation": settings.catalog,
        # Stage outputs are replaced slice by slice with replaceWhere; keep writes atomic.
        "spark.databricks.delta.replaceWhere.constraintCheck.enabled": "true",
        "spark.sql.adaptive.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        # Delta rebuilds a table's state from its log in this many tasks (Delta's default: 50,
        # far more than the logs of this pipeline's tables need): one per shuffle partition, at
        # most Delta's default. Same time on an idle machine, half the time of small Delta
        # writes and reads on a loaded one (docs/performance.md, "Delta snapshot partitions").
        "spark.databricks.delta.snapshotPartitions":
            str(min(50, max(1, settings.shuffle_partitions))),
    }
    if not submitted():
        conf["spark.master"] = settings.master
        conf["spark.driver.memory"] = settings.driver_memory
        if settings.master.startswith("local"):
            # Python workers (used for local rows turned into DataFrames) run this interpreter,
            # not whatever `python3` is first on PATH, so driver and workers always match.
            conf["spark.pyspark.python"] = sys.executable
        if settings.jars:
            conf["spark.jars"] = ",".join(settings.jars)
        else:
            packages = [settings.delta_package or delta_maven_coordinate(),
                        *settings.extra_packages]
            conf["spark.jars.packages"] = ",".join(packages)
            conf["spark.jars.excludes"] = ",".join(JARS_EXCLUDES)
    conf.update(settings.conf)
    if not submitted() and settings.driver_java_options:
        own = settings.conf.get(JAVA_OPTIONS, "")
        conf[JAVA_OPTIONS] = f"{settings.driver_java_options} {own}".strip()
    return conf


@contextlib.contextmanager
def jvm_output_to(path: Path | None) -> Iterator[None]:
    """While the JVM starts, point this process's standard error at ``path``.

    The JVM inherits the file as its standard error for its whole life, so Ivy's resolution
    report, log4j's console warnings and native-library notices land in the file instead of
    the user's terminal; Python's own standard error is restored at once, so progress lines and
    errors still reach the terminal. ``None`` leaves everything on the terminal (``--verbose``)."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("ab") as target:
        os.dup2(target.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def get_spark(settings: SparkSettings | None = None,
              jvm_log: Path | None = None) -> SparkSession:
    """Return the active SparkSession or build one with Delta configured.

    ``jvm_log``: a file that receives the JVM's own output (see :func:`jvm_output_to`)."""
    settings = settings or SparkSettings()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder
    for key, value in spark_conf(settings).items():
        builder = builder.config(key, value)
    if settings.catalog == "hive":
        builder = builder.enableHiveSupport()
    with jvm_output_to(jvm_log):
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(settings.log_level)
    log.info("Spark %s with Delta on %s", spark.version, spark.sparkContext.master)
    return spark
