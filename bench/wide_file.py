"""A wide, mostly-text own-data file for timing the snapshot stage's planning.

Writes ``train.csv`` (20,000 rows) and ``test.csv`` (5,000 rows), ``;``-separated, 400 columns
plus the outcome ``y`` (yes/no): 80 numbers, and 320 text columns, a quarter each categories
(8 values), numbers with ``NA`` cells, ``dd/mm/yyyy`` dates, and columns of many values (20
common ones on 70 % of the rows, a tail of 3,000). Then ``own.yaml`` and ``contract.yaml``
beside them: the shortest contract docs/own-data.md allows (``bench/own_data.py``'s) and
``conf/own_data.yaml``, every path under the folder::

    .venv/bin/python bench/wide_file.py /tmp/wide
    time .venv/bin/segrec snapshot --config /tmp/wide/own.yaml

docs/performance.md, "Planning a wide file", has the figures.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from own_data import file_contract, write_own_config  # noqa: E402


def wide_frame(rows: int = 25_000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {f"num_{i}": rng.normal(size=rows).round(3) for i in range(80)}
    first = dt.date(2020, 1, 1)
    for i in range(320):
        kind = i % 4
        if kind == 0:
            columns[f"cat_{i}"] = rng.choice([f"v{j}" for j in range(8)], rows)
        elif kind == 1:
            cells = rng.normal(size=rows).round(2).astype(str).astype(object)
            cells[rng.random(rows) < 0.05] = "NA"
            columns[f"numtxt_{i}"] = cells
        elif kind == 2:
            columns[f"date_{i}"] = [(first + dt.timedelta(int(d))).strftime("%d/%m/%Y")
                                    for d in rng.integers(0, 1500, rows)]
        else:
            common = rng.choice([f"c{j}" for j in range(20)], rows)
            tail = np.array([f"t{j}" for j in rng.integers(0, 3000, rows)])
            columns[f"many_{i}"] = np.where(rng.random(rows) < 0.7, common, tail)
    df = pd.DataFrame(columns)
    logit = df["num_0"] + (df["cat_0"] == "v1") * 1.0 - 2
    df["y"] = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return df


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    folder = parser.parse_args().folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    df = wide_frame()
    df.iloc[:20_000].to_csv(folder / "train.csv", sep=";", index=False)
    df.iloc[20_000:].to_csv(folder / "test.csv", sep=";", index=False)
    write_own_config(folder, file_contract(folder / "train.csv", folder / "test.csv", "y",
                                           ("yes",), ";", None))
    print(f"wrote {folder}/train.csv, test.csv, contract.yaml, own.yaml")


if __name__ == "__main__":
    main()
