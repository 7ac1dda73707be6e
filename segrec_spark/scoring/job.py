"""`segrec score`: champion models -> gold.product_rankings, next_best_offer, client_segments.

Reads gold.client_features at the scoring as_of_date (default: the end of the data), assigns
segments with the champion segmentation model, scores every client who does not hold a product
with that product's champion propensity model (with tiers and reasons, docs/scoring.md), and
writes, each slice replaced exactly:

* ``gold.client_segments``  slice (as_of_date)
* ``gold.segment_migration`` slice (as_of_date): clients moving from the latest earlier slice of
  client_segments to this one (segmentation.continuity); also the next later date's slice
  when one was scored before this date
* ``gold.product_rankings`` slices (as_of_date, product_code) of the products scored in this run;
  the other products' rankings of the month are kept
* ``gold.campaign_plan``    slices (as_of_date, product_code) of the products scored
* ``gold.next_best_offer``  slice (as_of_date), recomputed from every ranking of the as-of date
  in the table (the kept ones and the new ones)

and (re)creates the BI views over them (scoring.views), then writes the run report (HTML, also
logged to MLflow).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
from collections.abc import Sequence
from typing import Any

import mlflow
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segrec_spark.calendar import parse_as_of
from segrec_spark.config import Config
from segrec_spark.contract import Product
from segrec_spark.errors import MissingTableError
from segrec_spark.propensity.calibration import Platt, calibrated, from_dict
from segrec_spark.propensity.model import positive_probability
from segrec_spark.propensity.tracking import delivered_columns
from segrec_spark.registry import (
    champion_version,
    configure_mlflow,
    load_champion,
    propensity_model_name,
    segmentation_model_name,
)
from segrec_spark.scoring.audience import (
    check_eligibility_rules,
    conformed_consent,
    eligibility,
    no_opt_outs,
    opted_out_clients,
    with_contact_status,
)
from segrec_spark.scoring.campaign import campaign_plan
from segrec_spark.scoring.publish import eligible_clients, next_best_offers, publish_rankings
from segrec_spark.scoring.reasons import REASONS, reason_features, with_top_reasons
from segrec_spark.scoring.report import write_report
from segrec_spark.scoring.tiers import missing_money, with_catalogue, with_tier
from segrec_spark.scoring.views import register_views
from segrec_spark.segmentation.continuity import segment_migration
from segrec_spark.segmentation.model import assign_segments
from segrec_spark.tables import (
    delta_exists,
    first_row,
    read_table,
    register_table,
    sql_literal,
    table_path,
    write_slice,
)
from segrec_spark.typed_yaml import ConfigError

log = logging.getLogger(__name__)

OUTPUT_TABLES = {
    "client_segments": ("as_of_date",),
    "segment_migration": ("as_of_date",),
    "product_rankings": ("as_of_date", "product_code"),
    "campaign_plan": ("as_of_date", "product_code"),
    "next_best_offer": ("as_of_date",),
}


def scoring_as_of(spark: SparkSession, cfg: Config, as_of: dt.date | None) -> dt.date:
    """``--as-of``, else the latest as_of_date of gold.client_features (the data's end)."""
    if as_of is not None:
        return as_of
    path = table_path(cfg.paths.root, "gold", "client_features")
    if not delta_exists(spark, path):
        raise MissingTableError(f"score: gold.client_features not found at {path} "
                                "(run `segrec features` or `segrec snapshot` first)")
    latest = first_row(read_table(spark, path).agg(F.max("as_of_date")))[0]
    if latest is None:
        raise MissingTableError(f"score: gold.client_features at {path} is empty")
    return latest


def read_features(spark: SparkSession, cfg: Config, as_of: dt.date) -> DataFrame:
    path = table_path(cfg.paths.root, "gold", "client_features")
    if not delta_exists(spark, path):
        raise MissingTableError(f"score: gold.client_features not found at {path} "
                                "(run `segrec features` first)")
    features = read_table(spark, path).filter(F.col("as_of_date") == F.lit(as_of))
    if features.limit(1).count() == 0:
        raise MissingTableError(f"score: gold.client_features has no rows for as_of_date {as_of} "
                                f"(run `segrec features --as-of {as_of}`)")
    return features


def predict(model: Any, segmented: DataFrame, product: Product) -> DataFrame:
    """The clients who do not hold ``product``, with the positive-class probability and
    ``eligible`` (the product's eligibility rule, scoring.audience)."""
    candidates = eligible_clients(segmented, product.code).withColumn("eligible",
                                                                      eligibility(product))
    return positive_probability(model.transform(candidates))


def read_evaluation(spark: SparkSession, cfg: Config, as_of: dt.date) -> DataFrame | None:
    """gold.model_metrics rows evaluated at or before ``as_of`` (out-of-time months); None when
    the table does not exist (scoring a snapshot's model trained elsewhere)."""
    path = table_path(cfg.paths.root, "gold", "model_metrics")
    if not delta_exists(spark, path):
        return None
    return read_table(spark, path).filter(F.col("as_of_date") <= F.lit(as_of))


def read_opted_out(spark: SparkSession, cfg: Config, as_of: dt.date) -> DataFrame:
    """The clients opted out of marketing at ``as_of`` (the contract's consent source, from
    bronze); none when the contract declares no consent source."""
    source = cfg.contract.one_of_kind("consent")
    if source is None:
        return no_opt_outs(spark)
    path = table_path(cfg.paths.root, "bronze", source.name)
    if not delta_exists(spark, path):
        raise MissingTableError(f"score: bronze.{source.name} (the consent source) not found at "
                                f"{path}; run `segrec ingest` (opted-out clients must never be "
                                "contacted)")
    return opted_out_clients(conformed_consent(read_table(spark, path), source), as_of)


def score_product(predictions: DataFrame, product: str) -> DataFrame:
    """The scoring columns of :func:`predict`'s output (``top_reasons`` already added)."""
    return predictions.select(
        "as_of_date",
        F.lit(product).alias("product_code"),
        "identity_id_hash",
        F.col("probability").cast("double").alias("probability"),
        "segment_id",
        "segment_name",
        "eligible",
        REASONS,
    )


def logged_importances(run_id: str) -> list[dict[str, Any]]:
    """The feature importances the training run ``run_id`` logged ([] when absent)."""
    try:
        return json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/feature_importances.json"))
    except Exception as exc:  # noqa: BLE001 - a missing artifact only means no reasons
        log.warning("score: no feature importances in run %s (%s); no reasons given", run_id, exc)
        return []


def logged_calibration(run_id: str) -> Platt | None:
    """The Platt map the training run ``run_id`` logged (None: none logged, or calibration
    off; the probabilities are then published as the model gives them)."""
    try:
        return from_dict(json.loads(mlflow.artifacts.load_text(
            f"runs:/{run_id}/calibration.json")))
    except Exception as exc:  # noqa: BLE001 - a run from before calibration has no artifact
        log.info("score: no calibration in run %s (%s); probabilities as the model gives them",
                 run_id, exc)
        return None


def check_tier_mode(cfg: Config, products: Sequence[str]) -> None:
    """The expected_value tier mode needs every scored product's margin and contact cost."""
    if cfg.scoring.tier_mode != "expected_value":
        return
    missing = missing_money([cfg.contract.product(p) for p in products])
    if missing:
        raise ConfigError(f"scoring.tier_mode: expected_value needs margin and contact_cost in "
                          f"the product catalogue ({cfg.contract.path}); missing for "
                          f"{', '.join(missing)}")


def slice_predicate(as_of: dt.date, products: Sequence[str] | None = None) -> str:
    """The replaceWhere predicate of an as-of date, narrowed to ``products`` when given."""
    predicate = f"as_of_date = {sql_literal(as_of.isoformat())}"
    if products is None:
        return predicate
    codes = ", ".join(sql_literal(p) for p in sorted(products))
    return f"{predicate} AND product_code IN ({codes})"


def write_output(df: DataFrame, cfg: Config, name: str, as_of: dt.date,
                 products: Sequence[str] | None = None) -> str:
    """Replace exactly the (as_of_date[, product_code]) slices of gold.<name> that ``df`` holds."""
    path = table_path(cfg.paths.root, "gold", name)
    write_slice(df, path, slice_predicate(as_of, products), partition_by=OUTPUT_TABLES[name],
                merge_schema=True)
    register_table(df.sparkSession, "gold", name, path)
    return path


def migration_since_last(spark: SparkSession, cfg: Config, as_of: dt.date) -> DataFrame:
    """gold.segment_migration at ``as_of``: from the latest earlier slice of gold.client_segments
    (none: every client joined) to this one."""
    segments = read_table(spark, table_path(cfg.paths.root, "gold", "client_segments"))
    previous_as_of = first_row(segments.filter(F.col("as_of_date") < F.lit(as_of))
                               .agg(F.max("as_of_date").alias("d")))["d"]
    previous = segments.filter(F.col("as_of_date") == F.lit(previous_as_of))
    return segment_migration(previous, segments.filter(F.col("as_of_date") == F.lit(as_of)),
                             as_of, previous_as_of)


def write_migrations(spark: SparkSession, cfg: Config, as_of: dt.date) -> None:
    """gold.segment_migration at ``as_of`` and, when a later date was scored before this one
    (a backfill, a gap filled), at the next later date too: its movement now starts here."""
    write_output(migration_since_last(spark, cfg, as_of), cfg, "segment_migration", as_of)
    segments = read_table(spark, table_path(cfg.paths.root, "gold", "client_segments"))
    later = first_row(segments.filter(F.col("as_of_date") > F.lit(as_of))
                      .agg(F.min("as_of_date").alias("d")))["d"]
    if later is not None:
        write_output(migration_since_last(spark, cfg, later), cfg, "segment_migration", later)


def run(spark: SparkSession, cfg: Config, as_of: dt.date | None = None,
        report: bool = True) -> dict[str, Any]:
    as_of = scoring_as_of(spark, cfg, as_of)
    features = read_features(spark, cfg, as_of)
    configure_mlflow(cfg)
    scored_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0, tzinfo=None)

    seg_name = segmentation_model_name(cfg)
    seg_version, _ = champion_version(cfg, seg_name)
    segmented = assign_segments(load_champion(cfg, seg_name), features)
    segmented = segmented.persist(StorageLevel.MEMORY_AND_DISK)
    segments = segmented.select(
        "as_of_date", "identity_id_hash", "segment_id", "segment_name",
        F.lit(seg_version).alias("model_version"), F.lit(scored_at).alias("scored_at"))
    write_output(segments, cfg, "client_segments", as_of)
    write_migrations(spark, cfg, as_of)
    result: dict[str, Any] = {"as_of_date": as_of, "model_versions": {},
                              "segmentation_version": seg_version}
    if not cfg.contract.segments_only:  # else no outcome declared: segments and the report
        result["model_versions"] = publish_products(spark, cfg, as_of, features, segmented,
                                                    scored_at)
    register_views(spark)
    segmented.unpersist()
    if report:
        result["report"] = write_report(spark, cfg, as_of)
    if cfg.contract.segments_only:
        log.info("score: segments only for %s (the snapshot declares no outcome)", as_of)
    else:
        log.info("score: published %d products for %s", len(result["model_versions"]), as_of)
    return result


def publish_products(spark: SparkSession, cfg: Config, as_of: dt.date, features: DataFrame,
                     segmented: DataFrame, scored_at: dt.datetime) -> dict[str, str]:
    """Score every product with its champion and write gold.product_rankings,
    gold.campaign_plan and gold.next_best_offer at ``as_of``; return product -> version."""
    products = cfg.propensity.products or cfg.contract.product_codes
    check_tier_mode(cfg, products)
    check_eligibility_rules(features, {p: cfg.contract.product(p) for p in products},
                            str(cfg.contract.path))
    opted_out = read_opted_out(spark, cfg, as_of)
    s = cfg.scoring
    dates = delivered_columns(cfg, features).dates  # reasons read them later / earlier
    per_product = []
    versions: dict[str, str] = {}
    for product in products:
        name = propensity_model_name(cfg, product)
        try:
            version, run_id = champion_version(cfg, name)
        except Exception as exc:  # noqa: BLE001 - MLflow raises its own exception types
            log.warning("score: no champion model for %s (%s); product skipped", product, exc)
            continue
        predictions = predict(load_champion(cfg, name), segmented,
                              cfg.contract.product(product)).transform(
            calibrated(logged_calibration(run_id)))
        explaining = reason_features(predictions, logged_importances(run_id), s.reason_features,
                                     dates)
        scores = score_product(predictions.transform(with_top_reasons(explaining,
                                                                      s.reasons_per_client)),
                               product).withColumns(
            {"model_version": F.lit(version), "run_id": F.lit(run_id)})
        per_product.append(scores)
        versions[product] = version
    if not per_product:
        raise MissingTableError(f"score: no champion propensity model registered in "
                                f"{cfg.mlflow.tracking_uri} (run `segrec train` first)")
    all_scores = per_product[0]
    for df in per_product[1:]:
        all_scores = all_scores.unionByName(df)
    scored = list(versions)
    audience = with_contact_status(opted_out, s.contact_cap, s.control_share, s.control_salt)
    tiered = (all_scores.transform(audience).withColumn("scored_at", F.lit(scored_at))
              .transform(with_catalogue(cfg.contract.products)))
    high, mid, low = s.thresholds()
    rankings = publish_rankings(tiered, with_tier(s.tier_mode, high, mid, low, s.floors()),
                                {p.code: p.name for p in cfg.contract.products},
                                {p.code: p.actions for p in cfg.contract.products if p.actions})
    rankings_path = write_output(rankings, cfg, "product_rankings", as_of, scored)

    # Offers rank across products: from every ranking of the as-of date, kept and new.
    published = read_table(spark, rankings_path).filter(F.col("as_of_date") == F.lit(as_of))
    fresh = published.filter(F.col("product_code").isin(*scored))
    plan = campaign_plan(fresh, cfg.contract.products, s.audience_shares,
                         read_evaluation(spark, cfg, as_of))
    write_output(plan, cfg, "campaign_plan", as_of, scored)
    write_output(next_best_offers(published, s.top_n_offers), cfg, "next_best_offer", as_of)
    return versions


def main(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> None:
    as_of = parse_as_of(args.as_of) if getattr(args, "as_of", None) else None
    result = run(spark, cfg, as_of)
    print(f"scored {len(result['model_versions'])} products at {result['as_of_date']}; "
          f"report: {result.get('report')}")
