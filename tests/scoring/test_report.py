"""Report aggregates on hand-written rankings and purchases."""
from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality

from segrec_spark.propensity.model import feature_label
from segrec_spark.scoring.charts import gains_figure
from segrec_spark.scoring.report import (
    movement_totals,
    realised_gains,
    segment_products,
    snapshot_column_use,
    tier_sizes,
)

D = dt.date(2026, 4, 1)


def test_realised_gains_capture_and_lift(spark):
    # 4 clients in deciles 1..2 for SAVINGS; buyers: a (decile 1) and c (decile 2).
    rankings = spark.createDataFrame(
        [("SAVINGS", "a", 1), ("SAVINGS", "b", 1), ("SAVINGS", "c", 2), ("SAVINGS", "d", 2)],
        "product_code string, identity_id_hash string, decile int")
    purchases = spark.createDataFrame([("a", "SAVINGS"), ("a", "SAVINGS"), ("c", "SAVINGS"), ("b", "MORTGAGE")],
                                      "identity_id_hash string, product_code string")
    got = realised_gains(rankings, purchases)
    expected = spark.createDataFrame(
        [("SAVINGS", 1, 2, 1, 0.5, 1.0), ("SAVINGS", 2, 2, 1, 1.0, 1.0)],
        "product_code string, decile int, clients long, buyers long, capture double, lift double")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_gains_without_buyers_leave_capture_empty(spark):
    rankings = spark.createDataFrame([("PENSION", "a", 1)], "product_code string, identity_id_hash string, decile int")
    purchases = spark.createDataFrame([], "identity_id_hash string, product_code string")
    row = realised_gains(rankings, purchases).first()
    assert row["buyers"] == 0
    assert row["capture"] is None
    assert row["lift"] is None


def test_tier_sizes(spark):
    rankings = spark.createDataFrame([("P", "High Value Engaged"), ("P", "High Value Engaged"), ("P", "Low Engagement")],
                                     "product_code string, propensity_tier string")
    expected = spark.createDataFrame([("P", "High Value Engaged", 2), ("P", "Low Engagement", 1)],
                                     "product_code string, propensity_tier string, clients long")
    assert_df_equality(tier_sizes(rankings), expected, ignore_row_order=True, ignore_nullable=True)


def test_gains_figure_is_an_embedded_png():
    rows = [{"product_code": "P", "decile": d, "capture": d / 10, "lift": 1.0} for d in range(1, 11)]
    html_img = gains_figure(rows, ["P"])
    assert html_img.startswith("<img")
    assert "data:image/png;base64," in html_img
    assert len(html_img) > 5000


def test_movement_totals_add_the_flows_of_each_movement(spark):
    migration = spark.createDataFrame(
        [("stayed", 60), ("stayed", 20), ("moved", 10), ("joined", 6), ("left", 4)],
        "movement string, clients long")
    expected = spark.createDataFrame(
        [("stayed", 80, 0.8), ("moved", 10, 0.1), ("joined", 6, 0.06), ("left", 4, 0.04)],
        "movement string, clients long, share double")
    assert_df_equality(movement_totals(migration), expected, ignore_row_order=True,
                       ignore_nullable=True)


def test_feature_labels_read_as_the_delivered_columns():
    assert feature_label("__imputed_balance") == "balance"
    assert feature_label("__missing_balance") == "balance missing"
    assert feature_label("job_onehot_admin.") == "job = admin."
    assert feature_label("app_events_30d") == "app_events_30d"


def test_snapshot_column_use_counts_and_names_each_use(spark):
    columns = spark.createDataFrame(
        [(f"v{i:02d}", f"v{i:02d}", "numeric") for i in range(14)]
        + [("id", None, "key"), ("y", "y", "label of DEPOSIT")],
        "column string, feature string, used_as string")
    got = {r["used_as"]: (r["columns"], r["names"])
           for r in snapshot_column_use(columns, shown=3).collect()}
    assert got == {"numeric": (14, "v00, v01, v02, ..."), "key": (1, "id"),
                   "label of DEPOSIT": (1, "y")}


def test_segment_cells_show_holding_rates_only_where_a_product_is_held():
    held = [{"segment_id": 0, "holding_rate_card": 0.25, "conversion_rate_card": 0.01},
            {"segment_id": 1, "holding_rate_card": 0.0, "conversion_rate_card": 0.02}]
    assert segment_products(held) == [
        {"product": "CARD", "segment 0": "25.0% / 1.0%", "segment 1": "0.0% / 2.0%"}]
    none_held = [{**row, "holding_rate_card": 0.0} for row in held]
    assert segment_products(none_held) == [
        {"product": "CARD", "segment 0": "1.0%", "segment 1": "2.0%"}]

