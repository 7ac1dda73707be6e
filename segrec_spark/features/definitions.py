"""Every gold feature, defined once: name, meaning, window, source, family and how it is computed.

:func:`feature_definitions` builds the registry from the configured windows and the product list.
The same registry computes ``gold.client_features`` (each definition's ``aggregate`` is an
aggregate expression over the per-client *facts* table of :mod:`.client_features`) and produces
the feature dictionary (Delta ``gold.feature_dictionary`` and Markdown), so the two cannot drift.

Facts (one narrow table, grouped once by client; ``kind`` says which columns are set):

=========  ===================================================================================
kind       meaning of a row
=========  ===================================================================================
seen       the client appears in some source before as_of_date (key universe)
day        one active day of a client on a channel, ``n`` = events that day (longest window)
area       events of one day in one product area across channels (``product``, ``n``)
session    one session (``channel``, start date as ``fact_date``, ``duration_sec``)
contact    one campaign contact (``product``, ``fact_date``, ``outcome``)
agreement  one agreement signed before as_of_date with a label status (``product``, ``amount``)
client     the client's attribute snapshot (attributes, ``products_held``, snapshot date)
=========  ===================================================================================
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segrec_spark.features.settings import FeatureSettings
from segrec_spark.sources import CHANNELS, PRODUCTS, UNKNOWN

# Outcomes at or beyond each funnel step (the outcome is the furthest step a contact reached).
OPENED_OR_LATER = ("OPENED", "CLICKED", "CONVERTED")
CLICKED_OR_LATER = ("CLICKED", "CONVERTED")
CONVERTED = ("CONVERTED",)

DICTIONARY_SCHEMA = T.StructType([
    T.StructField("name", T.StringType(), False),
    T.StructField("meaning", T.StringType(), False),
    T.StructField("window_days", T.IntegerType(), True),
    T.StructField("source", T.StringType(), False),
    T.StructField("family", T.StringType(), False),
])

Aggregate = Callable[[Column], Column]  # as_of_date literal -> aggregate expression over facts


@dataclass(frozen=True)
class FeatureDef:
    name: str
    meaning: str
    window_days: int | None
    source: str
    family: str
    dtype: str  # "int" | "double" | "string"
    aggregate: Aggregate

    def column(self, as_of: Column) -> Column:
        """The never-null feature column, cast to its declared type."""
        return self.aggregate(as_of).cast(self.dtype).alias(self.name)


# --- conditions over the facts table ------------------------------------------------------------

def is_kind(kind: str) -> Column:
    return F.col("kind") == kind


def in_window(as_of: Column, days: int) -> Column:
    """fact_date in [as_of - days, as_of); facts are already cut at as_of."""
    return F.col("fact_date") >= F.date_sub(as_of, days)


def count_where(condition: Column, value: Column | None = None) -> Column:
    """Sum of ``value`` (default 1) over facts matching ``condition``; 0 when none."""
    return F.coalesce(F.sum(F.when(condition, value if value is not None else F.lit(1))),
                      F.lit(0))


def days_since_latest(as_of: Column, condition: Column, sentinel: int) -> Column:
    return F.coalesce(F.datediff(as_of, F.max(F.when(condition, F.col("fact_date")))),
                      F.lit(sentinel))


def ratio(numerator: Column, denominator: Column) -> Column:
    """numerator / denominator, 0.0 when the denominator is 0."""
    return F.when(denominator > 0, numerator.cast("double") / denominator).otherwise(F.lit(0.0))


# --- families ---------------------------------------------------------------------------------

def _channel_features(channel: str, settings: FeatureSettings) -> list[FeatureDef]:
    source = f"silver.events (channel {channel})"

    # Conditions are built lazily (inside the aggregates), so the registry and the dictionary
    # can be produced without a running Spark session.
    def active_day() -> Column:
        return is_kind("day") & (F.col("channel") == channel)

    def session() -> Column:
        return is_kind("session") & (F.col("channel") == channel)

    defs: list[FeatureDef] = []
    for w in settings.windows:
        defs += [
            FeatureDef(f"{channel}_events_{w}d", f"{channel} events in the last {w} days", w,
                       source, channel, "int",
                       lambda a, w=w: count_where(active_day() & in_window(a, w), F.col("n"))),
            FeatureDef(f"{channel}_active_days_{w}d",
                       f"days with at least one {channel} event in the last {w} days", w,
                       source, channel, "int",
                       lambda a, w=w: count_where(active_day() & in_window(a, w))),
            FeatureDef(f"{channel}_sessions_{w}d",
                       f"{channel} sessions started in the last {w} days "
                       f"({settings.session_gap_minutes}-minute inactivity gap)", w,
                       source, channel, "int",
                       lambda a, w=w: count_where(session() & in_window(a, w))),
            FeatureDef(f"{channel}_avg_session_sec_{w}d",
                       f"average duration in seconds of those {channel} sessions (first to last "
                       f"event plus the last event's duration; 0 when none)", w,
                       source, channel, "double",
                       lambda a, w=w: F.coalesce(
                           F.avg(F.when(session() & in_window(a, w), F.col("duration_sec"))),
                           F.lit(0.0))),
        ]
    sentinel = settings.recency_sentinel_days
    defs.append(FeatureDef(
        f"{channel}_recency_days",
        f"days from the last {channel} event to as_of_date; {sentinel} when none in the last "
        f"{settings.max_window} days", None, source, channel, "int",
        lambda a: days_since_latest(a, active_day(), sentinel)))
    return defs


def _interest_features(settings: FeatureSettings, products: Sequence[str]) -> list[FeatureDef]:
    defs = []
    for product in products:
        for w in settings.windows:
            defs.append(FeatureDef(
                f"interest_{product.lower()}_{w}d",
                f"web, app and ib events in product area {product} in the last {w} days", w,
                "silver.events (all channels)", "interest", "int",
                lambda a, w=w, p=product: count_where(
                    is_kind("area") & (F.col("product") == p) & in_window(a, w), F.col("n"))))
    return defs


def _campaign_features(settings: FeatureSettings) -> list[FeatureDef]:
    lag = settings.campaign_outcome_lag_days

    def contact() -> Column:
        return is_kind("contact")

    def matured(a: Column) -> Column:
        return F.col("fact_date") < F.date_sub(a, lag)

    def reached(a: Column, w: int, outcomes: tuple[str, ...]) -> Column:
        return contact() & in_window(a, w) & matured(a) & F.col("outcome").isin(*outcomes)

    note = f"(contacts at least {lag} days old, whose outcome is known)"
    defs = []
    for w in settings.windows:
        defs += [
            FeatureDef(f"camp_contacts_{w}d", f"campaign contacts in the last {w} days", w,
                       "bronze.camp", "camp", "int",
                       lambda a, w=w: count_where(contact() & in_window(a, w))),
            FeatureDef(f"camp_opens_{w}d", f"contacts of the last {w} days opened or further "
                       f"{note}", w, "bronze.camp", "camp", "int",
                       lambda a, w=w: count_where(reached(a, w, OPENED_OR_LATER))),
            FeatureDef(f"camp_clicks_{w}d", f"contacts of the last {w} days clicked or further "
                       f"{note}", w, "bronze.camp", "camp", "int",
                       lambda a, w=w: count_where(reached(a, w, CLICKED_OR_LATER))),
            FeatureDef(f"camp_conversions_{w}d", f"contacts of the last {w} days that converted "
                       f"{note}", w, "bronze.camp", "camp", "int",
                       lambda a, w=w: count_where(reached(a, w, CONVERTED))),
            FeatureDef(f"camp_engagement_rate_{w}d",
                       f"opened-or-further share of the last {w} days' contacts {note}; 0 when "
                       f"none", w, "bronze.camp", "camp", "double",
                       lambda a, w=w: ratio(count_where(reached(a, w, OPENED_OR_LATER)),
                                            count_where(contact() & in_window(a, w) & matured(a)))),
        ]
    return defs


def _agreement_features(settings: FeatureSettings, products: Sequence[str]) -> list[FeatureDef]:
    statuses = "/".join(settings.label_statuses)
    sentinel = settings.agreement_recency_sentinel_days
    defs = []
    for product in products:
        p = product.lower()

        def of_product(product: str = product) -> Column:
            return is_kind("agreement") & (F.col("product") == product)

        defs += [
            FeatureDef(f"agr_{p}_count", f"{product} agreements ({statuses}) signed before "
                       f"as_of_date", None, "bronze.prodeje", "agr", "int",
                       lambda a, c=of_product: count_where(c())),
            FeatureDef(f"agr_{p}_recency_days", f"days since the last {product} agreement "
                       f"({statuses}); {sentinel} when none", None, "bronze.prodeje", "agr",
                       "int", lambda a, c=of_product: days_since_latest(a, c(), sentinel)),
            FeatureDef(f"agr_{p}_amount", f"total amount of {product} agreements ({statuses}) "
                       f"signed before as_of_date", None, "bronze.prodeje", "agr", "double",
                       lambda a, c=of_product: F.coalesce(F.sum(F.when(c(), F.col("amount"))),
                                                          F.lit(0.0))),
        ]
    return defs


def holds_condition(product: str) -> Aggregate:
    """Held at as_of_date: in a clients snapshot taken before it, or an agreement signed before."""
    def aggregate(a: Column) -> Column:
        by_agreement = is_kind("agreement") & (F.col("product") == product)
        in_snapshot = (is_kind("client") & (F.col("fact_date") < a)
                       & F.coalesce(F.array_contains("products_held", product), F.lit(False)))
        return F.coalesce(F.greatest(F.max(F.when(by_agreement, 1)),
                                     F.max(F.when(in_snapshot, 1))), F.lit(0))
    return aggregate


def _holding_features(settings: FeatureSettings, products: Sequence[str]) -> list[FeatureDef]:
    statuses = "/".join(settings.label_statuses)
    return [FeatureDef(f"holds_{product.lower()}",
                       f"1 when the client holds {product} at as_of_date (clients snapshot taken "
                       f"before it, or a {statuses} agreement signed before it), else 0", None,
                       "bronze.clients + bronze.prodeje", "holds", "int", holds_condition(product))
            for product in products]


def _attribute(name: str) -> FeatureDef:
    return FeatureDef(name, f"client attribute {name} from bronze.clients; {UNKNOWN} when missing",
                      None, "bronze.clients", "client", "string",
                      lambda a: F.coalesce(F.max(F.when(is_kind("client"), F.col(name))),
                                           F.lit(UNKNOWN)))


def _client_features(settings: FeatureSettings) -> list[FeatureDef]:
    def tenure(a: Column) -> Column:
        at_as_of = F.col("tenure_months") + F.floor(F.months_between(a, F.col("fact_date")))
        return F.coalesce(F.max(F.when(is_kind("client"), F.greatest(at_as_of, F.lit(0)))),
                          F.lit(0))
    return [
        FeatureDef("has_digital_activity", f"1 when the client has any web, app or ib event in "
                   f"the last {settings.max_window} days, else 0 (inactive clients keep a row "
                   f"of zeros)", settings.max_window, "silver.events", "client", "int",
                   lambda a: F.coalesce(F.max(F.when(is_kind("day"), 1)), F.lit(0))),
        _attribute("age_band"),
        _attribute("income_band"),
        _attribute("region"),
        FeatureDef("tenure_months", "months as a client at as_of_date (snapshot tenure moved to "
                   "as_of_date, never below 0); 0 when unknown", None, "bronze.clients",
                   "client", "int", tenure),
    ]


def feature_definitions(settings: FeatureSettings,
                        products: Sequence[str] = PRODUCTS) -> tuple[FeatureDef, ...]:
    """All features in column order, for the configured windows and products."""
    defs: list[FeatureDef] = []
    for channel in CHANNELS:
        defs += _channel_features(channel, settings)
    defs += _interest_features(settings, products)
    defs += _campaign_features(settings)
    defs += _agreement_features(settings, products)
    defs += _holding_features(settings, products)
    defs += _client_features(settings)
    names = [d.name for d in defs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"feature definitions: duplicated names {duplicated}")
    return tuple(defs)


def dictionary_rows(defs: Sequence[FeatureDef]) -> list[tuple[str, str, int | None, str, str]]:
    return [(d.name, d.meaning, d.window_days, d.source, d.family) for d in defs]


def feature_dictionary(spark: SparkSession, defs: Sequence[FeatureDef]) -> DataFrame:
    """The feature dictionary as a DataFrame (name, meaning, window_days, source, family)."""
    return spark.createDataFrame(dictionary_rows(defs), DICTIONARY_SCHEMA)


def dictionary_markdown(defs: Sequence[FeatureDef]) -> str:
    """The feature dictionary as a Markdown document."""
    lines = [
        "# Feature dictionary (gold.client_features)",
        "",
        "Generated from `segrec_spark/features/definitions.py`. Keys: `as_of_date` (date), "
        "`identity_id_hash` (string). Every feature uses only data strictly before `as_of_date`; "
        "a window of N days is `[as_of_date - N days, as_of_date)`. No feature is ever null.",
        "",
        "| name | meaning | window (days) | source | family | type |",
        "|---|---|---|---|---|---|",
    ]
    for d in defs:
        window = "" if d.window_days is None else str(d.window_days)
        meaning = d.meaning.replace("|", "\\|")
        lines.append(f"| `{d.name}` | {meaning} | {window} | {d.source} | {d.family} | {d.dtype} |")
    return "\n".join(lines) + "\n"
