"""Pure transforms that turn per-product scores into what marketing and BI read.

Input of :func:`rank_within_product`: one row per (as_of_date, product_code, identity_id_hash)
with a ``probability``. Everything here is ``DataFrame -> DataFrame`` (or a factory of one).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from segrec_spark.scoring.audience import CONTACT
from segrec_spark.scoring.tiers import (
    TIER_HIGH,
    TIER_LOW,
    TIER_MID,
    TIER_NONE,
    TIERS,
    with_absolute_tier,
)

__all__ = ["ACTIONS", "RANKING_COLUMNS", "TIERS", "TIER_HIGH", "TIER_LOW", "TIER_MID",
           "TIER_NONE", "eligible_clients", "next_best_offers", "publish_rankings",
           "rank_within_product", "with_propensity_tier", "with_recommended_action"]

# What marketing does with a client in each tier (the product name is filled in): sales
# offers. A product's ``actions`` in the catalogue replace them (contract.Product).
ACTIONS = {
    TIER_HIGH: "Direct offer: personal banker call or in-app pre-approved offer for {product}",
    TIER_MID: "Targeted digital campaign with a personalised {product} offer",
    TIER_LOW: "Educational content and calculators about {product}",
    TIER_NONE: "No active {product} contact; keep in general newsletters",
}


def _product_label(product_code: Column, names: Mapping[str, str]) -> Column:
    """The catalogue's name of the product for action texts (``names``: code -> name, as the
    bank wrote it); a product without one: MORTGAGE_LOAN -> 'mortgage loan'."""
    label = F.lower(F.regexp_replace(product_code, "_", " "))
    for code, name in names.items():
        if name:
            label = F.when(product_code == F.lit(code), F.lit(name)).otherwise(label)
    return label


def rank_within_product(scores: DataFrame) -> DataFrame:
    """Add ``rank`` (1 = most likely) and ``decile`` (1 = top 10 %) within each product.

    Ties in probability are broken by identity_id_hash so the ranking is deterministic.
    """
    by_probability = Window.partitionBy("as_of_date", "product_code").orderBy(
        F.col("probability").desc(), F.col("identity_id_hash").asc()
    )
    return scores.withColumn("rank", F.row_number().over(by_probability)).withColumn(
        "decile", F.ntile(10).over(by_probability)
    )


def with_propensity_tier(high: float, mid: float, low: float) -> Callable[[DataFrame], DataFrame]:
    """Add ``propensity_tier`` by absolute thresholds: > high, > mid, > low, else the lowest.

    Kept for the ``absolute`` tier mode; the default tiers are relative (scoring.tiers)."""
    return with_absolute_tier(high, mid, low)


def with_recommended_action(names: Mapping[str, str] | None = None,
                            actions: Mapping[str, Mapping[str, str]] | None = None
                            ) -> Callable[[DataFrame], DataFrame]:
    """Add ``recommended_action`` from the tier and the product, named as the catalogue names
    it (``names``: product code -> name; a code without one reads as its lower-cased words).
    ``actions``: product code -> tier -> the catalogue's own text for that product and tier
    (``{product}`` in it is the product's name), in place of :data:`ACTIONS`."""
    product = _product_label(F.col("product_code"), names or {})
    action = F.lit(None).cast("string")
    for tier in reversed(TIERS):
        text = F.replace(F.lit(ACTIONS[tier]), F.lit("{product}"), product)
        for code, own in (actions or {}).items():
            if tier in own:
                text = F.when(F.col("product_code") == F.lit(code),
                              F.replace(F.lit(own[tier]), F.lit("{product}"), product)
                              ).otherwise(text)
        action = F.when(F.col("propensity_tier") == tier, text).otherwise(action)

    def add(df: DataFrame) -> DataFrame:
        return df.withColumn("recommended_action", action)

    return add


def next_best_offers(rankings: DataFrame, top_n: int) -> DataFrame:
    """Per client, the ``top_n`` contactable products with the highest probability.

    ``rankings`` holds only products the client does not hold yet (holders are not scored),
    so every offer is for a product the client lacks; only ``contact_status = 'contact'`` rows
    are offers (scoring.audience: no opted-out, ineligible, control-group or over-cap offer).
    """
    per_client = Window.partitionBy("as_of_date", "identity_id_hash").orderBy(
        F.col("probability").desc(), F.col("product_code").asc()
    )
    contactable = rankings.filter(F.col("contact_status") == F.lit(CONTACT))
    ranked = contactable.withColumn("offer_rank", F.row_number().over(per_client))
    return ranked.filter(F.col("offer_rank") <= top_n).select(
        "as_of_date",
        "identity_id_hash",
        "offer_rank",
        "product_code",
        "probability",
        "propensity_tier",
        "recommended_action",
        "segment_name",
        "model_version",
    )


RANKING_COLUMNS = (
    "as_of_date",
    "product_code",
    "identity_id_hash",
    "probability",
    "rank",
    "decile",
    "propensity_tier",
    "segment_id",
    "segment_name",
    "recommended_action",
    "contact_status",
    "audience_rank",
    "top_reasons",
    "model_version",
    "run_id",
    "scored_at",
)


def publish_rankings(scores: DataFrame, tier: Callable[[DataFrame], DataFrame],
                     names: Mapping[str, str] | None = None,
                     actions: Mapping[str, Mapping[str, str]] | None = None) -> DataFrame:
    """Scores (+ segment, reasons and model columns) -> the gold.product_rankings contract.

    ``tier`` adds ``propensity_tier`` (see scoring.tiers.with_tier); it runs after ranking, so
    the share mode can read ``rank``. ``names`` and ``actions``: the catalogue's product names
    and its own action texts (:func:`with_recommended_action`).
    """
    return (
        scores.transform(rank_within_product)
        .transform(tier)
        .transform(with_recommended_action(names, actions))
        .select(*RANKING_COLUMNS)
    )


def eligible_clients(features: DataFrame, product_code: str) -> DataFrame:
    """Clients who do not hold ``product_code`` at as_of_date (holders are not targets)."""
    holds = f"holds_{product_code.lower()}"
    if holds not in features.columns:
        return features
    return features.filter(F.col(holds) == 0)
