"""Campaign contacts, the clients table and the marketing consent of the synthetic bank."""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segrec_spark.generate.bank import PRODUCTS
from segrec_spark.generate.events import (
    TOPIC_LEAD_DAYS,
    Period,
    _client_ref,
    _count,
    _explode_index,
    _seq_id,
    by_area,
    delivery,
)
from segrec_spark.generate.population import need_column
from segrec_spark.generate.randomness import sigmoid, uniform, with_pick
from segrec_spark.generate.truth import intent, month_index

# --- campaigns --------------------------------------------------------------------------------

CAMPAIGN_CHANNEL_WEIGHTS: list[tuple[str, float]] = [("email", 0.45), ("sms", 0.2),
                                                     ("push", 0.15), ("call", 0.2)]


def campaign_contacts(seed: int, period: Period):
    """Factory: clients -> camp: the bank targets products by need (a crude model of its own);
    opens follow digital affinity, clicks and conversions follow the client's intent."""

    def transform(clients: DataFrame) -> DataFrame:
        cid = F.col("client_id")
        n = _count(F.col("camp_rate"), seed, "camp_n", cid)
        rows = _explode_index(clients, n, "contact_no")
        key = F.concat_ws(":", F.lit("camp"), cid.cast("string"),
                          F.col("contact_no").cast("string"))
        ts = period.timestamp(uniform(seed, "camp_ts", key), margin_seconds=3600)
        weights: list[tuple[str, Column | float]] = [
            (p, F.exp(F.lit(0.5) * F.col(need_column(p)))
             * F.when(F.col(f"held_{p.lower()}"), 0.2).otherwise(1.0))
            for p in PRODUCTS]
        with_key = rows.select("*", key.alias("contact_key")).select("*", ts.alias("contact_ts"))
        ck = F.col("contact_key")
        target = F.least(month_index(F.date_add(F.to_date("contact_ts"), TOPIC_LEAD_DAYS),
                                     period.start),
                         F.lit(period.months))
        with_product = (with_key.transform(with_pick("product_code",
                                                     uniform(seed, "camp_product", ck), weights))
                        .transform(with_pick("channel", uniform(seed, "camp_channel", ck),
                                             [(c, float(w)) for c, w in CAMPAIGN_CHANNEL_WEIGHTS]))
                        .select("*", target.alias("target")))
        x = by_area(F.col("product_code"), lambda p: intent(seed, p, F.col("target")), F.lit(0.0))
        opened = (uniform(seed, "camp_open", ck)
                  < sigmoid(F.lit(-0.2) + F.lit(0.8) * F.col("digital_z")))
        clicked = F.col("opened") & (uniform(seed, "camp_click", ck) < sigmoid(F.col("x") - 1.5))
        converted = (F.col("clicked")
                     & (uniform(seed, "camp_convert", ck) < sigmoid(F.col("x") - 2.0)))
        outcome = (F.when(F.col("converted"), "CONVERTED").when(F.col("clicked"), "CLICKED")
                   .when(F.col("opened"), "OPENED").otherwise("SENT"))
        typed = (with_product.select("*", x.alias("x"), opened.alias("opened"))
                 .select("*", clicked.alias("clicked")).select("*", converted.alias("converted")))
        return typed.select(
            _seq_id("C", _client_ref(cid), F.col("contact_no")).alias("contact_id"),
            F.col("identity_id_hash"),
            F.concat(F.lit("CMP-"), F.date_format("contact_ts", "yyyyMM"), F.lit("-"),
                     F.col("product_code"), F.lit("-"), F.col("channel")).alias("campaign_id"),
            F.col("product_code"),
            F.col("contact_ts"),
            F.col("channel"),
            outcome.alias("outcome"),
            cid,
            delivery(F.col("contact_ts")).alias("_delivery"),
        )

    return transform


# --- clients ----------------------------------------------------------------------------------

def client_attributes(start: dt.date):
    """Factory: clients -> the clients snapshot (products held at ``start``)."""

    def transform(clients: DataFrame) -> DataFrame:
        held = F.array_compact(F.array(*[F.when(F.col(f"held_{p.lower()}"), F.lit(p))
                                         for p in PRODUCTS]))
        return clients.select(
            F.col("identity_id_hash"),
            F.col("age_band"),
            F.col("region"),
            F.col("income_band"),
            F.col("tenure_months"),
            held.alias("products_held"),
            F.lit(start).alias("snapshot_date"),
            F.col("client_id"),
            F.lit(start.strftime("%Y-%m")).alias("_delivery"),
        )

    return transform


# --- consent ----------------------------------------------------------------------------------

OPT_OUT_SHARE = 0.06  # clients who refuse marketing contact at the start of the period
CONSENT_CHANGE_SHARE = 0.08  # clients who change their mind once during the period


def consent_records(seed: int, period: Period):
    """Factory: clients -> consent: every client's marketing consent at the start of the period
    (``OPT_OUT_SHARE`` opted out) and, for ``CONSENT_CHANGE_SHARE`` of them, one later change to
    the opposite, at a uniform time of the period (delivered in that month)."""

    def transform(clients: DataFrame) -> DataFrame:
        cid = F.col("client_id")
        initially_out = uniform(seed, "consent_initial", cid) < F.lit(OPT_OUT_SHARE)
        changes = uniform(seed, "consent_change", cid) < F.lit(CONSENT_CHANGE_SHARE)
        start = F.lit(dt.datetime.combine(period.start, dt.time())).cast("timestamp")
        first = clients.select(cid, "identity_id_hash", start.alias("consent_ts"),
                               initially_out.alias("opted_out"), F.lit(0).alias("change_no"))
        later = clients.filter(changes).select(
            cid, "identity_id_hash",
            period.timestamp(uniform(seed, "consent_ts", cid)).alias("consent_ts"),
            (~initially_out).alias("opted_out"), F.lit(1).alias("change_no"))
        return first.unionByName(later).select(
            _seq_id("K", _client_ref(cid), F.col("change_no")).alias("consent_id"),
            F.col("identity_id_hash"),
            F.col("consent_ts"),
            F.when(F.col("opted_out"), "Y").otherwise("N").alias("marketing_opt_out"),
            cid,
            delivery(F.col("consent_ts")).alias("_delivery"),
        )

    return transform
