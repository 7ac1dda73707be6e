"""Segmentation: K-Means behavioural segments with persona names."""
from __future__ import annotations

from dataclasses import dataclass

from segrec_spark.typed_yaml import require


@dataclass(frozen=True)
class SegmentationSettings:
    k_min: int = 3
    k_max: int = 8
    use_pca: bool = False
    pca_components: int = 8  # used when use_pca; capped at the number of behavioural columns
    seed: int = 7
    max_iter: int = 30
    # Values of k fitted at a time during the sweep (threads sharing the session; each KMeans
    # fit is a chain of short jobs, so one alone leaves cores idle).
    parallelism: int = 2
    # Behavioural feature families clustered on (numeric gold.client_features columns with these
    # prefixes); the list of columns is read from the schema, never hard-coded. Empty = every
    # event channel of the data contract plus interest_ and camp_.
    feature_prefixes: tuple[str, ...] = ()
    # A k whose smallest cluster holds less than this share of clients (or that leaves a cluster
    # empty) counts as collapsed and is only chosen when every k in the range collapses.
    min_cluster_share: float = 0.01
    # The k sweep (a K-Means fit and a silhouette per k) runs on a seeded random sample of at
    # most this many clients; every client is then assigned with the chosen model. Centroids of
    # 250,000 clients are as good as of 1 M, at a quarter of the cost. 0 = fit on every client.
    max_fit_rows: int = 250_000
    # Segment ids carry over from the champion model to a refit (segmentation.continuity): a new
    # cluster keeps a previous segment's id when at least continuity_min_share of its clients
    # were in that segment. false = ids number the segments by size at every fit.
    continuity: bool = True
    continuity_min_share: float = 0.5

    def validate(self) -> None:
        require(2 <= self.k_min <= self.k_max, "k_min", "must satisfy 2 <= k_min <= k_max")
        require(self.k_max <= 50, "k_max", "must be <= 50")
        require(self.pca_components >= 2, "pca_components", "must be >= 2")
        require(self.max_iter >= 1, "max_iter", "must be >= 1")
        require(self.parallelism >= 1, "parallelism", "must be >= 1")
        require(all(p for p in self.feature_prefixes), "feature_prefixes",
                "must be a list of non-empty column prefixes")
        require(0.0 <= self.min_cluster_share < 0.5, "min_cluster_share", "must be in [0, 0.5)")
        require(self.max_fit_rows == 0 or self.max_fit_rows >= 1000, "max_fit_rows",
                "must be 0 (no sample) or at least 1000 clients")
        require(0.0 < self.continuity_min_share <= 1.0, "continuity_min_share",
                "must be in (0, 1]: the share of a new segment's clients from the one it continues")
