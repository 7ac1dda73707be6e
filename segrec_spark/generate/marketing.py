"""A client-snapshot table shaped like public bank-marketing data sets, with a planted truth.

Public marketing sets (a term-deposit campaign's call list, a retailer's response file, a
churn file) arrive as ONE row per client: attributes, campaign history and a yes/no outcome.
This writes such a table so the own-data path (a ``snapshot`` source in the contract) can be
tested end to end and measured against scikit-learn on the same split (``bench/own_data.py``):

* ``;``-delimited, quoted text, a header with dotted names (``emp.var.rate``), ``unknown``
  categories, empty numbers, a numeric customer id, a ``y`` column of ``yes``/``no``;
* the outcome is drawn from a planted probability (written as ``true_probability`` into a
  separate file, never into the table) that mixes linear, threshold, U-shaped and interaction
  effects of the attributes, so no single model family is favoured by construction.

numpy only (no Spark): these files are small and stand for what a bank exports.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

JOBS = ("admin.", "blue-collar", "technician", "services", "management", "retired",
        "entrepreneur", "self-employed", "housemaid", "unemployed", "student", "unknown")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
HEADER = ("customer_id", "age", "job", "marital", "education", "default", "balance", "housing",
          "loan", "contact", "month", "campaign", "pdays", "previous", "poutcome",
          "emp.var.rate", "cons.conf.idx", "y")


@dataclass(frozen=True)
class MarketingFiles:
    train: Path
    test: Path
    truth: Path  # customer_id;true_probability of every row of both files
    n_train: int
    n_test: int


def _choice(rng: np.random.Generator, values: tuple[str, ...], n: int,
            p: list[float] | None = None) -> np.ndarray:
    return rng.choice(np.array(values, dtype=object), size=n, p=p)


def marketing_rows(n: int, seed: int) -> tuple[list[list[object]], np.ndarray]:
    """``n`` rows of the table and each row's planted probability of ``y = yes``."""
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(41, 11, n).round(), 18, 95).astype(int)
    job = _choice(rng, JOBS, n, [.22, .2, .16, .09, .08, .05, .03, .03, .03, .03, .04, .04])
    marital = _choice(rng, ("married", "single", "divorced", "unknown"), n, [.6, .28, .11, .01])
    education = _choice(rng, ("primary", "secondary", "tertiary", "unknown"), n,
                        [.15, .5, .3, .05])
    default = _choice(rng, ("no", "yes", "unknown"), n, [.78, .02, .2])
    balance = np.round(rng.lognormal(6.5, 1.4, n) - 400, 0)
    housing = _choice(rng, ("yes", "no"), n, [.55, .45])
    loan = _choice(rng, ("no", "yes"), n, [.84, .16])
    contact = _choice(rng, ("cellular", "telephone", "unknown"), n, [.64, .07, .29])
    month = _choice(rng, MONTHS, n, [.03, .06, .01, .06, .3, .12, .15, .14, .01, .02, .09, .01])
    campaign = 1 + rng.poisson(1.6, n)
    contacted = rng.random(n) < 0.18
    pdays = np.where(contacted, rng.integers(1, 400, n), -1)
    previous = np.where(contacted, 1 + rng.poisson(1.2, n), 0)
    poutcome = np.where(contacted, _choice(rng, ("success", "failure", "other"), n,
                                           [.3, .55, .15]), "unknown")
    emp_var_rate = rng.choice(np.array([-3.4, -1.8, -0.1, 1.1, 1.4]), n, p=[.1, .2, .1, .2, .4])
    cons_conf = np.round(rng.normal(-40.5, 4.6, n), 1)

    logit = (-2.6
             + 1.9 * (poutcome == "success") - 0.3 * (poutcome == "failure")
             + 0.7 * (contact == "cellular") - 0.3 * (contact == "unknown")
             - 0.45 * (housing == "yes") - 0.3 * (loan == "yes")
             + 0.5 * np.isin(job, ("student", "retired")) - 0.2 * (job == "blue-collar")
             + 0.9 * ((age - 42) / 15.0) ** 2 - 0.6          # U-shape: young and old buy more
             - 0.45 * emp_var_rate
             + 1.1 * np.isin(month, ("mar", "sep", "oct", "dec")) - 0.35 * (month == "may")
             + 0.25 * np.log1p(np.maximum(balance, 0)) / 3.0
             - 0.12 * np.minimum(campaign, 10)
             + 0.8 * ((previous > 0) & (pdays < 90))          # recently contacted again
             + 0.35 * (education == "tertiary")
             + 0.04 * (cons_conf + 40.5))
    probability = 1.0 / (1.0 + np.exp(-logit))
    y = rng.random(n) < probability

    balance_text = np.where(rng.random(n) < 0.03, "", balance.astype(int).astype(str))
    ids = rng.permutation(np.arange(100_000, 100_000 + 5 * n))[:n]
    rows = [[int(ids[i]), int(age[i]), job[i], marital[i], education[i], default[i],
             balance_text[i], housing[i], loan[i], contact[i], month[i], int(campaign[i]),
             int(pdays[i]), int(previous[i]), poutcome[i], float(emp_var_rate[i]),
             float(cons_conf[i]), "yes" if y[i] else "no"] for i in range(n)]
    return rows, probability


def write_marketing(folder: Path, n: int = 4000, test_share: float = 0.3,
                    seed: int = 5) -> MarketingFiles:
    """Write ``train.csv``, ``test.csv`` (same columns) and ``truth.csv`` under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows, probability = marketing_rows(n, seed)
    n_test = int(round(n * test_share))
    files = MarketingFiles(folder / "train.csv", folder / "test.csv", folder / "truth.csv",
                           n - n_test, n_test)
    for path, part in ((files.train, rows[:n - n_test]), (files.test, rows[n - n_test:])):
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_NONNUMERIC)
            writer.writerow(HEADER)
            writer.writerows(part)
    with files.truth.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(("customer_id", "true_probability"))
        writer.writerows((row[0], round(float(p), 6))
                         for row, p in zip(rows, probability, strict=True))
    return files


if __name__ == "__main__":  # python -m segrec_spark.generate.marketing FOLDER [ROWS]
    import sys

    written = write_marketing(Path(sys.argv[1] if len(sys.argv) > 1 else "data/example_snapshot"),
                              n=int(sys.argv[2]) if len(sys.argv) > 2 else 4000)
    print(f"wrote {written.train} ({written.n_train} rows), {written.test} ({written.n_test} "
          f"rows) and {written.truth}")
