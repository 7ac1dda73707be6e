"""The client population and its latent traits (the planted ground truth's causes).

Each client has a few latent traits drawn from hashes of its id:

* ``age`` and ``income_z`` (observable through age_band / income_band in the clients table),
* ``digital_z``: digital affinity, drives event volumes per channel and campaign opens,
* ``need_<product>``: a standing need for each product (life stage, income and noise),
* ``held_<product>``: products already held at the snapshot (start of the period).

A client's monthly *intent* for a product is its need plus a month-specific shock; intent drives
both the product areas the client browses (web pages, app screens, ib events), calculator and
application events, campaign clicks, and the true monthly probability of buying the product
(see :mod:`segrec_spark.generate.truth`).
"""
from __future__ import annotations

import math

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from segrec_spark.generate.bank import PRODUCTS, REGIONS
from segrec_spark.generate.randomness import noise, pick, sigmoid, uniform

# Logit of holding each product at the snapshot (before trait effects).
HOLD_BASE: dict[str, float] = {
    "MORTGAGE": -2.0, "CONSUMER_LOAN": -2.6, "CREDIT_CARD": -1.3, "SAVINGS": -0.6,
    "INVESTMENT_FUND": -2.6, "LIFE_INSURANCE": -2.0, "PROPERTY_INSURANCE": -2.0, "PENSION": -1.6,
}
REGION_WEIGHTS: dict[str, float] = {r: (3.0 if r == "PRG"
                                         else 2.0 if r in ("STC", "JHM", "MSK") else 1.0)
                                    for r in REGIONS}
NEED_NOISE_SD = 0.8
SHOCK_SD = 0.7  # month-to-month variation of intent around the standing need
# Share of a month's intent shock carried over from the month before (a moving average of two
# months' draws): a purchase is prepared over weeks (a mortgage search, comparing funds), so a
# client browsing a product this month is still more likely than others to be on it next month.
# The month-to-month correlation of the shock is sqrt(c * (1 - c)) = 0.5 at c = 0.5, none two
# months apart; at c = 0 every month's shock is fresh (the generator before 2026-12-05). Its
# variance stays 1 whatever c.
SHOCK_CARRYOVER = 0.5
HEAVY_MULTIPLIER = 30.0


def key_of(seed: int, client_id: Column) -> Column:
    """identity_id_hash: sha2(concat(seed, client id), 256), 64 lower-case hex characters."""
    return F.sha2(F.concat(F.lit(str(seed)), client_id.cast("string")), 256)


def need_column(product: str) -> str:
    return f"need_{product.lower()}"


def held_column(product: str) -> str:
    return f"held_{product.lower()}"


def client_ids(spark: SparkSession, n_clients: int, partitions: int) -> DataFrame:
    """One row per client: ``client_id`` 0..n-1."""
    return spark.range(0, n_clients, 1, partitions).select(F.col("id").alias("client_id"))


def _between(x: Column, low: float, high: float) -> Column:
    return (x >= low) & (x <= high)


def _need_effect(product: str, age: Column, income: Column, digital: Column) -> Column:
    """Life-stage and income effects on each product's need (why, not noise)."""
    in_family_age = _between(age, 26, 45).cast("double")
    effects: dict[str, Column] = {
        "MORTGAGE": 0.9 * in_family_age + 0.3 * income - 0.3,
        "CONSUMER_LOAN": -0.3 * income + 0.4 * (age < 45).cast("double") - 0.2,
        "CREDIT_CARD": 0.4 * digital + 0.2 * income,
        "SAVINGS": 0.3 * income,
        "INVESTMENT_FUND": 0.6 * income + 0.3 * (age >= 36).cast("double") - 0.2,
        "LIFE_INSURANCE": 0.5 * _between(age, 30, 55).cast("double") - 0.2,
        "PROPERTY_INSURANCE": 0.5 * in_family_age + 0.2 * income - 0.2,
        "PENSION": 0.7 * _between(age, 40, 62).cast("double") + 0.2 * income - 0.3,
    }
    return effects[product]


def age_band(age: Column) -> Column:
    return (F.when(age <= 25, "18-25").when(age <= 35, "26-35").when(age <= 45, "36-45")
            .when(age <= 55, "46-55").when(age <= 65, "56-65").otherwise("66+"))


def income_band(income: Column) -> Column:
    return (F.when(income < -0.7, "LOW").when(income < 0.5, "MID").when(income < 1.3, "HIGH")
            .otherwise("VERY_HIGH"))


def with_client_traits(seed: int, no_digital_share: float, heavy_user_share: float):
    """Factory: client_id -> client_id, identity key, attributes and latent traits."""

    def transform(df: DataFrame) -> DataFrame:
        cid = F.col("client_id")
        age = F.floor(F.lit(18.0) + F.lit(64.0) * F.pow(uniform(seed, "age", cid), F.lit(1.15)))
        base = df.select(
            cid,
            key_of(seed, cid).alias("identity_id_hash"),
            age.cast("int").alias("age"),
        )
        a = F.col("age")
        with_income = base.withColumn(
            "income_z",
            noise(seed, "income", cid) + F.lit(0.5) * _between(a, 30, 60).cast("double") - 0.25)
        with_digital = with_income.withColumn(
            "digital_z",
            noise(seed, "digital", cid) - F.lit(0.035) * (a - 45) + F.lit(0.2) * F.col("income_z"))
        no_digital = uniform(seed, "no_digital", cid) < F.lit(no_digital_share)
        heavy = ~no_digital & (uniform(seed, "heavy", cid) < F.lit(heavy_user_share))
        needs = [
            (F.lit(NEED_NOISE_SD) * noise(seed, "need", cid, product)
             + _need_effect(product, a, F.col("income_z"), F.col("digital_z")))
            .alias(need_column(product))
            for product in PRODUCTS
        ]
        traits = with_digital.select(
            "*",
            age_band(a).alias("age_band"),
            income_band(F.col("income_z")).alias("income_band"),
            pick(uniform(seed, "region", cid), list(REGION_WEIGHTS.items())).alias("region"),
            (F.floor(uniform(seed, "tenure", cid) * F.least(F.lit(360), (a - 17) * 12)) + 1)
            .cast("int").alias("tenure_months"),
            no_digital.alias("no_digital"),
            heavy.alias("heavy_user"),
            *needs,
        )
        held = [
            (uniform(seed, "held", cid, product)
             < sigmoid(F.lit(HOLD_BASE[product]) + F.lit(0.5) * F.col(need_column(product))))
            .alias(held_column(product))
            for product in PRODUCTS
        ]
        return traits.select("*", *held)

    return transform


def with_channel_rates(seed: int, activity: float):
    """Factory: expected sessions per channel over the whole period (0 for inactive channels).

    Digital affinity raises web/app use and lowers ib use slightly (older clients stay on
    internet banking); a share of clients has no digital activity at all; heavy users get
    x30. The constants were calibrated to the reference mix (see scales.EXPECTED_ROWS_PER_CLIENT).
    """

    def transform(df: DataFrame) -> DataFrame:
        cid = F.col("client_id")
        d = F.col("digital_z")
        digital = ~F.col("no_digital")
        factor = (F.when(F.col("heavy_user"), F.lit(HEAVY_MULTIPLIER)).otherwise(F.lit(1.0))
                  * F.lit(activity))
        web_user = digital & (uniform(seed, "web_user", cid) < sigmoid(F.lit(1.2) + d))
        app_user = digital & (uniform(seed, "app_user", cid) < sigmoid(F.lit(0.4) + F.lit(1.5) * d))
        ib_user = digital & (uniform(seed, "ib_user", cid) < sigmoid(F.lit(0.3) - F.lit(0.4) * d))
        # exp(0.5 d) has mean ~1.2 for d ~ N(0, 1.1): divide to keep the means at the reference.
        intensity = F.exp(F.lit(0.5) * d) / F.lit(math.exp(0.5 * 0.5 * 1.1 ** 2))
        return df.select(
            "*",
            F.when(web_user, F.lit(WEB_SESSIONS) * intensity * factor).otherwise(0.0)
            .alias("web_rate"),
            F.when(app_user, F.lit(APP_SESSIONS) * intensity * factor).otherwise(0.0)
            .alias("app_rate"),
            F.when(ib_user, F.lit(IB_SESSIONS) * intensity * factor).otherwise(0.0)
            .alias("ib_rate"),
            F.when(app_user, F.lit(PUSH_MESSAGES) * F.lit(activity)).otherwise(0.0)
            .alias("push_rate"),
            (F.lit(CAMPAIGN_CONTACTS) * F.lit(activity)).alias("camp_rate"),
        )

    return transform


# Mean sessions over the period per *active* client at activity 1 (calibrated, see scales.py).
WEB_SESSIONS = 6.8
APP_SESSIONS = 26.0
IB_SESSIONS = 6.0
PUSH_MESSAGES = 26.0
CAMPAIGN_CONTACTS = 1.6

TRAIT_COLUMNS: tuple[str, ...] = (
    "client_id", "identity_id_hash", "age", "age_band", "income_z", "income_band", "region",
    "tenure_months", "digital_z", "no_digital", "heavy_user",
    *(need_column(p) for p in PRODUCTS), *(held_column(p) for p in PRODUCTS),
)


def population(spark: SparkSession, seed: int, n_clients: int, partitions: int, activity: float,
               no_digital_share: float, heavy_user_share: float) -> DataFrame:
    """All clients with traits and channel rates (the root every source is generated from)."""
    return (client_ids(spark, n_clients, partitions)
            .transform(with_client_traits(seed, no_digital_share, heavy_user_share))
            .transform(with_channel_rates(seed, activity)))
