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

Any pair of files a bank (or a public data set) gives, a training file and a held-out file with
the same columns and a yes/no outcome, goes through the same comparison with ``--files``: the
contract is the shortest one docs/own-data.md allows (the label, every other column inferred,
rows keyed by their position unless ``--key`` names a column), the configuration is
``conf/own_data.yaml`` as it is shipped::

    .venv/bin/python bench/own_data.py --files train.csv test.csv --label y --positive yes \
        [--delimiter ';'] [--key customer_id] [--out result.json]

scikit-learn gets the same columns (text one-hot encoded, numbers median-imputed, the key left
out) and its defaults, plus HistGradientBoostingClassifier; the logistic regression is fitted on
standardised columns, as the project's is (Spark's ``standardization=True``).
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
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from segrec_spark import cli  # noqa: E402
from segrec_spark.generate.marketing import write_marketing  # noqa: E402

SKLEARN = ("logistic_regression", "random_forest", "gradient_boosting",
           "hist_gradient_boosting")


def positive(values: pd.Series, positives: tuple[str, ...]) -> pd.Series:
    """1 where the outcome is one of ``positives`` (as docs/own-data.md compares them: without
    case or surrounding spaces), else 0."""
    wanted = {p.strip().lower() for p in positives}
    return values.astype(str).str.strip().str.lower().isin(wanted).astype(int)


# A cell of a number as exports write it: a currency or percent sign, grouped thousands.
NUMBER_DECORATION = r"[$€£%,\s]"
# A cell that may be a date: digits and a separator (6/16/14, 2014-05-11, 14-Jan-15), so that
# a month name alone ("May", a category) stays text.
DATE_LIKE = r"^\d{1,4}[-/.](\d{1,2}|[A-Za-z]{3})[-/.]\d{2,4}"


def numbers_and_dates(frame: pd.DataFrame, share: float = 0.99) -> pd.DataFrame:
    """``frame`` with its text columns of numbers as exports write them (`$84,835.00 `,
    `18.2%`) as numbers, and of dates (`6/16/14`, `05/11/2014`) as days since 1970-01-01, where
    ``share`` of the non-empty cells read so, as the project's inference reads them; the other
    cells missing. The yardstick's learners then get the column's information rather than one
    one-hot column per value."""
    out = frame.copy()
    for name in frame.select_dtypes(include="object").columns:
        text = frame[name].astype("string").str.strip()
        cells = text[text.notna() & (text != "")]
        if cells.empty:
            continue
        number = pd.to_numeric(text.str.replace(NUMBER_DECORATION, "", regex=True),
                               errors="coerce")
        if number[cells.index].notna().mean() >= share:
            out[name] = number.astype(float)
            continue
        date_like = text.str.match(DATE_LIKE, na=False)
        if date_like[cells.index].mean() < share:
            continue
        day = pd.to_datetime(text.where(date_like), errors="coerce", format="mixed")
        if day[cells.index].notna().mean() >= share:
            out[name] = (day - pd.Timestamp("1970-01-01")).dt.days.astype(float)
    return out


def sklearn_aucs(train: pd.DataFrame, test: pd.DataFrame, label: str = "y",
                 drop: tuple[str, ...] = ("customer_id",),
                 positives: tuple[str, ...] = ("yes",)) -> dict[str, float]:
    """Held-out ROC-AUC of scikit-learn's default learners on the same columns (text numbers
    and dates read as :func:`numbers_and_dates`, the other text one-hot encoded)."""
    both = pd.concat([train, test]).drop(columns=[label, *(c for c in drop if c in train)])
    x = pd.get_dummies(numbers_and_dates(both), dtype=float)
    x = x.loc[:, x.iloc[: len(train)].notna().any()]  # a column empty in training says nothing
    x = x.fillna(x.iloc[: len(train)].median())
    x_train, x_test = x.iloc[: len(train)], x.iloc[len(train):]
    y_train, y_test = positive(train[label], positives), positive(test[label], positives)
    out = {}
    for name, model in (("logistic_regression",  # on standardised columns, as ours is
                         make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))),
                        ("random_forest", RandomForestClassifier(random_state=0)),
                        ("gradient_boosting", GradientBoostingClassifier(random_state=0)),
                        ("hist_gradient_boosting",
                         HistGradientBoostingClassifier(random_state=0))):
        model.fit(x_train, y_train)
        out[name] = float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))
    return out


def write_own_config(tmp: Path, contract: dict) -> Path:
    """``contract`` and conf/own_data.yaml as shipped, its paths moved under ``tmp``, written
    there as contract.yaml and own.yaml; returns own.yaml's path."""
    (tmp / "contract.yaml").write_text(yaml.safe_dump(contract))
    conf = yaml.safe_load((ROOT / "conf/own_data.yaml").read_text())
    conf["paths"] = {"contract": str(tmp / "contract.yaml"), "root": str(tmp / "lake"),
                     "landing": str(tmp / "landing"), "ground_truth": str(tmp / "none"),
                     "reports": str(tmp / "reports")}
    conf["mlflow"] = {"tracking_uri": f"sqlite:///{tmp}/mlflow/mlflow.db",
                      "artifact_location": str(tmp / "mlflow" / "artifacts")}
    (tmp / "own.yaml").write_text(yaml.safe_dump(conf))
    return tmp / "own.yaml"


def run_own_data(tmp: Path, contract: dict) -> tuple[pd.DataFrame, float]:
    """``segrec run`` on ``contract`` with conf/own_data.yaml as shipped (its paths moved under
    ``tmp``): the published scores (identity_id_hash, probability) and the run's seconds."""
    config = write_own_config(tmp, contract)
    began = time.monotonic()
    if cli.main(["run", "--config", str(config)]) != 0:
        raise SystemExit("segrec run failed")
    seconds = time.monotonic() - began
    from deltalake import DeltaTable

    scores = DeltaTable(str(tmp / "lake/gold/product_rankings")).to_pandas(
        columns=["identity_id_hash", "probability"])
    return scores, seconds


def held_out_auc(scores: pd.DataFrame, keys: pd.Series, outcome: pd.Series) -> float:
    """ROC-AUC of the published probabilities of the held-out clients ``keys`` (in the order of
    ``outcome``, 0/1); every held-out client must have a score."""
    joined = pd.DataFrame({"identity_id_hash": keys.astype(str).to_numpy(),
                           "outcome": outcome.to_numpy()}).merge(
        scores, on="identity_id_hash", how="left")
    if joined["probability"].isna().any():
        raise SystemExit("some held-out clients have no score")
    return float(roc_auc_score(joined["outcome"], joined["probability"]))


def segrec_auc(tmp: Path, files, test: pd.DataFrame) -> tuple[float, float]:
    contract = yaml.safe_load((ROOT / "conf/contracts/example_snapshot.yaml").read_text())
    contract["sources"]["calls"].update(location=str(files.train),
                                        evaluation_location=str(files.test))
    scores, seconds = run_own_data(tmp, contract)
    return held_out_auc(scores, test["customer_id"], positive(test["y"], ("yes",))), seconds


def file_contract(train: Path, test: Path, label: str, positives: tuple[str, ...],
                  delimiter: str, key: str | None, ignore: tuple[str, ...] = ()) -> dict:
    """The shortest contract docs/own-data.md allows for two files: the label, the key if any,
    the columns to leave out (written after the outcome), every other column inferred."""
    columns = [{"name": label, "role": "label", "product": "OUTCOME",
                "positive": list(positives)},
               *({"name": name, "role": "ignore"} for name in ignore)]
    if key:
        columns.insert(0, {"name": key, "role": "key"})
    return {"name": "own_files",
            "products": [{"code": "OUTCOME", "name": f"{label} = {'/'.join(positives)}"}],
            "sources": {"rows": {"kind": "snapshot", "format": "csv", "location": str(train),
                                 "evaluation_location": str(test),
                                 "dialect": {"delimiter": delimiter},
                                 "undeclared_columns": "infer", "columns": columns}}}


def compare_files(train_file: Path, test_file: Path, label: str, positives: tuple[str, ...],
                  delimiter: str, key: str | None, ignore: tuple[str, ...] = ()) -> dict:
    """segrec's held-out AUC on two files against scikit-learn's defaults on the same columns."""
    read = {"sep": delimiter, "encoding": "utf-8-sig", "skipinitialspace": True}
    train, test = pd.read_csv(train_file, **read), pd.read_csv(test_file, **read)
    reference = sklearn_aucs(train, test, label, (*((key,) if key else ()), *ignore), positives)
    keys = (test[key] if key else
            pd.Series([f"evaluation-{i}" for i in range(1, len(test) + 1)]))
    with tempfile.TemporaryDirectory() as folder:
        contract = file_contract(train_file.resolve(), test_file.resolve(), label, positives,
                                 delimiter, key, ignore)
        scores, seconds = run_own_data(Path(folder), contract)
    outcome = positive(test[label], positives)
    auc = held_out_auc(scores, keys, outcome)
    return {"train_rows": len(train), "test_rows": len(test),
            "test_positives": int(outcome.sum()), "segrec": auc,
            **reference, "segrec_minus_best_sklearn": auc - max(reference.values()),
            "seconds": seconds}


def write_json(path: Path | None, data: dict) -> None:
    """``--out``: the figures as JSON (nothing without a path)."""
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--files", nargs=2, type=Path, metavar=("TRAIN", "TEST"),
                        help="a training and a held-out CSV file instead of generated data")
    parser.add_argument("--label", default="y", help="--files: the outcome column")
    parser.add_argument("--positive", default="yes",
                        help="--files: comma-separated outcome values that mean yes")
    parser.add_argument("--delimiter", default=",", help="--files: the field delimiter")
    parser.add_argument("--key", help="--files: the client key column (default: row position)")
    parser.add_argument("--ignore", default="",
                        help="--files: comma-separated columns to leave out (role: ignore), "
                             "e.g. ones written after the outcome")
    args = parser.parse_args()
    if args.files:
        row = compare_files(*args.files, args.label, tuple(args.positive.split(",")),
                            args.delimiter, args.key,
                            tuple(c.strip() for c in args.ignore.split(",") if c.strip()))
        print("own-data files: " + ", ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
        write_json(args.out, row)
        return
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
              f"{reference['gradient_boosting']:.4f} hgb "
              f"{reference['hist_gradient_boosting']:.4f} | oracle {oracle:.4f} | segrec - best "
              f"{row['segrec_minus_best_sklearn']:+.4f} | {seconds:.0f} s", flush=True)
    medians = {k: statistics.median(r[k] for r in results)
               for k in ("segrec", *SKLEARN, "oracle", "segrec_minus_best_sklearn", "seconds")}
    print("own-data medians: " + ", ".join(f"{k} {v:.4f}" for k, v in medians.items()))
    write_json(args.out, {"runs": results, "medians": medians})


if __name__ == "__main__":
    main()
