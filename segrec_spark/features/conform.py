"""Bronze as the bank delivered it -> the canonical columns the feature functions compute on.

Bronze keeps the bank's own column names (the data contract, :mod:`segrec_spark.contract`).
:func:`conform` selects each role's column under one canonical name and type, and a typed NULL
where the source has no column of that role, so every function after it reads the same names
whatever the bank called them:

=============  ======================  ===========================================================
role           canonical column        type
=============  ======================  ===========================================================
key            ``identity_id_hash``    string
cookie         ``user_id``             string (events)
event_id       ``event_id``            string
time           ``event_ts``            timestamp (a date column becomes midnight of that day);
                                       clients: ``snapshot_date`` (date)
event_type     ``event_type``          string (events)
product_area   ``product_area``        string (events)
duration       ``duration_sec``        double (events)
amount         ``amount``              double (events, sales)
product        ``product_code``        string (sales, campaigns)
status         ``status``              string (sales)
outcome        ``outcome``             string (campaigns)
holdings       ``products_held``       array<string> (clients)
numeric        its own name            double (clients; NULL when unknown)
categorical    its own name            string (clients)
=============  ======================  ===========================================================
"""
from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segrec_spark.contract import Contract, Source
from segrec_spark.features.settings import FeatureSettings

KEY = "identity_id_hash"
COOKIE = "user_id"

# (role, canonical name, Spark type) per kind of source, in output order.
CANONICAL: dict[str, tuple[tuple[str, str, str], ...]] = {
    "events": (("key", KEY, "string"), ("cookie", COOKIE, "string"),
               ("event_id", "event_id", "string"), ("time", "event_ts", "timestamp"),
               ("event_type", "event_type", "string"),
               ("product_area", "product_area", "string"),
               ("duration", "duration_sec", "double"), ("amount", "amount", "double")),
    "sales": (("key", KEY, "string"), ("event_id", "event_id", "string"),
              ("time", "event_ts", "timestamp"), ("product", "product_code", "string"),
              ("status", "status", "string"), ("amount", "amount", "double")),
    "campaigns": (("key", KEY, "string"), ("event_id", "event_id", "string"),
                  ("time", "event_ts", "timestamp"), ("product", "product_code", "string"),
                  ("outcome", "outcome", "string")),
    "clients": (("key", KEY, "string"), ("time", "snapshot_date", "date"),
                ("holdings", "products_held", "array<string>")),
}
ATTRIBUTE_TYPES: dict[str, str] = {"numeric": "double", "categorical": "string"}


def canonical_names(kind: str) -> tuple[str, ...]:
    return tuple(name for _, name, _ in CANONICAL[kind])


def attribute_columns(source: Source | None) -> tuple[tuple[str, str], ...]:
    """(name, Spark type) of each numeric / categorical attribute of a clients source."""
    if source is None:
        return ()
    return tuple((c.name, ATTRIBUTE_TYPES[c.role]) for c in source.columns
                 if c.role in ATTRIBUTE_TYPES)


def _typed(source: Source, name: str | None, dtype: str) -> Column:
    """Column ``name`` of ``source`` cast to ``dtype`` (a boolean becomes 0/1); NULL when None."""
    if name is None:
        return F.lit(None).cast(dtype)
    value = F.col(name)
    if dtype == "double" and source.column(name).type == "boolean":
        value = value.cast("int")
    return value.cast(dtype)


def conform(df: DataFrame, source: Source, contract: Contract | None = None) -> DataFrame:
    """``df`` (bronze of ``source``) with the canonical columns of its kind only.

    ``contract`` is accepted for symmetry with the other stages (the roles live on ``source``).
    """
    if source.kind not in CANONICAL:
        raise ValueError(f"{source.name}: features do not read {source.kind} sources")
    selected = [_typed(source, source.role_column(role), dtype).alias(name)
                for role, name, dtype in CANONICAL[source.kind]]
    if source.kind == "clients":
        selected += [_typed(source, name, dtype).alias(name)
                     for name, dtype in attribute_columns(source)]
    return df.select(*selected)


def conform_optional(df: DataFrame | None, source: Source | None,
                     contract: Contract | None = None) -> DataFrame | None:
    """:func:`conform` when both the frame and the source exist, else None."""
    if df is None or source is None:
        return None
    return conform(df, source, contract)


def label_statuses(settings: FeatureSettings, contract: Contract) -> tuple[str, ...]:
    """Sales statuses that count as a take-up; () = every sale counts.

    ``features.label_statuses``, else the contract's ``label_statuses``; () also when the sales
    source has no status column.
    """
    sales = contract.one_of_kind("sales")
    if sales is None or sales.role_column("status") is None:
        return ()
    return tuple(settings.label_statuses or contract.label_statuses)


def counts_as_take_up(statuses: Sequence[str]) -> Column:
    """True for a (conformed) sale whose status is one of ``statuses``; any sale when empty."""
    return F.col("status").isin(*statuses) if statuses else F.lit(True)
