"""Champion / challenger: does a newly trained model take the champion alias? (pure)

The first model of a product is promoted (every product gets scored). After that, a new model
(the challenger) is promoted only when, on the same held-out rows, its ROC-AUC beats
the naive baseline's and the current champion's by at least ``propensity.promotion_margin``.
The champion is judged on those rows only when it never trained on them: a champion refitted
on the evaluation month (``champion_fit: latest``) has seen its labels, so it is not compared
(that is said in the reason) and the challenger only has to beat the baseline.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    promoted: bool
    reason: str


def promotion_decision(challenger_auc: float, baseline_auc: float,
                       champion_auc: float | None, margin: float,
                       champion_note: str = "", has_champion: bool = True) -> Decision:
    """Promote when the challenger beats the baseline and the judged champion by ``margin``.

    The first model of a product (``has_champion`` False) is always promoted, so that every
    product is scored; the reason says when it does not beat the baseline."""
    if not has_champion:
        verdict = "beats" if challenger_auc >= baseline_auc + margin else "does NOT beat"
        return Decision(True, f"no champion yet: first model promoted; its AUC "
                              f"{challenger_auc:.4f} {verdict} the baseline {baseline_auc:.4f}")
    if challenger_auc < baseline_auc + margin:
        return Decision(False, f"challenger AUC {challenger_auc:.4f} does not beat the baseline "
                               f"{baseline_auc:.4f} by the margin {margin:g}; champion kept")
    if champion_auc is None:
        return Decision(True, f"{champion_note or 'champion not judged'}; challenger AUC "
                              f"{challenger_auc:.4f} beats the baseline {baseline_auc:.4f}")
    if challenger_auc < champion_auc + margin:
        return Decision(False, f"challenger AUC {challenger_auc:.4f} does not beat the champion's "
                               f"{champion_auc:.4f} on the same rows by the margin {margin:g}; "
                               f"champion kept")
    return Decision(True, f"challenger AUC {challenger_auc:.4f} beats the champion's "
                          f"{champion_auc:.4f} and the baseline's {baseline_auc:.4f}")


def champion_is_comparable(fitted_as_of: str, eval_as_of: str, by_split: bool) -> bool:
    """A champion can be judged on the evaluation rows when it never trained on them: in a
    held-out split it never did; out of time, when it was fitted before the evaluation date."""
    return by_split or (bool(fitted_as_of) and fitted_as_of < eval_as_of)
