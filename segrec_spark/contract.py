"""The data contract (DESIGN.md section 1): what a bank delivers, declared as data.

A contract file (YAML, ``conf/contracts/*.yaml``) declares

* ``key``: the client key column's name and pattern (every source carries it);
* ``dialect``: how landing files are written (delimiter, quoting, encoding, header, date and
  timestamp formats, time zone), with per-source overrides;
* ``products``: the product catalogue (code, display name, the product area that events map
  to, optional margin and contact cost), any number of products;
* ``sources``: each source's kind (``events`` of a named channel, ``sales``, ``campaigns``,
  ``clients``, ``consent``, or one ``snapshot`` instead of them all), format (``csv``,
  ``parquet``, ``delta``; a snapshot also ``json`` and ``table``), optional location, and its
  columns with type and role.

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
time            the date or timestamp that places a row in time (and in its delivery's month;
                a snapshot's as-of date; a transaction's date in a log, ``grain: transactions``)
event_type      events: what happened (category)
product_area    events: the product area the event is about (category; values = the catalogue's
                areas plus ``extra_areas``)
duration        events: seconds spent (numeric)
amount          events / sales / a snapshot of grain transactions: a money amount (numeric)
product         sales / campaigns: a product code of the catalogue (category)
status          sales: the agreement's status (category); ``label_statuses`` count as a take-up
outcome         campaigns: the furthest funnel step a contact reached (category, ordered)
holdings        clients: the products a client holds, ``dialect.list_separator``-separated
numeric         clients / snapshot: a numeric attribute that becomes a feature (in a transaction
                log, ``grain: transactions``: the client's average)
categorical     clients / snapshot: a categorical attribute that becomes a feature (in a
                transaction log: the client's most frequent value)
label           snapshot: a product's outcome (took it up: yes/no, or its ``positive`` values)
holding         snapshot: the product is held at the as-of date
split           snapshot: which rows train and which are held out (``split_train``,
                ``split_evaluation``)
opt_out         consent: true when the client refuses marketing contact (1/0, true/false, Y/N,
                yes/no); the latest row before the as-of date holds
ignore          kept in bronze, never a feature (ids, free text, urls)
==============  =================================================================================
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from segrec_spark.contract_schema import (  # noqa: F401 - re-exported: the contract's vocabulary
    _CODE,
    _NAME,
    ALLOWED_ROLES,
    DAYS_SINCE_1970,
    NUMERIC_COLUMN_TYPES,
    REASONS,
    REQUIRED_ROLES,
    ROLE_TYPES,
    SINGLE_ROLES,
    TAKE_UP_PREFIX,
    TIERS,
    UNKNOWN,
    Column,
    ColumnType,
    Dialect,
    Format,
    Role,
    Source,
    SourceKind,
    safe_name,
)
from segrec_spark.typed_yaml import ConfigError, build, found, load_yaml, require

# The project root, where conf/ lives: SEGREC_HOME when set (spark-submit.sh sets it: under
# --py-files the package is imported from a zip with no conf/ beside it), else the checkout.
PROJECT_ROOT = Path(os.environ.get("SEGREC_HOME") or Path(__file__).parent.parent).resolve()
# The synthetic bank's contract, the default one (the generator writes its data).
SYNTHETIC_CONTRACT = PROJECT_ROOT / "conf" / "contracts" / "synthetic_bank.yaml"


@dataclass(frozen=True)
class Product:
    """One product of the catalogue."""

    code: str
    name: str = ""
    area: str = ""  # the product area events map to; default: the code
    margin: float | None = None  # expected revenue of one sale (campaign plan)
    contact_cost: float | None = None  # cost of one marketing contact (campaign plan)
    description: str = ""
    # Who may be offered the product: a Spark SQL boolean expression over gold.client_features
    # columns (e.g. "age_band <> '18-25'"); empty = every client who does not hold it. Checked
    # against the features' schema when scoring starts.
    eligible: str = ""
    # What marketing does with a client in each tier, by tier name, where the default texts
    # (scoring.publish.ACTIONS: sales offers) do not fit, e.g. a risk outcome such as a payment
    # default; "{product}" is replaced by the product's name. A tier not named keeps its default.
    actions: Mapping[str, str] = field(default_factory=dict)

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
        require(";" not in self.eligible, "eligible",
                f"{self.eligible!r}: one SQL boolean expression, no ';'")
        for tier, text in self.actions.items():
            require(tier in TIERS, "actions",
                    f"{tier!r} is not a tier; the tiers are {', '.join(TIERS)}")
            require(bool(text.strip()), f"actions.{tier}", "must not be empty")


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
        """The client-snapshot source, when the bank brings one instead of raw extracts: the
        client table when a transaction log comes beside it (:attr:`snapshot_log`)."""
        snapshots = self.of_kind("snapshot")
        tables = [s for s in snapshots if s.grain != "transactions"]
        if len(snapshots) == 2 and tables:
            return tables[0]
        return snapshots[0] if snapshots else None

    @property
    def snapshot_log(self) -> Source | None:
        """A transaction log delivered beside the client table (two snapshot sources), whose
        per-client summaries join the table's attributes; None otherwise (a log alone is
        :attr:`snapshot`)."""
        snapshots = self.of_kind("snapshot")
        if len(snapshots) != 2:
            return None
        return next((s for s in snapshots if s.grain == "transactions"), None)

    @property
    def segments_only(self) -> bool:
        """A snapshot without an outcome (no label and no holding column): the pipeline segments
        the clients and names the segments; no product is scored (docs/own-data.md)."""
        source = self.snapshot
        return (source is not None and not source.outcome_product
                and not source.outcome_values
                and not any(c.role in ("label", "holding") for c in source.columns))

    def _check_snapshots(self, snapshots: Sequence[Source]) -> None:
        """One snapshot source, or a client table and a transaction log beside it."""
        names = ", ".join(s.name for s in snapshots)
        logs = [s for s in snapshots if s.grain == "transactions"]
        require(len(snapshots) <= 1 or (len(snapshots) == 2 and len(logs) == 1), "sources",
                f"at most one snapshot source, or a client table and a transaction log (grain "
                f"transactions) beside it; found {names}")
        if len(snapshots) == 2:
            log = logs[0]
            table = next(s for s in snapshots if s is not log)
            require(table.key_column is not None, f"sources.{table.name}.columns",
                    "a client table beside a transaction log needs a column with role key "
                    "(the log's rows join it by the client's key)")
            require(not log.outcome_product and not log.outcome_values,
                    f"sources.{log.name}.outcome_product",
                    "a transaction log beside a client table adds features to it; the "
                    "outcomes are the client table's label columns (leave out "
                    "outcome_product, or deliver the log alone)")

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
        require(bool(self.products) or self.segments_only, "products",
                "the catalogue must declare at least one product (a snapshot without label or "
                "holding columns may have none: it is segmented only)")
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
                    missing = sorted({p.product_area for p in self.products} - set(c.values))
                    require(not missing, f"sources.{name}.columns[{i}].values",
                            f"product area(s) {missing} of the catalogue are not in the value "
                            f"set; add them, or leave values empty to use the catalogue's")
        for name, source in self.sources.items():
            for i, c in enumerate(source.columns):
                require(not c.product or c.product in codes,
                        f"sources.{name}.columns[{i}].product",
                        f"{c.product!r} is not a product of the catalogue ({', '.join(codes)})")
            require(not source.outcome_product or source.outcome_product in codes,
                    f"sources.{name}.outcome_product",
                    f"{source.outcome_product!r} is not a product of the catalogue "
                    f"({', '.join(codes)})")
            unknown = sorted(set(source.outcome_values) - set(codes))
            require(not unknown, f"sources.{name}.outcome_values",
                    f"{', '.join(unknown)}: not a product of the catalogue ({', '.join(codes)})")
            require(source.outcome_product not in source.outcome_values,
                    f"sources.{name}.outcome_values",
                    f"{source.outcome_product} is the outcome_product already (any transaction)")
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
        for kind in ("sales", "campaigns", "clients", "consent"):
            having = [s.name for s in self.of_kind(kind)]
            require(len(having) <= 1, "sources",
                    f"at most one {kind} source, found {', '.join(having)}")
        self._check_snapshots(snapshots)
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


def _source(name: str, data: Any, defaults: Dialect, where: str) -> Source:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, found {found(data)}")
    merged = dict(data)
    dialect = {**defaults.__dict__, **(merged.pop("dialect", None) or {})}
    merged["dialect"] = dialect
    merged.setdefault("name", name)
    merged.setdefault("columns", [])  # a snapshot may infer every column (Source.validate)
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
        body.setdefault("products", [])  # check() asks for one unless segmenting only
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
        hint = (" (the package runs from a zip: set SEGREC_HOME to the directory holding conf/, "
                "as spark-submit.sh does)" if ".zip" in str(file) else "")
        raise ConfigError(f"{file}: data contract file not found{hint}")
    try:
        data = load_yaml(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}".replace("\n", " ")) from None
    return contract_from_dict(data or {}, str(file))
