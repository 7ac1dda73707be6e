"""gold.campaign_plan: for product X, how many clients to contact and what that brings.

Per (as_of_date, product_code) and audience size (the top ``share`` of the product's
contactable clients, i.e. ``audience_rank <= ceil(share x contactable clients)``):

* ``clients``, ``min_probability`` (the lowest probability contacted);
* ``expected_conversions`` = the sum of the contacted clients' probabilities (calibrated
  probabilities make this a count a marketer can plan with);
* ``expected_revenue`` = expected_conversions x the catalogue's margin;
* ``expected_cost`` = clients x the catalogue's contact cost;
* ``expected_profit`` = revenue - cost;
* ``best_size``: true on the profit-maximising size (the smallest one on a tie), only when that
  profit is positive; a product without margin or contact cost gets null money columns and no
  best size.

The audience is the product's rows of gold.product_rankings with ``contact_status = 'contact'``
(scoring.audience: holders are never ranked; opted-out, ineligible, control-group and over-cap
clients are not contactable). One window and one aggregate per call.
"""
from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from segrec_spark.contract import Product
from segrec_spark.scoring.audience import CONTACT
from segrec_spark.scoring.tiers import PRODUCT_SLICE, with_catalogue

PLAN_COLUMNS = (
    "as_of_date",
    "product_code",
    "audience_share",
    "clients",
    "min_probability",
    "expected_conversions",
    "expected_revenue",
    "expected_cost",
    "expected_profit",
    "best_size",
    "model_version",
)
_SHARE = "decimal(12,9)"  # exact share x count (0.29 * 100 is not 29 in floating point)


def audience_sizes(rankings: DataFrame, shares: Sequence[float]) -> DataFrame:
    """Per product slice and share: audience_share, clients, min_probability,
    expected_conversions, model_version (one row per share)."""
    ranked = F.count(F.lit(1)).over(Window.partitionBy(*PRODUCT_SLICE))
    contactable = rankings.filter(F.col("contact_status") == F.lit(CONTACT))
    sized = contactable.select(*PRODUCT_SLICE, "audience_rank", "probability", "model_version",
                               ranked.alias("ranked"))
    p = F.col("probability")
    aggs = [F.max("model_version").alias("model_version")]
    for i, share in enumerate(shares):
        inside = F.col("audience_rank") <= F.ceil(F.lit(share).cast(_SHARE) * F.col("ranked"))
        aggs += [F.sum(F.when(inside, 1).otherwise(0)).cast("long").alias(f"clients_{i}"),
                 F.min(F.when(inside, p)).alias(f"min_probability_{i}"),
                 F.sum(F.when(inside, p).otherwise(0.0)).alias(f"conversions_{i}")]
    per_product = sized.groupBy(*PRODUCT_SLICE).agg(*aggs)
    sizes = F.array(*[
        F.struct(F.lit(float(share)).alias("audience_share"),
                 F.col(f"clients_{i}").alias("clients"),
                 F.col(f"min_probability_{i}").alias("min_probability"),
                 F.col(f"conversions_{i}").alias("expected_conversions"))
        for i, share in enumerate(shares)])
    exploded = per_product.select(*PRODUCT_SLICE, "model_version",
                                  F.explode(sizes).alias("size"))
    return exploded.select(*PRODUCT_SLICE, "size.*", "model_version")


def with_money(df: DataFrame) -> DataFrame:
    """expected_revenue, expected_cost, expected_profit from ``margin`` and ``contact_cost``."""
    revenue = F.col("expected_conversions") * F.col("margin")
    cost = F.col("clients") * F.col("contact_cost")
    return df.withColumns({"expected_revenue": revenue, "expected_cost": cost,
                           "expected_profit": revenue - cost})


def with_best_size(df: DataFrame) -> DataFrame:
    """``best_size``: the product's highest positive expected_profit (smallest size on a tie)."""
    by_profit = Window.partitionBy(*PRODUCT_SLICE).orderBy(
        F.col("expected_profit").desc_nulls_last(), F.col("audience_share").asc())
    first = F.row_number().over(by_profit) == 1
    profitable = F.coalesce(F.col("expected_profit") > F.lit(0.0), F.lit(False))
    return df.withColumn("best_size", first & profitable)


def campaign_plan(rankings: DataFrame, products: Sequence[Product],
                  shares: Sequence[float]) -> DataFrame:
    """gold.campaign_plan rows from gold.product_rankings rows (any number of slices)."""
    return (audience_sizes(rankings, shares)
            .transform(with_catalogue(products))
            .transform(with_money)
            .transform(with_best_size)
            .select(*PLAN_COLUMNS))
