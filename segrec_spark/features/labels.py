"""Gold ``labels``: did a client take up a product in ``[as_of_date, as_of_date + horizon)``?

Rows exist only for (client, product) pairs where the client does not hold the product at
as_of_date (``holds_<product>`` of gold.client_features is 0): a holder is no target. The products
are the contract's catalogue; a take-up is a sale whose status is one of the label statuses
(every sale when there are none, see :func:`segrec_spark.features.conform.label_statuses`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segrec_spark.contract import Contract
from segrec_spark.features.conform import conform, counts_as_take_up
from segrec_spark.features.definitions import token

LABEL_COLUMNS: tuple[str, ...] = ("as_of_date", "identity_id_hash", "product_code", "label",
                                  "horizon_days")


def candidate_pairs(features: DataFrame, products: Sequence[str]) -> DataFrame:
    """(as_of_date, client, product) for every product the client does not hold.

    The products are exploded from each row (no join with a product list, so no cartesian
    product in the plan).
    """
    per_product = F.array(*(F.struct(F.lit(p).alias("product_code"),
                                     F.col(f"holds_{token(p)}").alias("held"))
                            for p in products))
    return (features
            .select("as_of_date", "identity_id_hash", F.explode(per_product).alias("_p"))
            .filter(F.col("_p.held") == 0)
            .select("as_of_date", "identity_id_hash",
                    F.col("_p.product_code").alias("product_code")))


def take_ups(sales: DataFrame, as_of: dt.date, horizon_days: int,
             statuses: Sequence[str]) -> DataFrame:
    """Distinct (client, product) with a take-up sale in the window (``sales`` conformed)."""
    start = F.lit(as_of).cast("date")
    signed = F.to_date("event_ts")
    in_label_window = ((signed >= start) & (signed < F.date_add(start, horizon_days))
                       & counts_as_take_up(statuses))
    return (sales.filter(in_label_window & F.col("identity_id_hash").isNotNull())
            .select("identity_id_hash", "product_code")
            .distinct()
            .withColumn("_taken", F.lit(1)))


def labels(features: DataFrame, sales: DataFrame, as_of: dt.date, horizon_days: int,
           statuses: Sequence[str], contract: Contract) -> DataFrame:
    """gold.labels for ``as_of`` from its client_features slice and the bronze sales frame.

    ``statuses``: the take-up statuses (() = every sale); the products: ``contract``'s catalogue.
    """
    source = contract.one_of_kind("sales")
    if source is None:
        raise ValueError(f"{contract.path}: no source of kind sales")
    pairs = candidate_pairs(features.filter(F.col("as_of_date") == F.lit(as_of).cast("date")),
                            contract.product_codes)
    positives = take_ups(conform(sales, source, contract), as_of, horizon_days, statuses)
    return (pairs.join(positives, on=["identity_id_hash", "product_code"], how="left")
            .select(F.col("as_of_date"), F.col("identity_id_hash"), F.col("product_code"),
                    F.coalesce(F.col("_taken"), F.lit(0)).cast("int").alias("label"),
                    F.lit(horizon_days).cast("int").alias("horizon_days")))
