"""Gold ``labels``: did a client take up a product in ``[as_of_date, as_of_date + horizon)``?

Rows exist only for (client, product) pairs where the client does not hold the product at
as_of_date (``holds_<product>`` of gold.client_features is 0): a holder is no target.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segrec_spark.sources import PRODUCTS

LABEL_COLUMNS: tuple[str, ...] = ("as_of_date", "identity_id_hash", "product_code", "label",
                                  "horizon_days")


def candidate_pairs(features: DataFrame, products: Sequence[str] = PRODUCTS) -> DataFrame:
    """(as_of_date, client, product) for every product the client does not hold.

    The products are exploded from each row (no join with a product list, so no cartesian
    product in the plan).
    """
    per_product = F.array(*(F.struct(F.lit(p).alias("product_code"),
                                     F.col(f"holds_{p.lower()}").alias("held"))
                            for p in products))
    return (features
            .select("as_of_date", "identity_id_hash", F.explode(per_product).alias("_p"))
            .filter(F.col("_p.held") == 0)
            .select("as_of_date", "identity_id_hash",
                    F.col("_p.product_code").alias("product_code")))


def take_ups(prodeje: DataFrame, as_of: dt.date, horizon_days: int,
             statuses: Sequence[str]) -> DataFrame:
    """Distinct (client, product) with an agreement of a label status signed in the window."""
    start = F.lit(as_of).cast("date")
    in_label_window = ((F.col("signed_date") >= start)
                       & (F.col("signed_date") < F.date_add(start, horizon_days))
                       & F.col("status").isin(*statuses))
    return (prodeje.filter(in_label_window & F.col("identity_id_hash").isNotNull())
            .select("identity_id_hash", "product_code")
            .distinct()
            .withColumn("_taken", F.lit(1)))


def labels(features: DataFrame, prodeje: DataFrame, as_of: dt.date, horizon_days: int,
           statuses: Sequence[str], products: Sequence[str] = PRODUCTS) -> DataFrame:
    """gold.labels for ``as_of`` from its client_features slice and the agreements."""
    pairs = candidate_pairs(features.filter(F.col("as_of_date") == F.lit(as_of).cast("date")),
                            products)
    positives = take_ups(prodeje, as_of, horizon_days, statuses)
    return (pairs.join(positives, on=["identity_id_hash", "product_code"], how="left")
            .select(F.col("as_of_date"), F.col("identity_id_hash"), F.col("product_code"),
                    F.coalesce(F.col("_taken"), F.lit(0)).cast("int").alias("label"),
                    F.lit(horizon_days).cast("int").alias("horizon_days")))
