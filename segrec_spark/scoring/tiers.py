"""Propensity tiers: relative to each product's ranking by default (docs/scoring.md).

A monthly take-up rate sits well under 1 %, so fixed probability thresholds put every client in
the lowest tier. The default ``lift`` mode compares a client's probability with the product's
base rate (the mean probability over the product's scored clients), with optional floors: the
top shares of the ranking that are High and at least Potential Upsell whatever their lift (a
weak but useful model's calibrated scores may never reach 3x the base rate); ``share`` cuts the
ranking at cumulative shares; ``expected_value`` compares the expected margin of a contact with its
cost; ``absolute`` keeps the seed's fixed thresholds.

Every tier function is a factory returning ``DataFrame -> DataFrame`` that adds
``propensity_tier``. Per-product statistics come from windows partitioned by
(as_of_date, product_code), never from a single-partition window.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import Column, DataFrame, Window, WindowSpec
from pyspark.sql import functions as F

from segrec_spark.contract import Product
from segrec_spark.contract_schema import (  # noqa: F401 - TIERS re-exported for the stage
    TIER_HIGH,
    TIER_LOW,
    TIER_MID,
    TIER_NONE,
    TIERS,
)

TIER_MODES = ("lift", "share", "expected_value", "absolute")

PRODUCT_SLICE = ("as_of_date", "product_code")
# Shares are multiplied as decimals: 0.29 * 100 is 28.999999999999996 in floating point.
_SHARE = "decimal(12,9)"

Transform = Callable[[DataFrame], DataFrame]


def _tier(high: Column, mid: Column, low: Column) -> Column:
    return (F.when(high, TIER_HIGH).when(mid, TIER_MID).when(low, TIER_LOW)
            .otherwise(TIER_NONE))


def _per_product() -> WindowSpec:
    return Window.partitionBy(*PRODUCT_SLICE)


def with_absolute_tier(high: float, mid: float, low: float) -> Transform:
    """probability > high, > mid, > low (exclusive lower bounds), else Low Engagement."""

    def add(df: DataFrame) -> DataFrame:
        p = F.col("probability")
        return df.withColumn("propensity_tier",
                             _tier(p > F.lit(high), p > F.lit(mid), p > F.lit(low)))

    return add


def with_base_rate(df: DataFrame) -> DataFrame:
    """``base_rate`` = the mean probability of the product's scored clients, unless given."""
    if "base_rate" in df.columns:
        return df
    return df.withColumn("base_rate", F.avg("probability").over(_per_product()))


def _within_top(share: float) -> Column:
    """rank <= share x the product's ranked clients (``rank`` 1 = best, exact decimal product)."""
    clients = F.count(F.lit(1)).over(_per_product())
    return F.col("rank") <= F.lit(share).cast(_SHARE) * clients


def with_lift_tier(high: float, mid: float, low: float, high_floor: float = 0.0,
                   mid_floor: float = 0.0) -> Transform:
    """probability >= high x base rate, >= mid x, >= low x (inclusive), else Low Engagement.

    Uses a ``base_rate`` column when the input has one (e.g. a training base rate), else the
    mean probability over the product's scored clients. A zero base rate ranks no one above
    Low Engagement (every probability would be >= 0 x 0).

    Floors (shares of the product's ranking, 0 = none; they need ``rank``): the top
    ``high_floor`` are High and the top ``mid_floor`` at least Potential Upsell, whatever their
    lift, so a model whose scores never reach ``high`` x the base rate still names its best
    clients. The tiers stay monotone in the probability.
    """

    def add(df: DataFrame) -> DataFrame:
        given = "base_rate" in df.columns
        rated = with_base_rate(df)
        p, base = F.col("probability"), F.col("base_rate")
        has_base = base > F.lit(0.0)

        def at_least(k: float, floor: float = 0.0) -> Column:
            by_lift = has_base & (p >= F.lit(k) * base)
            return by_lift | _within_top(floor) if floor > 0 else by_lift

        tiered = rated.withColumn("propensity_tier", _tier(
            at_least(high, high_floor), at_least(mid, mid_floor), at_least(low)))
        return tiered if given else tiered.drop("base_rate")

    return add


def with_share_tier(high: float, mid: float, low: float) -> Transform:
    """The top ``high`` share of the product's ranking, then down to ``mid``, then ``low``.

    Needs ``rank`` (1 = best, see publish.rank_within_product): rank <= share x clients.
    """

    def add(df: DataFrame) -> DataFrame:
        return df.withColumn("propensity_tier", _tier(_within_top(high), _within_top(mid),
                                                      _within_top(low)))

    return add


def with_value_tier(high: float, mid: float, low: float) -> Transform:
    """p x margin >= high x contact_cost, >= mid x, >= low x, else Low Engagement.

    Needs ``margin`` and ``contact_cost`` (see :func:`with_catalogue`); a row without them is
    Low Engagement. A contact with no expected margin is never above Low Engagement.
    """

    def add(df: DataFrame) -> DataFrame:
        expected_margin = F.col("probability") * F.col("margin")
        worth_something = expected_margin > F.lit(0.0)

        def pays(k: float) -> Column:
            return worth_something & (expected_margin >= F.lit(k) * F.col("contact_cost"))

        return df.withColumn("propensity_tier", _tier(pays(high), pays(mid), pays(low)))

    return add


def with_tier(mode: str, high: float, mid: float, low: float,
              floors: tuple[float, float] = (0.0, 0.0)) -> Transform:
    """The tier transform of ``mode`` (one of TIER_MODES); ``floors`` (high, mid) apply to lift."""
    factories = {"lift": with_lift_tier, "share": with_share_tier,
                 "expected_value": with_value_tier, "absolute": with_absolute_tier}
    if mode not in factories:
        raise ValueError(f"tier mode {mode!r}: expected one of {', '.join(TIER_MODES)}")
    if mode == "lift":
        return with_lift_tier(high, mid, low, *floors)
    return factories[mode](high, mid, low)


def with_catalogue(products: Sequence[Product]) -> Transform:
    """Add the catalogue's ``margin`` and ``contact_cost`` (double, null when not declared)."""

    def lookup(attribute: str) -> Column:
        value = F.lit(None).cast("double")
        for product in products:
            amount = getattr(product, attribute)
            if amount is not None:
                value = F.when(F.col("product_code") == F.lit(product.code),
                               F.lit(float(amount))).otherwise(value)
        return value

    def add(df: DataFrame) -> DataFrame:
        return df.withColumns({"margin": lookup("margin"), "contact_cost": lookup("contact_cost")})

    return add


def missing_money(products: Sequence[Product]) -> list[str]:
    """Codes of the products whose margin or contact cost the catalogue does not declare."""
    return [p.code for p in products if p.margin is None or p.contact_cost is None]
