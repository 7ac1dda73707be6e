"""Who may be contacted: consent, per-product eligibility, a contact cap and a control group.

Every scored (client, product) row of an as-of date gets one ``contact_status``, decided in
this order (the first that applies):

=============  ===============================================================================
status         meaning
=============  ===============================================================================
opted_out      the client's latest consent record before the as-of date refuses marketing
ineligible     the product's ``eligible`` rule (data contract) is false or NULL for the client
control        the client is in this month's control group: no offer at all, so that the
               campaigns' effect can be measured against them afterwards
over_cap       the client already has ``contact_cap`` better offers this month (by probability,
               the order of gold.next_best_offer)
contact        in the audience
=============  ===============================================================================

The control group is drawn per client and month: a hash of (salt, client key, as-of date) below
``control_share``, so it is stable across re-runs and products and changes from month to month.
``audience_rank`` ranks the ``contact`` rows of a product (1 = most likely); campaign audiences
are cut from it. Everything here is ``DataFrame -> DataFrame`` (or a factory of one).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segrec_spark.contract import Product, Source
from segrec_spark.typed_yaml import ConfigError

KEY = "identity_id_hash"
CONTACT = "contact"
CONTROL = "control"
OPTED_OUT = "opted_out"
INELIGIBLE = "ineligible"
OVER_CAP = "over_cap"
CONTACT_STATUSES = (CONTACT, CONTROL, OPTED_OUT, INELIGIBLE, OVER_CAP)
_BUCKETS = 1_000_000  # control-group draw resolution


def conformed_consent(bronze: DataFrame, source: Source) -> DataFrame:
    """bronze.<consent source> -> identity_id_hash, consent_ts (NULL when the source has no time
    column), opt_out (boolean by Spark's cast: 1/0, true/false, Y/N and yes/no read; anything
    else is NULL, which :func:`opted_out_clients` skips)."""
    key, opt_out, time_column = (source.role_column(r) for r in ("key", "opt_out", "time"))
    if key is None or opt_out is None:
        raise ValueError(f"{source.name}: a consent source needs key and opt_out columns")
    consent_ts = (F.col(time_column).cast("timestamp") if time_column
                  else F.lit(None).cast("timestamp"))
    return bronze.select(F.col(key).cast("string").alias(KEY), consent_ts.alias("consent_ts"),
                         F.col(opt_out).try_cast("boolean").alias("opt_out"))


def opted_out_clients(consent: DataFrame, as_of: dt.date) -> DataFrame:
    """The keys whose latest consent record before ``as_of`` opts out (one column, distinct).

    Undated records always count; on a tie in time an opt-out wins. Records with an unreadable
    opt_out value (NULL) say nothing and are skipped."""
    usable = consent.filter(F.col(KEY).isNotNull() & F.col("opt_out").isNotNull()
                            & (F.col("consent_ts").isNull()
                               | (F.col("consent_ts") < F.lit(as_of).cast("timestamp"))))
    latest_first = Window.partitionBy(KEY).orderBy(F.col("consent_ts").desc_nulls_last(),
                                                   F.col("opt_out").desc())
    return (usable.withColumn("_n", F.row_number().over(latest_first))
            .filter((F.col("_n") == 1) & F.col("opt_out"))
            .select(KEY))


def no_opt_outs(spark: SparkSession) -> DataFrame:
    """An empty opted-out frame (the contract declares no consent source)."""
    return spark.createDataFrame([], T.StructType([T.StructField(KEY, T.StringType())]))


def eligibility(product: Product) -> Column:
    """True when the client may be offered ``product`` (its rule; NULL counts as not)."""
    if not product.eligible:
        return F.lit(True)
    return F.coalesce(F.expr(product.eligible), F.lit(False))


def check_eligibility_rules(features: DataFrame, products: Mapping[str, Product],
                            contract_path: str) -> None:
    """Raise one ConfigError line unless every product's ``eligible`` rule is a boolean
    expression over ``features``' columns (analysed only, nothing runs)."""
    for code, product in products.items():
        if not product.eligible:
            continue
        try:
            dtype = features.select(F.expr(product.eligible).alias("e")).schema["e"].dataType
        except Exception as exc:  # noqa: BLE001 - parse and analysis errors have several types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"{contract_path}: products.{code}.eligible: {product.eligible!r} "
                              f"is not an expression over gold.client_features ({first})"
                              ) from None
        if not isinstance(dtype, T.BooleanType):
            raise ConfigError(f"{contract_path}: products.{code}.eligible: "
                              f"{product.eligible!r} is {dtype.simpleString()}, not boolean")


def in_control_group(share: float, salt: str) -> Column:
    """True for ``share`` of the clients, drawn per client and as-of date (stable on re-runs)."""
    draw = F.pmod(F.xxhash64(F.lit(salt), F.col(KEY), F.col("as_of_date").cast("string")),
                  F.lit(_BUCKETS))
    return draw < F.lit(int(round(share * _BUCKETS)))


def with_contact_status(opted_out: DataFrame, contact_cap: int | None, control_share: float,
                        control_salt: str) -> Callable[[DataFrame], DataFrame]:
    """Factory: scores (as_of_date, product_code, identity_id_hash, probability, ``eligible``)
    -> the same rows with ``contact_status`` and ``audience_rank`` (``eligible`` dropped).

    ``opted_out`` holds the opted-out keys (:func:`opted_out_clients`)."""

    def transform(scores: DataFrame) -> DataFrame:
        flagged = scores.join(opted_out.select(KEY, F.lit(True).alias("_opted_out")), KEY, "left")
        before_cap = (F.when(F.col("_opted_out").isNotNull(), F.lit(OPTED_OUT))
                      .when(~F.col("eligible"), F.lit(INELIGIBLE))
                      .when(in_control_group(control_share, control_salt), F.lit(CONTROL)))
        statused = flagged.withColumn("contact_status", before_cap)
        open_ = F.col("contact_status").isNull()
        per_client = Window.partitionBy("as_of_date", KEY, open_).orderBy(
            F.col("probability").desc(), F.col("product_code").asc())
        offer_no = F.row_number().over(per_client)
        within_cap = F.lit(True) if contact_cap is None else offer_no <= F.lit(contact_cap)
        status = F.coalesce(F.col("contact_status"),
                            F.when(within_cap, F.lit(CONTACT)).otherwise(F.lit(OVER_CAP)))
        capped = statused.withColumn("contact_status", status)
        in_audience = F.col("contact_status") == CONTACT
        per_product = Window.partitionBy("as_of_date", "product_code", in_audience).orderBy(
            F.col("probability").desc(), F.col(KEY).asc())
        audience_rank = F.when(in_audience, F.row_number().over(per_product))
        return (capped.withColumn("audience_rank", audience_rank.cast("int"))
                .drop("_opted_out", "eligible"))

    return transform


def contact_status_counts(rankings: DataFrame) -> DataFrame:
    """Per product: the number of scored clients in each contact status (one column each)."""
    return (rankings.groupBy("product_code").pivot("contact_status", list(CONTACT_STATUSES))
            .agg(F.count(F.lit(1))).na.fill(0, list(CONTACT_STATUSES)))
