"""Own-data yardstick: segrec_spark's documented snapshot path against scikit-learn defaults.

For each seed: write a bank-marketing-shaped snapshot (``segrec_spark.generate.marketing``:
train.csv + test.csv + the planted truth), run ``segrec run`` on it through the contract and
configuration of docs/own-data.md, read the held-out clients' scores from
``gold.product_rankings``, and compute the held-out ROC-AUC beside that of scikit-learn's
default LogisticRegression, RandomForestClassifier and GradientBoostingClassifier fitted on the
same training file (one-hot categoricals, median-imputed numbers) and of the planted truth.

    .venv/bin/python bench/own_data.py --seeds 1,2,3 --rows 6000 [--out bench/results/own.json]

Prints one line per seed and the medians; nothing here is a test (figures vary by machine and
seed): the README quotes the medians with this command.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from segrec_spark import cli  # noqa: E402
from segrec_spark.generate.marketing import write_marketing  # noqa: E402


def sklearn_aucs(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, float]:
    both = pd.concat([train, test]).drop(columns=["y", "customer_id"])
    x = pd.get_dummies(both, dtype=float)
    x = x.fillna(x.iloc[: len(train)].median())
    x_train, x_test = x.iloc[: len(train)], x.iloc[len(train):]
    y_train, y_test = (train["y"] == "yes").astype(int), (test["y"] == "yes").astype(int)
    out = {}
    for name, model in (("logistic_regression", LogisticRegression(max_iter=1000)),
                        ("random_forest", RandomForestClassifier(random_state=0)),
                        ("gradient_boosting", GradientBoostingClassifier(random_state=0))):
        model.fit(x_train, y_train)
        out[name] = float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))
    return out


def segrec_auc(tmp: Path, files, test: pd.DataFrame) -> tuple[float, float]:
    contract = yaml.safe_load((ROOT / "conf/contracts/example_snapshot.yaml").read_text())
    contract["sources"]["calls"].update(location=str(files.train),
                                        evaluation_location=str(files.test))
    (tmp / "contract.yaml").write_text(yaml.safe_dump(contract))
    conf = yaml.safe_load((ROOT / "conf/own_data.yaml").read_text())
    conf["paths"] = {"contract": str(tmp / "contract.yaml"), "root": str(tmp / "lake"),
                     "landing": str(tmp / "landing"), "ground_truth": str(tmp / "none"),
                     "reports": str(tmp / "reports")}
    conf["mlflow"] = {"tracking_uri": f"sqlite:///{tmp}/mlflow/mlflow.db",
                      "artifact_location": str(tmp / "mlflow" / "artifacts")}
    (tmp / "own.yaml").write_text(yaml.safe_dump(conf))
    began = time.monotonic()
    if cli.main(["run", "--config", str(tmp / "own.yaml")]) != 0:
        raise SystemExit("segrec run failed")
    seconds = time.monotonic() - began
    from deltalake import DeltaTable

    scores = DeltaTable(str(tmp / "lake/gold/product_rankings")).to_pandas(
        columns=["identity_id_hash", "probability"])
    joined = test.assign(identity_id_hash=test["customer_id"].astype(str)).merge(
        scores, on="identity_id_hash", how="left")
    if joined["probability"].isna().any():
        raise SystemExit("some held-out clients have no score")
    return float(roc_auc_score(joined["y"] == "yes", joined["probability"])), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            files = write_marketing(tmp / "files", n=args.rows, seed=seed)
            train = pd.read_csv(files.train, sep=";")
            test = pd.read_csv(files.test, sep=";")
            truth = pd.read_csv(files.truth, sep=";")
            oracle = float(roc_auc_score(test["y"] == "yes",
                                         test.merge(truth, on="customer_id")["true_probability"]))
            reference = sklearn_aucs(train, test)
            auc, seconds = segrec_auc(tmp, files, test)
        row = {"seed": seed, "rows": args.rows, "segrec": auc, **reference, "oracle": oracle,
               "segrec_minus_best_sklearn": auc - max(reference.values()), "seconds": seconds}
        results.append(row)
        print(f"own-data seed {seed}: segrec {auc:.4f} | sklearn lr "
              f"{reference['logistic_regression']:.4f} rf {reference['random_forest']:.4f} gb "
              f"{reference['gradient_boosting']:.4f} | oracle {oracle:.4f} | segrec - best "
              f"{row['segrec_minus_best_sklearn']:+.4f} | {seconds:.0f} s", flush=True)
    medians = {k: statistics.median(r[k] for r in results)
               for k in ("segrec", "logistic_regression", "random_forest", "gradient_boosting",
                         "oracle", "segrec_minus_best_sklearn", "seconds")}
    print("own-data medians: " + ", ".join(f"{k} {v:.4f}" for k, v in medians.items()))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"runs": results, "medians": medians}, indent=2))


if __name__ == "__main__":
    main()
