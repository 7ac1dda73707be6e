"""The data contract (DESIGN.md section 1): what a bank delivers, declared as data.

A contract file (YAML, ``conf/contracts/*.yaml``) declares

* ``key``: the client key column's name and pattern (every source carries it);
* ``dialect``: how landing files are written (delimiter, quoting, encoding, header, date and
  timestamp formats, time zone), with per-source overrides;
* ``products``: the product catalogue (code, display name, the product area that events map
  to, optional margin and contact cost), any number of products;
* ``sources``: each source's kind (``events`` of a named channel, ``sales``, ``campaigns``,
  ``clients``, ``consent``), format (``csv``, ``parquet``, ``delta``), optional location, and
  its columns with type and role.

The code reads names, value sets and roles from a :class:`Contract`; it never spells a bank's
columns, products or categories. The synthetic bank of the generator is one contract,
``conf/contracts/synthetic_bank.yaml``, the default. :func:`load_contract` validates the file
once at start; every problem is one :class:`ConfigError` line naming the file and the field,
e.g. ``conf/contracts/bank.yaml: sources.web.columns[2].role: no 'key' column``.

Roles (what a column means to the pipeline; at most one column per role and source, except the
attribute roles):

==============  =================================================================================
role            meaning
==============  =================================================================================
key             the client key (``key.column``); checked against ``key.pattern``
cookie          events: an anonymous visitor id, linked to a client by logged-in events
event_id        the natural id of a row (event, agreement, contact)
time            the date or timestamp that places a row in time (and in its delivery's month)
event_type      events: what happened (category)
product_area    events: the product area the event is about (category; values = the catalogue's
                areas plus ``extra_areas``)
duration        events: seconds spent (numeric)
amount          events / sales: a money amount (numeric)
product         sales / campaigns: a product code of the catalogue (category)
status          sales: the agreement's status (category); ``label_statuses`` count as a take-up
outcome         campaigns: the furthest funnel step a contact reached (category, ordered)
holdings        clients: the products a client holds, ``dialect.list_separator``-separated
numeric         clients / snapshot: a numeric attribute that becomes a feature
categorical     clients / snapshot: a categorical attribute that becomes a feature
opt_out         consent: 1/true when the client refuses marketing contact
ignore          kept in bronze, never a feature (ids, free text, urls)
==============  =================================================================================
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml

from segrec_spark.typed_yaml import ConfigError, build, found, load_yaml, require

ColumnType = Literal["string", "key", "timestamp", "date", "int", "long", "double", "category",
                     "list", "boolean"]
Role = Literal["key", "cookie", "event_id", "time", "event_type", "product_area", "duration",
               "amount", "product", "status", "outcome", "holdings", "numeric", "categorical",
               "opt_out", "ignore", "label", "holding", "split"]
SourceKind = Literal["events", "sales", "campaigns", "clients", "consent", "snapshot"]
Format = Literal["csv", "parquet", "delta", "table"]

SINGLE_ROLES: frozenset[str] = frozenset({
    "key", "cookie", "event_id", "time", "event_type", "product_area", "duration", "amount",
    "product", "status", "outcome", "holdings", "opt_out"})
ATTRIBUTE_ROLES: frozenset[str] = frozenset({"numeric", "categorical"})
NUMERIC_COLUMN_TYPES: frozenset[str] = frozenset({"int", "long", "double"})

# Roles each kind of source may use, and the roles it must have.
ALLOWED_ROLES: dict[str, frozenset[str]] = {
    "events": frozenset({"key", "cookie", "event_id", "time", "event_type", "product_area",
                         "duration", "amount", "ignore"}),
    "sales": frozenset({"key", "event_id", "time", "product", "status", "amount", "ignore"}),
    "campaigns": frozenset({"key", "event_id", "time", "product", "outcome", "ignore"}),
    "clients": frozenset({"key", "time", "holdings", "numeric", "categorical", "ignore"}),
    "consent": frozenset({"key", "time", "opt_out", "ignore"}),
    "snapshot": frozenset({"key", "time", "label", "holding", "split", "numeric", "categorical",
                           "ignore"}),
}
REQUIRED_ROLES: dict[str, tuple[str, ...]] = {
    "events": ("time",),
    "sales": ("key", "time", "product"),
    "campaigns": ("key", "time", "product"),
    "clients": ("key",),
    "consent": ("key", "opt_out"),
    "snapshot": ("label",),
}
# Roles whose column must have one of these types.
ROLE_TYPES: dict[str, frozenset[str]] = {
    "key": frozenset({"key", "string", "long", "int"}),
    "time": frozenset({"timestamp", "date"}),
    "duration": NUMERIC_COLUMN_TYPES,
    "amount": NUMERIC_COLUMN_TYPES,
    "numeric": NUMERIC_COLUMN_TYPES | {"boolean"},
    "event_type": frozenset({"category", "string"}),
    "product_area": frozenset({"category"}),
    "product": frozenset({"category"}),
    "status": frozenset({"category", "string"}),
    "outcome": frozenset({"category"}),
    "holdings": frozenset({"list"}),
    "categorical": frozenset({"category", "string"}),
    "opt_out": frozenset({"boolean", "int", "string", "category"}),
}
# Snapshot roles: any type (values are read with the declared or the file's own types).
SNAPSHOT_ONLY_ROLES: frozenset[str] = frozenset({"label", "holding", "split"})
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CODE = re.compile(r"^[A-Za-z0-9_]+$")

UNKNOWN = "UNKNOWN"  # replaces an unknown category value when ingest keeps the row

# Quarantine reasons, shared by the generator's dirt manifest and ingest's quarantine table.
REASONS: tuple[str, ...] = ("MISSING_KEY", "MALFORMED_KEY", "BAD_TIMESTAMP", "OUT_OF_PERIOD",
                            "BAD_NUMBER", "UNKNOWN_CATEGORY", "WRONG_FIELD_COUNT",
                            "CONFLICTING_DUPLICATE")


@dataclass(frozen=True)
class Dialect:
    """How a landing file is written. CSV settings apply to CSV sources only."""

    delimiter: str = ","
    quote: str = '"'
    escape: str = '"'  # RFC 4180: a quote inside a quoted field is doubled
    encoding: str = "UTF-8"
    header: bool = True
    multiline: bool = False  # quoted fields may contain line breaks (slower to read)
    timestamp_format: str = "yyyy-MM-dd HH:mm:ss"
    date_format: str = "yyyy-MM-dd"
    time_zone: str = "UTC"
    list_separator: str = "|"

    def validate(self) -> None:
        require(len(self.delimiter) == 1, "delimiter",
                f"must be one character, found {self.delimiter!r}")
        require(len(self.quote) == 1, "quote", f"must be one character, found {self.quote!r}")
        require(len(self.escape) == 1, "escape", f"must be one character, found {self.escape!r}")
        require(len(self.list_separator) >= 1, "list_separator", "must not be empty")
        require(bool(self.timestamp_format.strip()), "timestamp_format", "must not be empty")
        require(bool(self.date_format.strip()), "date_format", "must not be empty")


@dataclass(frozen=True)
class Column:
    """One column of a source: its name as delivered, type, role and value set."""

    name: str
    type: ColumnType = "string"
    role: Role = "ignore"
    required: bool = True  # a required column missing from a delivery stops the batch
    nullable: bool = False  # an empty value is allowed (else a reject for key/number/time)
    values: tuple[str, ...] = ()  # value set of a category (or list items); empty = any value
    # snapshot label / holding columns: the product they belong to, and the values that mean
    # "took it up" / "holds it" (empty: 1, true, yes, y; compared without case or spaces).
    product: str = ""
    positive: tuple[str, ...] = ()
    description: str = ""

    @property
    def kind(self) -> str:
        """The column's type (ingest's historic name for it)."""
        return self.type

    @property
    def feature_name(self) -> str:
        """The name the column gets as a feature: non-word characters become underscores."""
        return safe_name(self.name)

    def validate(self) -> None:
        require(bool(self.name.strip()), "name", "must not be empty")
        require(self.role in ("label", "holding") or not self.product, "product",
                f"{self.name}: only label and holding columns name a product")
        require(self.role not in ("label", "holding") or bool(self.product), "product",
                f"{self.name}: a {self.role} column must name its product (product: CODE)")
        allowed = ROLE_TYPES.get(self.role)
        require(allowed is None or self.type in allowed, "type",
                f"role {self.role} needs a column of type {' or '.join(sorted(allowed or ()))}, "
                f"found {self.type}")
        require(len(set(self.values)) == len(self.values), "values", "repeats a value")

    @property
    def bronze_type_name(self) -> str:
        return {"string": "string", "key": "string", "timestamp": "timestamp", "date": "date",
                "int": "int", "long": "bigint", "double": "double", "category": "string",
                "list": "array<string>", "boolean": "boolean"}[self.type]

    @property
    def bronze_type(self) -> Any:
        from pyspark.sql import types as T

        return {
            "string": T.StringType(), "key": T.StringType(), "timestamp": T.TimestampType(),
            "date": T.DateType(), "int": T.IntegerType(), "long": T.LongType(),
            "double": T.DoubleType(), "category": T.StringType(),
            "list": T.ArrayType(T.StringType()), "boolean": T.BooleanType(),
        }[self.type]


@dataclass(frozen=True)
class Source:
    """One delivered table: kind, format, location, dialect and columns."""

    name: str
    kind: SourceKind
    columns: tuple[Column, ...]
    format: Format = "csv"
    channel: str = ""  # events: the channel name (web, app, ib, branch, ...)
    # Landing folder; default <paths.landing>/<name>. Deliveries are its YYYY-MM subfolders.
    location: str | None = None
    dialect: Dialect = field(default_factory=Dialect)
    # events: event_type values that are not client behaviour (e.g. a push the bank sent)
    passive_event_types: tuple[str, ...] = ()
    # One bronze partition per delivery month (small or snapshot tables) instead of per day.
    partition_by_delivery: bool = False
    description: str = ""
    # snapshot: values of the split column that mark training / evaluation (held-out) rows
    split_train: tuple[str, ...] = ("train",)
    split_evaluation: tuple[str, ...] = ("test", "evaluation", "holdout", "validation")
    # snapshot: a second table of held-out rows (same columns; label columns may be empty
    # or absent), scored and evaluated but never trained on
    evaluation_location: str | None = None
    # snapshot without a time column: the as-of date of every row
    as_of_date: str = "2000-01-01"
    # snapshot: columns not declared become features by their type (numbers numeric, text
    # categorical; ids and free text are recognised and left out), or are ignored
    undeclared_columns: Literal["infer", "ignore"] = "infer"
    # snapshot without a key column: the key is the row's position in the file (1, 2, ...)
    max_categories: int = 100  # a text column with more distinct values is not categorical

    @property
    def family(self) -> str:
        """The channel of an events source, else the kind (ingest's historic grouping)."""
        return self.channel if self.kind == "events" else self.kind

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name}: no column {name!r}")

    def role_column(self, role: str) -> str | None:
        """The name of the column with ``role`` (None when the source has none)."""
        return next((c.name for c in self.columns if c.role == role), None)

    def columns_with_role(self, role: str) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.role == role)

    @property
    def time_column(self) -> str:
        name = self.role_column("time")
        if name is None:
            raise KeyError(f"{self.name}: no column with role time")
        return name

    @property
    def key_column(self) -> str | None:
        return self.role_column("key")

    @property
    def id_column(self) -> str | None:
        """The natural id of a row: the event_id column, or the key of a clients table."""
        return self.role_column("event_id") or (self.key_column if self.kind == "clients"
                                                else None)

    @property
    def landing_schema(self) -> Any:
        """All columns as strings: what a landing file is read as before validation."""
        from pyspark.sql import types as T

        return T.StructType([T.StructField(c.name, T.StringType(), True) for c in self.columns])

    @property
    def bronze_data_schema(self) -> Any:
        """Typed data columns of the bronze table (ingest adds BRONZE_METADATA_COLUMNS)."""
        from pyspark.sql import types as T

        return T.StructType([T.StructField(c.name, c.bronze_type, True) for c in self.columns])

    def validate(self) -> None:
        require(bool(_CODE.match(self.name)), "name",
                f"{self.name!r}: letters, digits and underscores only")
        if self.kind != "snapshot":
            for i, c in enumerate(self.columns):
                require(bool(_NAME.match(c.name)), f"columns[{i}].name",
                        f"{c.name!r} is not a plain column name (letters, digits, underscore, "
                        f"not starting with a digit); rename it in the extract or in a view")
        else:
            require(self.format != "table" or bool(self.location), "location",
                    "a snapshot of format table needs location: <database.table>")
            require(bool(self.location), "location", "a snapshot source needs its location "
                                                     "(a file, a folder or a table name)")
            safe = [c.feature_name.lower() for c in self.columns]
            clash = sorted({n for n in safe if safe.count(n) > 1})
            require(not clash, "columns", f"column names {clash} are the same once non-word "
                                          f"characters become underscores")
        names = [c.name for c in self.columns]
        require(bool(names), "columns", "must declare at least one column")
        lowered = [n.lower() for n in names]
        dup = sorted({n for n in lowered if lowered.count(n) > 1})
        require(not dup, "columns", f"duplicate column name(s) {dup} (names are compared "
                                    f"without letter case)")
        allowed = ALLOWED_ROLES[self.kind]
        for i, c in enumerate(self.columns):
            require(c.role in allowed, f"columns[{i}].role",
                    f"{c.name}: role {c.role} is not allowed in a {self.kind} source "
                    f"(allowed: {', '.join(sorted(allowed))})")
        single = SINGLE_ROLES if self.kind != "snapshot" else (SINGLE_ROLES | {"split"})
        for role in single:
            having = [c.name for c in self.columns if c.role == role]
            require(len(having) <= 1, "columns",
                    f"more than one column with role {role}: {', '.join(having)}")
        for role in REQUIRED_ROLES[self.kind]:
            require(any(c.role == role for c in self.columns), "columns",
                    f"a {self.kind} source needs a column with role {role}")
        if self.kind == "events":
            require(bool(_CODE.match(self.channel)), "channel",
                    f"an events source needs a channel name (letters, digits, underscores), "
                    f"found {self.channel!r}")
            require(self.key_column is not None or self.role_column("cookie") is not None,
                    "columns", "an events source needs a column with role key or cookie")
        else:
            require(not self.channel, "channel", f"only events sources have a channel, "
                                                 f"found {self.channel!r} on a {self.kind} source")


@dataclass(frozen=True)
class Product:
    """One product of the catalogue."""

    code: str
    name: str = ""
    area: str = ""  # the product area events map to; default: the code
    margin: float | None = None  # expected revenue of one sale (campaign plan)
    contact_cost: float | None = None  # cost of one marketing contact (campaign plan)
    description: str = ""

    @property
    def display_name(self) -> str:
        return self.name or self.code.replace("_", " ").title()

    @property
    def product_area(self) -> str:
        return self.area or self.code

    def validate(self) -> None:
        require(bool(_CODE.match(self.code)), "code",
                f"{self.code!r}: letters, digits and underscores only (it names columns)")
        require(self.margin is None or self.margin >= 0, "margin", "must be >= 0")
        require(self.contact_cost is None or self.contact_cost >= 0, "contact_cost",
                "must be >= 0")


@dataclass(frozen=True)
class KeySpec:
    column: str = "identity_id_hash"
    pattern: str = ".+"  # a regular expression every key must match

    def validate(self) -> None:
        require(bool(_NAME.match(self.column)), "column",
                f"{self.column!r} is not a plain column name")
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ConfigError(f"pattern: not a regular expression ({exc})") from None


@dataclass(frozen=True)
class Funnel:
    """Campaign outcomes that count as opened / clicked / converted (at or after that step)."""

    opened: tuple[str, ...] = ()
    clicked: tuple[str, ...] = ()
    converted: tuple[str, ...] = ()


@dataclass(frozen=True)
class Contract:
    """The whole data contract. Build it with :func:`load_contract`."""

    name: str
    products: tuple[Product, ...]
    sources: Mapping[str, Source]
    key: KeySpec = field(default_factory=KeySpec)
    dialect: Dialect = field(default_factory=Dialect)
    extra_areas: tuple[str, ...] = ()  # product areas that belong to no product (e.g. GENERAL)
    funnel: Funnel = field(default_factory=Funnel)
    label_statuses: tuple[str, ...] = ()  # sales statuses that count as a take-up; () = any
    path: str = "<contract>"

    # --- catalogue ------------------------------------------------------------------------------

    @cached_property
    def product_codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.products)

    @cached_property
    def product_areas(self) -> tuple[str, ...]:
        areas: list[str] = []
        for a in (*(p.product_area for p in self.products), *self.extra_areas):
            if a not in areas:
                areas.append(a)
        return tuple(areas)

    def product(self, code: str) -> Product:
        for p in self.products:
            if p.code == code:
                return p
        raise KeyError(f"{self.path}: no product {code!r} in the catalogue")

    # --- sources --------------------------------------------------------------------------------

    def of_kind(self, kind: str) -> tuple[Source, ...]:
        return tuple(s for s in self.sources.values() if s.kind == kind)

    def one_of_kind(self, kind: str) -> Source | None:
        found_ = self.of_kind(kind)
        return found_[0] if found_ else None

    @cached_property
    def channels(self) -> tuple[str, ...]:
        """Event channels in the order their first source is declared."""
        out: list[str] = []
        for s in self.of_kind("events"):
            if s.channel not in out:
                out.append(s.channel)
        return tuple(out)

    @property
    def snapshot(self) -> Source | None:
        """The client-snapshot source, when the bank brings one instead of raw extracts."""
        return self.one_of_kind("snapshot")

    def values_of(self, source: Source, column: Column) -> tuple[str, ...]:
        """The value set of a column: declared, or implied by the catalogue for product roles."""
        if column.values:
            return column.values
        if column.role in ("product", "holdings"):
            return self.product_codes
        if column.role == "product_area":
            return self.product_areas
        return ()

    def check(self) -> None:
        """Cross-field checks of the whole contract (called by :func:`contract_from_dict`)."""
        require(bool(self.products), "products", "the catalogue must declare at least one product")
        codes = [p.code for p in self.products]
        dup = sorted({c for c in codes if codes.count(c) > 1})
        require(not dup, "products", f"duplicate product code(s) {dup}")
        require(bool(self.sources), "sources", "must declare at least one source")
        for name, source in self.sources.items():
            key = source.key_column
            require(key is None or key == self.key.column or source.kind == "snapshot",
                    f"sources.{name}.columns",
                    f"the key column is {key!r} but key.column is {self.key.column!r}; "
                    f"every source names the client key the same way")
            for i, c in enumerate(source.columns):
                if c.role == "product" and c.values:
                    unknown = sorted(set(c.values) - set(codes))
                    require(not unknown, f"sources.{name}.columns[{i}].values",
                            f"product code(s) {unknown} are not in the catalogue")
                if c.role == "product_area" and c.values:
                    missing = sorted(set(p.product_area for p in self.products) - set(c.values))
                    require(not missing, f"sources.{name}.columns[{i}].values",
                            f"product area(s) {missing} of the catalogue are not in the value "
                            f"set; add them, or leave values empty to use the catalogue's")
        for name, source in self.sources.items():
            for i, c in enumerate(source.columns):
                require(not c.product or c.product in codes,
                        f"sources.{name}.columns[{i}].product",
                        f"{c.product!r} is not a product of the catalogue ({', '.join(codes)})")
            if source.kind == "snapshot":
                labelled = [c.product for c in source.columns if c.role == "label"]
                twice = sorted({p for p in labelled if labelled.count(p) > 1})
                require(not twice, f"sources.{name}.columns",
                        f"more than one label column for product(s) {twice}")
        snapshots = self.of_kind("snapshot")
        require(not snapshots or len(snapshots) == len(self.sources), "sources",
                "a snapshot source replaces ingest and features: declare it alone, without "
                "event, sales, campaign or clients sources")
        areas_in_events = {a for s in self.of_kind("events")
                           for c in s.columns if c.role == "product_area"
                           for a in self.values_of(s, c)}
        if areas_in_events:
            orphan = sorted(areas_in_events - set(self.product_areas))
            require(not orphan, "extra_areas",
                    f"product area(s) {orphan} appear in events but no product has them; "
                    f"map them to a product (products[].area) or list them in extra_areas")
        for kind in ("sales", "campaigns", "clients", "consent", "snapshot"):
            having = [s.name for s in self.of_kind(kind)]
            require(len(having) <= 1, "sources",
                    f"at most one {kind} source, found {', '.join(having)}")
        sales = self.one_of_kind("sales")
        if sales is not None and self.label_statuses:
            status = sales.role_column("status")
            require(status is not None, "label_statuses",
                    f"sales source {sales.name} has no column with role status")
            assert status is not None
            values = sales.column(status).values
            unknown = sorted(set(self.label_statuses) - set(values)) if values else []
            require(not unknown, "label_statuses",
                    f"unknown status(es) {unknown} (the status column's values: "
                    f"{', '.join(values)})")
        camp = self.one_of_kind("campaigns")
        if camp is not None:
            outcome = camp.role_column("outcome")
            values = camp.column(outcome).values if outcome else ()
            for step in ("opened", "clicked", "converted"):
                steps = getattr(self.funnel, step)
                unknown = sorted(set(steps) - set(values)) if values else []
                require(not unknown, f"funnel.{step}",
                        f"outcome(s) {unknown} are not values of {camp.name}.{outcome}")


def safe_name(name: str) -> str:
    """``name`` as a plain column name: runs of non-word characters become one underscore."""
    cleaned = re.sub(r"[^0-9A-Za-z_]+", "_", name.strip()).strip("_") or "column"
    return f"c_{cleaned}" if cleaned[0].isdigit() else cleaned


def _source(name: str, data: Any, defaults: Dialect, where: str) -> Source:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, found {found(data)}")
    merged = dict(data)
    dialect = {**defaults.__dict__, **(merged.pop("dialect", None) or {})}
    merged["dialect"] = dialect
    merged.setdefault("name", name)
    return build(Source, merged, where)


def contract_from_dict(data: Mapping[str, Any], path: str = "<contract>") -> Contract:
    """Build and validate a :class:`Contract` from parsed YAML; errors name ``path``."""
    try:
        if not isinstance(data, Mapping):
            raise ConfigError(f"top level must be a mapping, found {found(data)}")
        body = dict(data)
        dialect = build(Dialect, body.pop("dialect", None) or {}, "dialect")
        sources = body.pop("sources", None)
        if not isinstance(sources, Mapping) or not sources:
            raise ConfigError("sources: required, a mapping of source name -> declaration")
        built = {str(n): _source(str(n), s, dialect, f"sources.{n}") for n, s in sources.items()}
        body["sources"] = {}
        body["dialect"] = dialect.__dict__
        body.setdefault("name", Path(path).stem)
        contract = build(Contract, body)
        contract = Contract(**{**contract.__dict__, "sources": built, "path": path})
        contract.check()
        return contract
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_contract(path: str | Path) -> Contract:
    """Read and validate the contract file at ``path``."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{file}: data contract file not found")
    try:
        data = load_yaml(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}".replace("\n", " ")) from None
    return contract_from_dict(data or {}, str(file))


def require_roles(source: Source, roles: Sequence[str], what: str) -> None:
    """Raise ConfigError when ``source`` lacks a column for one of ``roles`` (for a stage)."""
    for role in roles:
        require(source.role_column(role) is not None, f"sources.{source.name}",
                f"{what} needs a column with role {role}")
