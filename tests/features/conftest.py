"""Hand-written bronze-shaped frames for the features tests (columns from a data contract)."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from segrec_spark.contract import SYNTHETIC_CONTRACT, Contract, load_contract
from segrec_spark.features.settings import FeatureSettings
from segrec_spark.features.silver import sessionize, unify_events

SYNTHETIC: Contract = load_contract(SYNTHETIC_CONTRACT)
APP_SOURCES = ("app_logins", "app_screens", "app_actions", "app_push")

DEFAULTS: dict[str, dict[str, Any]] = {
    "web": {"page_category": "GENERAL", "event_type": "page_view", "device_type": "desktop"},
    "ib": {"event_type": "login", "product_area": "GENERAL"},
    "prodeje": {"status": "SIGNED", "amount": 100.0, "sales_channel": "branch"},
    "camp": {"campaign_id": "cmp", "channel": "email", "outcome": "SENT"},
    "clients": {"snapshot_date": "2026-01-01", "products_held": []},
    **{s: {"event_type": "screen_view", "product_area": "GENERAL", "os": "ios"}
       for s in APP_SOURCES},
}
DEFAULTS["app_logins"]["event_type"] = "login"
DEFAULTS["app_actions"]["event_type"] = "payment"
DEFAULTS["app_push"]["event_type"] = "push_opened"


def with_products(contract: Contract, codes: Sequence[str]) -> Contract:
    """``contract`` with its catalogue cut to ``codes`` (in catalogue order)."""
    return dataclasses.replace(contract, products=tuple(p for p in contract.products
                                                        if p.code in codes))


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _value(kind: str, value: Any) -> Any:
    if isinstance(value, str) and kind == "timestamp":
        return ts(value)
    if isinstance(value, str) and kind == "date":
        return d(value)
    return value


def bronze(spark: SparkSession, source: str, rows: Sequence[Mapping[str, Any]],
           contract: Contract = SYNTHETIC,
           defaults: Mapping[str, Mapping[str, Any]] = DEFAULTS) -> DataFrame:
    """A bronze-shaped frame (typed data columns of ``contract``'s ``source``) of ``rows``;
    unnamed columns get ``defaults`` or NULL, a missing row id a generated one."""
    spec = contract.sources[source]
    id_column = spec.role_column("event_id")
    data = []
    for counter, row in enumerate(rows, 1):
        full = {**defaults.get(source, {}), **row}
        if id_column and id_column not in row:
            full[id_column] = f"{source}-{counter}"
        data.append(tuple(_value(c.type, full.get(c.name)) for c in spec.columns))
    return spark.createDataFrame(data, spec.bronze_data_schema)


def silver_events(spark: SparkSession, settings: FeatureSettings | None = None,
                  contract: Contract = SYNTHETIC,
                  defaults: Mapping[str, Mapping[str, Any]] = DEFAULTS,
                  **rows: Sequence[Mapping[str, Any]]) -> DataFrame:
    """silver.events (unified + sessionized) from hand-written rows per bronze events source."""
    settings = settings or FeatureSettings()
    frames = {s.name: bronze(spark, s.name, rows.get(s.name, ()), contract, defaults)
              for s in contract.of_kind("events")}
    events = unify_events(frames, contract).transform(sessionize(settings.session_gap_minutes))
    # Materialized (a few rows) like the silver Delta table the job reads, so the plans of the
    # gold tests do not repeat the sessionization in every branch.
    return spark.createDataFrame(events.collect(), events.schema)


@pytest.fixture
def settings() -> FeatureSettings:
    return FeatureSettings(windows=(7, 30))
