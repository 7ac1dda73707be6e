"""A card portfolio to segment: one row per client, no outcome column.

Shaped like the public credit-card segmentation data (a text client id ``C10001``, balances,
cash advances, instalment purchases, a purchase frequency, a minimum payment left blank now and
then, a region as text). Three kinds of client are planted, each with its own level of every
amount, so a segmentation can be checked against them:

* ``cash``: revolvers who draw cash on the card, high balances;
* ``instalments``: frequent buyers who pay in instalments;
* ``dormant``: cards hardly used.

Each client's kind is written to ``kinds.csv`` beside the table, never into it. The own-data
path runs it through ``conf/contracts/example_segments.yaml`` (docs/own-data.md, "Segments only").
Python's ``random`` only (no Spark): the file is small and stands for what a bank exports.
"""
from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

KINDS = ("cash", "instalments", "dormant")
HEADER = ("CUST_ID", "BALANCE", "CASH_ADVANCE", "INSTALLMENTS_PURCHASES", "PURCHASES_FREQUENCY",
          "MINIMUM_PAYMENTS", "REGION")
# Per kind: balance, cash advance, instalment purchases (each times a uniform 0.7-1.3), and the
# purchase frequency (plus a uniform 0-0.05).
LEVELS = {"cash": (4000.0, 3000.0, 30.0, 0.10),
          "instalments": (800.0, 50.0, 1500.0, 0.90),
          "dormant": (50.0, 0.0, 0.0, 0.02)}


@dataclass(frozen=True)
class Portfolio:
    table: Path
    kinds: Path
    clients: int


def write_portfolio(folder: Path, per_kind: int = 150, seed: int = 5) -> Portfolio:
    """``folder/cards.csv`` (the table) and ``folder/kinds.csv`` (each client's planted kind)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows, kinds = [], []
    for i in range(per_kind * len(KINDS)):
        kind = KINDS[i % len(KINDS)]
        client = f"C{10001 + i}"
        balance, cash, instalments, frequency = LEVELS[kind]
        balance *= rng.uniform(0.7, 1.3)
        minimum = "" if i % 37 == 0 else f"{balance * 0.05:.2f}"
        rows.append((client, f"{balance:.2f}", f"{cash * rng.uniform(0.7, 1.3):.2f}",
                     f"{instalments * rng.uniform(0.7, 1.3):.2f}",
                     f"{frequency + rng.uniform(0, 0.05):.3f}", minimum,
                     rng.choice(("north", "south", "east"))))
        kinds.append((client, kind))
    table, truth = folder / "cards.csv", folder / "kinds.csv"
    with table.open("w", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    with truth.open("w", newline="") as handle:
        csv.writer(handle).writerows([("CUST_ID", "kind"), *kinds])
    return Portfolio(table, truth, len(rows))


def read_kinds(path: Path) -> dict[str, str]:
    """Client id -> planted kind, from ``kinds.csv``."""
    with path.open() as handle:
        return {row["CUST_ID"]: row["kind"] for row in csv.DictReader(handle)}


if __name__ == "__main__":  # python -m segrec_spark.generate.portfolio FOLDER [CLIENTS_PER_KIND]
    import sys

    written = write_portfolio(Path(sys.argv[1] if len(sys.argv) > 1 else "data/example_segments"),
                              per_kind=int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
    print(f"wrote {written.table} ({written.clients} clients) and {written.kinds}")
