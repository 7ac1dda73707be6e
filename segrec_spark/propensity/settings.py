"""Propensity: one RandomForest pipeline per product, tuned and tracked in MLflow."""
from __future__ import annotations

from dataclasses import dataclass

from segrec_spark.typed_yaml import require

BASELINES = ("popularity", "logistic_regression")
LEARNERS = ("logistic_regression", "random_forest", "gradient_boosting")
VALIDATIONS = ("auto", "month", "cv", "split")
SEGMENT_FEATURE = ("auto", "always", "never")
POOLED = ("auto", "always", "never")


@dataclass(frozen=True)
class PropensitySettings:
    products: tuple[str, ...] = ()  # empty = every product in the data contract
    num_trees: tuple[int, ...] = (40, 80)
    max_depth: tuple[int, ...] = (5, 8)
    # Regularisation: with a few dozen buyers per product, leaves of single rows memorise them
    # (measured on small: out-of-time AUC 0.43-0.66 with 1, higher with 50 and sqrt subsets).
    min_instances_per_node: int = 50
    feature_subset_strategy: str = "sqrt"  # auto | all | sqrt | log2 | onethird | a fraction
    # Learners tried per product; the best by validation ROC-AUC is kept (model.select_learner).
    learners: tuple[str, ...] = ("logistic_regression", "random_forest", "gradient_boosting")
    # month: tuned on the earlier stacked training snapshots, validated on the latest one (a
    # later month, as the out-of-time evaluation is), where there are two or more and the
    # latest holds month_min_positives buyers; cv: k-fold cross-validation by client; split:
    # one train/validation split by row; auto: month where it can, else cv up to cv_max_rows
    # training rows (where one split holds too few buyers), split above
    validation: str = "auto"
    month_min_positives: int = 100
    folds: int = 3
    cv_max_rows: int = 100_000
    train_ratio: float = 0.8  # validation: split
    max_bins: int = 32  # bins of continuous features in the tree learners
    gbt_max_iter: tuple[int, ...] = (100,)  # gradient boosting: trees (grid)
    gbt_max_depth: tuple[int, ...] = (3, 5)  # gradient boosting: depth (grid)
    gbt_step_size: float = 0.1
    lr_reg_param: tuple[float, ...] = (0.0, 0.01)  # logistic regression: L2 penalty (grid)
    parallelism: int = 2  # models fitted in parallel while tuning (= cores on a small machine)
    # Products trained at the same time, as threads of the one driver: one product's
    # driver-side work (planning, evaluation, MLflow logging) overlaps another's tasks.
    parallel_products: int = 2
    seed: int = 11
    # Class imbalance: positives get weight n_negative / n_positive (capped here) through the
    # forest's weightCol; the pipeline's last stages undo the weighting (prior correction) so the
    # published probability is a real probability, not a weighted one.
    max_positive_weight: float = 100.0
    # Forests (tuning grid and champion) are fitted on every positive plus a seeded random share
    # of the negatives, at most this many rows; the prior correction also undoes that share, so
    # the probability stays a population probability. Evaluation and scoring use every client.
    # 0 = fit on every row.
    max_training_rows: int = 250_000
    # ... and at most this many negatives per positive (case-control sampling; 0 = no ratio
    # cap), whichever keeps fewer. The prior correction divides this share out too.
    max_negatives_per_positive: float = 0.0
    # The client's segment (segment_id, one-hot) as a model input: always / never, or auto =
    # only where it helps, i.e. the chosen learner at its best parameters refitted with it on
    # the same validation rows scores a higher ROC-AUC than without it. Default always: auto
    # measured at small (seed 7) 16 % slower and 0.014 lower in mean out-of-time AUC
    # (docs/models.md): a validation split of ~25 buyers cannot tell a 0.01 difference.
    segment_feature: str = "always"
    # One forest pooled over all products (propensity.pooled): auto = per product, the pooled
    # forest where it scores a higher ROC-AUC than the product's own model on the latest
    # stacked training month (both fitted on the earlier ones); always; never. Needs two or
    # more products and two or more stacked training dates for auto (else: own models).
    pooled: str = "auto"
    # Depth of the pooled forest's trees (its trees: the first of num_trees): the pooled forest
    # learns each product's patterns as interactions with pooled_product, so it needs more
    # depth than a product's own forest (measured at small, seed 42: mean out-of-time AUC
    # 0.673 at depth 5, 0.678 at 8, against 0.664 for own forests at depth 5).
    pooled_max_depth: int = 8
    # Naive baseline trained beside the forest: "popularity" = positive rate of the client's
    # segment in the training labels; "logistic_regression" = unweighted logistic regression.
    baseline: str = "popularity"
    min_positives: int = 10  # a product with fewer training positives is skipped, with a warning
    # lift and capture rate at these top shares (the campaign plan's observed gain reads them)
    top_fractions: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
    # platt: probabilities are recalibrated on the held-out rows (propensity.calibration);
    # none: published as the model gives them
    calibration: str = "platt"
    quantile_relative_error: float = 0.0005  # approxQuantile error for deciles / top shares
    # "latest": the registered champion is refitted with the tuned parameters on the latest
    # labelled as_of_date (E-h); "evaluated": the model evaluated out of time (trained at E-2h)
    # is registered as is.
    champion_fit: str = "latest"
    # Champion / challenger: a new model takes the champion alias only when its held-out ROC-AUC
    # beats the baseline's and the current champion's (on the same rows) by this margin.
    promotion_margin: float = 0.0

    def validate(self) -> None:
        require(len(self.learners) >= 1 and all(x in LEARNERS for x in self.learners),
                "learners", f"expected a non-empty list of {', '.join(LEARNERS)}, "
                            f"found {list(self.learners)}")
        require(self.validation in VALIDATIONS, "validation",
                f"expected one of {', '.join(VALIDATIONS)}, found {self.validation!r}")
        require(self.month_min_positives >= 1, "month_min_positives", "must be >= 1")
        require(self.cv_max_rows >= 0, "cv_max_rows", "must be >= 0")
        require(2 <= self.folds <= 10, "folds", "must be 2..10")
        require(1 <= self.parallel_products <= 64, "parallel_products", "must be 1..64")
        require(2 <= self.max_bins <= 1024, "max_bins", "must be 2..1024")
        require(bool(self.gbt_max_iter) and all(n >= 1 for n in self.gbt_max_iter),
                "gbt_max_iter", "must be a non-empty list of positive counts")
        require(bool(self.gbt_max_depth) and all(1 <= d <= 30 for d in self.gbt_max_depth),
                "gbt_max_depth", "must be a non-empty list of depths in 1..30")
        require(0 < self.gbt_step_size <= 1, "gbt_step_size", "must be in (0, 1]")
        require(bool(self.lr_reg_param) and all(r >= 0 for r in self.lr_reg_param),
                "lr_reg_param", "must be a non-empty list of penalties >= 0")
        require(0.5 <= self.train_ratio < 1.0, "train_ratio", "must be in [0.5, 1)")
        require(self.parallelism >= 1, "parallelism", "must be >= 1")
        require(len(self.num_trees) >= 1 and all(n >= 1 for n in self.num_trees), "num_trees",
                "must be a non-empty list of positive tree counts")
        require(len(self.max_depth) >= 1 and all(1 <= d <= 30 for d in self.max_depth),
                "max_depth", "must be a non-empty list of depths in 1..30")
        require(self.min_instances_per_node >= 1, "min_instances_per_node", "must be >= 1")
        require(self.feature_subset_strategy in ("auto", "all", "sqrt", "log2", "onethird")
                or _is_fraction(self.feature_subset_strategy), "feature_subset_strategy",
                "expected auto, all, sqrt, log2, onethird or a fraction in (0, 1]")
        require(self.max_positive_weight >= 1.0, "max_positive_weight", "must be >= 1")
        require(self.max_training_rows == 0 or self.max_training_rows >= 1000,
                "max_training_rows", "must be 0 (no sample) or at least 1000 rows")
        require(self.max_negatives_per_positive == 0 or self.max_negatives_per_positive >= 1,
                "max_negatives_per_positive", "must be 0 (no ratio cap) or at least 1")
        require(self.baseline in BASELINES, "baseline",
                f"expected one of {', '.join(BASELINES)}, found {self.baseline!r}")
        require(self.min_positives >= 1, "min_positives", "must be >= 1")
        require(len(self.top_fractions) >= 1 and all(0 < f < 1 for f in self.top_fractions),
                "top_fractions", "must be a non-empty list of shares in (0, 1)")
        require(0.0 <= self.quantile_relative_error < 0.1, "quantile_relative_error",
                "must be in [0, 0.1)")
        require(0.0 <= self.promotion_margin < 0.5, "promotion_margin", "must be in [0, 0.5)")
        require(self.segment_feature in SEGMENT_FEATURE, "segment_feature",
                f"expected one of {', '.join(SEGMENT_FEATURE)}, found {self.segment_feature!r}")
        require(self.pooled in POOLED, "pooled",
                f"expected one of {', '.join(POOLED)}, found {self.pooled!r}")
        require(1 <= self.pooled_max_depth <= 30, "pooled_max_depth", "must be a depth in 1..30")
        require(self.calibration in ("platt", "none"), "calibration",
                f"expected platt or none, found {self.calibration!r}")
        require(self.champion_fit in ("latest", "evaluated"), "champion_fit",
                f"expected latest or evaluated, found {self.champion_fit!r}")


def _is_fraction(text: str) -> bool:
    try:
        return 0.0 < float(text) <= 1.0
    except ValueError:
        return False
