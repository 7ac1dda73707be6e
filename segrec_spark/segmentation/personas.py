"""Persona names for segments, from their centroids (pure Python on k small dictionaries).

Two namers:

* :func:`persona_name` for behavioural features written by the features stage
  (``<channel>_events_30d``, ``interest_<product>_30d``, ``camp_*``): dominant channel,
  engagement level, a standing-out product interest, campaign response, by fixed rules on the
  centroid z-scores; channels come from the feature names, never from a fixed list;
* :func:`distinguishing_name` for any other attributes (a bank's own snapshot): the features
  furthest from the average, with direction ("high balance, low age").
"""
from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence

# Display names of common channel names; any other channel <c> reads "<c>-first".
CHANNEL_LABELS = {"app": "mobile-first", "web": "web-first", "ib": "internet-banking-first"}
INTEREST = re.compile(r"^interest_(.+?)(_\d+d)?$")
INACTIVE_NAME = "branch-only (digitally inactive)"
# Persona thresholds on centroid z-scores (cluster mean of log1p(feature) minus the overall mean,
# in overall standard deviations).
INACTIVE_Z = -0.5  # every channel this far below average: digitally inactive
INACTIVE_LEVEL = math.log1p(0.5)  # ... or mean log1p activity below half an event on every one
OMNICHANNEL_GAP = 0.3  # top two channels closer than this (and both above average): omnichannel
HIGH_ENGAGEMENT_Z = 0.75
LOW_ENGAGEMENT_Z = -0.25
INTEREST_MARGIN_Z = 0.25  # a product interest stands out this much above the median interest
CAMPAIGN_Z = 0.75
# The words of a feature's direction: above / below the average; a date column's (days since
# 1970-01-01: a birth date, an account opening) reads later / earlier, not high / low.
DIRECTION_WORDS = ("high", "low")
DATE_DIRECTION_WORDS = ("later", "earlier")
# Feature families that are not a channel's activity (the rest are named <channel>_...).
NOT_CHANNELS = ("interest", "camp", "agr", "holds", "has")
# How the features stage names a channel's activity: <channel>_events_30d, <channel>_recency_days.
CHANNEL_ACTIVITY = re.compile(
    r"^([a-z0-9]+)_(events_\d+d|active_days_\d+d|sessions_\d+d|avg_session_sec_\d+d|recency_days)$")


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, f"{channel}-first")


def channels_in(features: Sequence[str]) -> list[str]:
    """Channel names of the per-channel activity features present (``<channel>_<measure>``)."""
    out: list[str] = []
    for f in features:
        channel = f.split("_", 1)[0] if "_" in f else None
        if channel and channel not in NOT_CHANNELS and channel not in out:
            out.append(channel)
    return out


def _is_activity(feature: str) -> bool:
    # Recency (days since last event) grows when activity falls: it would invert the scores.
    return "recency" not in feature and "days_since" not in feature


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def persona_scores(z: Mapping[str, float | None]) -> dict[str, float]:
    """Family scores of one centroid: channel_<web|app|ib>, engagement, campaign, interest_<P>.

    A family score is the mean z of its activity features (recency excluded, null z skipped).
    Engagement is the mean of the above-average channel scores (how intensely the cluster uses
    the channels it uses), or the best channel score when none is above average.
    """
    activity = {f: v for f, v in z.items() if _is_activity(f) and v is not None}
    scores: dict[str, float] = {}
    for channel in channels_in(list(activity)):
        value = _mean([v for f, v in activity.items() if f.startswith(f"{channel}_")])
        if value is not None:
            scores[f"channel_{channel}"] = value
    channel_values = [v for c, v in scores.items() if c.startswith("channel_")]
    used = [v for v in channel_values if v > 0]
    scores["engagement"] = (_mean(used) or 0.0) if used else max(channel_values, default=0.0)
    campaign = _mean([v for f, v in activity.items() if f.startswith("camp_")])
    if campaign is not None:
        scores["campaign"] = campaign
    interests: dict[str, list[float]] = {}
    for f, v in activity.items():
        m = INTEREST.match(f)
        if m:
            interests.setdefault(m.group(1).upper(), []).append(v)
    for product, values in interests.items():
        value = _mean(values)
        if value is not None:
            scores[f"interest_{product}"] = value
    return scores


def is_digitally_inactive(z: Mapping[str, float | None],
                          levels: Mapping[str, float] | None = None) -> bool:
    """No channel use to speak of: mean log1p activity below log1p(0.5) on every channel feature
    (when ``levels`` are given), else every channel score at least INACTIVE_Z below average."""
    channel_features = [f for f in z if _is_activity(f) and f.startswith(
        tuple(f"{c}_" for c in channels_in(list(z))))]
    if levels is not None and channel_features:
        return all(levels.get(f, 0.0) < INACTIVE_LEVEL for f in channel_features)
    channels = [v for c, v in persona_scores(z).items() if c.startswith("channel_")]
    return bool(channels) and max(channels) <= INACTIVE_Z


def persona_name(z: Mapping[str, float | None], levels: Mapping[str, float] | None = None) -> str:
    """A readable persona from one centroid's z-scores (and activity levels), by fixed rules.

    ``<dominant channel>, <engagement level>[, <product> interest][, campaign-responsive]``;
    a cluster with (almost) no channel activity is "branch-only (digitally inactive)".
    """
    if is_digitally_inactive(z, levels):
        return INACTIVE_NAME
    scores = persona_scores(z)
    channels = sorted(((v, c) for c, v in scores.items() if c.startswith("channel_")),
                      reverse=True)
    parts: list[str] = []
    if channels:
        top_value, top = channels[0]
        second_value = channels[1][0] if len(channels) > 1 else -math.inf
        if second_value > 0 and top_value - second_value < OMNICHANNEL_GAP:
            parts.append("omnichannel")
        else:
            parts.append(channel_label(top.removeprefix("channel_")))
    engagement = scores["engagement"]
    if engagement >= HIGH_ENGAGEMENT_Z:
        parts.append("high engagement")
    elif engagement <= LOW_ENGAGEMENT_Z:
        parts.append("low engagement")
    else:
        parts.append("moderate engagement")
    interests = sorted(((v, p) for p, v in scores.items() if p.startswith("interest_")),
                       reverse=True)
    if interests:
        values = sorted(v for v, _ in interests)
        median = values[len(values) // 2] if len(values) % 2 else (
            values[len(values) // 2 - 1] + values[len(values) // 2]) / 2
        top_value, top_product = interests[0]
        if top_value > 0 and top_value - median >= INTEREST_MARGIN_Z:
            product = top_product.removeprefix("interest_").lower().replace("_", " ")
            parts.append(f"{product} interest")
    if scores.get("campaign", -math.inf) >= CAMPAIGN_Z:
        parts.append("campaign-responsive")
    return ", ".join(parts)


def distinguishing_name(z: Mapping[str, float | None], top: int = 2,
                        threshold: float = 0.25,
                        shares: Mapping[str, float] | None = None,
                        dates: Collection[str] = ()) -> str:
    """A name from what sets a segment apart: its ``top`` features furthest from the average
    (z-score at least ``threshold``), with direction, e.g. "high balance, low age", a date
    feature (in ``dates``) as "later DOB" / "earlier DOB", and a yes/no feature (in
    ``shares``: the segment's share of yes) as that share, "newbie 100 %"; used when the
    features are a bank's own attributes rather than channel activity."""
    ranked = sorted(((abs(v), f, v) for f, v in z.items() if v is not None and abs(v) >= threshold),
                    reverse=True)[:top]
    if not ranked:
        return "average profile"
    shares = shares or {}

    def words(feature: str, value: float) -> str:
        name = feature.replace("_", " ")
        if feature in shares:
            return f"{name} {round(100 * shares[feature])} %"
        above, below = DATE_DIRECTION_WORDS if feature in dates else DIRECTION_WORDS
        return f"{above if value > 0 else below} {name}"
    return ", ".join(words(f, v) for _, f, v in ranked)


def distinguishing_names(z: Mapping[int, Mapping[str, float | None]],
                         shares: Mapping[int, Mapping[str, float]] | None = None,
                         dates: Collection[str] = (), top: int = 2, most: int = 4
                         ) -> dict[int, str]:
    """:func:`distinguishing_name` of each cluster's z-scores (``z``: cluster -> feature ->
    z); clusters that share a name are named again with one more feature at a time, up to
    ``most``, so that twins read "low tenure, low charges, high latitude" and "low tenure, low
    charges, low latitude" rather than the same words and " (2)" (:func:`unique_names` still
    numbers any left alike)."""
    shares = shares or {}

    def name(cluster: int, n: int) -> str:
        return distinguishing_name(z[cluster], n, shares=shares.get(cluster), dates=dates)

    names = {c: name(c, top) for c in z}
    for shared in set(names.values()):
        twins = [c for c in names if names[c] == shared]
        for n in range(top + 1, most + 1):
            if len(twins) < 2:
                break
            longer = {c: name(c, n) for c in twins}
            if len(set(longer.values())) == len(twins):
                names.update(longer)
                break
    return names


def unique_names(names: Mapping[int, str]) -> dict[int, str]:
    """Make names unique: the 2nd, 3rd... segment with the same name gets " (2)", " (3)"..."""
    seen: dict[str, int] = {}
    result = {}
    for segment in sorted(names):
        name = names[segment]
        seen[name] = seen.get(name, 0) + 1
        result[segment] = name if seen[name] == 1 else f"{name} ({seen[name]})"
    return result
