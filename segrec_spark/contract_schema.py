"""The column and source vocabulary of the data contract: types, roles, dialect, sources.

:mod:`segrec_spark.contract` builds a whole contract from these and re-exports them; the role
table is documented there.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from segrec_spark.typed_yaml import require

ColumnType = Literal["string", "key", "timestamp", "date", "int", "long", "double", "category",
                     "list", "boolean"]
Role = Literal["key", "cookie", "event_id", "time", "event_type", "product_area", "duration",
               "amount", "product", "status", "outcome", "holdings", "numeric", "categorical",
               "opt_out", "ignore", "label", "holding", "split"]
SourceKind = Literal["events", "sales", "campaigns", "clients", "consent", "snapshot"]
Format = Literal["csv", "json", "parquet", "delta", "table", "xlsx"]
RAW_FORMATS = ("csv", "parquet", "delta")  # what ingest reads month by month

# The propensity tiers of gold.product_rankings, best first (scoring.tiers cuts them; a
# product's ``actions`` in the catalogue may word what marketing does in each).
TIER_HIGH = "High Value Engaged"
TIER_MID = "Potential Upsell"
TIER_LOW = "Nurture and Educate"
TIER_NONE = "Low Engagement"
TIERS = (TIER_HIGH, TIER_MID, TIER_LOW, TIER_NONE)

SINGLE_ROLES: frozenset[str] = frozenset({
    "key", "cookie", "event_id", "time", "event_type", "product_area", "duration", "amount",
    "product", "status", "outcome", "holdings", "opt_out"})
NUMERIC_COLUMN_TYPES: frozenset[str] = frozenset({"int", "long", "double"})

# Roles each kind of source may use, and the roles it must have.
ALLOWED_ROLES: dict[str, frozenset[str]] = {
    "events": frozenset({"key", "cookie", "event_id", "time", "event_type", "product_area",
                         "duration", "amount", "ignore"}),
    "sales": frozenset({"key", "event_id", "time", "product", "status", "amount", "ignore"}),
    "campaigns": frozenset({"key", "event_id", "time", "product", "outcome", "ignore"}),
    "clients": frozenset({"key", "time", "holdings", "numeric", "categorical", "ignore"}),
    "consent": frozenset({"key", "event_id", "time", "opt_out", "ignore"}),
    "snapshot": frozenset({"key", "time", "label", "holding", "split", "numeric", "categorical",
                           "amount", "ignore"}),
}
REQUIRED_ROLES: dict[str, tuple[str, ...]] = {
    "events": ("time",),
    "sales": ("key", "time", "product"),
    "campaigns": ("key", "time", "product"),
    "clients": ("key",),
    "consent": ("key", "opt_out"),
    "snapshot": (),  # a label, or holdings with a time column: see Source.validate
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
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CODE = re.compile(r"^[A-Za-z0-9_]+$")

# A date column's feature, in the words ops.snapshot_columns uses for it (segments read such a
# feature as later / earlier, not high / low).
DAYS_SINCE_1970 = "days since 1970-01-01"
# A snapshot's take-up feature of a many-valued column: takeup_<product>_<column> (the models
# keep such features only where validation says they help).
TAKE_UP_PREFIX = "takeup_"
UNKNOWN = "UNKNOWN"  # replaces an unknown category value when ingest keeps the row

# Quarantine reasons, shared by the generator's dirt manifest and ingest's quarantine table.
REASONS: tuple[str, ...] = ("MISSING_KEY", "MALFORMED_KEY", "BAD_TIMESTAMP", "OUT_OF_PERIOD",
                            "BAD_NUMBER", "UNKNOWN_CATEGORY", "WRONG_FIELD_COUNT",
                            "CONFLICTING_DUPLICATE")


# The encodings Spark 4's CSV reader takes (by these names), and common other names of them;
# windows-1252 (and cp1252) read as ISO-8859-1, which differs only in a few symbols (the euro
# sign, curly quotes).
SPARK_CHARSETS = ("utf-8", "iso-8859-1", "us-ascii", "utf-16", "utf-16be", "utf-16le", "utf-32")
CHARSET_ALIASES = {"utf8": "utf-8", "latin1": "iso-8859-1", "latin-1": "iso-8859-1",
                   "iso8859-1": "iso-8859-1", "iso_8859_1": "iso-8859-1",
                   "iso-8859-15": "iso-8859-1", "cp1252": "iso-8859-1",
                   "windows-1252": "iso-8859-1", "ascii": "us-ascii", "utf16": "utf-16",
                   "utf32": "utf-32"}


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
    # The decimal mark of numbers: "." or "," (then "." and spaces are thousands separators)
    decimal: str = "."
    # An Excel workbook (format xlsx): the sheet read, by name; empty = the first sheet
    sheet: str = ""

    @property
    def charset(self) -> str:
        """The encoding by the name Spark's CSV reader takes (:data:`CHARSET_ALIASES`)."""
        name = self.encoding.strip().lower()
        return CHARSET_ALIASES.get(name, name)

    def validate(self) -> None:
        require(self.charset in SPARK_CHARSETS, "encoding",
                f"{self.encoding!r} is not an encoding Spark reads; use one of "
                f"{', '.join(SPARK_CHARSETS)} (windows-1252 and latin1 are read as "
                f"iso-8859-1)")
        require(len(self.delimiter) == 1, "delimiter",
                f"must be one character, found {self.delimiter!r}")
        require(len(self.quote) == 1, "quote", f"must be one character, found {self.quote!r}")
        require(len(self.escape) == 1, "escape", f"must be one character, found {self.escape!r}")
        require(len(self.list_separator) >= 1, "list_separator", "must not be empty")
        require(bool(self.timestamp_format.strip()), "timestamp_format", "must not be empty")
        require(bool(self.date_format.strip()), "date_format", "must not be empty")
        require(self.decimal in (".", ","), "decimal",
                f"the decimal mark is \".\" or \",\", found {self.decimal!r}")


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
    # snapshot: a Spark SQL expression over the delivered columns that computes this column
    # (e.g. "Quantity * UnitPrice"); the column itself is then not delivered
    expression: str = ""

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
        dated = self.type in ("date", "timestamp") and self.role in ("numeric", "categorical")
        require(allowed is None or self.type in allowed, "type",
                f"role {self.role} needs a column of type {' or '.join(sorted(allowed or ()))}, "
                f"found {self.type}" + (
                    f" (a date feature: leave {self.name} undeclared in a snapshot source, "
                    f"read as days since 1970-01-01, or declare type double with an expression "
                    f"such as datediff(try_to_date({self.name}, 'M/d/yy'), '1970-01-01'))"
                    if dated else ""))
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
    # snapshot without a time column: the as-of date of every row (empty: 2000-01-01, or
    # beside a transaction log the day after its latest transaction)
    as_of_date: str = ""
    # snapshot: columns not declared become features by their type (numbers numeric, text
    # categorical; ids and free text are recognised and left out), or are ignored
    undeclared_columns: Literal["infer", "ignore"] = "infer"
    # snapshot: the share of clients held out to evaluate the models when the table holds
    # out none itself (one as-of date, no split column, no labelled held-out file); 0 = never
    holdout_share: float = 0.2
    # snapshot CSV without a header line (dialect header: false): the file's column names in
    # file order; declared columns are among them, the rest are inferred
    names: tuple[str, ...] = ()
    # snapshot without a key column: the key is the row's position in the file (1, 2, ...)
    max_categories: int = 100  # a text column with more distinct values is not categorical
    # snapshot: "client" (one row per client and as-of date) or "transactions" (one row per
    # transaction of a client: the rows are summed up per client, and the clients segmented)
    grain: Literal["client", "transactions"] = "client"
    # grain transactions: a product of the catalogue whose outcome is "buys again": a client
    # with a transaction in the outcome_days after an as-of date took it up (docs/own-data.md)
    outcome_product: str = ""
    outcome_days: int = 90
    # grain transactions: products taken up by a transaction of a kind: a client with a
    # transaction in the outcome_days after an as-of date whose outcome_column holds one of
    # the product's outcome_values (compared without case or surrounding spaces) took it up
    outcome_column: str = ""
    outcome_values: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def family(self) -> str:
        """The channel of an events source, else the kind (ingest's historic grouping)."""
        return self.channel if self.kind == "events" else self.kind

    @property
    def delivered_columns(self) -> tuple[Column, ...]:
        """The declared columns the table itself holds (not computed by an expression)."""
        return tuple(c for c in self.columns if not c.expression)

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
            require(not self.names, "names", "only a snapshot source takes names (raw "
                    "extracts without a header line are read in the order of their columns)")
            require(self.grain == "client", "grain", "only a snapshot source has a grain")
            require(not self.outcome_product, "outcome_product",
                    "only a snapshot of grain transactions has an outcome_product")
            require(not self.outcome_column and not self.outcome_values, "outcome_column",
                    "only a snapshot of grain transactions has an outcome_column")
            require(self.format in RAW_FORMATS, "format",
                    f"a {self.kind} source is delivered as {', '.join(RAW_FORMATS)}, found "
                    f"{self.format!r} (json, table and xlsx are read for a snapshot source)")
            computed = [c.name for c in self.columns if c.expression]
            require(not computed, "columns", f"{', '.join(computed)}: only the columns of a "
                    f"snapshot source may be computed by an expression")
            for i, c in enumerate(self.columns):
                require(bool(_NAME.match(c.name)), f"columns[{i}].name",
                        f"{c.name!r} is not a plain column name (letters, digits, underscore, "
                        f"not starting with a digit); rename it in the extract or in a view")
        else:
            require(self.format != "table" or bool(self.location), "location",
                    "a snapshot of format table needs location: <database.table>")
            require(bool(self.location), "location", "a snapshot source needs its location "
                                                     "(a file, a folder or a table name)")
            require(bool(self.split_evaluation), "split_evaluation",
                    "needs at least one value that marks a held-out row")
            require(0 <= self.holdout_share < 1, "holdout_share",
                    f"a share of the clients from 0 (none) to below 1, found "
                    f"{self.holdout_share}")
            if self.names:
                require(not self.dialect.header, "names", "names the columns of a file "
                        "without a header line: set dialect header: false")
                lowered = [n.lower() for n in self.names]
                repeated = sorted({n for n in lowered if lowered.count(n) > 1})
                require(not repeated, "names", f"repeats {repeated} (compared without case)")
                unknown = [c.name for c in self.delivered_columns if c.name not in self.names]
                require(not unknown, "columns", f"{', '.join(unknown)} not among names "
                                                f"(the file's columns in order)")
            safe = [c.feature_name.lower() for c in self.columns]
            clash = sorted({n for n in safe if safe.count(n) > 1})
            require(not clash, "columns", f"column names {clash} are the same once non-word "
                                          f"characters become underscores")
        names = [c.name for c in self.columns]
        require(bool(names) or (self.kind == "snapshot" and self.undeclared_columns == "infer"),
                "columns", "must declare at least one column")
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
                    f"{article(self.kind)} {self.kind} source needs a column with role {role}")
        if self.kind == "snapshot" and self.grain == "transactions":
            self._validate_transactions()
        elif self.kind == "snapshot":
            require(not self.outcome_column and not self.outcome_values, "outcome_column",
                    "only a snapshot of grain transactions has an outcome_column (a client "
                    "table declares a column of role label)")
            require(not self.outcome_product, "outcome_product",
                    "only a snapshot of grain transactions has an outcome_product (a client "
                    "table declares a column of role label)")
            require(self.role_column("amount") is None, "columns",
                    "role amount is for a snapshot of grain transactions (a client table's "
                    "amounts are numeric columns)")
        if self.kind == "snapshot":
            has = {c.role for c in self.columns}
            require("label" in has or "holding" not in has or "time" in has, "columns",
                    "holding columns without a label need a column with role time (a take-up "
                    "is then a product held at the next as-of date and not at this one); "
                    "declare a column with role label for a product's outcome, or neither to "
                    "segment the clients only")
        if self.kind == "events":
            require(bool(_CODE.match(self.channel)), "channel",
                    f"an events source needs a channel name (letters, digits, underscores), "
                    f"found {self.channel!r}")
            require(self.key_column is not None or self.role_column("cookie") is not None,
                    "columns", "an events source needs a column with role key or cookie")
        else:
            require(not self.channel, "channel", f"only events sources have a channel, "
                                                 f"found {self.channel!r} on a {self.kind} source")


    def _validate_transactions(self) -> None:
        """A transaction log: a key, a time and no outcome (it is segmented only)."""
        require(self.key_column is not None and self.role_column("time") is not None,
                "columns", "a snapshot of grain transactions needs a column with role key "
                "(the client) and one with role time (the transaction's date)")
        outcome = [c.name for c in self.columns if c.role in ("label", "holding", "split")]
        require(not outcome, "columns", f"{', '.join(outcome)}: a snapshot of grain "
                f"transactions has no label, holding or split column (its outcome, if any, "
                f"is a later transaction: outcome_product); put outcomes in a client table "
                f"(grain client)")
        require(self.evaluation_location is None, "evaluation_location",
                "a snapshot of grain transactions has no held-out table (its outcome, "
                "outcome_product, is evaluated on a later as-of date)")
        require(bool(self.outcome_column) == bool(self.outcome_values), "outcome_values",
                "outcome_column and outcome_values come together: the column of the log that "
                "says what a transaction is, and per product the values that take it up")
        for product, values in self.outcome_values.items():
            require(bool(values) and all(str(v).strip() for v in values),
                    f"outcome_values.{product}", "needs at least one non-empty value")
        require(not self.outcome_column or self.outcome_column in
                {c.name for c in self.columns} or self.undeclared_columns == "infer",
                "outcome_column", f"{self.outcome_column!r} is not a declared column (and "
                f"undeclared columns are ignored)")
        require(self.outcome_days >= 1, "outcome_days",
                f"the days after an as-of date in which a transaction is a take-up, at least "
                f"1, found {self.outcome_days}")


def safe_name(name: str) -> str:
    """``name`` as a plain column name: runs of non-word characters become one underscore."""
    cleaned = re.sub(r"[^0-9A-Za-z_]+", "_", name.strip()).strip("_") or "column"
    return f"c_{cleaned}" if cleaned[0].isdigit() else cleaned


def article(word: str) -> str:
    """"an" before a vowel ("an events source"), else "a"."""
    return "an" if word[:1].lower() in "aeiou" else "a"
