"""The source data contract (DESIGN.md section 1): what the bank delivers and what bronze holds.

This module is the single place that names the landing sources, their columns, the value sets
of their categorical columns, the landing layout and the quarantine reasons. The generator
writes exactly this; ingest validates against exactly this; features read the typed bronze
columns listed here.

Landing layout (one folder per source and delivery month)::

    <landing>/<source>/<YYYY-MM>/part-*.csv        (web, ib, prodeje, camp, clients)
    <landing>/<source>/<YYYY-MM>/part-*.parquet    (app_logins, app_screens, app_actions, app_push)

All landing columns are delivered as text (CSV with a header, comma-delimited, UTF-8; the app's
Parquet files carry string columns too, as the app-analytics export does), so bad values can
reach ingest and be quarantined there. Timestamps are ``yyyy-MM-dd HH:mm:ss`` (UTC), dates
``yyyy-MM-dd``, numbers use a decimal point.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pyspark.sql import types as T

# --- value sets -------------------------------------------------------------------------------

PRODUCTS: tuple[str, ...] = (
    "MORTGAGE",
    "CONSUMER_LOAN",
    "CREDIT_CARD",
    "SAVINGS",
    "INVESTMENT_FUND",
    "LIFE_INSURANCE",
    "PROPERTY_INSURANCE",
    "PENSION",
)
# Product areas of pages, screens and ib events: one per product plus general banking.
PRODUCT_AREAS: tuple[str, ...] = (*PRODUCTS, "GENERAL")

CHANNELS: tuple[str, ...] = ("web", "app", "ib")

WEB_EVENT_TYPES = ("page_view", "search", "calculator", "form_start", "form_submit")
WEB_DEVICES = ("desktop", "mobile", "tablet")
APP_EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "app_logins": ("login", "login_failed"),
    "app_screens": ("screen_view",),
    "app_actions": ("payment", "transfer", "product_view", "calculator", "apply_start"),
    "app_push": ("push_sent", "push_opened"),
}
APP_OS = ("ios", "android")
IB_EVENT_TYPES = ("login", "payment", "transfer", "product_view", "statement_download",
                  "apply_start")
AGREEMENT_STATUSES = ("SIGNED", "ACTIVATED", "PENDING", "CANCELLED")
SALES_CHANNELS = ("branch", "web", "app", "ib", "call_center")
CAMPAIGN_CHANNELS = ("email", "sms", "push", "call")
# The furthest funnel step a contact reached: SENT < OPENED < CLICKED < CONVERTED.
CAMPAIGN_OUTCOMES = ("SENT", "OPENED", "CLICKED", "CONVERTED")
AGE_BANDS = ("18-25", "26-35", "36-45", "46-55", "56-65", "66+")
INCOME_BANDS = ("LOW", "MID", "HIGH", "VERY_HIGH")
REGIONS = ("PRG", "STC", "JHC", "PLK", "KVK", "ULK", "LBK", "HKK", "PAK", "VYS", "JHM", "OLK",
           "ZLK", "MSK")

TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss"
DATE_FORMAT = "yyyy-MM-dd"
KEY_PATTERN = "^[0-9a-f]{64}$"  # identity_id_hash: 64 lower-case hex characters (SHA-256)
UNKNOWN = "UNKNOWN"  # replaces an unknown category value when ingest keeps the row

# Quarantine reasons, shared by the generator's dirt manifest and ingest's quarantine table.
Reason = Literal[
    "MISSING_KEY",        # identity_id_hash empty (web: and no user_id either)
    "MALFORMED_KEY",      # identity_id_hash present but not 64 hex characters
    "BAD_TIMESTAMP",      # timestamp / date does not parse
    "OUT_OF_PERIOD",      # parses but lies outside the delivery's period (+ tolerance)
    "BAD_NUMBER",         # a numeric column does not parse
    "UNKNOWN_CATEGORY",   # a categorical value outside its value set (when policy = reject)
    "WRONG_FIELD_COUNT",  # CSV row with too many or too few fields
]
REASONS: tuple[str, ...] = ("MISSING_KEY", "MALFORMED_KEY", "BAD_TIMESTAMP", "OUT_OF_PERIOD",
                            "BAD_NUMBER", "UNKNOWN_CATEGORY", "WRONG_FIELD_COUNT")


# --- sources ----------------------------------------------------------------------------------

Kind = Literal["string", "key", "timestamp", "date", "int", "double", "category", "list"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = True  # a required column missing from a delivery stops the batch
    values: tuple[str, ...] = ()  # value set for kind == "category" (or "list" items)
    nullable: bool = False  # an empty value is allowed (else it is a reject for key/number/ts)

    @property
    def bronze_type(self) -> T.DataType:
        return {
            "string": T.StringType(),
            "key": T.StringType(),
            "timestamp": T.TimestampType(),
            "date": T.DateType(),
            "int": T.IntegerType(),
            "double": T.DoubleType(),
            "category": T.StringType(),
            "list": T.ArrayType(T.StringType()),
        }[self.kind]


@dataclass(frozen=True)
class Source:
    name: str
    family: Literal["web", "app", "ib", "prodeje", "camp", "clients"]
    format: Literal["csv", "parquet"]
    columns: tuple[Column, ...]
    time_column: str  # the column that places a row in time (and in its delivery's period)
    id_column: str | None  # natural id of a row (events, agreements, contacts)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name}: no column {name!r}")

    @property
    def landing_schema(self) -> T.StructType:
        """All columns as strings: what a landing file is read as before validation."""
        return T.StructType([T.StructField(c.name, T.StringType(), True) for c in self.columns])

    @property
    def bronze_data_schema(self) -> T.StructType:
        """Typed data columns of the bronze table (ingest adds BRONZE_METADATA_COLUMNS)."""
        return T.StructType([T.StructField(c.name, c.bronze_type, True) for c in self.columns])


def _key(nullable: bool = False) -> Column:
    return Column("identity_id_hash", "key", nullable=nullable)


def _app(name: str) -> Source:
    return Source(
        name=name,
        family="app",
        format="parquet",
        columns=(
            Column("app_event_id", "string"),
            _key(),
            Column("event_ts", "timestamp"),
            Column("event_type", "category", values=APP_EVENT_TYPES[name]),
            Column("screen_name", "string", nullable=True),
            Column("product_area", "category", values=PRODUCT_AREAS),
            Column("os", "category", values=APP_OS),
            Column("duration_sec", "double", nullable=True),
        ),
        time_column="event_ts",
        id_column="app_event_id",
    )


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            name="web",
            family="web",
            format="csv",
            columns=(
                Column("event_id", "string"),
                # A cookie id; anonymous visitors carry only this. Not a client key.
                Column("user_id", "string", nullable=True),
                _key(nullable=True),  # empty for anonymous visitors
                Column("event_ts", "timestamp"),
                Column("page_url", "string", nullable=True),
                Column("page_category", "category", values=PRODUCT_AREAS),
                Column("event_type", "category", values=WEB_EVENT_TYPES),
                Column("device_type", "category", values=WEB_DEVICES),
                Column("time_on_page_sec", "double", nullable=True),
            ),
            time_column="event_ts",
            id_column="event_id",
        ),
        *(_app(n) for n in APP_EVENT_TYPES),
        Source(
            name="ib",
            family="ib",
            format="csv",
            columns=(
                Column("ib_event_id", "string"),
                _key(),
                Column("event_ts", "timestamp"),
                Column("event_type", "category", values=IB_EVENT_TYPES),
                Column("product_area", "category", values=PRODUCT_AREAS),
                Column("amount", "double", nullable=True),
            ),
            time_column="event_ts",
            id_column="ib_event_id",
        ),
        Source(
            name="prodeje",
            family="prodeje",
            format="csv",
            columns=(
                Column("agreement_id", "string"),
                _key(),
                Column("product_code", "category", values=PRODUCTS),
                Column("signed_date", "date"),
                Column("status", "category", values=AGREEMENT_STATUSES),
                Column("amount", "double", nullable=True),
                Column("sales_channel", "category", values=SALES_CHANNELS),
            ),
            time_column="signed_date",
            id_column="agreement_id",
        ),
        Source(
            name="camp",
            family="camp",
            format="csv",
            columns=(
                Column("contact_id", "string"),
                _key(),
                Column("campaign_id", "string"),
                Column("product_code", "category", values=PRODUCTS),
                Column("contact_ts", "timestamp"),
                Column("channel", "category", values=CAMPAIGN_CHANNELS),
                Column("outcome", "category", values=CAMPAIGN_OUTCOMES),
            ),
            time_column="contact_ts",
            id_column="contact_id",
        ),
        Source(
            name="clients",
            family="clients",
            format="csv",
            columns=(
                _key(),
                Column("age_band", "category", values=AGE_BANDS),
                Column("region", "category", values=REGIONS),
                Column("income_band", "category", values=INCOME_BANDS),
                Column("tenure_months", "int"),
                # Products held at snapshot_date, '|'-separated product codes (may be empty).
                Column("products_held", "list", values=PRODUCTS, nullable=True),
                Column("snapshot_date", "date"),
            ),
            time_column="snapshot_date",
            id_column="identity_id_hash",
        ),
    )
}

LIST_SEPARATOR = "|"

# Columns ingest adds to every bronze table.
BRONZE_METADATA_COLUMNS = T.StructType([
    T.StructField("_delivery", T.StringType(), False),      # delivery folder, YYYY-MM
    T.StructField("_batch_id", T.StringType(), False),      # "<source>/<delivery>"
    T.StructField("_source_file", T.StringType(), False),   # landing file the row came from
    T.StructField("_row_hash", T.StringType(), False),      # sha2 of the raw record (dedup key)
    T.StructField("_has_unknown_category", T.BooleanType(), False),
    T.StructField("_ingested_at", T.TimestampType(), False),
    T.StructField("event_date", T.DateType(), False),       # date of time_column (partitioning)
])


def landing_dir(landing_root: str, source: str, delivery: str) -> str:
    return f"{landing_root.rstrip('/')}/{source}/{delivery}"
