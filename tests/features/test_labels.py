"""Gold labels: take-up in [as_of, as_of + horizon) with a label status; holders excluded."""
from __future__ import annotations

from chispa import assert_df_equality

from segrec_spark.features.labels import labels
from tests.features.conftest import SYNTHETIC, bronze, d, with_products

AS_OF = d("2026-03-01")
CONTRACT = with_products(SYNTHETIC, ("MORTGAGE", "CREDIT_CARD", "SAVINGS", "PENSION"))


def test_labels_use_the_label_window_and_statuses_and_skip_holders(spark):
    features = spark.createDataFrame([
        (AS_OF, "c1", 1, 0, 0, 0),
        (AS_OF, "c2", 0, 0, 0, 0),
        (d("2026-02-01"), "c3", 0, 0, 0, 0),  # another as_of_date's slice: ignored
    ], "as_of_date date, identity_id_hash string, holds_mortgage int, holds_credit_card int, "
       "holds_savings int, holds_pension int")
    prodeje = bronze(spark, "prodeje", [
        # first day of the window, and again the day after (one label row)
        dict(identity_id_hash="c1", product_code="CREDIT_CARD", signed_date="2026-03-01"),
        dict(identity_id_hash="c1", product_code="CREDIT_CARD", signed_date="2026-03-02"),
        dict(identity_id_hash="c1", product_code="SAVINGS", signed_date="2026-03-31"),  # day 30
        dict(identity_id_hash="c1", product_code="MORTGAGE", signed_date="2026-03-05"),  # held
        dict(identity_id_hash="c2", product_code="MORTGAGE", signed_date="2026-03-30",
             status="ACTIVATED"),  # last day
        dict(identity_id_hash="c2", product_code="PENSION", signed_date="2026-03-10",
             status="PENDING"),
        dict(identity_id_hash="c2", product_code="SAVINGS", signed_date="2026-02-28"),  # before
        dict(identity_id_hash="c3", product_code="SAVINGS", signed_date="2026-03-10"),
    ])
    actual = labels(features, prodeje, AS_OF, 30, ("SIGNED", "ACTIVATED"), CONTRACT)
    expected = spark.createDataFrame([
        (AS_OF, "c1", "CREDIT_CARD", 1, 30),
        (AS_OF, "c1", "SAVINGS", 0, 30),
        (AS_OF, "c1", "PENSION", 0, 30),
        (AS_OF, "c2", "MORTGAGE", 1, 30),
        (AS_OF, "c2", "CREDIT_CARD", 0, 30),
        (AS_OF, "c2", "SAVINGS", 0, 30),
        (AS_OF, "c2", "PENSION", 0, 30),
    ], "as_of_date date, identity_id_hash string, product_code string, label int, "
       "horizon_days int")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_label_statuses_are_configurable(spark):
    features = spark.createDataFrame([(AS_OF, "c1", 0)],
                                     "as_of_date date, identity_id_hash string, holds_pension int")
    prodeje = bronze(spark, "prodeje", [
        dict(identity_id_hash="c1", product_code="PENSION", signed_date="2026-03-07",
             status="PENDING")])  # last day of a 7-day window
    actual = labels(features, prodeje, AS_OF, 7, ("PENDING",), with_products(SYNTHETIC,
                                                                             ("PENSION",)))
    expected = spark.createDataFrame([(AS_OF, "c1", "PENSION", 1, 7)],
                                     "as_of_date date, identity_id_hash string, "
                                     "product_code string, label int, horizon_days int")
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_without_label_statuses_every_sale_counts(spark):
    features = spark.createDataFrame([(AS_OF, "c1", 0), (AS_OF, "c2", 0)],
                                     "as_of_date date, identity_id_hash string, holds_pension int")
    prodeje = bronze(spark, "prodeje", [
        dict(identity_id_hash="c1", product_code="PENSION", signed_date="2026-03-07",
             status="CANCELLED")])
    actual = labels(features, prodeje, AS_OF, 30, (), with_products(SYNTHETIC, ("PENSION",)))
    expected = spark.createDataFrame([(AS_OF, "c1", "PENSION", 1, 30),
                                      (AS_OF, "c2", "PENSION", 0, 30)],
                                     "as_of_date date, identity_id_hash string, "
                                     "product_code string, label int, horizon_days int")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
