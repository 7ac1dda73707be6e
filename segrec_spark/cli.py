"""The ``segrec`` command: one sub-command per pipeline stage, and ``run`` for all of them.

Every sub-command takes ``--config FILE`` (default ``conf/local.yaml``) and any number of
``--set key=value`` overrides; the configuration is loaded and validated once, before Spark
starts, so a bad setting fails in a second with a one-line message.

The ``jobs/*.py`` spark-submit entry points call :func:`main` with their stage name.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from segrec_spark.config import Config, ConfigError, is_local_path, load_config
from segrec_spark.errors import SegrecError

log = logging.getLogger("segrec_spark")


@dataclass(frozen=True)
class Stage:
    name: str
    help: str
    module: str  # module with `main(spark, cfg, args) -> None`
    arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None
    needs_spark: bool = True


def _as_of(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", metavar="YYYY-MM-DD",
                        help="snapshot date (default: derived from the data, see features.*_as_of)")


def _generate_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", help="tiny | small | medium | reference (generator.scale)")
    parser.add_argument("--n-clients", type=int, help="number of clients (generator.n_clients)")
    parser.add_argument("--seed", type=int, help="random seed (generator.seed)")


def _ingest_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="append",
                        help="ingest only this source (repeatable); default: all")
    parser.add_argument("--delivery", action="append", metavar="YYYY-MM",
                        help="ingest only this delivery folder (repeatable); default: all found")


def _sql_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="bind address (sql.host, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (sql.port, default 10000)")


def _forget_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", action="append", metavar="KEY",
                        help="a client key to erase (repeatable)")
    parser.add_argument("--keys-file", metavar="FILE",
                        help="a text file of client keys, one per line (# comments allowed)")
    parser.add_argument("--vacuum-hours", type=float, metavar="H",
                        help="then VACUUM the changed tables keeping H hours of history, so the "
                             "erased rows' files are removed (default: no VACUUM)")


def _run_args(parser: argparse.ArgumentParser) -> None:
    _generate_args(parser)
    parser.add_argument("--skip-generate", action="store_true",
                        help="use the landing files already there instead of generating them")


STAGES: tuple[Stage, ...] = (
    Stage("generate", "write bank-shaped landing files (and planted ground truth) at a scale",
          "segrec_spark.generate.job", _generate_args),
    Stage("ingest", "landing files -> typed bronze Delta tables, quarantine and audit",
          "segrec_spark.ingest.job", _ingest_args),
    Stage("features", "bronze -> silver event stream -> gold client_features and labels",
          "segrec_spark.features.job", _as_of),
    Stage("snapshot", "a bank's own client snapshot table -> gold client_features and labels",
          "segrec_spark.snapshot.job"),
    Stage("train", "fit K-Means segments and per-product propensity models, log to MLflow",
          "segrec_spark.propensity.job", _as_of),
    Stage("score", "score clients with the champion models; publish rankings and offers",
          "segrec_spark.scoring.job", _as_of),
    Stage("forget", "erase clients (keys, their cookies) from every layer; keep a tombstone",
          "segrec_spark.forget.job", _forget_args),
    Stage("serve-sql", "start the Spark Thrift Server (JDBC/ODBC) over the gold catalog",
          "segrec_spark.scoring.sql_endpoint", _sql_args, needs_spark=False),
    Stage("run", "the whole pipeline: generate, ingest, features, train, score",
          "segrec_spark.pipeline", _run_args),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segrec",
        description="Segmentation and recommendation engine for retail banks (PySpark + Delta).",
    )
    sub = parser.add_subparsers(dest="stage", metavar="STAGE", required=True)
    for stage in STAGES:
        p = sub.add_parser(stage.name, help=stage.help, description=stage.help)
        p.add_argument("--config", metavar="FILE",
                       help="YAML configuration (default conf/local.yaml)")
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a setting, e.g. --set generator.scale=tiny (repeatable)")
        p.add_argument("--verbose", action="store_true",
                       help="show Spark's own output (Ivy, log4j) and every step's log line; by "
                            "default they go to <reports>/../logs/spark.log")
        stage.arguments(p)
    return parser


def _convenience_overrides(args: argparse.Namespace) -> list[str]:
    """Turn stage flags such as --scale into the equivalent --set overrides."""
    mapping = {"scale": "generator.scale", "n_clients": "generator.n_clients",
               "seed": "generator.seed", "host": "sql.host", "port": "sql.port"}
    return [f"{key}={getattr(args, attr)}" for attr, key in mapping.items()
            if getattr(args, attr, None) is not None]


def configure_logging(verbose: bool = False) -> None:
    """Progress lines (INFO) of segrec_spark on standard error; libraries at WARNING; with
    ``verbose`` every module's INFO and the table-level write lines (DEBUG) too."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    if not verbose:  # MLflow sets its own loggers' level when imported (after this)
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    quiet = ("py4j", "alembic", "urllib3", "matplotlib", "mlflow", "git", "numexpr")
    for noisy in quiet:
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.WARNING)
    # Per-item detail (each delivery, each source generated, each k tried) is DEBUG: a run's
    # output is a line or a few per stage unless --verbose.
    logging.getLogger("segrec_spark").setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("segrec_spark.tables").setLevel(logging.DEBUG if verbose else logging.WARNING)


def jvm_log_file(cfg: Config, verbose: bool) -> Path | None:
    """Where the JVM's own output goes (None: the terminal); a file on a local disk only."""
    if verbose or not is_local_path(cfg.paths.reports):
        return None
    return Path(cfg.paths.reports).parent / "logs" / "spark.log"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(getattr(args, "verbose", False))
    stage = next(s for s in STAGES if s.name == args.stage)
    try:
        cfg: Config = load_config(args.config, [*args.overrides, *_convenience_overrides(args)])
    except ConfigError as exc:
        print(f"segrec: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(stage.module)
    except ModuleNotFoundError as exc:
        if exc.name != stage.module:
            raise
        print(f"segrec {stage.name}: this stage is not implemented yet", file=sys.stderr)
        return 3
    spark = None
    if stage.needs_spark:
        from segrec_spark.spark import get_spark

        spark = get_spark(cfg.spark, jvm_log=jvm_log_file(cfg, args.verbose))
    try:
        module.main(spark, cfg, args)
    except ConfigError as exc:
        print(f"segrec {stage.name}: configuration error: {exc}", file=sys.stderr)
        return 2
    except SegrecError as exc:
        print(f"segrec {stage.name}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
