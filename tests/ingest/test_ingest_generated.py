"""Ingest end to end on generated data (the shared e2e run: every source, every delivery): the
count identity per batch, rows read equal to the rows the generator wrote, and quarantine
reasons, flagged unknown categories and dropped duplicates equal to the dirt the generator
planted (its dirt manifest)."""
from __future__ import annotations

from functools import reduce

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segrec_spark.tables import read_table, table_path

pytestmark = [pytest.mark.e2e, pytest.mark.integration]  # the shared run: `make test-slow`


def test_generated_data_counts_add_up_and_reasons_match_the_planted_dirt(spark, e2e):
    cfg, _ = e2e
    root, truth = cfg.paths.root, cfg.paths.ground_truth
    audit = read_table(spark, table_path(root, "ops", "ingest_audit"))
    adds_up = (F.col("rows_accepted") + F.col("rows_quarantined") + F.col("duplicates_dropped")
               == F.col("rows_read"))
    assert audit.filter(~adds_up).count() == 0

    landing_rows = spark.read.parquet(f"{truth}/landing_rows")
    assert_df_equality(audit.select("source", "delivery", F.col("rows_read").alias("rows")),
                       landing_rows, ignore_row_order=True, ignore_nullable=True)

    manifest = spark.read.parquet(f"{truth}/dirt_manifest").filter(F.col("planted_rows") > 0)
    quarantined = (read_table(spark, table_path(root, "ops", "quarantine"))
                   .groupBy("source", "delivery", "reason")
                   .agg(F.count(F.lit(1)).alias("planted_rows")))
    duplicates = audit.filter(F.col("duplicates_dropped") > 0).select(
        "source", "delivery", F.lit("DUPLICATE").alias("reason"),
        F.col("duplicates_dropped").alias("planted_rows"))
    # ingest.unknown_category=flag (the default): such rows are kept in bronze, flagged.
    sources = [r["source"] for r in landing_rows.select("source").distinct().collect()]
    flagged: list[DataFrame] = [
        read_table(spark, table_path(root, "bronze", s)).filter("_has_unknown_category")
        .groupBy(F.lit(s).alias("source"), F.col("_delivery").alias("delivery"),
                 F.lit("UNKNOWN_CATEGORY").alias("reason"))
        .agg(F.count(F.lit(1)).alias("planted_rows"))
        for s in sources]
    found = reduce(DataFrame.unionByName, [quarantined, duplicates, *flagged])
    assert manifest.select("reason").distinct().count() >= 6  # several kinds of dirt planted
    assert_df_equality(found, manifest, ignore_row_order=True, ignore_nullable=True)
