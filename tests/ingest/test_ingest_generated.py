"""Ingest end to end on generated ``tiny`` data: the count identity per batch, and quarantine
reasons and dropped duplicates equal to the dirt the generator planted (its dirt manifest)."""
from __future__ import annotations

import pytest
from chispa import assert_df_equality
from conftest import make_config
from pyspark.sql import functions as F

from segrec_spark.ingest import job
from segrec_spark.tables import read_table, table_path

generate = pytest.importorskip("segrec_spark.generate.job", reason="generator not available")

# A subset keeps the test to a few batches: CSV with anonymous visitors (web), Parquet
# (app_logins), a date-timed source (prodeje) and the client snapshot.
SOURCES = ["web", "app_logins", "prodeje", "clients"]
DELIVERY = "2026-01"



def test_generated_tiny_data_counts_add_up_and_reasons_match_the_planted_dirt(spark, tmp_path):
    cfg = make_config(tmp_path, "generator.scale=tiny", "generator.dirt_rate=0.02",
                      "ingest.unknown_category=reject")
    generate.run(spark, cfg)
    rows = job.run(spark, cfg, SOURCES, [DELIVERY])

    audit = spark.createDataFrame(rows, job.AUDIT_SCHEMA)
    adds_up = (F.col("rows_accepted") + F.col("rows_quarantined") + F.col("duplicates_dropped")
               == F.col("rows_read"))
    assert audit.filter(~adds_up).count() == 0
    assert sorted(r["source"] for r in rows) == sorted(SOURCES)

    truth = cfg.paths.ground_truth
    in_scope = F.col("source").isin(*SOURCES) & (F.col("delivery") == DELIVERY)
    landing_rows = spark.read.parquet(f"{truth}/landing_rows").filter(in_scope)
    assert_df_equality(audit.select("source", "delivery", F.col("rows_read").alias("rows")),
                       landing_rows, ignore_row_order=True, ignore_nullable=True)

    manifest = (spark.read.parquet(f"{truth}/dirt_manifest")
                .filter(in_scope & (F.col("planted_rows") > 0)))
    quarantined = (read_table(spark, table_path(cfg.paths.root, "ops", "quarantine"))
                   .groupBy("source", "delivery", "reason")
                   .agg(F.count(F.lit(1)).alias("planted_rows")))
    duplicates = audit.filter(F.col("duplicates_dropped") > 0).select(
        "source", "delivery", F.lit("DUPLICATE").alias("reason"),
        F.col("duplicates_dropped").alias("planted_rows"))
    assert manifest.count() >= 8  # the tiny data really carries several kinds of dirt
    assert_df_equality(quarantined.unionByName(duplicates), manifest,
                       ignore_row_order=True, ignore_nullable=True)
