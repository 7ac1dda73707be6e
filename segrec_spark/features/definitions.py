"""Every gold feature, defined once: name, meaning, window, source, family and how it is computed.

:func:`feature_definitions` builds the registry from the configured windows and the data contract
(its channels, product catalogue, campaign funnel and client attributes): nothing here names a
bank's channels, products or categories.
The same registry computes ``gold.client_features`` (each definition's ``aggregate`` is an
aggregate expression over the per-client *facts* table of :mod:`.client_features`) and produces
the feature dictionary (Delta ``gold.feature_dictionary`` and Markdown), so the two cannot drift.

Facts (one narrow table, grouped once by client; ``kind`` says which columns are set):

=========  ===================================================================================
kind       meaning of a row
=========  ===================================================================================
seen       the client appears in some source before as_of_date (key universe)
day        one active day of a client on a channel, ``n`` = events that day (longest window)
area       events of one day in one product area across channels (area in ``product``, ``n``)
session    one session (``channel``, start date as ``fact_date``, ``duration_sec``)
contact    one campaign contact (``product``, ``fact_date``, ``outcome``)
agreement  one agreement signed before as_of_date with a label status (``product``, ``amount``)
client     the client's latest attribute snapshot before as_of_date (attributes, ``products_held``)
=========  ===================================================================================
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segrec_spark.contract import UNKNOWN, Contract, Source
from segrec_spark.features.conform import attribute_columns, label_statuses
from segrec_spark.features.settings import FeatureSettings
from segrec_spark.typed_yaml import ConfigError

# Names that are not features but keys of gold.client_features or columns of the facts table
# (client_features.FACT_SCHEMA); an attribute may not take one of them.
RESERVED_NAMES: frozenset[str] = frozenset({
    "as_of_date", "identity_id_hash", "kind", "channel", "product", "fact_date", "n", "amount",
    "duration_sec", "outcome", "products_held", "snapshot_date"})

DICTIONARY_SCHEMA = T.StructType([
    T.StructField("name", T.StringType(), False),
    T.StructField("meaning", T.StringType(), False),
    T.StructField("window_days", T.IntegerType(), True),
    T.StructField("source", T.StringType(), False),
    T.StructField("family", T.StringType(), False),
    T.StructField("dtype", T.StringType(), False),
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
    nullable: bool = False  # only numeric client attributes may be NULL (unknown)

    def column(self, as_of: Column) -> Column:
        """The feature column, cast to its declared type (never null unless ``nullable``)."""
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

def token(value: str) -> str:
    """A bank value (channel, product code) as part of a feature name: lower case."""
    return value.lower()


def _channel_features(channel: str, settings: FeatureSettings) -> list[FeatureDef]:
    source = f"silver.events (channel {channel})"
    c = token(channel)

    # Conditions are built lazily (inside the aggregates), so the registry and the dictionary
    # can be produced without a running Spark session.
    def active_day() -> Column:
        return is_kind("day") & (F.col("channel") == channel)

    def session() -> Column:
        return is_kind("session") & (F.col("channel") == channel)

    def windowed(w: int) -> list[FeatureDef]:
        return [
            FeatureDef(f"{c}_events_{w}d", f"{channel} events in the last {w} days", w,
                       source, c, "int",
                       lambda a: count_where(active_day() & in_window(a, w), F.col("n"))),
            FeatureDef(f"{c}_active_days_{w}d",
                       f"days with at least one {channel} event in the last {w} days", w,
                       source, c, "int",
                       lambda a: count_where(active_day() & in_window(a, w))),
            FeatureDef(f"{c}_sessions_{w}d",
                       f"{channel} sessions started in the last {w} days "
                       f"({settings.session_gap_minutes}-minute inactivity gap)", w,
                       source, c, "int",
                       lambda a: count_where(session() & in_window(a, w))),
            FeatureDef(f"{c}_avg_session_sec_{w}d",
                       f"average duration in seconds of those {channel} sessions (first to last "
                       f"event plus the last event's duration; 0 when none)", w,
                       source, c, "double",
                       lambda a: F.coalesce(
                           F.avg(F.when(session() & in_window(a, w), F.col("duration_sec"))),
                           F.lit(0.0))),
        ]

    defs = [d for w in settings.windows for d in windowed(w)]
    sentinel = settings.recency_sentinel_days
    defs.append(FeatureDef(
        f"{c}_recency_days",
        f"days from the last {channel} event to as_of_date; {sentinel} when none in the last "
        f"{settings.max_window} days", None, source, c, "int",
        lambda a: days_since_latest(a, active_day(), sentinel)))
    return defs


def _interest_features(settings: FeatureSettings, contract: Contract) -> list[FeatureDef]:
    channels = ", ".join(contract.channels)

    def interest(w: int, area: str) -> Aggregate:
        return lambda a: count_where(
            is_kind("area") & (F.col("product") == area) & in_window(a, w), F.col("n"))

    defs = []
    for product in contract.products:
        for w in settings.windows:
            defs.append(FeatureDef(
                f"interest_{token(product.code)}_{w}d",
                f"{channels} events in product area {product.product_area} (product "
                f"{product.code}) in the last {w} days", w,
                "silver.events (all channels)", "interest", "int",
                interest(w, product.product_area)))
    return defs


def _campaign_features(settings: FeatureSettings, contract: Contract,
                       camp: Source) -> list[FeatureDef]:
    lag = settings.campaign_outcome_lag_days
    source = f"bronze.{camp.name}"
    funnel = contract.funnel

    def contact() -> Column:
        return is_kind("contact")

    def matured(a: Column) -> Column:
        return F.col("fact_date") < F.date_sub(a, lag)

    def reached(a: Column, w: int, outcomes: tuple[str, ...]) -> Column:
        return contact() & in_window(a, w) & matured(a) & F.col("outcome").isin(*outcomes)

    def contacts(w: int) -> Aggregate:
        return lambda a: count_where(contact() & in_window(a, w))

    def reached_count(w: int, outcomes: tuple[str, ...]) -> Aggregate:
        return lambda a: count_where(reached(a, w, outcomes))

    def engagement(w: int, opened: tuple[str, ...]) -> Aggregate:
        return lambda a: ratio(count_where(reached(a, w, opened)),
                               count_where(contact() & in_window(a, w) & matured(a)))

    note = f"(contacts at least {lag} days old, whose outcome is known)"
    defs = []
    for w in settings.windows:
        defs.append(FeatureDef(f"camp_contacts_{w}d", f"campaign contacts in the last {w} days",
                               w, source, "camp", "int", contacts(w)))
        for step, what in (("opens", funnel.opened), ("clicks", funnel.clicked),
                           ("conversions", funnel.converted)):
            if what:
                defs.append(FeatureDef(
                    f"camp_{step}_{w}d", f"contacts of the last {w} days with outcome "
                    f"{'/'.join(what)} {note}", w, source, "camp", "int",
                    reached_count(w, what)))
        if funnel.opened:
            defs.append(FeatureDef(
                f"camp_engagement_rate_{w}d", f"share of the last {w} days' contacts with outcome "
                f"{'/'.join(funnel.opened)} {note}; 0 when none", w, source, "camp", "double",
                engagement(w, funnel.opened)))
    return defs


def _statuses_text(settings: FeatureSettings, contract: Contract) -> str:
    statuses = label_statuses(settings, contract)
    return f"status {'/'.join(statuses)}" if statuses else "any status"


def _agreement_features(settings: FeatureSettings, contract: Contract,
                        sales: Source) -> list[FeatureDef]:
    statuses = _statuses_text(settings, contract)
    sentinel = settings.agreement_recency_sentinel_days
    source = f"bronze.{sales.name}"

    def of_product(product: str) -> list[FeatureDef]:
        p = token(product)

        def agreed() -> Column:
            return is_kind("agreement") & (F.col("product") == product)

        return [
            FeatureDef(f"agr_{p}_count", f"{product} agreements ({statuses}) signed before "
                       f"as_of_date", None, source, "agr", "int",
                       lambda a: count_where(agreed())),
            FeatureDef(f"agr_{p}_recency_days", f"days since the last {product} agreement "
                       f"({statuses}); {sentinel} when none", None, source, "agr",
                       "int", lambda a: days_since_latest(a, agreed(), sentinel)),
            FeatureDef(f"agr_{p}_amount", f"total amount of {product} agreements ({statuses}) "
                       f"signed before as_of_date", None, source, "agr", "double",
                       lambda a: F.coalesce(F.sum(F.when(agreed(), F.col("amount"))),
                                            F.lit(0.0))),
        ]

    return [d for product in contract.product_codes for d in of_product(product)]


def holds_condition(product: str) -> Aggregate:
    """Held at as_of_date: listed in the client's snapshot (taken before as_of_date, see
    client_features.client_snapshot) or an agreement signed before it."""
    def aggregate(a: Column) -> Column:
        by_agreement = is_kind("agreement") & (F.col("product") == product)
        in_snapshot = (is_kind("client")
                       & F.coalesce(F.array_contains("products_held", product), F.lit(False)))
        return F.coalesce(F.greatest(F.max(F.when(by_agreement, 1)),
                                     F.max(F.when(in_snapshot, 1))), F.lit(0))
    return aggregate


def _holding_features(settings: FeatureSettings, contract: Contract,
                      sales: Source) -> list[FeatureDef]:
    statuses = _statuses_text(settings, contract)
    clients = contract.one_of_kind("clients")
    listed = (clients is not None and clients.role_column("holdings") is not None)
    where = f"bronze.{clients.name} + " if listed and clients is not None else ""
    return [FeatureDef(f"holds_{token(product)}",
                       f"1 when the client holds {product} at as_of_date ("
                       f"{'listed in the latest clients snapshot before it, or ' if listed else ''}"
                       f"an agreement with {statuses} signed before it), else 0", None,
                       f"{where}bronze.{sales.name}", "holds", "int", holds_condition(product))
            for product in contract.product_codes]


def _attribute(name: str, dtype: str, source: str) -> FeatureDef:
    """A client attribute: categorical -> string (UNKNOWN when missing), numeric -> double (NULL
    when unknown: the model imputes it)."""
    def latest(a: Column) -> Column:
        return F.max(F.when(is_kind("client"), F.col(name)))

    where = f"client attribute {name} from the latest snapshot of {source} before as_of_date"
    if dtype == "string":
        return FeatureDef(name, f"{where}; {UNKNOWN} when missing", None, source, "client",
                          "string", lambda a: F.coalesce(latest(a), F.lit(UNKNOWN)))
    return FeatureDef(name, f"{where}; NULL when unknown (the model imputes it)", None, source,
                      "client", "double", latest, nullable=True)


def _activity_flag(settings: FeatureSettings, contract: Contract) -> FeatureDef:
    channels = ", ".join(contract.channels)
    return FeatureDef("has_digital_activity", f"1 when the client has any {channels} event in "
                      f"the last {settings.max_window} days, else 0 (inactive clients keep a "
                      f"row of zeros)", settings.max_window, "silver.events", "client", "int",
                      lambda a: F.coalesce(F.max(F.when(is_kind("day"), 1)), F.lit(0)))


def _attribute_features(contract: Contract) -> list[FeatureDef]:
    clients = contract.one_of_kind("clients")
    if clients is None:
        return []
    return [_attribute(name, dtype, f"bronze.{clients.name}")
            for name, dtype in attribute_columns(clients)]


def _check_names(generated: Sequence[FeatureDef], attributes: Sequence[FeatureDef],
                 contract: Contract) -> None:
    """Feature names are unique (ignoring case, as Spark does); an attribute may not take a
    generated feature's name or a reserved one."""
    taken = {d.name.lower(): d.name for d in generated}
    taken.update({n: n for n in RESERVED_NAMES})
    clients = contract.one_of_kind("clients")
    for attribute in attributes:
        clash = taken.get(attribute.name.lower())
        if clash is not None and clients is not None:
            raise ConfigError(f"{contract.path}: sources.{clients.name}.columns: attribute "
                              f"{attribute.name!r} collides with the feature or column "
                              f"{clash!r}; rename it (e.g. in a view) or give it role ignore")
    lowered = [d.name.lower() for d in generated]
    duplicated = sorted({d.name for d in generated if lowered.count(d.name.lower()) > 1})
    if duplicated:
        raise ConfigError(f"{contract.path}: feature names {duplicated} are not unique (product "
                          f"codes and channels are compared in lower case)")


def feature_definitions(settings: FeatureSettings, contract: Contract) -> tuple[FeatureDef, ...]:
    """All features in column order, for the configured windows and the contract."""
    sales = contract.one_of_kind("sales")
    if sales is None:
        raise ConfigError(f"{contract.path}: sources: features need a source of kind sales "
                          f"(labels, agreement history and holdings come from it)")
    defs: list[FeatureDef] = []
    for channel in contract.channels:
        defs += _channel_features(channel, settings)
    defs += _interest_features(settings, contract)
    camp = contract.one_of_kind("campaigns")
    if camp is not None:
        defs += _campaign_features(settings, contract, camp)
    defs += _agreement_features(settings, contract, sales)
    defs += _holding_features(settings, contract, sales)
    defs.append(_activity_flag(settings, contract))
    attributes = _attribute_features(contract)
    _check_names(defs, attributes, contract)
    return (*defs, *attributes)


def attribute_features(defs: Sequence[FeatureDef]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(numeric, categorical) client attribute feature names of ``defs`` (for the models)."""
    attributes = [d for d in defs if d.family == "client" and d.name != "has_digital_activity"]
    return (tuple(d.name for d in attributes if d.dtype != "string"),
            tuple(d.name for d in attributes if d.dtype == "string"))


def dictionary_rows(defs: Sequence[FeatureDef]
                    ) -> list[tuple[str, str, int | None, str, str, str]]:
    return [(d.name, d.meaning, d.window_days, d.source, d.family, d.dtype) for d in defs]


def feature_dictionary(spark: SparkSession, defs: Sequence[FeatureDef]) -> DataFrame:
    """The feature dictionary as a DataFrame (name, meaning, window_days, source, family, dtype)."""
    return spark.createDataFrame(dictionary_rows(defs), DICTIONARY_SCHEMA)


def dictionary_markdown(defs: Sequence[FeatureDef]) -> str:
    """The feature dictionary as a Markdown document."""
    lines = [
        "# Feature dictionary (gold.client_features)",
        "",
        "Generated from `segrec_spark/features/definitions.py`. Keys: `as_of_date` (date), "
        "`identity_id_hash` (string). Every feature uses only data strictly before `as_of_date`; "
        "a window of N days is `[as_of_date - N days, as_of_date)`. Behavioural features are never "
        "null; numeric client attributes are null when unknown (the model imputes them).",
        "",
        "| name | meaning | window (days) | source | family | type |",
        "|---|---|---|---|---|---|",
    ]
    for d in defs:
        window = "" if d.window_days is None else str(d.window_days)
        meaning = d.meaning.replace("|", "\\|")
        lines.append(f"| `{d.name}` | {meaning} | {window} | {d.source} | {d.family} | {d.dtype} |")
    return "\n".join(lines) + "\n"
