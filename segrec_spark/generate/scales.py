"""Scale presets: how many clients, how active, in how many partitions.

Row volumes grow linearly with ``n_clients * activity``. At ``activity = 1`` a client produces
on average about the reference mix of DESIGN.md section 1 (per client over the whole period,
however many months it has: ~16 web rows including anonymous cookies, 13-15 rows in each of the
four app tables, ~8 ib rows, ~1.6 campaign contacts, and agreements at ~0.6-2.5% per product and
month for non-holders).
"""
from __future__ import annotations

from dataclasses import dataclass

from segrec_spark.generate.settings import GeneratorSettings


@dataclass(frozen=True)
class Scale:
    name: str
    n_clients: int
    activity: float  # multiplier of digital events and campaign contacts per client
    partitions: int  # partitions of spark.range, i.e. files per source and delivery


PRESETS: dict[str, Scale] = {
    # unit tests: a few thousand rows in seconds
    "tiny": Scale("tiny", n_clients=300, activity=0.15, partitions=1),
    # end-to-end test and demo: ~1.3 M rows. 15,000 clients give each product 45-200 buyers per
    # label window, enough for out-of-time AUCs that are more than noise (5,000 gave 15-55).
    "small": Scale("small", n_clients=15_000, activity=1.0, partitions=2),
    "medium": Scale("medium", n_clients=100_000, activity=1.0, partitions=8),
    # the volumes of DESIGN.md: ~1 M clients, ~85 M rows
    "reference": Scale("reference", n_clients=1_000_000, activity=1.0, partitions=48),
}

# Expected landing rows per client at activity 1 over the event period (before dirt); the
# row-count tests and the documentation quote these. Agreements and client rows do not scale
# with activity.
EXPECTED_ROWS_PER_CLIENT: dict[str, float] = {
    "web": 16.0,
    "app_logins": 13.0,
    "app_screens": 14.5,
    "app_actions": 14.5,
    "app_push": 15.0,
    "ib": 8.0,
    "camp": 1.6,
}


def resolve_scale(settings: GeneratorSettings) -> Scale:
    """The scale preset with the settings' explicit overrides applied."""
    preset = PRESETS[settings.scale]
    n_clients = settings.n_clients or preset.n_clients
    partitions = settings.partitions or max(
        1, round(preset.partitions * n_clients / preset.n_clients))
    return Scale(
        name=preset.name,
        n_clients=n_clients,
        activity=settings.activity if settings.activity is not None else preset.activity,
        partitions=min(partitions, 2000),
    )
