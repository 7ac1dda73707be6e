"""MLflow at the edge: tracking set-up, registered model names, champion aliases.

Shared by training (registers models) and scoring / the report (load the champion), so that no
stage imports another stage's job module.
"""
from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import mlflow
from mlflow import MlflowClient
from pyspark.ml import PipelineModel

from segrec_spark.config import Config, is_local_path
from segrec_spark.errors import MissingTableError


def segmentation_model_name(cfg: Config) -> str:
    return f"{cfg.mlflow.registered_model_prefix}_segmentation"


def propensity_model_name(cfg: Config, product: str) -> str:
    return f"{cfg.mlflow.registered_model_prefix}_propensity_{product.lower()}"


# --- MLflow --------------------------------------------------------------------------------------

def configure_mlflow(cfg: Config) -> str:
    """Point MLflow at cfg.mlflow (creating a local sqlite folder) and return the experiment id."""
    uri = cfg.mlflow.tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.get_experiment_by_name(cfg.mlflow.experiment)
    if experiment is not None:
        experiment_id = experiment.experiment_id
    else:
        location = cfg.mlflow.artifact_location
        if is_local_path(location):
            Path(location).mkdir(parents=True, exist_ok=True)
            location = Path(location).resolve().as_uri()
        experiment_id = mlflow.create_experiment(cfg.mlflow.experiment,
                                                 artifact_location=location)
    # Nested (child) runs go to the active experiment, not their parent's: set it.
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def load_champion(cfg: Config, name: str, alias: str | None = None) -> PipelineModel:
    """The registered model ``name`` at alias (default mlflow.champion_alias) as a PipelineModel."""
    configure_mlflow(cfg)
    uri = f"models:/{name}@{alias or cfg.mlflow.champion_alias}"
    try:
        return mlflow.spark.load_model(uri)
    except mlflow.exceptions.MlflowException as exc:
        raise MissingTableError(f"MLflow model {uri} not found in {cfg.mlflow.tracking_uri} "
                                f"(run `segrec train` first): {exc.message}") from None


# What MLflow prints on standard error for every model it registers (not through logging).
REGISTRY_CHATTER = ("Successfully registered model", "Created version", "Registered model")


class _LinesWithout(io.TextIOBase):
    """A text stream that passes each complete line to ``target`` as soon as it is written,
    except lines starting with one of ``prefixes``."""

    def __init__(self, target: TextIO, prefixes: tuple[str, ...]) -> None:
        self._target, self._prefixes, self._pending = target, prefixes, ""

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            if not line.startswith(self._prefixes):
                self._target.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def finish(self) -> None:
        """Pass on a last line written without its line break."""
        if self._pending and not self._pending.startswith(self._prefixes):
            self._target.write(self._pending)
        self._pending = ""
        self._target.flush()


@contextlib.contextmanager
def without_registry_chatter() -> Iterator[None]:
    """Drop MLflow's per-model registration lines (:data:`REGISTRY_CHATTER`) from standard
    error; every other line passes on at once (warnings and retries stay visible)."""
    stream = _LinesWithout(sys.stderr, REGISTRY_CHATTER)
    try:
        with contextlib.redirect_stderr(stream):  # type: ignore[type-var]
            yield
    finally:
        stream.finish()


def log_and_register(model: PipelineModel, cfg: Config, name: str,
                     set_alias: bool = True) -> str:
    """Log the Spark ML model in the active run, register it, and (``set_alias``) give it the
    champion alias; a challenger that was not promoted is registered without the alias."""
    import pyspark

    # Explicit requirements: MLflow would otherwise infer them by reloading the model in a
    # subprocess, which costs tens of seconds per model.
    with without_registry_chatter():
        info = mlflow.spark.log_model(model, artifact_path="model", registered_model_name=name,
                                      pip_requirements=[f"pyspark=={pyspark.__version__}"])
    version = str(info.registered_model_version)
    if set_alias:
        MlflowClient().set_registered_model_alias(name, cfg.mlflow.champion_alias, version)
    return version


def champion_version(cfg: Config, name: str) -> tuple[str, str]:
    """(model version, run id) of the champion alias of registered model ``name``."""
    version = MlflowClient().get_model_version_by_alias(name, cfg.mlflow.champion_alias)
    return str(version.version), str(version.run_id)


@dataclass(frozen=True)
class Incumbent:
    """The model holding the champion alias: version, run, what it was last fitted on."""

    version: str
    run_id: str
    fitted_as_of: str  # its run's champion_as_of parameter ("" when unknown)
    model: PipelineModel


def current_champion(cfg: Config, name: str) -> Incumbent | None:
    """The registered model ``name`` at the champion alias, or None when there is none."""
    configure_mlflow(cfg)
    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(name, cfg.mlflow.champion_alias)
    except mlflow.exceptions.MlflowException:
        return None
    params = client.get_run(version.run_id).data.params if version.run_id else {}
    return Incumbent(str(version.version), str(version.run_id),
                     params.get("champion_as_of", ""), load_champion(cfg, name))
