"""One forest per product against one forest pooled over all products, out of time.

    .venv/bin/python bench/pooled_forest.py --work $W --seed S

``$W`` is a seed's folder laid out as in the README ("Benchmark and performance": generate,
ingest and features with ``generator.months=6`` and every path under ``$W``). Both forests get
the stacked training snapshots of ``segrec train``, 80 trees of depth 8, no segment feature, the
same negative sampling and class weights; the pooled one has the product as a categorical
feature (``offer_product``). Prints the out-of-time ROC-AUC of both per product and the fit
times. The measurement behind docs/models.md, "One pooled forest over all products".
"""
from __future__ import annotations

import argparse
import sys
import time
from functools import reduce
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PARAMS = {"numTrees": 80, "maxDepth": 8}
PRODUCT = "offer_product"


def main() -> int:
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    from segrec_spark.config import load_config
    from segrec_spark.propensity import job, learners
    from segrec_spark.propensity import model as pm
    from segrec_spark.spark import get_spark

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True, help="the seed's folder ($W)")
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args()
    w = args.work
    cfg = load_config(None, [f"generator.seed={args.seed}", "generator.months=6",
                             f"paths.root={w}/lake", f"paths.landing={w}/landing",
                             f"paths.ground_truth={w}/truth"])
    spark = get_spark(cfg.spark)
    settings = cfg.propensity
    plan = job.read_plan(spark, cfg, None, None)
    eval_date = plan.dates[1]
    dates = sorted({*plan.train_dates, eval_date})
    features = job.read_gold_dates(spark, cfg, "client_features", dates)
    labels = job.read_gold_dates(spark, cfg, "labels", dates)
    train_labels = labels.where(F.col("as_of_date").isin(list(plan.train_dates)))
    eval_labels = labels.where(F.col("as_of_date") == F.lit(eval_date))
    auc = BinaryClassificationEvaluator(rawPredictionCol=pm.PROBABILITY, labelCol=pm.LABEL)

    def fit(df: DataFrame):
        counts = df.agg(F.count("*").alias("n"), F.sum(pm.LABEL).alias("p")).first()
        spec = pm.with_nullable(pm.feature_spec(df, use_segment=False), df)
        rows, weight, share = pm.training_frame(df, int(counts["p"]),
                                                int(counts["n"] - counts["p"]), settings)
        pipeline, _ = learners.learner_pipeline("random_forest", spec, weight, settings,
                                                share, PARAMS)
        return pipeline.fit(rows.cache())

    def tagged(df: DataFrame, product: str) -> DataFrame:
        return df.withColumn(PRODUCT, F.lit(product))

    products = cfg.contract.product_codes
    print(f"train {', '.join(map(str, plan.train_dates))}; out of time {eval_date}", flush=True)
    pooled_rows = reduce(DataFrame.unionByName,
                         [tagged(pm.labelled_frame(features, train_labels, p), p)
                          for p in products])
    began = time.monotonic()
    pooled = fit(pooled_rows)
    print(f"pooled fit {time.monotonic() - began:.0f} s", flush=True)
    own_seconds = 0.0
    for product in products:
        held_out = pm.labelled_frame(features, eval_labels, product).cache()
        began = time.monotonic()
        own = fit(pm.labelled_frame(features, train_labels, product))
        own_seconds += time.monotonic() - began
        a_own = auc.evaluate(own.transform(held_out))
        a_pooled = auc.evaluate(pooled.transform(tagged(held_out, product)))
        print(f"{product:<20} own {a_own:.3f}  pooled {a_pooled:.3f}  "
              f"pooled - own {a_pooled - a_own:+.3f}", flush=True)
        held_out.unpersist()
    print(f"own fits {own_seconds:.0f} s in all", flush=True)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
