"""The end of `segrec run`: how many clients to contact per product, from the campaign plan."""
from __future__ import annotations

from segrec_spark.pipeline import campaign_lines


def _size(product, share, clients, profit, best, p=0.05, conversions=10.0):
    return {"product_code": product, "audience_share": share, "clients": clients,
            "min_probability": p, "expected_conversions": conversions,
            "expected_profit": profit, "best_size": best}


def test_each_product_gets_its_best_audience_or_the_reason_it_has_none():
    plan = [_size("MORTGAGE", 0.05, 1234, 5600.4, True, p=0.0312, conversions=56.25),
            _size("MORTGAGE", 0.1, 2468, 4100.0, False),
            _size("CMP2", 0.05, 40, -12.0, False),
            _size("CMP2", 0.1, 80, -30.0, False),
            _size("CMP3", 0.05, 40, None, False)]
    assert campaign_lines(plan) == [
        "  CMP2: none; no audience size is expected to pay for its contacts",
        "  CMP3: no margin and contact_cost in the product catalogue, so no audience size is "
        "chosen",
        "  MORTGAGE: the top 5 % of contactable clients (1,234, p >= 0.031): expected 56.2 "
        "conversions, profit 5,600"]
