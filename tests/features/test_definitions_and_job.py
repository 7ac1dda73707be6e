"""Feature registry and dictionary, as-of dates, settings checks, and the job end to end."""
from __future__ import annotations

import re

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from segrec_spark.errors import InputDataError, MissingTableError
from segrec_spark.features import job
from segrec_spark.features.definitions import dictionary_markdown, feature_definitions
from segrec_spark.features.settings import FeatureSettings
from segrec_spark.tables import read_table, table_path
from segrec_spark.typed_yaml import ConfigError
from tests.conftest import make_config
from tests.features.conftest import SYNTHETIC, bronze, d, with_products


def test_registry_names_follow_the_column_contract():
    names = [f.name for f in feature_definitions(FeatureSettings(windows=(7,)),
                                                 with_products(SYNTHETIC, ("MORTGAGE",)))]
    channel = ["events_7d", "active_days_7d", "sessions_7d", "avg_session_sec_7d", "recency_days"]
    assert names == [
        *(f"{c}_{m}" for c in ("web", "app", "ib") for m in channel),
        "interest_mortgage_7d",
        "camp_contacts_7d", "camp_opens_7d", "camp_clicks_7d", "camp_conversions_7d",
        "camp_engagement_rate_7d",
        "agr_mortgage_count", "agr_mortgage_recency_days", "agr_mortgage_amount",
        "holds_mortgage", "has_digital_activity", "age_band", "region", "income_band",
        "tenure_months",
    ]


def test_markdown_dictionary_lists_every_feature_with_its_window():
    defs = feature_definitions(FeatureSettings(windows=(7, 30)),
                               with_products(SYNTHETIC, ("PENSION",)))
    text = dictionary_markdown(defs)
    assert ("| `web_events_30d` | web events in the last 30 days | 30 | "
            "silver.events (channel web) | web | int |") in text
    assert "| `agr_pension_recency_days` |" in text
    assert all(f"| `{f.name}` |" in text for f in defs)


@pytest.mark.parametrize(("override", "message"), [
    ("features.identity_resolution=loudest", "features.identity_resolution: expected one of"),
    ("features.label_statuses=[SIGNED, SOLD]",
     "features.label_statuses: unknown status(es) ['SOLD']"),
    ("features.windows=[7, 7]", "features.windows: must not repeat a window"),
])
def test_bad_feature_settings_are_named(tmp_path, override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        make_config(tmp_path, override)


def test_bad_as_of_argument_is_named():  # job.parse_as_of: re-exported for the other stages
    with pytest.raises(ConfigError, match="--as-of: expected a date YYYY-MM-DD, found '03/01'"):
        job.parse_as_of("03/01")


BRONZE = {
    "web": [dict(user_id="u1", event_ts="2026-02-25 10:00:00", page_category="MORTGAGE"),
            dict(user_id="u1", identity_id_hash="c1", event_ts="2026-02-25 10:05:00")],
    "app_screens": [dict(identity_id_hash="c2", event_ts="2026-02-26 08:00:00")],
    "ib": [dict(identity_id_hash="c2", event_ts="2026-03-20 08:00:00")],
    "camp": [],
    "prodeje": [dict(identity_id_hash="c1", product_code="MORTGAGE", signed_date="2026-03-10"),
                dict(identity_id_hash="c2", product_code="SAVINGS", signed_date="2026-02-01"),
                # the data reaches the last day of March: March is complete, E = 04-01
                dict(identity_id_hash="c2", product_code="SAVINGS", signed_date="2026-03-31",
                     status="PENDING")],
}


def _write_bronze(spark, root: str) -> None:
    for source in SYNTHETIC.sources:
        if source == "clients":  # optional: its features are UNKNOWN / NULL
            continue
        df = bronze(spark, source, BRONZE.get(source, []))
        df = df.withColumn("event_date", F.to_date(SYNTHETIC.sources[source].time_column))
        df.write.format("delta").mode("overwrite").save(table_path(root, "bronze", source))


@pytest.mark.integration  # the stage run twice on one lake
def test_job_writes_silver_gold_and_dictionary_idempotently(spark, tmp_path):
    cfg = make_config(tmp_path, "features.windows=[7]")
    with pytest.raises(MissingTableError, match="bronze.web: no Delta table at"):
        job.run(spark, cfg, [d("2026-03-01")])
    _write_bronze(spark, cfg.paths.root)
    dates = [d("2026-03-01"), d("2026-04-01")]  # the second has no label window in the data
    assert job.run(spark, cfg, dates) == dates
    job.run(spark, cfg, dates[:1])  # re-run one slice: replaced, not duplicated

    root = cfg.paths.root
    features = read_table(spark, table_path(root, "gold", "client_features"))
    expected = spark.createDataFrame([
        (d("2026-03-01"), "c1", 2, 1, 1, 0, "UNKNOWN"),  # anonymous MORTGAGE page stitched
        (d("2026-03-01"), "c2", 0, 0, 1, 1, "UNKNOWN"),  # app on 02-26
        (d("2026-04-01"), "c1", 0, 0, 0, 0, "UNKNOWN"),
        (d("2026-04-01"), "c2", 0, 0, 0, 1, "UNKNOWN"),  # ib on 03-20: older than 7 days
    ], "as_of_date date, identity_id_hash string, web_events_7d int, interest_mortgage_7d int, "
       "has_digital_activity int, holds_savings int, region string")
    assert_df_equality(features.select(*expected.columns), expected, ignore_row_order=True,
                       ignore_nullable=True)

    positives = (spark.table("gold.labels").filter(F.col("label") == 1)
                 .select("as_of_date", "identity_id_hash", "product_code"))
    assert_df_equality(positives, spark.createDataFrame(
        [(d("2026-03-01"), "c1", "MORTGAGE")],
        "as_of_date date, identity_id_hash string, product_code string"), ignore_nullable=True)
    per_slice = spark.table("gold.labels").groupBy("as_of_date").count()
    assert_df_equality(per_slice, spark.createDataFrame(
        [(d("2026-03-01"), 15)], "as_of_date date, count long"),  # 2 clients x 8 - c2 savings
        ignore_nullable=True)

    identity = spark.table("silver.identity_map").select("user_id", "identity_id_hash")
    assert_df_equality(identity, spark.createDataFrame([("u1", "c1")], "user_id string, "
                                                       "identity_id_hash string"),
                       ignore_nullable=True)
    dictionary = spark.table("gold.feature_dictionary")
    assert sorted(r.name for r in dictionary.collect()) == sorted(
        c for c in features.columns if c not in ("as_of_date", "identity_id_hash"))
    assert (tmp_path / "reports" / "feature_dictionary.md").read_text().startswith(
        "# Feature dictionary")

    # the calendar from the same bronze tables: data 02-01..03-31, E = 04-01
    assert job.data_bounds(spark, cfg) == (d("2026-02-01"), d("2026-03-31"))
    assert job.default_as_of_dates(cfg) == (d("2026-01-31"), d("2026-03-02"), d("2026-04-01"))
    longer = make_config(tmp_path, "features.windows=[7, 60]")  # 60 + 30 days > 59 days of data
    with pytest.raises(InputDataError, match="need 90 days .* found 59 days"):
        job.run(spark, longer)
