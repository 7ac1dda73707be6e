"""`segrec run`: the whole pipeline in one Spark application.

generate -> ingest -> features -> train -> score, each stage the same code its own sub-command
runs; with a bank's own data: ingest -> features -> train -> score (``--skip-generate``), or,
when the contract declares a client snapshot, snapshot -> train -> score. Prints where the
outputs are at the end, and the top clients for one product.
"""
from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from segrec_spark.config import Config
from segrec_spark.features import job as features_job
from segrec_spark.generate import job as generate_job
from segrec_spark.ingest import job as ingest_job
from segrec_spark.propensity import job as train_job
from segrec_spark.scoring import job as score_job
from segrec_spark.scoring.campaign import contact_advice
from segrec_spark.snapshot import job as snapshot_job
from segrec_spark.tables import first_row, read_table, table_path

log = logging.getLogger(__name__)


@dataclass
class PipelineResult:
    seconds: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)


def stages_for(spark: SparkSession, cfg: Config,
               skip_generate: bool) -> list[tuple[str, Callable[[], Any]]]:
    """The stages ``segrec run`` runs for this configuration's contract, in order."""
    train = ("train", lambda: train_job.run(spark, cfg))
    score = ("score", lambda: score_job.run(spark, cfg))
    if cfg.contract.snapshot is not None:
        return [("snapshot", lambda: snapshot_job.run(spark, cfg)), train, score]
    stages: list[tuple[str, Callable[[], Any]]] = []
    if not skip_generate:
        stages.append(("generate", lambda: generate_job.run(spark, cfg)))
    return [*stages, ("ingest", lambda: ingest_job.run(spark, cfg)),
            ("features", lambda: features_job.run(spark, cfg)), train, score]


def run(spark: SparkSession, cfg: Config, skip_generate: bool = False) -> PipelineResult:
    stages = stages_for(spark, cfg, skip_generate)
    result = PipelineResult()
    for name, stage in stages:
        started = time.perf_counter()
        log.info("stage %s: starting", name)
        result.outputs[name] = stage()
        result.seconds[name] = round(time.perf_counter() - started, 1)
        log.info("stage %s: done in %.1f s", name, result.seconds[name])
    return result


def summary(spark: SparkSession, cfg: Config, result: PipelineResult, top: int = 10) -> str:
    """Where everything is, and the top clients for the first product with rankings (the
    segments, when the contract declares no outcome)."""
    rankings_path = table_path(cfg.paths.root, "gold", "product_rankings")
    segments_path = table_path(cfg.paths.root, "gold", "client_segments")
    lines = ["", "segrec_spark pipeline finished."]
    lines += [f"  {stage:<9} {secs:>7.1f} s" for stage, secs in result.seconds.items()]
    lines += [
        f"Delta root (bronze/silver/gold/ops): {cfg.paths.root}",
        f"Segments table: gold.client_segments at {segments_path}" if cfg.contract.segments_only
        else f"Rankings table: gold.product_rankings at {rankings_path}",
        f"Run report: {result.outputs.get('score', {}).get('report', cfg.paths.reports)}",
        f"MLflow UI: mlflow ui --backend-store-uri {cfg.mlflow.tracking_uri}",
        "SQL endpoint for BI: segrec serve-sql  (jdbc:hive2://"
        f"{cfg.sql.host}:{cfg.sql.port}/)",
    ]
    if cfg.contract.segments_only:
        return "\n".join(lines + segment_lines(spark, cfg))
    rankings = read_table(spark, rankings_path)
    latest = first_row(rankings.agg(F.max("as_of_date")))[0]
    product = first_row(rankings.filter(F.col("as_of_date") == latest)
                        .agg(F.min("product_code")))[0]
    best = (rankings.filter((F.col("as_of_date") == latest) & (F.col("product_code") == product))
            .orderBy("rank").limit(top)
            .select("rank", "identity_id_hash", "probability", "propensity_tier", "segment_name")
            .collect())
    lines.append(f"Top {top} clients for {product} at {latest}:")
    for row in best:
        key = row["identity_id_hash"]
        lines.append(f"  {row['rank']:>3}  {key[:16] + '…' if len(key) > 17 else key:<17}  "
                     f"p={row['probability']:.3f}  {row['propensity_tier']:<20} "
                     f"{row['segment_name']}")
    plan_path = table_path(cfg.paths.root, "gold", "campaign_plan")
    plan = (read_table(spark, plan_path).filter(F.col("as_of_date") == latest)
            .select("product_code", "audience_share", "size_rule", "clients", "min_probability",
                    "expected_conversions", "expected_profit", "best_size")
            .collect())  # products x audience sizes: a few dozen rows
    lines.append(f"How many to contact (gold.campaign_plan at {latest}):")
    lines += [f"  {product}: {text}" for product, (_, text)
              in contact_advice([r.asDict() for r in plan]).items()]
    return "\n".join(lines)


def segment_lines(spark: SparkSession, cfg: Config) -> list[str]:
    """The latest segments: size, share and what distinguishes each (k rows)."""
    profiles = read_table(spark, table_path(cfg.paths.root, "gold", "segment_profiles"))
    latest = first_row(profiles.agg(F.max("as_of_date")))[0]
    rows = (profiles.filter(F.col("as_of_date") == latest).orderBy(F.desc("size"))
            .select("segment_id", "size", "share", "description").collect())
    return [f"Segments at {latest}:"] + [
        f"  {r['segment_id']:>3}  {r['size']:>8} clients ({100 * r['share']:.1f} %)  "
        f"{r['description']}" for r in rows]


def main(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> None:
    skip = getattr(args, "skip_generate", False) or cfg.contract.name != "synthetic_bank"
    result = run(spark, cfg, skip_generate=skip)
    print(summary(spark, cfg, result), flush=True)
