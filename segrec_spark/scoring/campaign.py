"""gold.campaign_plan: for product X, how many clients to contact and what that brings.

Per (as_of_date, product_code) and audience size, one row per ``size_rule``:

* ``share``: the top ``audience_share`` of the product's contactable clients, i.e.
  ``audience_rank <= ceil(share x contactable clients)``, for each configured share;
* ``break_even``: every contactable client whose expected margin pays for the contact
  (probability x margin > contact cost), when the catalogue gives both, at least one client
  does and no configured share holds the same clients (that share is then the best size, and
  an audience is never listed twice); ``audience_share`` is that audience's share of the
  contactable clients. With calibrated probabilities no other audience is expected to earn
  more: adding a client below the cut loses money, leaving one above it out forgoes some.

Columns:

* ``clients``, ``min_probability`` (the lowest probability contacted);
* ``expected_conversions`` = the sum of the contacted clients' probabilities (calibrated
  probabilities make this a count a marketer can plan with);
* ``expected_revenue`` = expected_conversions x the catalogue's margin;
* ``expected_cost`` = clients x the catalogue's contact cost;
* ``expected_profit`` = revenue - cost;
* ``best_size``: true on the profit-maximising size (the smallest one on a tie), only when that
  profit is positive, so the break-even row whenever there is one; a product without margin
  or contact cost gets null money columns and no best size.
* ``observed_capture``, ``observed_lift``, ``evaluated_on``: what the same top share of the
  champion's scores caught on the last out-of-time month (gold.model_metrics, role champion,
  ``capture_top<pct>`` / ``lift_top<pct>`` of the latest evaluation before the as-of date):
  the share of that month's buyers in the cut and their rate against the base rate. 100 % is
  1 and 1; a share the evaluation did not measure (``propensity.top_fractions``), and the
  break-even row, are null.

The audience is the product's rows of gold.product_rankings with ``contact_status = 'contact'``
(scoring.audience: holders are never ranked; opted-out, ineligible, control-group and over-cap
clients are not contactable). One window and one aggregate per call.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from segrec_spark.contract import Product
from segrec_spark.propensity.evaluation import share_label
from segrec_spark.scoring.audience import CONTACT
from segrec_spark.scoring.tiers import PRODUCT_SLICE, with_catalogue

PLAN_COLUMNS = (
    "as_of_date",
    "product_code",
    "audience_share",
    "size_rule",
    "clients",
    "min_probability",
    "expected_conversions",
    "expected_revenue",
    "expected_cost",
    "expected_profit",
    "best_size",
    "observed_capture",
    "observed_lift",
    "evaluated_on",
    "model_version",
)
_SHARE = "decimal(12,9)"  # exact share x count (0.29 * 100 is not 29 in floating point)
SHARE_RULE = "share"
BREAK_EVEN = "break_even"


def audience_sizes(rankings: DataFrame, shares: Sequence[float]) -> DataFrame:
    """Per product slice: one row per share and one break-even row (see the module docstring)
    with audience_share, size_rule, clients, min_probability, expected_conversions,
    model_version. ``rankings`` carries the catalogue's ``margin`` and ``contact_cost``
    (scoring.tiers.with_catalogue); where either is null there is no break-even row."""
    ranked = F.count(F.lit(1)).over(Window.partitionBy(*PRODUCT_SLICE))
    contactable = rankings.filter(F.col("contact_status") == F.lit(CONTACT))
    sized = contactable.select(*PRODUCT_SLICE, "audience_rank", "probability", "model_version",
                               "margin", "contact_cost", ranked.alias("ranked"))
    p = F.col("probability")
    aggs = [F.max("model_version").alias("model_version"), F.max("ranked").alias("ranked")]

    def size(inside: Column, i: str) -> list[Column]:
        return [F.sum(F.when(inside, 1).otherwise(0)).cast("long").alias(f"clients_{i}"),
                F.min(F.when(inside, p)).alias(f"min_probability_{i}"),
                F.sum(F.when(inside, p).otherwise(0.0)).alias(f"conversions_{i}")]

    for i, share in enumerate(shares):
        aggs += size(F.col("audience_rank") <= F.ceil(F.lit(share).cast(_SHARE)
                                                      * F.col("ranked")), str(i))
    aggs += size(p * F.col("margin") > F.col("contact_cost"), "pays")
    per_product = sized.groupBy(*PRODUCT_SLICE).agg(*aggs)
    shared = F.array_contains(F.array(*[F.col(f"clients_{i}") for i in range(len(shares))]),
                              F.col("clients_pays"))

    def row(share: Column, rule: str, i: str) -> Column:
        return F.struct(share.cast("double").alias("audience_share"),
                        F.lit(rule).alias("size_rule"),
                        F.col(f"clients_{i}").alias("clients"),
                        F.col(f"min_probability_{i}").alias("min_probability"),
                        F.col(f"conversions_{i}").alias("expected_conversions"))

    sizes = F.array(*[row(F.lit(float(share)), SHARE_RULE, str(i))
                      for i, share in enumerate(shares)],
                    row(F.col("clients_pays") / F.col("ranked"), BREAK_EVEN, "pays"))
    exploded = per_product.select(*PRODUCT_SLICE, "model_version", shared.alias("shared"),
                                  F.explode(sizes).alias("size"))
    kept = (F.col("size.size_rule") == F.lit(SHARE_RULE)) | (
        (F.col("size.clients") > 0) & ~F.col("shared"))
    return exploded.filter(kept).select(*PRODUCT_SLICE, "size.*", "model_version")


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


def observed_gains(metrics: DataFrame, shares: Sequence[float]) -> DataFrame:
    """Per product and share: observed_capture, observed_lift and evaluated_on, from the
    champion's rows of gold.model_metrics (the latest as_of_date per product in ``metrics``)."""
    champion = metrics.filter(F.col("role") == F.lit("champion"))
    latest = champion.groupBy("product_code").agg(F.max("as_of_date").alias("as_of_date"))
    rows = champion.join(latest, ["product_code", "as_of_date"])

    def metric(name: str) -> Column:
        return F.max(F.when(F.col("metric") == F.lit(name), F.col("value")))

    aggs: list[Column] = []
    for i, share in enumerate(shares):
        whole = share >= 1.0
        aggs += [(F.lit(1.0) if whole else metric(f"capture_top{share_label(share)}"))
                 .alias(f"capture_{i}"),
                 (F.lit(1.0) if whole else metric(f"lift_top{share_label(share)}"))
                 .alias(f"lift_{i}")]
    per_product = rows.groupBy("product_code", "as_of_date").agg(*aggs)
    gains = F.array(*[
        F.struct(F.lit(float(share)).alias("audience_share"),
                 F.col(f"capture_{i}").cast("double").alias("observed_capture"),
                 F.col(f"lift_{i}").cast("double").alias("observed_lift"))
        for i, share in enumerate(shares)])
    return per_product.select("product_code", F.col("as_of_date").alias("evaluated_on"),
                              F.explode(gains).alias("g")).select(
        "product_code", "g.*", "evaluated_on")


def campaign_plan(rankings: DataFrame, products: Sequence[Product], shares: Sequence[float],
                  metrics: DataFrame | None = None) -> DataFrame:
    """gold.campaign_plan rows from gold.product_rankings rows (any number of slices) and, when
    given, the out-of-time evaluation's gold.model_metrics rows (before the as-of date)."""
    catalogue = with_catalogue(products)
    plan = (audience_sizes(rankings.transform(catalogue), shares)
            .transform(catalogue)
            .transform(with_money)
            .transform(with_best_size))
    if metrics is None:
        plan = plan.withColumns({"observed_capture": F.lit(None).cast("double"),
                                 "observed_lift": F.lit(None).cast("double"),
                                 "evaluated_on": F.lit(None).cast("date")})
    else:
        gains = observed_gains(metrics, shares).withColumn("size_rule", F.lit(SHARE_RULE))
        plan = plan.join(gains, ["product_code", "audience_share", "size_rule"], "left")
    return plan.select(*PLAN_COLUMNS)


def contact_advice(plan_rows: Sequence[Mapping[str, Any]]) -> dict[str, tuple[bool, str]]:
    """Per product of ``plan_rows`` (campaign-plan rows of one as-of date, as dicts): whether
    it has a profit-maximising audience, and one sentence saying it or why there is none
    (no size pays for its contacts; the catalogue lacks margin and contact cost). Read by
    the report and the end of `segrec run`; products in code order."""
    sizes: dict[str, list[Mapping[str, Any]]] = {}
    for row in plan_rows:
        sizes.setdefault(row["product_code"], []).append(row)
    advice = {}
    for product, rows in sorted(sizes.items()):
        best = next((r for r in rows if r["best_size"]), None)
        profits = [r for r in rows if r["expected_profit"] is not None]
        if best is not None:
            share = 100 * best["audience_share"]
            who = (f"the {best['clients']:,} contactable clients whose expected margin pays "
                   f"for the contact ({share:.3g} % of them, p >= "
                   if best.get("size_rule") == BREAK_EVEN else
                   f"the top {share:g} % of contactable clients ({best['clients']:,}, p >= ")
            advice[product] = (True, (
                f"{who}{best['min_probability']:.3f}): expected "
                f"{best['expected_conversions']:,.1f} conversions, profit "
                f"{best['expected_profit']:,.0f}"))
        elif not profits:
            advice[product] = (False, "no margin and contact_cost in the product catalogue, "
                                      "so no audience size is chosen")
        else:
            top = max(profits, key=lambda r: (r["expected_profit"], -r["audience_share"]))
            advice[product] = (False, (
                f"none: no audience size is expected to pay for its contacts (the best, the "
                f"top {100 * top['audience_share']:g} % of contactable clients, expects "
                f"{top['expected_profit']:,.0f} in profit)"))
    return advice
