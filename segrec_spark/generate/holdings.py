"""A monthly product-holdings table shaped like the public Santander recommendation data.

Public cross-sell data often has no outcome column: one row per client and month with the
client's attributes and a 0/1 column per product (held at that month's date), and the question
is which product a client will hold next month that they do not hold now. This writes such a
table so the own-data path (a ``snapshot`` source with a ``time`` column and ``holding``
columns, docs/own-data.md) can be tested end to end:

* comma-delimited, the Santander column names and their quirks: an as-of date on the 28th
  (``fecha_dato``), a numeric client code, ages and seniorities as text with leading spaces,
  ``NA`` in numbers, a mostly empty date, a category that mixes ``1``, ``1.0`` and letters, a
  channel code with more values than a category may have, a constant column;
* clients join in later months and some leave before the last one;
* each month a client who does not hold a product takes it up with a planted probability of
  the attributes and the other holdings (written to a separate file, never into the table);
  a held product is given up now and then.

numpy only (no Spark): these files are small and stand for what a bank exports.
"""
from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The product columns (Santander's names), in the order of _take_up_logits' columns.
PRODUCTS = ("ind_cco_fin_ult1", "ind_ctma_fin_ult1", "ind_ecue_fin_ult1", "ind_tjcr_fin_ult1",
            "ind_nomina_ult1", "ind_recibo_ult1")
HEADER = ("fecha_dato", "ncodpers", "ind_empleado", "pais_residencia", "sexo", "age",
          "fecha_alta", "ind_nuevo", "antiguedad", "indrel", "ult_fec_cli_1t", "indrel_1mes",
          "tiprel_1mes", "indresi", "canal_entrada", "tipodom", "cod_prov",
          "ind_actividad_cliente", "renta", "segmento", *PRODUCTS)
SEGMENTS = ("01 - TOP", "02 - PARTICULARES", "03 - UNIVERSITARIO")
CHANNELS = tuple(f"K{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(150))


@dataclass(frozen=True)
class HoldingsFiles:
    table: Path
    truth: Path  # fecha_dato,ncodpers,product,true_probability: take-up by the next month
    months: tuple[dt.date, ...]
    rows: int


def _month(first: dt.date, i: int) -> dt.date:
    year, month = divmod(first.month - 1 + i, 12)
    return dt.date(first.year + year, month + 1, 28)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def write_holdings(folder: Path, clients: int = 2000, months: int = 5, seed: int = 3,
                   first: dt.date = dt.date(2015, 1, 28)) -> HoldingsFiles:
    """Write ``holdings.csv`` (one row per client and month) and ``truth.csv`` under
    ``folder``."""
    rng = np.random.default_rng(seed)
    n = clients
    age = np.clip(rng.normal(40, 14, n).round(), 18, 95).astype(int)
    young = age < 26
    segment = np.where(young & (rng.random(n) < 0.7), 2,
                       np.where(rng.random(n) < 0.08, 0, 1))
    income = np.round(rng.lognormal(11.3, 0.6, n) * np.where(segment == 0, 2.5, 1.0), 2)
    active = (rng.random(n) < np.where(young, 0.35, 0.55)).astype(int)
    sex = rng.choice(np.array(["H", "V", ""], dtype=object), n, p=[.52, .47, .01])
    channel = rng.choice(np.array(CHANNELS, dtype=object), n)
    province = rng.integers(1, 53, n)
    seniority0 = rng.integers(0, 240, n)
    joined = np.where(rng.random(n) < 0.85, 0, rng.integers(1, months, n))  # first month
    left = np.where(rng.random(n) < 0.08, rng.integers(1, months + 1, n), months)  # excl.
    code = rng.permutation(np.arange(15_000, 15_000 + 3 * n))[:n]

    held = np.zeros((n, len(PRODUCTS)), dtype=int)
    held[:, 0] = rng.random(n) < 0.75
    for j, share in ((1, .03), (2, .06), (3, .04), (4, .05), (5, .10)):
        held[:, j] = rng.random(n) < share * (1 + active)

    dates = tuple(_month(first, m) for m in range(months))
    table, truth = folder / "holdings.csv", folder / "truth.csv"
    folder.mkdir(parents=True, exist_ok=True)
    rows = 0
    with table.open("w", newline="", encoding="utf-8") as out, \
            truth.open("w", newline="", encoding="utf-8") as planted:
        writer, truths = csv.writer(out), csv.writer(planted)
        writer.writerow(HEADER)
        truths.writerow(("fecha_dato", "ncodpers", "product", "true_probability"))
        for m, day in enumerate(dates):
            present = (joined <= m) & (m < left)
            logits = _take_up_logits(age, income, active, segment, held, m)
            probability = _sigmoid(logits)
            for i in np.flatnonzero(present):
                writer.writerow(_row(day, int(i), code, sex, age, seniority0, m, joined, channel,
                                     province, active, income, segment, held, rng))
                rows += 1
                truths.writerows((day.isoformat(), int(code[i]), PRODUCTS[j],
                                  round(float(probability[i, j]), 6))
                                 for j in range(len(PRODUCTS)) if not held[i, j])
            taken = (rng.random(held.shape) < probability) & (held == 0)
            dropped = (rng.random(held.shape) < 0.02) & (held == 1)
            held = np.where(taken, 1, np.where(dropped, 0, held))
            active = np.where(taken.any(axis=1) | (rng.random(n) < 0.03), 1, active)
    return HoldingsFiles(table, truth, dates, rows)


def _take_up_logits(age: np.ndarray, income: np.ndarray, active: np.ndarray,
                    segment: np.ndarray, held: np.ndarray, month: int) -> np.ndarray:
    """Per client and product: the log-odds of holding it next month (when not held now)."""
    log_income = (np.log(income) - 11.3) / 0.6
    age_z = (age - 40) / 14.0
    products = held.sum(axis=1)
    columns = [
        -2.6 + 0.9 * active + 0.3 * (segment == 2) - 0.4 * age_z,                # account
        -4.9 + 1.1 * log_income + 0.8 * held[:, 2] + 0.6 * (age_z > 0.5),        # deposit
        -4.3 + 1.3 * active + 0.9 * (age_z < 0) + 0.4 * held[:, 3],              # e-account
        -4.6 + 0.8 * log_income + 1.0 * held[:, 4] + 0.5 * active,               # card
        -4.8 + 1.6 * active + 0.9 * held[:, 5] - 0.8 * (age_z > 1.2),            # payroll
        -4.0 + 1.2 * held[:, 4] + 0.6 * np.minimum(products, 3) + 0.4 * active,  # debits
    ]
    return np.column_stack(columns) + 0.1 * np.sin(month)


def _row(day: dt.date, i: int, code: np.ndarray, sex: np.ndarray, age: np.ndarray,
         seniority0: np.ndarray, m: int, joined: np.ndarray, channel: np.ndarray,
         province: np.ndarray, active: np.ndarray, income: np.ndarray, segment: np.ndarray,
         held: np.ndarray, rng: np.random.Generator) -> list[object]:
    seniority = int(seniority0[i] + m)
    new = m - joined[i] < 6 and joined[i] > 0
    since = day - dt.timedelta(days=30 * seniority + 3)
    renta = "NA" if rng.random() < 0.05 else f"{income[i]:.2f}"
    relation = rng.choice(np.array(["1", "1.0", "P", ""], dtype=object), p=[.6, .36, .02, .02])
    return [day.isoformat(), int(code[i]), "N", "ES", sex[i], f"{age[i]:>3}",
            since.isoformat(), int(new), "     NA" if rng.random() < 0.01 else f"{seniority:>6}",
            1, "", relation, "A" if active[i] else "I", "S", channel[i], 1,
            int(province[i]), int(active[i]), renta, SEGMENTS[segment[i]],
            *(("NA" if j == 4 and rng.random() < 0.01 else int(held[i, j]))
              for j in range(len(PRODUCTS)))]


if __name__ == "__main__":  # python -m segrec_spark.generate.holdings FOLDER [CLIENTS [MONTHS]]
    import sys

    written = write_holdings(Path(sys.argv[1] if len(sys.argv) > 1 else "data/example_holdings"),
                             clients=int(sys.argv[2]) if len(sys.argv) > 2 else 2000,
                             months=int(sys.argv[3]) if len(sys.argv) > 3 else 5)
    print(f"wrote {written.table} ({written.rows} rows, months "
          f"{written.months[0]}..{written.months[-1]}) and {written.truth}")
