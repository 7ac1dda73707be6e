"""A second bank, unlike the synthetic one: other channels, products, areas, names and attributes.

The contract is built in the test (contract_from_dict): events from a branch visit log (dates, no
event id, no cookie) and a mobile log (a cookie, a passive notification type, durations as long),
three products whose codes are not their product areas, a sales table with its own status values,
no campaigns source, and a clients table with a numeric attribute that has nulls and a
categorical one.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from chispa import assert_df_equality

from segrec_spark.contract import contract_from_dict
from segrec_spark.features.client_features import KEY_COLUMNS, client_features, client_snapshot
from segrec_spark.features.conform import conform
from segrec_spark.features.definitions import attribute_features, feature_definitions
from segrec_spark.features.labels import labels
from segrec_spark.features.settings import FeatureSettings
from segrec_spark.typed_yaml import ConfigError
from tests.features.conftest import bronze, d, silver_events

AS_OF = d("2026-03-01")
SETTINGS = FeatureSettings(windows=(7,))


def _col(name: str, type_: str, role: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "role": role, **extra}


def other_bank(static_clients: bool = False, **clients_extra: Any) -> dict[str, Any]:
    return {
        "name": "other_bank",
        "key": {"column": "client_no", "pattern": "^k[0-9]+$"},
        "products": [{"code": "Hypo", "area": "housing"}, {"code": "CARD_X", "area": "cards"},
                     {"code": "depo", "area": "saving"}],
        "extra_areas": ["misc"],
        "label_statuses": ["done"],
        "sources": {
            "visits": {"kind": "events", "channel": "branch", "columns": [
                _col("client_no", "key", "key"), _col("visit_day", "date", "time"),
                _col("topic", "category", "product_area"),
                _col("clerk", "string", "ignore", nullable=True)]},
            "mobile_log": {"kind": "events", "channel": "mobile", "format": "parquet",
                           "passive_event_types": ["notif"], "columns": [
                _col("device_cookie", "string", "cookie", nullable=True),
                _col("client_no", "key", "key", nullable=True), _col("at", "timestamp", "time"),
                _col("what", "category", "event_type", values=["tap", "notif"]),
                _col("area", "category", "product_area"),
                _col("secs", "long", "duration", nullable=True)]},
            "contracts": {"kind": "sales", "columns": [
                _col("client_no", "key", "key"), _col("prod", "category", "product"),
                _col("sign_dt", "date", "time"),
                _col("state", "category", "status", values=["done", "open"]),
                _col("value", "double", "amount", nullable=True)]},
            "people": {"kind": "clients", "columns": [
                _col("client_no", "key", "key"),
                *([] if static_clients else [_col("as_at", "date", "time")]),
                _col("income", "double", "numeric", nullable=True),
                _col("segment_code", "category", "categorical", values=["A", "B"],
                     nullable=True),
                _col("owned", "list", "holdings", nullable=True),
                _col("note", "string", "ignore", nullable=True),
                *clients_extra.get("columns", [])]},
        },
    }


OTHER = contract_from_dict(other_bank(), "other_bank.yaml")
DEFAULTS = {"visits": {"topic": "misc"}, "mobile_log": {"what": "tap", "area": "misc"},
            "contracts": {"state": "done"}}

VISITS = [dict(client_no="k1", visit_day="2026-02-27", topic="housing"),
          dict(client_no="k1", visit_day="2026-03-01", topic="housing")]  # on as_of: out
MOBILE = [
    # k2 taps anonymously on cookie m1, then logs in a minute later: one session, 60 s + 10 s
    dict(device_cookie="m1", at="2026-02-26 10:00:00", area="cards", secs=5),
    dict(device_cookie="m1", client_no="k2", at="2026-02-26 10:01:00", area="saving", secs=10),
    dict(client_no="k2", at="2026-02-26 12:00:00", what="notif", area="cards"),  # passive
]
SALES = [
    dict(client_no="k1", prod="Hypo", sign_dt="2026-02-10", value=1000.0),
    dict(client_no="k2", prod="depo", sign_dt="2026-02-15", state="open"),  # not a take-up
    dict(client_no="k2", prod="CARD_X", sign_dt="2026-03-05"),  # label window
]
PEOPLE = [
    dict(client_no="k1", as_at="2026-02-01", income=3000.0, segment_code="A", owned=["CARD_X"]),
    dict(client_no="k1", as_at="2026-03-10", income=9999.0, segment_code="B",
         owned=["CARD_X", "depo"]),  # after as_of: never used
    dict(client_no="k2", as_at="2026-02-01", income=None, segment_code=None, owned=None),
    dict(client_no="k3", as_at="2026-01-15", income=1500.0, segment_code="B", owned=[]),
]


@pytest.fixture(scope="module")
def features(spark):
    events = silver_events(spark, SETTINGS, OTHER, DEFAULTS, visits=VISITS, mobile_log=MOBILE)
    df = client_features(events, None, bronze(spark, "contracts", SALES, OTHER, DEFAULTS),
                         bronze(spark, "people", PEOPLE, OTHER, DEFAULTS), AS_OF, SETTINGS,
                         OTHER)
    return spark.createDataFrame(df.collect(), df.schema)


def test_columns_come_from_the_contract(features):
    channel = ["events_7d", "active_days_7d", "sessions_7d", "avg_session_sec_7d",
               "recency_days"]
    products = ("hypo", "card_x", "depo")
    assert features.columns == [
        *KEY_COLUMNS,
        *(f"{c}_{m}" for c in ("branch", "mobile") for m in channel),
        *(f"interest_{p}_7d" for p in products),  # no campaigns source: no camp_* features
        *(f"agr_{p}_{m}" for p in products for m in ("count", "recency_days", "amount")),
        *(f"holds_{p}" for p in products),
        "has_digital_activity", "income", "segment_code",
    ]
    types = dict(features.dtypes)
    assert (types["income"], types["segment_code"], types["holds_hypo"]) == (
        "double", "string", "int")
    assert attribute_features(feature_definitions(SETTINGS, OTHER)) == (("income",),
                                                                        ("segment_code",))


def test_values_on_a_tiny_frame(features, spark):
    columns = ["client_no", "branch_events_7d", "branch_recency_days", "mobile_events_7d",
               "mobile_sessions_7d", "mobile_avg_session_sec_7d", "interest_hypo_7d",
               "interest_card_x_7d", "interest_depo_7d", "agr_hypo_count", "agr_hypo_amount",
               "agr_depo_count", "holds_hypo", "holds_card_x", "holds_depo",
               "has_digital_activity", "income", "segment_code"]
    expected = spark.createDataFrame([
        # k1: a branch visit on 02-27 (a date: midnight), a Hypo sale, CARD_X in its 02-01
        # snapshot; the 03-10 snapshot (income 9999, segment B, depo) is after as_of
        ("k1", 1, 2, 0, 0, 0.0, 1, 0, 0, 1, 1000.0, 0, 1, 1, 0, 1, 3000.0, "A"),
        # k2: its anonymous tap stitched through the cookie (cards), the notif left out;
        # unknown income stays NULL, unknown segment is UNKNOWN; the open depo sale is no take-up
        ("k2", 0, 8, 2, 1, 70.0, 0, 1, 1, 0, 0.0, 0, 0, 0, 0, 1, None, "UNKNOWN"),
        # k3: only in the clients table
        ("k3", 0, 8, 0, 0, 0.0, 0, 0, 0, 0, 0.0, 0, 0, 0, 0, 0, 1500.0, "B"),
    ], "k string, a int, b int, c int, e int, f double, g int, h int, i int, j int, "
       "l double, m int, n int, o int, p int, q int, r double, s string").toDF(*columns)
    actual = features.withColumnRenamed("identity_id_hash", "client_no").select(*columns)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_labels_use_the_contract_catalogue_and_statuses(features, spark):
    actual = labels(features, bronze(spark, "contracts", SALES, OTHER, DEFAULTS), AS_OF, 30,
                    OTHER.label_statuses, OTHER)
    positives = actual.filter("label = 1").select("identity_id_hash", "product_code")
    assert_df_equality(positives, spark.createDataFrame([("k2", "CARD_X")], "a string, b string")
                       .toDF("identity_id_hash", "product_code"), ignore_nullable=True)
    assert actual.count() == 3 * 3 - 2  # k1 holds Hypo and CARD_X


@pytest.mark.parametrize("name", ["holds_hypo", "HAS_DIGITAL_ACTIVITY", "products_held"])
def test_an_attribute_named_like_a_feature_is_refused(name):
    contract = contract_from_dict(other_bank(columns=[_col(name, "int", "numeric")]),
                                  "other_bank.yaml")
    with pytest.raises(ConfigError, match=f"sources.people.columns: attribute '{name}' "
                                          f"collides with"):
        feature_definitions(SETTINGS, contract)


def test_product_codes_that_differ_only_in_case_are_refused():
    contract = dataclasses.replace(OTHER, products=(*OTHER.products,
                                                    dataclasses.replace(OTHER.products[0],
                                                                        code="HYPO")))
    with pytest.raises(ConfigError, match="feature names .* are not unique"):
        feature_definitions(SETTINGS, contract)


def test_a_clients_table_without_a_time_column_is_static(spark):
    contract = contract_from_dict(other_bank(static_clients=True), "other_bank.yaml")
    people = bronze(spark, "people", [dict(client_no="k1", income=2.5, segment_code="B",
                                           owned=["depo"])], contract, DEFAULTS)
    snapshot = client_snapshot(conform(people, contract.sources["people"], contract), AS_OF)
    assert [tuple(r) for r in snapshot.collect()] == [("k1", None, ["depo"], 2.5, "B")]
