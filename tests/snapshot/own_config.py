"""conf/own_data.yaml as shipped, with its paths moved under a test's folder and the Spark and
model settings shrunk for a test (shared by the snapshot CLI tests)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def own_data_config(tmp: Path, contract: dict[str, Any], propensity: dict[str, Any]) -> Path:
    """Write ``contract`` and a configuration for it under ``tmp``; return the configuration."""
    (tmp / "contract.yaml").write_text(yaml.safe_dump(contract))
    conf = yaml.safe_load((ROOT / "conf/own_data.yaml").read_text())
    conf["paths"] = {"contract": str(tmp / "contract.yaml"), "root": str(tmp / "lake"),
                     "landing": str(tmp / "landing"), "ground_truth": str(tmp / "none"),
                     "reports": str(tmp / "reports")}
    conf["mlflow"] = {"tracking_uri": f"sqlite:///{tmp}/mlflow/mlflow.db",
                      "artifact_location": str(tmp / "mlflow" / "artifacts")}
    conf["spark"] = {"master": "local[2]", "shuffle_partitions": 2}
    conf["segmentation"] = {"k_min": 2, "k_max": 3}
    conf["propensity"].update(propensity)
    (tmp / "own.yaml").write_text(yaml.safe_dump(conf))
    return tmp / "own.yaml"
