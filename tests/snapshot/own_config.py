"""conf/own_data.yaml as shipped, with its paths moved under a test's folder and the Spark and
model settings shrunk for a test, and the check of planted kinds against segments (shared by
the snapshot CLI tests)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
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


def segment_of_each_kind(found: Mapping[str, int], kinds: Mapping[str, str],
                         planted: Sequence[str], share: float = 0.9) -> dict[str, int]:
    """Kind -> the segment holding most of its clients (``found``: client -> segment,
    ``kinds``: client -> planted kind); asserts that each kind lands, at least ``share`` of it,
    in a segment of its own."""
    majority = {}
    for kind in planted:
        seg, n = Counter(found[c] for c, k in kinds.items() if k == kind).most_common(1)[0]
        assert n >= share * sum(1 for k in kinds.values() if k == kind), kind
        majority[kind] = seg
    assert len(set(majority.values())) == len(planted)
    return majority
