"""Deterministic, partition-independent randomness as Spark column expressions.

Every random number is a hash of (seed, purpose, keys...) mapped to (0, 1), so a row's values
depend only on its own keys (client id, event index, ...) and never on how the data is
partitioned or in which order it is computed. ``rand()`` is never used.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

_MANTISSA = (1 << 53) - 1
_SCALE = float(1 << 53)


def _lit_or_col(value: Column | str | int | float) -> Column:
    return value if isinstance(value, Column) else F.lit(value)


def uniform(seed: int, purpose: str, *keys: Column | str | int) -> Column:
    """A uniform number in the open interval (0, 1) determined by seed, purpose and keys."""
    h = F.xxhash64(F.lit(seed), F.lit(purpose), *(_lit_or_col(k) for k in keys))
    return (h.bitwiseAND(F.lit(_MANTISSA)) + F.lit(0.5)) / F.lit(_SCALE)


def noise(seed: int, purpose: str, *keys: Column | str | int) -> Column:
    """A symmetric bell-shaped draw with mean 0 and standard deviation 1 (scaled logistic)."""
    u = uniform(seed, purpose, *keys)
    return F.log(u / (F.lit(1.0) - u)) * F.lit(math.sqrt(3.0) / math.pi)


def exponential(seed: int, purpose: str, *keys: Column | str | int) -> Column:
    """An exponential draw with mean 1."""
    return -F.log(uniform(seed, purpose, *keys))


def sigmoid(x: Column) -> Column:
    return F.lit(1.0) / (F.lit(1.0) + F.exp(-x))


def pick(u: Column, choices: Sequence[tuple[str, Column | float]]) -> Column:
    """The value whose weight interval contains ``u`` (weights need not sum to 1)."""
    weights = [_lit_or_col(w) for _, w in choices]
    total = weights[0]
    for w in weights[1:]:
        total = total + w
    target = u * total
    expr = None
    cumulative = None
    for (value, _), w in zip(choices[:-1], weights[:-1], strict=True):
        cumulative = w if cumulative is None else cumulative + w
        expr = (F.when(target < cumulative, F.lit(value)) if expr is None
                else expr.when(target < cumulative, F.lit(value)))
    last = F.lit(choices[-1][0])
    return last if expr is None else expr.otherwise(last)


def with_pick(name: str, u: Column, choices: Sequence[tuple[str, Column | float]]):
    """Factory: adds column ``name`` = pick(u, choices), with u and the weights computed once.

    (``pick`` repeats its inputs in every branch; materialising them first keeps the generated
    code small - Spark does not inline a non-trivial column that is used more than once.)
    """

    def transform(df: DataFrame) -> DataFrame:
        weights = [w if isinstance(w, Column) else F.lit(float(w)) for _, w in choices]
        tmp = df.select("*", u.alias("_pick_u"),
                        *[w.alias(f"_pick_w{i}") for i, w in enumerate(weights)])
        chosen = pick(F.col("_pick_u"),
                      [(v, F.col(f"_pick_w{i}")) for i, (v, _) in enumerate(choices)])
        return tmp.select(*df.columns, chosen.alias(name))

    return transform


def hex_id(seed: int, purpose: str, *keys: Column | str | int) -> Column:
    """16 lower-case hex characters derived from the keys (e.g. a cookie id)."""
    h = F.xxhash64(F.lit(seed), F.lit(purpose), *(_lit_or_col(k) for k in keys))
    return F.lpad(F.lower(F.hex(h)), 16, "0")
