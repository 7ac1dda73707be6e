"""Planted ground truth: monthly intent, true purchase probabilities and the sales drawn from them.

For client c, product k and month m (0 = the start month; month ``months`` is the "future"
month kept aside)::

    shock[c,k,m]  = sqrt(1 - C) * z(c, k, m) + sqrt(C) * z(c, k, m - 1)      (C = SHOCK_CARRYOVER)
    intent[c,k,m] = need_k(c) + SHOCK_SD * shock[c,k,m]
    p[c,k,m]      = sigmoid(BUY_BASE_LOGIT[k] + BUY_SLOPE * intent[c,k,m])   (0 if k is held)

with ``z`` independent draws (``randomness.noise``: mean 0, SD 1). The shock is a moving average
of two months' draws: part of a month's intent is carried over from the month before, so intent
persists for weeks and the behaviour it drives shows before the purchase.

One agreement at most is drawn per (c, k, m), with probability p[c,k,m] and a signing date
uniform over the month. The same intent shapes the client's digital behaviour in the weeks
before (see events.py), which is what makes the propensity models' job learnable.

The true probability of a *label* (an agreement with a status counted as a label, e.g.
SIGNED/ACTIVATED) in a window [s, e) is ``1 - prod_m (1 - q * p[c,k,m] * overlap_m)`` where
``overlap_m`` is the share of month m's days inside the window and ``q`` the share of agreements
with a label status.

The **observable ceiling** averages out what nobody could have seen: month m's fresh draw
``z(c,k,m)``. It keeps the standing need, the holdings and the carried-over draw
``z(c,k,m-1)``, which drove the client's behaviour of the month before:
``E_z[sigmoid(b + slope * (need + SHOCK_SD * (sqrt(1 - C) z + sqrt(C) z(c,k,m-1))))]``, computed
by quadrature over z's distribution (the scaled logistic of ``randomness.noise``). Its window
probability is the formula above with that in every month the window covers (each month given
the draw of the month before it; the windows the pipeline uses lie within one month but a day).
It is the score of a model that knew everything about the client except this month's fresh
intent; see docs/models.md for why it is not a strict bound either way.
"""
from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Callable, Sequence
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segrec_spark.generate.bank import PRODUCTS
from segrec_spark.generate.population import (
    SHOCK_CARRYOVER,
    SHOCK_SD,
    held_column,
    need_column,
)
from segrec_spark.generate.randomness import noise, sigmoid, uniform, with_pick

# Average monthly purchase rate per product among non-holders (before the trait effects).
BUY_RATE: dict[str, float] = {
    "MORTGAGE": 0.006, "CONSUMER_LOAN": 0.015, "CREDIT_CARD": 0.020, "SAVINGS": 0.025,
    "INVESTMENT_FUND": 0.012, "LIFE_INSURANCE": 0.009, "PROPERTY_INSURANCE": 0.010,
    "PENSION": 0.012,
}
BUY_SLOPE = 1.5
# exp(b + slope^2 var / 2) ~ rate for intent variance ~1.2: shift the logit down accordingly.
BUY_BASE_LOGIT: dict[str, float] = {p: math.log(r) - 0.5 * BUY_SLOPE ** 2 * 1.2
                                    for p, r in BUY_RATE.items()}
STATUS_WEIGHTS: dict[str, float] = {"SIGNED": 0.50, "ACTIVATED": 0.35, "PENDING": 0.10,
                                    "CANCELLED": 0.05}
AMOUNT_BASE: dict[str, float] = {
    "MORTGAGE": 3_500_000.0, "CONSUMER_LOAN": 250_000.0, "CREDIT_CARD": 60_000.0,
    "SAVINGS": 150_000.0,
    "INVESTMENT_FUND": 200_000.0, "LIFE_INSURANCE": 1_500.0, "PROPERTY_INSURANCE": 4_000.0,
    "PENSION": 1_000.0,
}


def _mixed(fresh: Column, carried: Column, carryover: float) -> Column:
    return F.lit(math.sqrt(1.0 - carryover)) * fresh + F.lit(math.sqrt(carryover)) * carried


def shock(seed: int, product: str, month: Column, carryover: float = SHOCK_CARRYOVER) -> Column:
    """The intent shock of ``product`` in month index ``month`` (mean 0, SD 1): this month's fresh
    draw and the share ``carryover`` of its variance from the month before's (needs client_id)."""
    cid = F.col("client_id")
    fresh = noise(seed, "shock", cid, product, month)
    if carryover == 0.0:
        return fresh
    return _mixed(fresh, noise(seed, "shock", cid, product, month - F.lit(1)), carryover)


def intent(seed: int, product: str, month: Column) -> Column:
    """A client's intent for ``product`` in month index ``month`` (needs need_<product>)."""
    return F.col(need_column(product)) + F.lit(SHOCK_SD) * shock(seed, product, month)


def _shock_quadrature(step: float = 0.5, limit: float = 8.0) -> list[tuple[float, float]]:
    """(shock value, weight) pairs: the density of ``randomness.noise`` (a logistic with SD 1) on
    a grid of ``step`` over [-limit, limit], normalised. 33 nodes give E[sigmoid] to 1e-4."""
    scale = math.sqrt(3.0) / math.pi
    nodes = [i * step for i in range(-round(limit / step), round(limit / step) + 1)]
    density = [math.exp(-abs(z) / scale) / (1.0 + math.exp(-abs(z) / scale)) ** 2
               for z in nodes]
    total = sum(density)
    return [(z, d / total) for z, d in zip(nodes, density, strict=True)]


SHOCK_QUADRATURE = _shock_quadrature()


def _signing_probability(base_logit: Column, need: Column, month_shock: Column) -> Column:
    """sigmoid(base + slope * intent), intent = need + SHOCK_SD * shock: the one expression both
    :func:`buy_probability` and :func:`with_monthly_probabilities` build."""
    return sigmoid(base_logit + F.lit(BUY_SLOPE) * (need + F.lit(SHOCK_SD) * month_shock))


def _known_intent(need: Column, carried: Column, carryover: float) -> Column:
    """What the ceiling keeps of a month's intent: the need and the draw carried over."""
    if carryover == 0.0:
        return need
    return need + F.lit(SHOCK_SD * math.sqrt(carryover)) * carried


def _averaged_over_fresh_draw(base_logit: Column, known: Column, carryover: float) -> Column:
    """E_z[sigmoid(base + slope * (known + SHOCK_SD * sqrt(1 - carryover) * z))] by quadrature."""
    fresh_sd = SHOCK_SD * math.sqrt(1.0 - carryover)
    terms = [F.lit(w) * sigmoid(base_logit + F.lit(BUY_SLOPE) * (known + F.lit(fresh_sd * z)))
             for z, w in SHOCK_QUADRATURE]
    return reduce(operator.add, terms)


def observable_buy_probability(seed: int, product: str, month: Column,
                               carryover: float = SHOCK_CARRYOVER) -> Column:
    """The purchase probability in month index ``month`` with that month's fresh draw averaged
    out, the draw carried over from the month before kept (needs client_id, need_<product> and
    held_<product>)."""
    carried = noise(seed, "shock", F.col("client_id"), product, month - F.lit(1))
    known = _known_intent(F.col(need_column(product)), carried, carryover)
    averaged = _averaged_over_fresh_draw(F.lit(BUY_BASE_LOGIT[product]), known, carryover)
    return F.when(F.col(held_column(product)), F.lit(0.0)).otherwise(averaged)


def buy_probability(seed: int, product: str, month: Column) -> Column:
    """True probability that the client signs ``product`` in month index ``month``."""
    p = _signing_probability(F.lit(BUY_BASE_LOGIT[product]), F.col(need_column(product)),
                             shock(seed, product, month))
    return F.when(F.col(held_column(product)), F.lit(0.0)).otherwise(p)


def month_start(start: dt.date, m: int) -> dt.date:
    y, mo = divmod(start.month - 1 + m, 12)
    return dt.date(start.year + y, mo + 1, 1)


def month_index(ts: Column, start: dt.date) -> Column:
    """Months between ``start``'s month and the month of ``ts`` (a date or timestamp)."""
    return (F.year(ts) - F.lit(start.year)) * 12 + F.month(ts) - F.lit(start.month)


def with_monthly_probabilities(seed: int, n_months: int, observable_months: Sequence[int] = ()):
    """Factory: one row per client x product with p_0..p_{n-1} (the true monthly probabilities,
    :func:`buy_probability`) and, for each month m of ``observable_months``, po_m (the same with
    month m's fresh draw averaged out: :func:`observable_buy_probability`).

    The product's constants, need, holding and the month's draws are columns first, so that each
    probability is one short expression over them (a when-chain over the products of every
    probability made Spark's generated code too large to compile, and it ran interpreted)."""
    carryover = SHOCK_CARRYOVER

    def transform(clients: DataFrame) -> DataFrame:
        per_product = clients.select(
            "*",
            F.explode(F.array(*[F.lit(p) for p in PRODUCTS])).alias("product_code"),
        )
        months = range(-1, n_months)  # the draw before the first month is carried into it
        parts = per_product.select(
            "*",
            _by_product(lambda p: F.lit(BUY_BASE_LOGIT[p])).alias("_base"),
            _by_product(lambda p: F.col(need_column(p))).alias("_need"),
            _by_product(lambda p: F.col(held_column(p))).alias("_held"),
            *[noise(seed, "shock", F.col("client_id"), F.col("product_code"), F.lit(m))
              .alias(f"_z{m}") for m in months],
        )
        base, need, held = F.col("_base"), F.col("_need"), F.col("_held")

        def month_shock(m: int) -> Column:
            fresh = F.col(f"_z{m}")
            return fresh if carryover == 0.0 else _mixed(fresh, F.col(f"_z{m - 1}"), carryover)

        probabilities = [
            F.when(held, F.lit(0.0)).otherwise(_signing_probability(base, need, month_shock(m)))
            .alias(f"p_{m}")
            for m in range(n_months)
        ]
        observable = [
            F.when(held, F.lit(0.0)).otherwise(_averaged_over_fresh_draw(
                base, _known_intent(need, F.col(f"_z{m - 1}"), carryover), carryover))
            .alias(f"po_{m}")
            for m in sorted(set(observable_months))
        ]
        return parts.select(*per_product.columns, *probabilities, *observable)

    return transform


def _by_product(expr_for) -> Column:
    """The expression for the row's product_code (a when-chain over PRODUCTS)."""
    out = None
    for p in PRODUCTS:
        cond = F.col("product_code") == F.lit(p)
        out = F.when(cond, expr_for(p)) if out is None else out.when(cond, expr_for(p))
    assert out is not None, "the catalogue has products"
    return out


def agreements(seed: int, start: dt.date, n_months: int):
    """Factory: client x product rows with p_m -> one row per drawn agreement (typed prodeje)."""

    def transform(df: DataFrame) -> DataFrame:
        cid = F.col("client_id")
        months = df.select("*", F.explode(F.sequence(F.lit(0), F.lit(n_months - 1)))
                           .alias("month"))
        p_month = F.element_at(F.array(*[F.col(f"p_{m}") for m in range(n_months)]),
                               F.col("month") + 1)
        drawn = months.filter(uniform(seed, "buy", cid, F.col("product_code"), F.col("month"))
                              < p_month)
        first_day = F.add_months(F.lit(start), F.col("month"))
        days = F.datediff(F.add_months(first_day, 1), first_day)
        d = F.col("digital_z")
        digital = ~F.col("no_digital")
        channel_weights: list[tuple[str, Column | float]] = [
            ("branch", 1.0),
            ("web", F.when(digital, 0.5 * F.exp(d)).otherwise(0.0)),
            ("app", F.when(digital, 0.5 * F.exp(d)).otherwise(0.0)),
            ("ib", F.when(digital, 0.3).otherwise(0.0)),
            ("call_center", 0.3),
        ]
        amount = (_by_product(lambda p: F.lit(AMOUNT_BASE[p]))
                  * F.exp(F.lit(0.4)
                          * noise(seed, "amount", cid, F.col("product_code"), F.col("month"))
                          + F.lit(0.3) * F.col("income_z")))
        key = [cid, F.col("product_code"), F.col("month")]
        drawn = (drawn.transform(with_pick("status", uniform(seed, "status", *key),
                                           list(STATUS_WEIGHTS.items())))
                 .transform(with_pick("sales_channel", uniform(seed, "sales_channel", *key),
                                      channel_weights)))
        return drawn.select(
            F.concat(F.lit("AGR"), F.lpad(cid.cast("string"), 9, "0"),
                     F.lpad((F.col("month") * 10
                             + F.array_position(F.array(*[F.lit(p) for p in PRODUCTS]),
                                                F.col("product_code"))).cast("string"), 4, "0")
                     ).alias("agreement_id"),
            F.col("identity_id_hash"),
            F.col("product_code"),
            F.date_add(first_day,
                       F.floor(uniform(seed, "sign_day", cid, F.col("product_code"), F.col("month"))
                               * days).cast("int")).alias("signed_date"),
            F.col("status"),
            F.round(amount, 2).alias("amount"),
            F.col("sales_channel"),
            F.col("month"),
            cid,
        )

    return transform


def window_overlaps(start: dt.date, n_months: int, window_start: dt.date,
                    window_end: dt.date) -> list[tuple[int, float]]:
    """(month index, share of that month's days inside [window_start, window_end))."""
    out = []
    for m in range(n_months):
        first, nxt = month_start(start, m), month_start(start, m + 1)
        days = (min(nxt, window_end) - max(first, window_start)).days
        if days > 0:
            out.append((m, days / (nxt - first).days))
    return out


def label_windows(start: dt.date, months: int, horizon_days: int) -> list[tuple[dt.date, dt.date]]:
    """The windows [as_of, as_of + h) for the pipeline's as_of dates E-2h, E-h and E."""
    end = month_start(start, months)
    h = dt.timedelta(days=horizon_days)
    return [(end - 2 * h, end - h), (end - h, end), (end, end + h)]


def window_months(start: dt.date, n_months: int,
                  windows: Sequence[tuple[dt.date, dt.date]]) -> list[int]:
    """The month indexes the ``windows`` overlap (the months whose po_m true_propensity needs)."""
    return sorted({m for s, e in windows for m, _ in window_overlaps(start, n_months, s, e)})


def true_propensity(start: dt.date, n_months: int, windows: Sequence[tuple[dt.date, dt.date]],
                    label_share: float):
    """Factory: client x product rows with p_m, and po_m for every month of
    :func:`window_months` -> identity_id_hash, product_code, window_start, window_end,
    true_probability (of at least one label agreement in the window) and
    observable_probability (the same with each month's fresh draw averaged out, given the draw
    carried over from the month before; the months' fresh draws are independent, so the product
    of the months' averages is the average of the product for a window within one month and an
    approximation, a day's worth, for the pipeline's windows that end a day into the next)."""

    def window_probability(window_start: dt.date, window_end: dt.date,
                           monthly: Callable[[int], Column]) -> Column:
        stay_negative = F.lit(1.0)
        for m, share in window_overlaps(start, n_months, window_start, window_end):
            stay_negative = stay_negative * (F.lit(1.0)
                                             - F.lit(label_share * share) * monthly(m))
        return F.lit(1.0) - stay_negative

    def transform(df: DataFrame) -> DataFrame:
        rows = F.explode(F.array(*[
            F.struct(F.lit(s).alias("window_start"), F.lit(e).alias("window_end"),
                     window_probability(s, e, lambda m: F.col(f"p_{m}"))
                     .alias("true_probability"),
                     window_probability(s, e, lambda m: F.col(f"po_{m}"))
                     .alias("observable_probability"))
            for s, e in windows
        ])).alias("w")
        return df.select("identity_id_hash", "product_code", rows).select(
            "identity_id_hash", "product_code", "w.window_start", "w.window_end",
            "w.true_probability", "w.observable_probability")

    return transform
