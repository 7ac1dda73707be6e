"""Typed, validated configuration, loaded once at start.

A YAML file (see ``conf/local.yaml``) is turned into a tree of frozen dataclasses. Every key is
checked against the dataclass fields: an unknown key, a value of the wrong type, or a value that a
section's own ``validate`` rejects raises :class:`ConfigError` with a one-line message naming the
file and the dotted key, e.g.::

    conf/local.yaml: spark.shuffle_partitions: expected int, found str 'four'

Values can be overridden on the command line with ``--set section.key=value`` (the value is
parsed as YAML, so ``--set generator.scale=tiny`` and ``--set features.windows=[7,30]`` work).

Stage-specific sections are dataclasses defined next to the stage that reads them; this module
only knows how to build and validate any of them.
"""
from __future__ import annotations

import copy
import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from segrec_spark.contract import PROJECT_ROOT, SYNTHETIC_CONTRACT, Contract, load_contract
from segrec_spark.features.settings import FeatureSettings
from segrec_spark.generate.settings import GeneratorSettings
from segrec_spark.ingest.settings import IngestSettings
from segrec_spark.propensity.settings import PropensitySettings
from segrec_spark.scoring.settings import ScoringSettings
from segrec_spark.segmentation.settings import SegmentationSettings
from segrec_spark.typed_yaml import ConfigError, build, found, load_yaml, require

__all__ = ["Config", "ConfigError", "build", "load_config", "require"]

# The default file; SEGREC_CONFIG points elsewhere (spark-submit.sh sets it, because under
# --py-files the package is imported from a zip and has no conf/ beside it).
DEFAULT_CONFIG = Path(
    os.environ.get("SEGREC_CONFIG")
    or PROJECT_ROOT / "conf" / "local.yaml"
)
DEFAULT_CONTRACT = SYNTHETIC_CONTRACT


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into its key path and its YAML-parsed value."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. generator.scale=tiny")
    key, raw = text.split("=", 1)
    path = [p for p in key.strip().split(".") if p]
    if not path:
        raise ConfigError(f"--set {text!r}: empty key")
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: value {raw!r} is not valid YAML ({exc})") from None
    return path, value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``key=value`` override applied."""
    merged: dict[str, Any] = copy.deepcopy(dict(data))
    for text in overrides:
        path, value = parse_override(text)
        node = merged
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {'.'.join(path)}: {part} is not a section")
            node = child
        node[path[-1]] = value
    return merged


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(f"{path}: configuration file not found")
    if not path.is_file():
        raise ConfigError(f"{path}: configuration path is not a file")
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}".replace("\n", " ")) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections, found {found(data)}")
    return data


def resolve_path(value: str, base: Path) -> str:
    """Make a local path absolute (relative to ``base``); leave URIs such as s3a:// alone."""
    if "://" in value or value.startswith(("file:", "s3a:", "abfss:", "hdfs:", "gs:", "dbfs:")):
        if value.startswith("file:") and not value.startswith("file://"):
            return value  # file:/abs/path
        return value
    expanded = Path(os.path.expandvars(os.path.expanduser(value)))
    if not expanded.is_absolute():
        expanded = (base / expanded).resolve()
    return str(expanded)


# Setting names that carry secrets; they must come from the environment or the cluster's own
# credential mechanism, never from a configuration file that is committed and shared.
_SECRET_KEY = re.compile(r"(secret|password|passwd|access[._-]?key|account[._-]?key"
                         r"|token|credential|sas[._-]?key)",
                         re.IGNORECASE)
_URI_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]+:[^/@\s]+@", re.IGNORECASE)


def reject_secrets(key: str, value: str) -> None:
    """Raise ConfigError when a setting looks like it carries a credential."""
    require(not _SECRET_KEY.search(key), key,
            "credentials are not read from config files; set them in the environment or the "
            "cluster's credential provider (see README, Configuration)")
    require(not _URI_WITH_PASSWORD.match(value), key,
            "the URI embeds a user:password; pass credentials through the environment instead")


def is_local_path(value: str) -> bool:
    return "://" not in value and not value.split("/", 1)[0].endswith(":")


@dataclass(frozen=True)
class SparkSettings:
    """How the SparkSession is built (see segrec_spark.spark)."""

    master: str = "local[2]"
    app_name: str = "segrec_spark"
    shuffle_partitions: int = 4
    driver_memory: str = "4g"
    # JVM options of the driver when not under spark-submit (local mode: the driver runs every
    # task). The throughput collector and a larger code cache for the many small generated
    # plans: `segrec train` at small about 11 % shorter (docs/performance.md). Flags
    # in spark.conf's spark.driver.extraJavaOptions come after these, so they win.
    driver_java_options: str = "-XX:+UseParallelGC -XX:ReservedCodeCacheSize=512m"
    ui_enabled: bool = False
    log_level: str = "WARN"
    # Delta jars: by default resolved from Maven Central through spark.jars.packages, with the
    # coordinate derived from the installed delta-spark and pyspark. Set `jars` to local jar
    # paths instead for an offline machine.
    delta_package: str | None = None
    jars: tuple[str, ...] = ()
    extra_packages: tuple[str, ...] = ()
    catalog: Literal["in-memory", "hive"] = "in-memory"
    conf: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        require(self.shuffle_partitions >= 1, "shuffle_partitions", "must be >= 1")
        require(
            self.driver_memory[:-1].isdigit() and self.driver_memory[-1].lower() in "kmgt",
            "driver_memory",
            f"expected a size such as 4g or 512m, found {self.driver_memory!r}",
        )
        require(self.log_level in {"ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"},
                "log_level", f"unknown log level {self.log_level!r}")
        for key, value in self.conf.items():
            reject_secrets(f"conf.{key}", value)


@dataclass(frozen=True)
class PathSettings:
    """Where data lives. Local paths are resolved relative to the config file's project root."""

    # The data contract: sources, columns and roles, the product catalogue (docs/own-data.md).
    # (empty: the synthetic bank's contract shipped with the project)
    contract: str = ""
    root: str = "data/lake"  # Delta root: bronze/, silver/, gold/ and audit tables below it
    landing: str = "data/landing"  # landing zone the bank's export jobs drop files into
    ground_truth: str = "data/ground_truth"  # generator's planted truth, never read by the pipeline
    reports: str = "data/reports"


@dataclass(frozen=True)
class MlflowSettings:
    # Default: a local sqlite store (resolved under the project). A tracking server by URI
    # (http://...); credentials come from the environment (MLFLOW_TRACKING_TOKEN etc.), never
    # from this file.
    tracking_uri: str = "sqlite:///data/mlflow/mlflow.db"
    artifact_location: str = "data/mlflow/artifacts"
    experiment: str = "segrec_spark"
    champion_alias: str = "champion"
    registered_model_prefix: str = "segrec"

    def validate(self) -> None:
        require(bool(self.experiment.strip()), "experiment", "must not be empty")
        require(self.champion_alias.isidentifier(), "champion_alias",
                f"must be a plain identifier, found {self.champion_alias!r}")
        reject_secrets("tracking_uri", self.tracking_uri)


@dataclass(frozen=True)
class SqlSettings:
    host: str = "127.0.0.1"  # loopback unless configured otherwise
    port: int = 10000

    def validate(self) -> None:
        require(1 <= self.port <= 65535, "port", f"must be 1..65535, found {self.port}")


def _stage_sections() -> dict[str, Any]:
    """Stage config classes (each defined beside its stage; they import nothing from here)."""
    return {
        "generator": GeneratorSettings,
        "ingest": IngestSettings,
        "features": FeatureSettings,
        "segmentation": SegmentationSettings,
        "propensity": PropensitySettings,
        "scoring": ScoringSettings,
    }


@dataclass(frozen=True)
class Config:
    """The whole configuration. Build it with :func:`load_config`."""

    source: str
    spark: SparkSettings
    paths: PathSettings
    mlflow: MlflowSettings
    sql: SqlSettings
    generator: Any
    ingest: Any
    features: Any
    segmentation: Any
    propensity: Any
    scoring: Any
    contract: Contract
    # The project root the relative paths of this configuration were resolved against; the
    # contract's relative source locations are resolved against it too.
    base_dir: str = "."

    def with_overrides(self, **sections: Any) -> Config:
        return dataclasses.replace(self, **sections)


_CORE_SECTIONS = {
    "spark": SparkSettings,
    "paths": PathSettings,
    "mlflow": MlflowSettings,
    "sql": SqlSettings,
}


def config_from_dict(data: Mapping[str, Any], source: str = "<dict>",
                     base_dir: Path | None = None) -> Config:
    """Build and validate a :class:`Config` from a mapping (the parsed YAML)."""
    sections = {**_CORE_SECTIONS, **_stage_sections()}
    base = base_dir or DEFAULT_CONFIG.parent.parent
    try:
        for key in data:
            if key not in sections:
                allowed = ", ".join(sorted(sections))
                raise ConfigError(f"{key}: unknown section (allowed: {allowed})")
        built = {}
        for name, cls in sections.items():
            value = data.get(name) or {}
            if not isinstance(value, Mapping):
                raise ConfigError(f"{name}: expected a mapping of settings, found {found(value)}")
            built[name] = build(cls, value, name)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    paths = built["paths"]
    if not paths.contract:
        paths = dataclasses.replace(paths, contract=str(DEFAULT_CONTRACT))
    built["paths"] = PathSettings(**{
        f.name: resolve_path(getattr(paths, f.name), base) for f in dataclasses.fields(paths)
    })
    ml = built["mlflow"]
    uri = ml.tracking_uri
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = "sqlite:///" + resolve_path(uri[len("sqlite:///"):], base)
    built["mlflow"] = dataclasses.replace(
        ml, tracking_uri=uri, artifact_location=resolve_path(ml.artifact_location, base))
    contract = load_contract(built["paths"].contract)
    try:
        check_against_contract(built, contract)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return Config(source=source, contract=contract, base_dir=str(base), **built)


def check_against_contract(sections: Mapping[str, Any], contract: Contract) -> None:
    """Settings that name contract things (sources, products, statuses) must find them."""
    for name in sections["ingest"].formats:
        require(name in contract.sources, f"ingest.formats.{name}",
                f"unknown source (the contract {contract.path} has: "
                f"{', '.join(contract.sources)})")
    sales = contract.one_of_kind("sales")
    status = sales.role_column("status") if sales else None
    values = sales.column(status).values if sales and status else ()
    unknown = sorted(set(sections["features"].label_statuses) - set(values)) if values else []
    require(not unknown, "features.label_statuses",
            f"unknown status(es) {unknown} (the contract's {status} values: {', '.join(values)})")
    unknown = [p for p in sections["propensity"].products if p not in contract.product_codes]
    require(not unknown, "propensity.products",
            f"unknown product(s) {', '.join(unknown)} (the catalogue of {contract.path} has: "
            f"{', '.join(contract.product_codes)})")


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Read the YAML file at ``path`` (default ``conf/local.yaml``), apply overrides, validate.

    Relative local paths in the file are resolved against the directory that holds ``conf/``
    (the project root), so the same file works from any working directory.
    """
    file = Path(path) if path else DEFAULT_CONFIG
    data = read_yaml(file)
    try:
        data = apply_overrides(data, overrides)
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from None
    base = file.resolve().parent
    if base.name == "conf":
        base = base.parent
    return config_from_dict(data, source=str(file), base_dir=base)
