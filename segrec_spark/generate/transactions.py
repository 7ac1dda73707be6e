"""A transaction log to segment: one row per purchase, many per client, no outcome.

Shaped like the public retail invoice and bank-transaction logs (an invoice-line id, a text
client reference, a booking time written ``dd/MM/yyyy HH:mm``, a quantity and a unit price
whose product is the amount, a channel per transaction, a country per client). A few rows have
no client reference and one has an impossible date: they must end in quarantine. Three kinds of
client are planted, each with its own rhythm, so a segmentation can be checked against them:

* ``regulars``: a purchase every week or so, small amounts, still active;
* ``big_spenders``: a few large purchases a year, still active;
* ``lapsed``: a handful of purchases in the first months of the year, none since.

Each client's kind is written to ``kinds.csv`` beside the log, never into it. The own-data
path runs it through ``conf/contracts/example_transactions.yaml`` (docs/own-data.md,
"Transaction logs"). Python's ``random`` only (no Spark): the file stands for a bank's export.

:func:`write_client_table` adds ``clients.csv``, the client table a log comes beside: an age
and a campaign's response per client (a loan offer), whose odds depend on the client's kind
only, so only the log can tell who responds; and a few clients without any transaction
(``conf/contracts/example_clients_and_log.yaml``).
"""
from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

KINDS = ("regulars", "big_spenders", "lapsed")
HEADER = ("TxnID", "ClientRef", "BookedAt", "Qty", "UnitPrice", "Channel", "Country")
START = dt.datetime(2024, 1, 1, 8, 0)
DAYS = 366  # 2024
# Per kind: transactions (times a uniform 0.8-1.2), unit price (times 0.7-1.3), the last day a
# transaction may fall on (days from START), and the channel most of them go through.
LEVELS = {"regulars": (40, 8.0, DAYS - 1, "card"),
          "big_spenders": (6, 300.0, DAYS - 1, "online"),
          "lapsed": (8, 25.0, 110, "branch")}
CHANNELS = ("card", "online", "branch")
MISSING_KEY_ROWS = 5  # lines without a client reference (quarantined as MISSING_KEY)


@dataclass(frozen=True)
class TransactionLog:
    table: Path
    kinds: Path
    clients: int
    rows: int  # lines of the log, the quarantined ones included
    rejected: int  # lines that must be quarantined (no client, an impossible date)


def write_transactions(folder: Path, per_kind: int = 100, seed: int = 11) -> TransactionLog:
    """``folder/transactions.csv`` (the log) and ``folder/kinds.csv`` (each client's kind)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows: list[tuple[str, ...]] = []
    kinds = []
    for i in range(per_kind * len(KINDS)):
        kind = KINDS[i % len(KINDS)]
        client = f"K{i + 1:06d}"
        country = rng.choice(("PT", "ES", "FR"))
        count, price, last_day, channel = LEVELS[kind]
        for _ in range(max(2, round(count * rng.uniform(0.8, 1.2)))):
            when = START + dt.timedelta(days=rng.randint(0, last_day), minutes=rng.randint(0, 600))
            rows.append((client, when.strftime("%d/%m/%Y %H:%M"), str(rng.randint(1, 2)),
                         f"{price * rng.uniform(0.7, 1.3):.2f}",
                         channel if rng.random() < 0.8 else rng.choice(CHANNELS), country))
        kinds.append((client, kind))
    rng.shuffle(rows)
    rows += [("", "15/06/2024 10:00", "1", "9.99", "card", "PT")] * MISSING_KEY_ROWS
    rows.append((kinds[0][0], "31/02/2024 10:00", "1", "9.99", "card", "PT"))  # no such day
    lines = [(f"T{n + 1:07d}", *row) for n, row in enumerate(rows)]
    table, truth = folder / "transactions.csv", folder / "kinds.csv"
    with table.open("w", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *lines])
    with truth.open("w", newline="") as handle:
        csv.writer(handle).writerows([("ClientRef", "kind"), *kinds])
    return TransactionLog(table, truth, len(kinds), len(lines), MISSING_KEY_ROWS + 1)


# The loan offer's response rate per kind (clients without a transaction: "dormant").
RESPONSE = {"regulars": 0.25, "big_spenders": 0.6, "lapsed": 0.05, "dormant": 0.05}
DORMANT = 20  # clients in the table without any transaction in the log


def write_client_table(log: TransactionLog, seed: int = 12) -> Path:
    """``clients.csv`` beside the log: ``ClientId`` (the log's ``ClientRef``), ``Age`` (the
    same spread for every kind) and ``TookLoan`` (yes/no, at the kind's :data:`RESPONSE`
    rate); :data:`DORMANT` more clients with no transaction, added to ``kinds.csv`` as
    ``dormant``."""
    rng = random.Random(seed)
    kinds = read_kinds(log.kinds)
    dormant = {f"D{i + 1:06d}": "dormant" for i in range(DORMANT)}
    rows = [(client, str(rng.randint(20, 70)),
             "yes" if rng.random() < RESPONSE[kind] else "no")
            for client, kind in [*kinds.items(), *dormant.items()]]
    table = log.table.parent / "clients.csv"
    with table.open("w", newline="") as handle:
        csv.writer(handle).writerows([("ClientId", "Age", "TookLoan"), *rows])
    with log.kinds.open("w", newline="") as handle:
        csv.writer(handle).writerows([("ClientRef", "kind"), *kinds.items(), *dormant.items()])
    return table


def read_kinds(path: Path) -> dict[str, str]:
    """Client reference -> planted kind, from ``kinds.csv``."""
    with path.open() as handle:
        return {row["ClientRef"]: row["kind"] for row in csv.DictReader(handle)}


if __name__ == "__main__":  # python -m segrec_spark.generate.transactions FOLDER [PER_KIND]
    import sys

    written = write_transactions(
        Path(sys.argv[1] if len(sys.argv) > 1 else "data/example_transactions"),
        per_kind=int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
    clients = write_client_table(written)
    print(f"wrote {written.table} ({written.rows} rows, {written.clients} clients), "
          f"{clients} ({written.clients + DORMANT} clients) and {written.kinds}")
