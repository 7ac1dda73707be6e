"""Segments that keep their identity from one model to the next, and who moved where.

A bank refits the segmentation every month. K-Means numbers its clusters arbitrarily, so without
care "segment 2" would mean something else each month. Continuity:

1. The new model's fitting sample is also assigned by the previous (champion) model: each client
   gets a new cluster and the previous segment, i.e. the nearest of the previous centroids.
2. :func:`continued_segments` matches new clusters to previous segments by their overlap, the
   largest first (greedy), and a new cluster keeps a previous segment's id when at least
   ``min_share`` of its clients come from that segment. Unmatched clusters get fresh ids, above
   every previous id, by size. A previous segment that nothing continues is retired.
3. Persona names are recomputed from the new centroids by the same fixed rules, so a continued
   segment keeps its name unless its distinguishing features changed (then it is renamed, and
   the rename is logged with the continuity record).

:func:`segment_migration` counts the clients of gold.client_segments moving between the segments
of two as-of dates (``gold.segment_migration``).
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

KEY = "identity_id_hash"
MIGRATION_COLUMNS = ("as_of_date", "previous_as_of_date", "from_segment_id", "from_segment_name",
                     "to_segment_id", "to_segment_name", "movement", "clients",
                     "share_of_from_segment")


@dataclass(frozen=True)
class Continuation:
    """A new segment that continues a previous one."""

    previous_segment_id: int
    overlap_share: float  # share of the new segment's fitting clients from the previous segment


def persona_of(name: str) -> str:
    """A segment name without the " (2)" that tells repeated personas apart."""
    return re.sub(r" \(\d+\)$", "", name)


def continued_segments(sizes: Mapping[int, int], overlap: Iterable[tuple[int, int, int]],
                       previous_names: Mapping[int, str], min_share: float,
                       names: Mapping[int, str] | None = None, first_fresh: int = 0
                       ) -> tuple[dict[int, int], dict[int, Continuation]]:
    """(cluster -> segment_id, segment_id -> Continuation) for the non-empty new clusters.

    ``overlap`` holds (new cluster, previous segment id, clients in both); ``previous_names``
    the previous model's segment_id -> name, ``names`` the new clusters' persona names. A pair
    qualifies when its overlap is at least ``min_share`` of the cluster's size; qualifying pairs
    are taken persona kept first (a new behaviour the previous model lumped into a segment must
    not take that segment's id from the clients who still behave as it did), then by decreasing
    overlap (ties: lower cluster, then lower segment), each cluster and each previous segment at
    most once. Other clusters get fresh ids from above every previous id and ``first_fresh``
    (the highest id ever used plus one, so a retired id never returns with another meaning).
    """
    live = {c: n for c, n in sizes.items() if n > 0}
    names = names or {}

    def kept(cluster: int, previous: int) -> bool:
        return cluster in names and names[cluster] == persona_of(previous_names.get(previous, ""))

    order: dict[int, int] = {}
    continued: dict[int, Continuation] = {}
    taken: set[int] = set()
    for cluster, previous, n in sorted(overlap, key=lambda t: (not kept(t[0], t[1]), -t[2],
                                                               t[0], t[1])):
        if cluster not in live or cluster in order or previous in taken or previous < 0:
            continue
        share = n / live[cluster]
        if share >= min_share:
            order[cluster] = previous
            taken.add(previous)
            continued[previous] = Continuation(previous, round(share, 4))
    fresh = max([*previous_names, *taken, first_fresh - 1, -1]) + 1
    for cluster in sorted((c for c in live if c not in order), key=lambda c: (-live[c], c)):
        order[cluster] = fresh
        fresh += 1
    return order, continued


def continuity_record(names: Mapping[int, str], continued: Mapping[int, Continuation],
                      previous_names: Mapping[int, str]) -> list[dict[str, object]]:
    """Per new segment: whether it continues the previous segment of its id, the overlap share,
    its name then and now (a continued segment is renamed only when its persona changed); then
    the previous segments nothing continues (retired)."""
    out: list[dict[str, object]] = []
    for segment, name in sorted(names.items()):
        before = continued.get(segment)
        out.append({"segment_id": segment, "name": name, "continues": before is not None,
                    "overlap_share": before.overlap_share if before else None,
                    "previous_name": previous_names.get(segment) if before else None,
                    "renamed": before is not None and previous_names.get(segment) != name})
    out += [{"segment_id": s, "name": previous_names[s], "retired": True}
            for s in sorted(set(previous_names) - set(continued))]
    return out


def segment_migration(previous: DataFrame, current: DataFrame, as_of: dt.date,
                      previous_as_of: dt.date | None) -> DataFrame:
    """Clients per (from segment, to segment) between two gold.client_segments slices.

    ``movement``: stayed (same segment id), moved, joined (not segmented at the previous date:
    a new client, or the first month) or left (segmented then, not now).
    ``share_of_from_segment``: the share of the from segment's clients (null for joined).
    """
    before = previous.select(KEY, F.col("segment_id").alias("from_segment_id"),
                             F.col("segment_name").alias("from_segment_name"))
    after = current.select(KEY, F.col("segment_id").alias("to_segment_id"),
                           F.col("segment_name").alias("to_segment_name"))
    flows = (before.join(after, KEY, "full_outer")
             .groupBy("from_segment_id", "from_segment_name", "to_segment_id", "to_segment_name")
             .agg(F.count(F.lit(1)).alias("clients")))
    movement = F.expr("CASE WHEN from_segment_id IS NULL THEN 'joined' "
                      "WHEN to_segment_id IS NULL THEN 'left' "
                      "WHEN from_segment_id = to_segment_id THEN 'stayed' ELSE 'moved' END")
    from_size = F.sum("clients").over(Window.partitionBy("from_segment_id"))
    return flows.select(
        F.lit(as_of).cast("date").alias("as_of_date"),
        F.lit(previous_as_of).cast("date").alias("previous_as_of_date"),
        F.col("from_segment_id").cast("int").alias("from_segment_id"), "from_segment_name",
        F.col("to_segment_id").cast("int").alias("to_segment_id"), "to_segment_name",
        movement.alias("movement"),
        F.col("clients").cast("long").alias("clients"),
        F.when(F.col("from_segment_id").isNotNull(), F.col("clients") / from_size)
        .alias("share_of_from_segment"),
    )
