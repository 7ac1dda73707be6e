"""The synthetic bank the generator writes: its value sets and its data contract.

These constants belong to the generator only: nothing outside ``segrec_spark/generate/`` names
the synthetic bank's products, regions, bands or event types; the pipeline reads them from the
contract (``conf/contracts/synthetic_bank.yaml``, the default ``paths.contract``). The generator
writes exactly what that contract declares (source names, column names and order, formats, the
dialect's delimiter, timestamp/date formats, time zone and list separator);
:func:`check_generatable` refuses, with one line, a contract whose sources or value sets the
generator cannot write.
"""
from __future__ import annotations

from functools import lru_cache

from segrec_spark.contract import SYNTHETIC_CONTRACT, Contract, load_contract
from segrec_spark.typed_yaml import ConfigError

CONTRACT_FILE = SYNTHETIC_CONTRACT

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
GENERAL_AREA = "GENERAL"
PRODUCT_AREAS: tuple[str, ...] = (*PRODUCTS, GENERAL_AREA)

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
OPT_OUT_VALUES = ("Y", "N")  # consent.marketing_opt_out: Y = refuses marketing contact
KEY_COLUMN = "identity_id_hash"
KEY_PATTERN = "^[0-9a-f]{64}$"  # identity_id_hash: 64 lower-case hex characters (SHA-256)
COOKIE_COLUMN = "user_id"  # web: the cookie id anonymous visitors carry instead of a key

# The value set of every categorical column the generator writes, by (source, column).
VALUE_SETS: dict[tuple[str, str], tuple[str, ...]] = {
    ("web", "page_category"): PRODUCT_AREAS,
    ("web", "event_type"): WEB_EVENT_TYPES,
    ("web", "device_type"): WEB_DEVICES,
    **{(s, "event_type"): types for s, types in APP_EVENT_TYPES.items()},
    **{(s, "product_area"): PRODUCT_AREAS for s in APP_EVENT_TYPES},
    **{(s, "os"): APP_OS for s in APP_EVENT_TYPES},
    ("ib", "event_type"): IB_EVENT_TYPES,
    ("ib", "product_area"): PRODUCT_AREAS,
    ("prodeje", "product_code"): PRODUCTS,
    ("prodeje", "status"): AGREEMENT_STATUSES,
    ("prodeje", "sales_channel"): SALES_CHANNELS,
    ("camp", "product_code"): PRODUCTS,
    ("camp", "channel"): CAMPAIGN_CHANNELS,
    ("camp", "outcome"): CAMPAIGN_OUTCOMES,
    ("clients", "age_band"): AGE_BANDS,
    ("clients", "region"): REGIONS,
    ("clients", "income_band"): INCOME_BANDS,
    ("clients", "products_held"): PRODUCTS,
    ("consent", "marketing_opt_out"): OPT_OUT_VALUES,
}
SOURCE_NAMES: tuple[str, ...] = ("web", *APP_EVENT_TYPES, "ib", "prodeje", "camp", "clients",
                                 "consent")


@lru_cache(maxsize=1)
def synthetic_contract() -> Contract:
    """The synthetic bank's contract file, loaded and validated (tests and checks)."""
    return load_contract(CONTRACT_FILE)


def check_generatable(contract: Contract) -> None:
    """Raise ConfigError (one line naming the contract file and the field) unless ``contract``
    declares exactly the synthetic bank's sources, each with the generated columns and value
    sets: the generator writes only the synthetic bank."""
    where = contract.path
    hint = f"the generator writes the synthetic bank ({CONTRACT_FILE.name}) only"
    if tuple(sorted(contract.sources)) != tuple(sorted(SOURCE_NAMES)):
        raise ConfigError(f"{where}: sources: {', '.join(contract.sources)} are not the synthetic "
                          f"bank's {', '.join(SOURCE_NAMES)}; {hint}")
    if contract.key.column != KEY_COLUMN:
        raise ConfigError(f"{where}: key.column: {contract.key.column!r} is not {KEY_COLUMN!r}; "
                          f"{hint}")
    if tuple(sorted(contract.product_codes)) != tuple(sorted(PRODUCTS)):
        raise ConfigError(f"{where}: products: {', '.join(contract.product_codes)} are not the "
                          f"synthetic bank's {', '.join(PRODUCTS)}; {hint}")
    for (name, column), values in VALUE_SETS.items():
        source = contract.sources[name]
        if column not in source.column_names:
            raise ConfigError(f"{where}: sources.{name}.columns: no column {column!r}; {hint}")
        declared = contract.values_of(source, source.column(column))
        missing = sorted(set(values) - set(declared)) if declared else []
        if missing:
            raise ConfigError(f"{where}: sources.{name}.columns.{column}.values: lacks "
                              f"{', '.join(missing)}, which the generator writes; {hint}")
