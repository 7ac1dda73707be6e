"""`segrec serve-sql`: a JDBC/ODBC SQL endpoint (Spark Thrift Server) over the Delta catalog.

BI tools (Power BI, Tableau, Superset, DBeaver) connect with the Hive/Spark JDBC or ODBC driver to
``jdbc:hive2://<sql.host>:<sql.port>/`` and query ``gold.product_rankings`` and the other tables
by name. The server binds to 127.0.0.1 unless ``sql.host`` says otherwise.

The Thrift server opens a Spark session per JDBC connection on its own threads, which load the
Delta catalog through the JVM's system class loader; jars that ``spark.jars.packages`` added at
run time are not visible there. So the Delta jars are resolved first (in a short child process,
from Ivy's cache or Maven Central) and put on the driver's class path of the server's JVM.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import subprocess
import sys
import threading

from pyspark.sql import SparkSession

from segrec_spark.config import Config
from segrec_spark.errors import SegrecError
from segrec_spark.scoring.views import register_views
from segrec_spark.spark import get_spark, submitted
from segrec_spark.tables import discover_tables, register_table, table_path
from segrec_spark.tables import jvm as spark_jvm

log = logging.getLogger(__name__)

_PRINT_JARS = (
    "from segrec_spark.config import SparkSettings\n"
    "from segrec_spark.spark import get_spark\n"
    "import sys\n"
    "s = get_spark(SparkSettings(master='local[1]', log_level='ERROR'))\n"
    "print('SEGREC_JARS=' + s.conf.get('spark.jars', ''))\n"
    "s.stop()\n"
)


def resolved_delta_jars() -> list[str]:
    """Local paths of Delta's jars, resolved by Spark's own Ivy in a child process."""
    out = subprocess.run([sys.executable, "-c", _PRINT_JARS], capture_output=True, text=True,
                         timeout=600)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("SEGREC_JARS=")]
    if out.returncode != 0 or not lines or not lines[0][len("SEGREC_JARS="):]:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        raise SegrecError("could not resolve Delta's jars for the SQL endpoint: "
                          + " | ".join(tail))
    uris = lines[0][len("SEGREC_JARS="):].split(",")
    return [u.removeprefix("file://").removeprefix("file:") for u in uris if u]


def register_catalog(spark: SparkSession, root: str) -> list[str]:
    """Register every Delta table under ``root`` as ``<layer>.<name>``, then the BI views."""
    names = []
    for layer, tables in discover_tables(spark, root).items():
        for name in tables:
            register_table(spark, layer, name, table_path(root, layer, name))
            names.append(f"{layer}.{name}")
    return names + register_views(spark)


def start_sql_endpoint(cfg: Config) -> SparkSession:
    """Start the Thrift server in this process and return its SparkSession."""
    conf = {
        **cfg.spark.conf,
        "spark.hadoop.hive.server2.thrift.bind.host": cfg.sql.host,
        "spark.hadoop.hive.server2.thrift.port": str(cfg.sql.port),
        "spark.hadoop.hive.server2.transport.mode": "binary",
    }
    if not submitted():
        conf["spark.driver.extraClassPath"] = ":".join(resolved_delta_jars())
    spark = get_spark(dataclasses.replace(cfg.spark, conf=conf))
    tables = register_catalog(spark, cfg.paths.root)
    if not tables:
        log.warning("no Delta tables under %s yet; run the pipeline first", cfg.paths.root)
    jvm = spark_jvm(spark)
    jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithContext(
        spark._jsparkSession.sqlContext()
    )
    log.info("SQL endpoint ready at jdbc:hive2://%s:%d/ with %d tables: %s",
             cfg.sql.host, cfg.sql.port, len(tables), ", ".join(tables))
    print(f"SQL endpoint: jdbc:hive2://{cfg.sql.host}:{cfg.sql.port}/ "
          f"({len(tables)} tables). Ctrl-C or SIGTERM stops it.", flush=True)
    return spark


def main(spark: SparkSession | None, cfg: Config, args: argparse.Namespace) -> None:
    server = start_sql_endpoint(cfg)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    log.info("stopping the SQL endpoint")
    server.stop()
