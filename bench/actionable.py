"""Issue 17's acceptance figures on a finished generated-data run, against the held-out future.

Reads the lake of a run (``--root``) and the generator's ground truth (``--truth``: its
``future_sales``, the month after the data, never read by the pipeline) and prints, per product,
at the latest scoring as-of date:

* the tiers: share of the ranked clients and observed conversion rate per tier, the base rate,
  and the High tier's rate against it;
* the campaign plan at 100 % of the contactable audience: expected conversions against the
  buyers observed among those clients (calibration);
* the audience checks: opted-out / ineligible / control clients in any audience (must be 0).

Usage (after ``segrec run`` with the paths below)::

    .venv/bin/python bench/actionable.py --root data/lake --truth data/ground_truth [--json out]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyspark.sql import functions as F  # noqa: E402

from segrec_spark.config import SparkSettings  # noqa: E402
from segrec_spark.spark import get_spark  # noqa: E402
from segrec_spark.tables import read_table, table_path  # noqa: E402

TIERS = ("High Value Engaged", "Potential Upsell", "Nurture and Educate", "Low Engagement")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--truth", required=True)
    parser.add_argument("--horizon-days", type=int, default=30)
    parser.add_argument("--json")
    args = parser.parse_args()
    spark = get_spark(SparkSettings(master="local[2]", log_level="ERROR"))
    rankings = read_table(spark, table_path(args.root, "gold", "product_rankings"))
    as_of = rankings.agg(F.max("as_of_date")).first()[0]
    rankings = rankings.filter(F.col("as_of_date") == as_of)
    end = F.date_add(F.lit(as_of), args.horizon_days)
    bought = (spark.read.parquet(f"{args.truth}/future_sales")
              .filter((F.col("signed_date") >= F.lit(as_of)) & (F.col("signed_date") < end)
                      & F.col("status").isin("SIGNED", "ACTIVATED"))
              .select("identity_id_hash", "product_code").distinct()
              .withColumn("bought", F.lit(1)))
    joined = rankings.join(bought, ["identity_id_hash", "product_code"], "left").fillna(
        0, ["bought"]).cache()
    tiers = {(r["product_code"], r["propensity_tier"]): (r["n"], r["buyers"]) for r in
             joined.groupBy("product_code", "propensity_tier").agg(
                 F.count(F.lit(1)).alias("n"), F.sum("bought").alias("buyers")).collect()}
    plan = read_table(spark, table_path(args.root, "gold", "campaign_plan")).filter(
        (F.col("as_of_date") == F.lit(as_of)) & (F.col("audience_share") == 1.0))
    expected = {r["product_code"]: r["expected_conversions"] for r in plan.collect()}
    contact = {r["product_code"]: (r["n"], r["buyers"]) for r in
               joined.filter(F.col("contact_status") == "contact").groupBy("product_code").agg(
                   F.count(F.lit(1)).alias("n"), F.sum("bought").alias("buyers")).collect()}
    offers = read_table(spark, table_path(args.root, "gold", "next_best_offer")).filter(
        F.col("as_of_date") == F.lit(as_of))
    outsiders = rankings.filter(F.col("contact_status") != "contact").select(
        "identity_id_hash", "product_code")
    leaked = offers.join(outsiders, ["identity_id_hash", "product_code"]).count()

    out = {"as_of_date": str(as_of), "offers_to_non_contactable": leaked, "products": {}}
    print(f"as_of {as_of}; offers to opted-out / ineligible / control / over-cap rows: {leaked}")
    print(f"{'product':<20}{'base':>8}" + "".join(f"{t.split()[0][:8]:>16}" for t in TIERS)
          + f"{'high/base':>10}{'expected':>10}{'observed':>10}{'ratio':>7}")
    for product in sorted({p for p, _ in tiers}):
        n_all = sum(tiers.get((product, t), (0, 0))[0] for t in TIERS)
        b_all = sum(tiers.get((product, t), (0, 0))[1] for t in TIERS)
        base = b_all / n_all if n_all else float("nan")
        cells, per_tier = [], {}
        for t in TIERS:
            n, b = tiers.get((product, t), (0, 0))
            per_tier[t] = {"share": n / n_all if n_all else 0.0, "rate": b / n if n else None,
                           "clients": n, "buyers": b}
            cells.append(f"{100 * n / n_all:5.1f}% {100 * b / n if n else 0:6.2f}%")
        high = per_tier[TIERS[0]]["rate"]
        ratio_high = (high / base) if high is not None and base else float("nan")
        e = expected.get(product)
        n_c, observed = contact.get(product, (0, 0))
        calib = (e / observed) if e is not None and observed else float("nan")
        print(f"{product:<20}{100 * base:7.2f}%" + "".join(f"{c:>16}" for c in cells)
              + f"{ratio_high:10.2f}{(e or 0):10.1f}{observed:10d}{calib:7.2f}")
        out["products"][product] = {"base_rate": base, "buyers": b_all, "tiers": per_tier,
                                    "high_over_base": ratio_high, "expected_100": e,
                                    "observed_100": observed, "contactable": n_c,
                                    "expected_over_observed": calib}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
