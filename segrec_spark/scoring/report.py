"""The run report: one self-contained HTML file per scoring run, also logged to MLflow.

Contents: gains and lift charts per product, model vs baseline vs oracle (ROC-AUC, PR-AUC, lift
and capture in the top decile), segment profiles and movement between segments since the
previous scoring (gold.segment_migration), top feature importances, propensity tier sizes
with expected (and, on generated data, observed) conversions, the campaign plan's expected
profit against audience size, and ingest audit counts (a client snapshot: its columns' use and
quarantined rows; with no outcome declared, the segments only). The layout fits a 1366 px
laptop screen: wide tables scroll inside their own box, charts shrink to the page. Only small
aggregates reach the driver; the charts are PNGs embedded as base64 so the file can be mailed
or opened anywhere.

Gains charts: on generated data the held-out "future" month of sales (ground truth, written
aside by the generator and never used for training or scoring) gives a true out-of-time check of
the published ranking; without it, the charts use the out-of-time evaluation deciles the
training run logged to MLflow.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlflow
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from segrec_spark.config import Config, is_local_path
from segrec_spark.registry import champion_version, configure_mlflow, propensity_model_name
from segrec_spark.scoring.audience import contact_status_counts
from segrec_spark.scoring.campaign import contact_advice
from segrec_spark.scoring.charts import gains_figure, importance_figure, profit_figure
from segrec_spark.scoring.tiers import TIERS
from segrec_spark.tables import (
    delta_exists,
    first_row,
    read_table,
    read_table_if_exists,
    table_path,
)

log = logging.getLogger(__name__)

# Metric names as propensity/evaluation.py writes them (lift_top<pct>, capture_top<pct>).
REPORT_METRICS = ("roc_auc", "pr_auc", "lift_top10", "capture_top10")
ROLES = ("champion", "baseline", "oracle", "observable_ceiling", "challenger")


# --- pure transforms ------------------------------------------------------------------------

def realised_gains(rankings: DataFrame, purchases: DataFrame) -> DataFrame:
    """Per product and decile: clients, buyers, cumulative capture and lift.

    ``rankings``: as_of_date, product_code, identity_id_hash, decile. ``purchases``: distinct
    (identity_id_hash, product_code) who bought in the evaluation window.
    """
    bought = (purchases.select("identity_id_hash", "product_code").distinct()
              .withColumn("bought", F.lit(1)))
    joined = rankings.join(bought, on=["identity_id_hash", "product_code"], how="left")
    per_decile = joined.groupBy("product_code", "decile").agg(
        F.count(F.lit(1)).alias("clients"),
        F.coalesce(F.sum("bought"), F.lit(0)).cast("long").alias("buyers"),
    )
    cumulative = Window.partitionBy("product_code").orderBy("decile").rowsBetween(
        Window.unboundedPreceding, Window.currentRow)
    whole = Window.partitionBy("product_code")
    return (
        per_decile.withColumn("cum_clients", F.sum("clients").over(cumulative))
        .withColumn("cum_buyers", F.sum("buyers").over(cumulative))
        .withColumn("total_clients", F.sum("clients").over(whole))
        .withColumn("total_buyers", F.sum("buyers").over(whole))
        .withColumn("capture", F.when(F.col("total_buyers") > 0,
                                      F.col("cum_buyers") / F.col("total_buyers")))
        .withColumn("lift", F.when(F.col("total_buyers") > 0,
                                   (F.col("cum_buyers") / F.col("cum_clients"))
                                   / (F.col("total_buyers") / F.col("total_clients"))))
        .select("product_code", "decile", "clients", "buyers", "capture", "lift")
    )


def tier_sizes(rankings: DataFrame) -> DataFrame:
    return (rankings.groupBy("product_code", "propensity_tier")
            .agg(F.count(F.lit(1)).alias("clients")))


def tier_summary(rankings: DataFrame, purchases: DataFrame | None = None) -> DataFrame:
    """Per product and tier: clients, expected_conversions (sum of probabilities), expected_rate,
    and with ``purchases`` (identity_id_hash, product_code) the observed buyers and rate."""
    aggs = [F.count(F.lit(1)).alias("clients"),
            F.sum("probability").alias("expected_conversions")]
    frame = rankings
    if purchases is not None:
        bought = (purchases.select("identity_id_hash", "product_code").distinct()
                  .withColumn("bought", F.lit(1)))
        frame = rankings.join(bought, on=["identity_id_hash", "product_code"], how="left")
        aggs.append(F.coalesce(F.sum("bought"), F.lit(0)).cast("long").alias("observed_buyers"))
    summary = frame.groupBy("product_code", "propensity_tier").agg(*aggs)
    summary = summary.withColumn("expected_rate", F.col("expected_conversions") / F.col("clients"))
    if purchases is not None:
        summary = summary.withColumn("observed_rate", F.col("observed_buyers") / F.col("clients"))
    order = F.array_position(F.array(*[F.lit(t) for t in TIERS]), F.col("propensity_tier"))
    return summary.withColumn("tier_order", order)


def any_holding(segments: Sequence[dict[str, Any]]) -> bool:
    """Whether any segment holds any product (a snapshot without holding columns holds none)."""
    return any((value or 0) > 0 for row in segments for c, value in row.items()
               if c.startswith("holding_rate_"))


def segment_products(segments: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per product, one cell per segment: "holding rate / conversion rate" in per cent, or the
    conversion rate alone when no segment holds any product (k profile rows, already on the
    driver)."""
    codes = sorted({c.split("_rate_", 1)[1] for row in segments[:1] for c in row
                    if c.startswith(("holding_rate_", "conversion_rate_"))})
    holdings = any_holding(segments)

    def pct(value: Any) -> str:
        return "-" if value is None else f"{100 * value:.1f}%"

    def cell(row: dict[str, Any], code: str) -> str:
        conversion = pct(row.get(f"conversion_rate_{code}"))
        return (f"{pct(row.get(f'holding_rate_{code}'))} / {conversion}" if holdings
                else conversion)

    return [{"product": code.upper(),
             **{f"segment {row['segment_id']}": cell(row, code) for row in segments}}
            for code in codes]


def snapshot_column_use(columns: DataFrame, shown: int = 12) -> DataFrame:
    """ops.snapshot_columns per use: how many columns, and the first ``shown`` names (sorted;
    "..." when there are more)."""
    names = F.sort_array(F.collect_list("column"))
    return (columns.groupBy("used_as")
            .agg(F.count("*").alias("columns"), names.alias("_names"))
            .select("used_as", "columns", F.concat(
                F.concat_ws(", ", F.slice("_names", 1, shown)),
                F.when(F.size("_names") > shown, F.lit(", ...")).otherwise(F.lit("")))
                .alias("names"))
            .orderBy(F.desc("columns"), "used_as"))


def movement_totals(migration: DataFrame) -> DataFrame:
    """Clients per movement (stayed, moved, joined, left) of gold.segment_migration rows, with
    their share of all rows' clients."""
    totals = migration.groupBy("movement").agg(F.sum("clients").alias("clients"))
    everyone = totals.agg(F.sum("clients").alias("_all"))
    return (totals.crossJoin(everyone)
            .select("movement", "clients", (F.col("clients") / F.col("_all")).alias("share")))


def model_metrics_table(metrics: DataFrame) -> DataFrame:
    """One row per product: ROC-AUC, PR-AUC, lift and capture in the top decile per role."""
    role = "role" if "role" in metrics.columns else "model"
    wanted = metrics.filter(F.col("metric").isin(*REPORT_METRICS))
    label = F.concat_ws(" ", F.col(role), F.col("metric"))
    columns: list[str | int | float | bool] = [f"{r} {m}" for r in ROLES for m in REPORT_METRICS]
    pivot = (wanted.withColumn("col", label).groupBy("product_code")
             .pivot("col", columns).agg(F.first("value")))
    return pivot.select("product_code", *[F.col(f"`{c}`") for c in columns]).orderBy("product_code")


def filled_columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The columns of ``rows`` that hold a value in at least one row (in their order)."""
    return [c for c in (rows[0].keys() if rows else []) if any(r.get(c) is not None for r in rows)]


# --- rendering --------------------------------------------------------------------------------

def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "<p><em>none</em></p>"
    columns = list(columns or rows[0].keys())

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3f}"
        return html.escape("" if v is None else str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return (f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            f"</table></div>")


CSS = """*{box-sizing:border-box}body{font-family:sans-serif;margin:1.5em auto;padding:0 1em;
max-width:1240px}.scroll{max-width:100%;overflow-x:auto;margin:0.5em 0 1.5em}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:3px 8px;font-size:12px;
text-align:right}th{background:#eef;position:sticky;top:0}td:first-child,th:first-child{
text-align:left}img{max-width:100%;height:auto}h2{border-bottom:2px solid #99c}
p{overflow-wrap:anywhere}"""


# --- I/O ----------------------------------------------------------------------------------------

def _gold(spark: SparkSession, cfg: Config, name: str) -> DataFrame | None:
    return read_table_if_exists(spark, table_path(cfg.paths.root, "gold", name))


def _latest(df: DataFrame | None) -> DataFrame | None:
    if df is None:
        return None
    latest = first_row(df.agg(F.max("as_of_date")))[0]
    return df.filter(F.col("as_of_date") == F.lit(latest))


def _future_purchases(spark: SparkSession, cfg: Config, as_of: dt.date) -> DataFrame | None:
    """Purchases in [as_of, as_of + horizon) from the generator's held-out future month."""
    path = f"{cfg.paths.ground_truth}/future_sales"
    try:
        future = spark.read.parquet(path)
    except Exception:  # noqa: BLE001 - no ground truth on real bank data
        return None
    end = as_of + dt.timedelta(days=cfg.features.horizon_days)
    window = (F.col("signed_date") >= F.lit(as_of)) & (F.col("signed_date") < F.lit(end))
    return future.filter(window & F.col("status").isin(*(cfg.features.label_statuses
                                                           or cfg.contract.label_statuses)))


def _importances(cfg: Config, products: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    configure_mlflow(cfg)
    for product in products:
        try:
            _, run_id = champion_version(cfg, propensity_model_name(cfg, product))
            text = mlflow.artifacts.load_text(f"runs:/{run_id}/feature_importances.json")
            found[product] = json.loads(text)
        except Exception as exc:  # noqa: BLE001 - a missing artifact only thins the report
            log.warning("report: no feature importances for %s (%s)", product, exc)
    return found


def _rows(df: DataFrame | None, limit: int = 500) -> list[dict[str, Any]]:
    return [] if df is None else [r.asDict() for r in df.limit(limit).collect()]


def _segment_sections(spark: SparkSession, cfg: Config, as_of: dt.date) -> list[str]:
    """Segment profiles (traits, sizes, product rates) and movement since the last scoring."""
    parts: list[str] = []
    parts.append("<h2>Segments</h2>")
    profiles = _latest(_gold(spark, cfg, "segment_profiles"))
    if profiles is not None:
        segments = _rows(profiles.orderBy("segment_id"))
        keep = [c for c in ("segment_id", "segment_name", "size", "share", "description")
                if segments and c in segments[0]]
        parts.append("<p>Each segment's strongest differences from all clients (docs/models.md)."
                     "</p>" + _table(segments, keep))
        by_product = segment_products(segments)
        if by_product:
            rates = ("Holding rate / conversion rate" if any_holding(segments)
                     else "Conversion rate")
            parts.append(f"<p>{rates} in the label window, per product (rows) and segment "
                         f"(columns):</p>" + _table(by_product))

    migration = _gold(spark, cfg, "segment_migration")
    if migration is not None:
        now = migration.filter(F.col("as_of_date") == F.lit(as_of))
        flows = _rows(now.filter(F.col("movement") == "moved").orderBy(F.desc("clients")), 10)
        since = first_row(now.agg(F.max("previous_as_of_date")))[0]
        parts.append("<h3>Segment movement</h3><p>"
                     + (f"Clients by their segment at {since} (the previous scoring) and now; "
                        "segment ids carry over between models (docs/models.md).</p>"
                        if since else "First scoring: every client joined.</p>")
                     + _table(_rows(movement_totals(now).orderBy(F.desc("clients"))))
                     + (_table(flows, ["from_segment_name", "to_segment_name", "clients",
                                       "share_of_from_segment"]) if flows else ""))
    return parts


def _input_sections(spark: SparkSession, cfg: Config) -> list[str]:
    """What was read: the ingest audit of raw extracts, or what a snapshot's columns were used
    as and its quarantined rows per reason (ops.snapshot_columns, ops.snapshot_quarantine)."""
    audit_path = table_path(cfg.paths.root, "ops", "ingest_audit")
    if delta_exists(spark, audit_path):
        audit = read_table(spark, audit_path).orderBy("source", "delivery")
        cols = [c for c in ("source", "delivery", "rows_read", "rows_accepted", "rows_quarantined",
                            "duplicates_dropped", "status") if c in audit.columns]
        return ["<h2>Ingest audit</h2>", _table(_rows(audit.select(*cols)), cols)]
    columns = _ops(spark, cfg, "snapshot_columns")
    if columns is None:
        return []
    parts = ["<h2>Snapshot columns</h2><p>What the delivered columns were used as (every "
             "column: ops.snapshot_columns; docs/own-data.md).</p>",
             _table(_rows(snapshot_column_use(columns)), ["used_as", "columns", "names"])]
    quarantine = _ops(spark, cfg, "snapshot_quarantine")
    if quarantine is not None:
        counts = _rows(quarantine.groupBy("source", "reason").count().orderBy("source", "reason"))
        parts.append("<p>Rows set aside in ops.snapshot_quarantine, per reason: "
                     + ("none" if not counts else "") + "</p>"
                     + (_table(counts, ["source", "reason", "count"]) if counts else ""))
    return parts


def _ops(spark: SparkSession, cfg: Config, name: str) -> DataFrame | None:
    return read_table_if_exists(spark, table_path(cfg.paths.root, "ops", name))


def build_report(spark: SparkSession, cfg: Config, as_of: dt.date) -> str:
    parts = [f"<h1>segrec_spark run report — scoring as_of {as_of}</h1>",
             f"<p>Generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC from "
             f"{html.escape(cfg.source)}; Delta root {html.escape(cfg.paths.root)}.</p>"]
    if cfg.contract.segments_only:
        parts.append("<p>Segments only: the data contract declares no outcome (no label or "
                     "holding column), so no product is scored (docs/own-data.md).</p>")
        return _page(as_of, parts + _segment_sections(spark, cfg, as_of)
                     + _input_sections(spark, cfg))
    rankings = _gold(spark, cfg, "product_rankings")
    if rankings is None:
        raise ValueError("report: gold.product_rankings does not exist yet")
    rankings = rankings.filter(F.col("as_of_date") == F.lit(as_of))
    products = sorted(r[0] for r in rankings.select("product_code").distinct().collect())

    purchases = _future_purchases(spark, cfg, as_of)
    parts.append("<h2>Gains and lift per product</h2>")
    if purchases is not None:
        gains = _rows(realised_gains(rankings.select("product_code", "identity_id_hash", "decile"),
                                     purchases).orderBy("product_code", "decile"), 1000)
        parts.append("<p>Out of time: the published ranking against the held-out future month "
                     "of sales (generated data only).</p>")
        parts.append(gains_figure(gains, products))
        top = [r for r in gains if r["decile"] == 1]
        parts.append(_table(top, ["product_code", "clients", "buyers", "capture", "lift"]))
    else:
        parts.append("<p>No sales after the as-of date to compare the published ranking "
                     "with (only raw extracts with a later month have them): see the held-out "
                     "evaluation below and the gains charts logged with each training run in "
                     "MLflow.</p>")

    metrics = _latest(_gold(spark, cfg, "model_metrics"))
    parts.append("<h2>Model vs baseline vs oracle (held-out evaluation)</h2>")
    if metrics is not None:
        rows = _rows(model_metrics_table(metrics))
        parts.append("<p>ROC-AUC, PR-AUC, and lift and capture rate in the top 10 % of scores, "
                     "on rows no model was trained on: the latest labelled month (out of "
                     "time), or the held-out clients or file of a single snapshot.</p>")
        parts.append(_table(rows, filled_columns(rows)))
    else:
        parts.append("<p><em>gold.model_metrics not found</em></p>")

    parts += _segment_sections(spark, cfg, as_of)

    parts.append("<h2>Top feature importances</h2>")
    parts.append(importance_figure(_importances(cfg, products)))

    parts.append("<h2>Propensity tiers</h2>")
    parts.append(f"<p>Tier mode: {html.escape(cfg.scoring.tier_mode)} (see docs/scoring.md). "
                 "Expected conversions are the sum of the tier's probabilities"
                 + ("; observed: buyers in the held-out future month." if purchases is not None
                    else ".") + "</p>")
    tiers = tier_summary(rankings.select("identity_id_hash", "product_code", "propensity_tier",
                                         "probability"), purchases)
    tier_rows = _rows(tiers.orderBy("product_code", "tier_order").drop("tier_order"), 1000)
    parts.append(_table(tier_rows))

    if "contact_status" in rankings.columns:  # rankings published before contact statuses lack it
        parts.append("<h2>Who may be contacted</h2><p>Scored clients per contact status "
                     "(docs/scoring.md): only <code>contact</code> rows are in an audience.</p>")
        parts.append(_table(_rows(contact_status_counts(rankings).orderBy("product_code"))))

    parts.append("<h2>Campaign plan</h2>")
    plan = _gold(spark, cfg, "campaign_plan")
    if plan is not None:
        plan_rows = _rows(plan.filter(F.col("as_of_date") == F.lit(as_of))
                          .orderBy("product_code", "audience_share"), 1000)
        parts.append(profit_figure(plan_rows, products))
        best = [r for r in plan_rows if r["best_size"]]
        parts.append("<p>The profit-maximising audience per product (margin and contact cost "
                     "from the product catalogue; observed: what the same cut caught on the last "
                     "out-of-time month):</p>")
        parts.append(_table(best, ["product_code", "audience_share", "size_rule", "clients",
                                   "min_probability",
                                   "expected_conversions", "expected_profit",
                                   "observed_capture", "observed_lift"]))
        parts += [f"<p>{html.escape(f'{product}: {text}.')}</p>" for product, (has_size, text)
                  in contact_advice(plan_rows).items() if not has_size]
    else:
        parts.append("<p><em>gold.campaign_plan not found</em></p>")

    parts += _input_sections(spark, cfg)
    return _page(as_of, parts)


def _page(as_of: dt.date, parts: Sequence[str]) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<link rel='icon' href='data:,'><title>segrec_spark {as_of}</title>"
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>")


def write_report(spark: SparkSession, cfg: Config, as_of: dt.date) -> str:
    """Write ``<paths.reports>/run_report_<as_of>.html`` and log it to MLflow; return its path."""
    text = build_report(spark, cfg, as_of)
    name = f"run_report_{as_of.isoformat()}.html"
    if is_local_path(cfg.paths.reports):
        out = Path(cfg.paths.reports) / name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        location = str(out)
    else:  # object store: write through Hadoop's filesystem
        location = f"{cfg.paths.reports.rstrip('/')}/{name}"
        (spark.createDataFrame([(text,)], "value string").coalesce(1)
         .write.mode("overwrite").text(location))
    experiment_id = configure_mlflow(cfg)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"score {as_of}"):
        mlflow.set_tag("segrec.stage", "score")
        mlflow.log_text(text, name)
    log.info("report written to %s", location)
    return location
