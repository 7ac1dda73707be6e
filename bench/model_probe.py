"""Model variants side by side on a finished lake: out-of-time ROC-AUC and fit time per product.

    .venv/bin/python bench/model_probe.py --lake data/lake \\
        --variant "default:" --variant "trees200:propensity.num_trees=[200]" \\
        [--seeds 1,2] [--products MORTGAGE,SAVINGS] [--conf conf/local.yaml] [--json out.json]

``segrec train`` takes minutes per run because it also segments, evaluates five frames,
calibrates, refits the champion and logs to MLflow. This probe fits only what a comparison of
learners needs, with the project's own pipeline (``propensity.model`` / ``learners``): per
product, the training rows of the stacked snapshots the training plan gives
(``features.train_snapshots``, out of time on the latest labelled date), every variant and
seed fitted on the same cached rows, scored on the evaluation month. No segment input (the
probe reads only gold.client_features and gold.labels). A variant is ``NAME:OVERRIDES``, the
overrides ``;``-separated ``--set``-style settings applied to ``--conf``, plus one option of
its own, ``probe.interest_shares=true``: every ``interest_<x>_<N>d`` column also as a share
of the ``<channel>_events_<N>d`` columns' sum (share of attention), computed here.

A forest's seed alone moves a product's AUC by a few hundredths at ``small``; compare means
over products and seeds (``--seeds``, the forests' ``propensity.seed``), not one product.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyspark.sql import DataFrame  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from segrec_spark.config import SparkSettings, load_config  # noqa: E402
from segrec_spark.features.definitions import ratio  # noqa: E402
from segrec_spark.propensity import evaluation as ev  # noqa: E402
from segrec_spark.propensity import learners  # noqa: E402
from segrec_spark.propensity import model as pm  # noqa: E402
from segrec_spark.propensity.job import read_plan  # noqa: E402
from segrec_spark.spark import get_spark  # noqa: E402
from segrec_spark.tables import read_table, table_path  # noqa: E402

SHARES = "probe.interest_shares"
INTEREST = re.compile(r"^interest_(.+)_(\d+)d$")
EVENTS = re.compile(r"^(.+)_events_(\d+)d$")


def parse_variant(text: str) -> tuple[str, list[str], bool]:
    """``NAME:a=1;b=2`` -> (name, ["a=1", "b=2"], interest shares on)."""
    name, _, rest = text.partition(":")
    if not name:
        raise SystemExit(f"--variant {text!r}: expected NAME:OVERRIDES (OVERRIDES may be empty)")
    overrides = [o.strip() for o in rest.split(";") if o.strip()]
    shares = any(o.replace(" ", "") == f"{SHARES}=true" for o in overrides)
    return name, [o for o in overrides if not o.startswith(SHARES)], shares


def with_interest_shares(features: DataFrame) -> DataFrame:
    """Each ``interest_<x>_<N>d`` over the sum of the ``<channel>_events_<N>d`` columns."""
    events: dict[str, list[str]] = {}
    for c in features.columns:
        m = EVENTS.match(c)
        if m:
            events.setdefault(m.group(2), []).append(c)
    shares = []
    for c in features.columns:
        m = INTEREST.match(c)
        if m and events.get(m.group(2)):
            total = sum((F.col(e) for e in events[m.group(2)]), F.lit(0))
            name = f"interest_share_{m.group(1)}_{m.group(2)}d"
            shares.append(ratio(F.col(c), total).alias(name))
    return features.select("*", *shares)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", required=True, help="the Delta root (paths.root) of a run")
    parser.add_argument("--conf", default="conf/local.yaml")
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME:OVERRIDES, repeatable (default: the configuration as is)")
    parser.add_argument("--seeds", default="", help="forest seeds (default: the configuration's)")
    parser.add_argument("--products", default="", help="default: every labelled product")
    parser.add_argument("--json")
    args = parser.parse_args()
    variants = [parse_variant(v) for v in (args.variant or ["default:"])]
    base = load_config(args.conf, [f"paths.root={Path(args.lake).resolve()}"])
    settings_of = {name: load_config(args.conf, overrides).propensity
                   for name, overrides, _ in variants}
    seeds = [int(s) for s in args.seeds.split(",") if s] or [base.propensity.seed]

    spark = get_spark(SparkSettings(master="local[2]", log_level="ERROR",
                                    driver_memory="6g", shuffle_partitions=4))
    features = read_table(spark, table_path(base.paths.root, "gold", "client_features"))
    labels = read_table(spark, table_path(base.paths.root, "gold", "labels"))
    plan = read_plan(spark, base)  # the dates segrec train would use
    if plan.by_split:
        raise SystemExit(f"{args.lake}: gold.labels holds a held-out split, not months; "
                         "the probe compares on an out-of-time month only")
    products = ([p for p in args.products.split(",") if p] or
                sorted(r[0] for r in labels.select("product_code").distinct().collect()))
    print(f"training dates {', '.join(map(str, plan.train_dates))}; out of time "
          f"{plan.eval_as_of}; seeds {seeds}", flush=True)
    plain = features.filter(F.col("as_of_date").isin([*plan.train_dates, plan.eval_as_of]))
    frames = {False: plain.cache(),
              True: plain.transform(with_interest_shares).cache()
              if any(s for *_, s in variants) else None}

    results = []
    for product in products:
        for shares_on in sorted({s for *_, s in variants}):
            table = frames[shares_on]
            in_training = F.col("as_of_date").isin(list(plan.train_dates))
            train = pm.labelled_frame(table.filter(in_training), labels, product).cache()
            held = pm.labelled_frame(table.filter(F.col("as_of_date") == plan.eval_as_of),
                                     labels, product).cache()
            counted = pm.count_labelled(pm.feature_spec(train, use_segment=False), train)
            for name, _, shares in variants:
                if shares != shares_on:
                    continue
                for seed in seeds:
                    settings = replace(settings_of[name], seed=seed)
                    rows, weight, share = pm.training_frame(
                        train, counted.positives, counted.n - counted.positives, settings)
                    rows = rows.cache()
                    n_rows = rows.count()
                    pipeline, _ = learners.learner_pipeline(settings.learners[0], counted.spec,
                                                            weight, settings, share)
                    began = time.monotonic()
                    fitted = pipeline.fit(rows)
                    seconds = time.monotonic() - began
                    auc = ev.auc_metrics(pm.positive_probability(fitted.transform(held))
                                         .select(pm.LABEL, pm.PROBABILITY))["roc_auc"]
                    rows.unpersist()
                    results.append({"product": product, "variant": name, "seed": seed,
                                    "buyers_train": counted.positives, "rows_fitted": n_rows,
                                    "roc_auc": auc, "fit_seconds": round(seconds, 1)})
                    print(f"{product:20} {name:12} seed {seed:3}  AUC {auc:.4f}  "
                          f"{n_rows:7,} rows  fit {seconds:5.1f} s", flush=True)
            train.unpersist()
            held.unpersist()

    print("\nvariant       mean AUC  median fit (s)   (over products and seeds)")
    for name, *_ in variants:
        mine = [r for r in results if r["variant"] == name]
        print(f"{name:12} {statistics.mean(r['roc_auc'] for r in mine):9.4f}  "
              f"{statistics.median(r['fit_seconds'] for r in mine):9.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
