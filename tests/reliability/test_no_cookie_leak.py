"""No raw cookie id beyond what the bank delivered (issue 9).

A column of role ``cookie`` (the synthetic bank's web ``user_id``) is a cookie id. It stays where
the bank delivered it (bronze.web, the raw records in ops.quarantine) and where identity stitching
needs it (silver.events, silver.identity_map, as the canonical ``user_id``). No gold table, which
is what marketing and BI read, has a cookie column, and no module that trains on or publishes
gold outputs refers to one. These are checks on the schemas the code builds (analysis only, no
Spark job), not on a pipeline run. Logs carry counts, never delivered values: test_bad_input.py::test_logs_carry_counts_but_no_delivered_values.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from pyspark.sql import types as T

from segrec_spark.contract import load_contract
from segrec_spark.features.client_features import KEY_COLUMNS, client_features, fact_schema
from segrec_spark.features.definitions import feature_definitions
from segrec_spark.features.labels import LABEL_COLUMNS
from segrec_spark.features.settings import FeatureSettings
from segrec_spark.features.silver import EVENT_COLUMNS, SESSION_COLUMNS
from segrec_spark.ingest.schema import BRONZE_METADATA_COLUMNS
from segrec_spark.scoring.publish import RANKING_COLUMNS, next_best_offers

COOKIE = re.compile(r"user_id|cookie", re.IGNORECASE)
PACKAGE = Path(__file__).resolve().parents[2] / "segrec_spark"
CONTRACT = load_contract(PACKAGE.parent / "conf" / "contracts" / "synthetic_bank.yaml")
EVENT_TYPES = {"event_ts": T.TimestampType(), "event_date": T.DateType(),
               "duration_sec": T.DoubleType(), "session_start_ts": T.TimestampType()}


def cookie_columns(columns) -> list[str]:
    return [c for c in columns if COOKIE.search(c)]


def empty(spark, schema: T.StructType):
    return spark.createDataFrame([], schema)


def bronze_schema(source: str) -> T.StructType:
    return T.StructType([*CONTRACT.sources[source].bronze_data_schema.fields,
                         *BRONZE_METADATA_COLUMNS.fields])


def test_the_cookie_id_is_delivered_in_web_only():
    assert [name for name, s in CONTRACT.sources.items() if s.role_column("cookie")] == ["web"]
    assert [name for name, s in CONTRACT.sources.items()
            if cookie_columns(s.column_names)] == ["web"]
    assert "user_id" in EVENT_COLUMNS  # silver keeps it for identity stitching


def test_gold_client_features_have_no_cookie_column(spark):
    """gold.client_features as client_features() builds it from silver events carrying user_id."""
    events = empty(spark, T.StructType(
        [T.StructField(c, EVENT_TYPES.get(c, T.StringType()))
         for c in (*EVENT_COLUMNS, *SESSION_COLUMNS)]))
    features = client_features(events, empty(spark, bronze_schema("camp")),
                               empty(spark, bronze_schema("prodeje")),
                               empty(spark, bronze_schema("clients")),
                               dt.date(2026, 3, 1), FeatureSettings(), CONTRACT)
    defs = feature_definitions(FeatureSettings(), CONTRACT)
    assert features.columns == [*KEY_COLUMNS, *(d.name for d in defs)]
    assert cookie_columns(features.columns) == []
    assert cookie_columns(fact_schema(CONTRACT).fieldNames()) == []  # gone before aggregation
    # a text feature could carry an id in its values: the only text features are the
    # contract's categorical attributes (a cookie column can never be one: role cookie)
    categorical = [c.name for c in CONTRACT.sources["clients"].columns if c.role == "categorical"]
    assert sorted(d.name for d in defs if d.dtype == "string") == sorted(categorical)


def test_gold_labels_rankings_and_offers_have_no_cookie_column(spark):
    assert cookie_columns(LABEL_COLUMNS) == []
    assert cookie_columns(RANKING_COLUMNS) == []
    rankings = empty(spark, T.StructType([
        T.StructField(c, T.DoubleType() if c == "probability" else
                      T.DateType() if c == "as_of_date" else T.StringType())
        for c in RANKING_COLUMNS]))
    offers = next_best_offers(rankings, 3)
    assert "identity_id_hash" in offers.columns
    assert cookie_columns(offers.columns) == []


def test_modules_that_train_and_publish_never_name_a_cookie_column():
    """gold.client_segments, segment_profiles, model_metrics, rankings and next_best_offer are
    built in these packages from gold.client_features: none of them names a cookie column."""
    hits = [f"{path.relative_to(PACKAGE)}:{n}"
            for package in ("segmentation", "propensity", "scoring")
            for path in sorted((PACKAGE / package).glob("*.py"))
            for n, line in enumerate(path.read_text().splitlines(), 1)
            if COOKIE.search(line)]
    assert hits == []
