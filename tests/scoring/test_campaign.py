"""gold.campaign_plan on hand-written rankings; expected plan written by hand."""
from __future__ import annotations

import datetime as dt

from chispa import assert_approx_df_equality

from segrec_spark.contract import Product
from segrec_spark.scoring.campaign import PLAN_COLUMNS, campaign_plan, contact_advice, share_label

D = dt.date(2026, 4, 1)
RANKINGS = ("as_of_date date, product_code string, identity_id_hash string, probability double, "
            "audience_rank int, contact_status string, model_version string")
SCHEMA = ("as_of_date date, product_code string, audience_share double, size_rule string, "
          "clients long, "
          "min_probability double, expected_conversions double, expected_revenue double, "
          "expected_cost double, expected_profit double, best_size boolean, model_version string")


def test_plan_per_audience_size_and_at_break_even_with_money_and_best_size(spark):
    a = [0.5, 0.4, 0.3, 0.2, 0.08, 0.05, 0.05, 0.05, 0.05, 0.0]
    rows = [(D, "A", f"a{i}", p, i + 1, "contact", "3") for i, p in enumerate(a)]
    rows += [(D, "B", "b0", 0.9, 1, "contact", "1"), (D, "C", "c0", 0.1, 1, "contact", "2"),
             (D, "C", "c1", 0.1, 2, "contact", "2")]
    # rows that are not contactable never count, whatever their probability
    rows += [(D, "A", "x0", 0.99, None, "opted_out", "3"), (D, "B", "x1", 0.95, None, "control", "1"),
             (D, "C", "x2", 0.9, None, "ineligible", "2"), (D, "C", "x3", 0.9, None, "over_cap", "2")]
    rankings = spark.createDataFrame(rows, RANKINGS)
    products = [Product("A", margin=10, contact_cost=1), Product("B"),
                Product("C", margin=1, contact_cost=1)]
    got = campaign_plan(rankings, products, [0.1, 0.2, 0.5, 1.0])
    assert tuple(got.columns) == PLAN_COLUMNS
    assert got.filter("observed_capture IS NOT NULL OR evaluated_on IS NOT NULL").count() == 0
    got = got.drop("observed_capture", "observed_lift", "evaluated_on")
    # A: 1, 2, 5, 10 clients; conversions 0.5, 0.9, 1.48, 1.68; revenue x10; cost x1 per
    # client. Break-even: the 4 clients with 10 x p > 1 (4 of 10 contactable), profit 10, more
    # than any configured share (the 5th client, 10 x 0.08 < 1, loses 0.2).
    # B: no margin or cost -> money columns null, no best size, no break-even row.
    # C: ceil(0.1 x 2) = 1 client at least; every size loses money -> no best size; no client
    # pays for its contact (1 x 0.1 < 1) -> no break-even row.
    expected = spark.createDataFrame([
        (D, "A", 0.1, "share", 1, 0.5, 0.5, 5.0, 1.0, 4.0, False, "3"),
        (D, "A", 0.2, "share", 2, 0.4, 0.9, 9.0, 2.0, 7.0, False, "3"),
        (D, "A", 0.4, "break_even", 4, 0.2, 1.4, 14.0, 4.0, 10.0, True, "3"),
        (D, "A", 0.5, "share", 5, 0.08, 1.48, 14.8, 5.0, 9.8, False, "3"),
        (D, "A", 1.0, "share", 10, 0.0, 1.68, 16.8, 10.0, 6.8, False, "3"),
        (D, "B", 0.1, "share", 1, 0.9, 0.9, None, None, None, False, "1"),
        (D, "B", 0.2, "share", 1, 0.9, 0.9, None, None, None, False, "1"),
        (D, "B", 0.5, "share", 1, 0.9, 0.9, None, None, None, False, "1"),
        (D, "B", 1.0, "share", 1, 0.9, 0.9, None, None, None, False, "1"),
        (D, "C", 0.1, "share", 1, 0.1, 0.1, 0.1, 1.0, -0.9, False, "2"),
        (D, "C", 0.2, "share", 1, 0.1, 0.1, 0.1, 1.0, -0.9, False, "2"),
        (D, "C", 0.5, "share", 1, 0.1, 0.1, 0.1, 1.0, -0.9, False, "2"),
        (D, "C", 1.0, "share", 2, 0.1, 0.2, 0.2, 2.0, -1.8, False, "2"),
    ], SCHEMA)
    assert_approx_df_equality(got, expected, 1e-9, ignore_nullable=True, ignore_row_order=True)


def test_best_size_on_a_tie_is_the_smaller_audience_and_no_audience_is_listed_twice(spark):
    # margin 2, cost 1: client 1 brings 2 x 1.0 - 1 = 1; client 2 brings 2 x 0.5 - 1 = 0, so
    # only client 1 pays for the contact: the top half, already a row, and not listed again.
    rankings = spark.createDataFrame([(D, "A", "a", 1.0, 1, "contact", "1"),
                                      (D, "A", "b", 0.5, 2, "contact", "1")], RANKINGS)
    got = campaign_plan(rankings, [Product("A", margin=2, contact_cost=1)], [0.5, 1.0])
    best = [(r["audience_share"], r["size_rule"], r["best_size"])
            for r in got.orderBy("audience_share", "size_rule").collect()]
    assert best == [(0.5, "share", True), (1.0, "share", False)]


def test_observed_gain_of_each_cut_from_the_latest_champion_evaluation(spark):
    rankings = spark.createDataFrame([(D, "A", f"a{i}", 0.1, i + 1, "contact", "1")
                                      for i in range(4)], RANKINGS)
    e1, e2 = dt.date(2026, 2, 1), dt.date(2026, 3, 1)
    metrics = spark.createDataFrame([
        (e2, "A", "champion", "capture_top50", 0.7), (e2, "A", "champion", "lift_top50", 1.4),
        (e2, "A", "baseline", "capture_top50", 0.6),               # not the champion
        (e1, "A", "champion", "capture_top50", 0.1),               # an older evaluation
        (e2, "A", "champion", "capture_top0.5", 0.2),              # not a planned size
    ], "as_of_date date, product_code string, role string, metric string, value double")
    got = campaign_plan(rankings, [Product("A")], [0.25, 0.5, 1.0], metrics)
    observed = {r["audience_share"]: (r["observed_capture"], r["observed_lift"], r["evaluated_on"])
                for r in got.collect()}
    assert observed == {0.25: (None, None, e2), 0.5: (0.7, 1.4, e2), 1.0: (1.0, 1.0, e2)}
    assert share_label(0.005) == "0.5"
    assert share_label(0.1) == "10"
    assert share_label(0.05) == "5"


def _size(product, share, clients, profit, best, p=0.05, conversions=10.0):
    return {"product_code": product, "audience_share": share, "clients": clients,
            "min_probability": p, "expected_conversions": conversions,
            "expected_profit": profit, "best_size": best}


def test_each_product_gets_its_best_audience_or_the_reason_it_has_none():
    # the report names the products without one under the plan; `segrec run` prints them all
    plan = [_size("MORTGAGE", 0.05, 1234, 5600.4, True, p=0.0312, conversions=56.25),
            _size("MORTGAGE", 0.1, 2468, 4100.0, False),
            _size("SAVINGS", 0.05, 40, 300.0, False),
            {**_size("SAVINGS", 0.0731, 58, 312.0, True, p=0.0205, conversions=3.1),
             "size_rule": "break_even"},
            _size("CMP2", 0.05, 40, -12.4, False),
            _size("CMP2", 0.1, 80, -30.0, False),
            _size("CMP3", 0.05, 40, None, False)]
    assert contact_advice(plan) == {
        "CMP2": (False, "none: no audience size is expected to pay for its contacts (the best, "
                        "the top 5 % of contactable clients, expects -12 in profit)"),
        "CMP3": (False, "no margin and contact_cost in the product catalogue, so no audience "
                        "size is chosen"),
        "MORTGAGE": (True, "the top 5 % of contactable clients (1,234, p >= 0.031): expected "
                           "56.2 conversions, profit 5,600"),
        "SAVINGS": (True, "the 58 contactable clients whose expected margin pays for the "
                          "contact (7.31 % of them, p >= 0.021): expected 3.1 conversions, "
                          "profit 312")}
