"""The pooled forest's pieces: own-column families, the product view, importances, the choice."""
from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality

from segrec_spark.propensity import model as pm
from segrec_spark.propensity import pooled
from segrec_spark.propensity.settings import PropensitySettings

PRODUCTS = ("MORTGAGE", "CONSUMER_LOAN", "SAVINGS")
COLUMNS = ("interest_mortgage_30d", "interest_consumer_loan_30d", "interest_savings_30d",
           "holds_mortgage", "holds_consumer_loan", "holds_savings",
           "agr_mortgage_count", "agr_savings_count",  # no CONSUMER_LOAN column: not a family
           "web_events_30d", "loan_calculator_uses")


def test_families_every_product_has_become_own_columns():
    aligned = pooled.aligned_columns(COLUMNS, PRODUCTS)
    assert aligned == {
        "holds_own": {"MORTGAGE": "holds_mortgage", "CONSUMER_LOAN": "holds_consumer_loan",
                      "SAVINGS": "holds_savings"},
        "interest_own_30d": {"MORTGAGE": "interest_mortgage_30d",
                             "CONSUMER_LOAN": "interest_consumer_loan_30d",
                             "SAVINGS": "interest_savings_30d"},
    }


def test_a_column_goes_to_the_longest_product_code_it_holds():
    # LOAN is a part of consumer_loan too: interest_consumer_loan_30d is CONSUMER_LOAN's only
    aligned = pooled.aligned_columns(("interest_loan_30d", "interest_consumer_loan_30d"),
                                     ("LOAN", "CONSUMER_LOAN"))
    assert aligned == {"interest_own_30d": {"LOAN": "interest_loan_30d",
                                            "CONSUMER_LOAN": "interest_consumer_loan_30d"}}


def test_columns_that_name_no_product_give_no_family():
    assert pooled.aligned_columns(("web_events_30d", "age"), PRODUCTS) == {}


def test_the_view_adds_the_product_and_its_own_columns(spark):
    aligned = pooled.aligned_columns(COLUMNS, PRODUCTS)
    df = spark.createDataFrame([(1, 2, 3, 0, 1, 0)],
                               "interest_mortgage_30d int, interest_consumer_loan_30d int, "
                               "interest_savings_30d int, holds_mortgage int, "
                               "holds_consumer_loan int, holds_savings int")
    expected = spark.createDataFrame(
        [(1, 2, 3, 0, 1, 0, "CONSUMER_LOAN", 1.0, 2.0)],
        "interest_mortgage_30d int, interest_consumer_loan_30d int, interest_savings_30d int, "
        "holds_mortgage int, holds_consumer_loan int, holds_savings int, "
        "pooled_product string, holds_own double, interest_own_30d double")
    viewed = pooled.product_view("CONSUMER_LOAN", aligned).transform(df)
    assert_df_equality(viewed, expected, ignore_nullable=True)


def test_a_product_model_reads_only_the_client_features(spark):
    # the view is part of the registered model: scoring needs no pooled column
    aligned = {"interest_own_30d": {"A": "interest_a_30d", "B": "interest_b_30d"}}
    rows = [(f"c{i}", i % 5, (i * 3) % 5, float(i % 5 >= 3)) for i in range(60)]
    a = spark.createDataFrame(rows, "identity_id_hash string, interest_a_30d int, "
                                    "interest_b_30d int, label double")
    stacked = pooled.pooled_rows({"A": a, "B": a}, aligned)
    spec = pm.feature_spec(stacked)
    assert "interest_own_30d" in spec.numeric
    assert "pooled_product" in spec.categorical
    fitted = pm.logistic_pipeline(spec).fit(stacked)
    model = pooled.product_model(pooled.product_view("B", aligned), fitted)
    assert set(pm.model_input_columns(model)) == {"interest_a_30d", "interest_b_30d"}
    scored = model.transform(a.drop("label"))
    assert scored.count() == 60


def test_importances_of_own_columns_count_for_the_products_column():
    aligned = {"interest_own_30d": {"A": "interest_a_30d", "B": "interest_b_30d"}}
    importances = [("__imputed_interest_own_30d", 0.5), ("__imputed_interest_b_30d", 0.1),
                   ("__imputed_interest_a_30d", 0.2), ("pooled_product_onehot_B", 0.15),
                   ("__missing_interest_own_30d", 0.05)]
    assert pooled.product_importances(importances, "B", aligned) == [
        ("__imputed_interest_b_30d", pytest.approx(0.6)), ("__imputed_interest_a_30d", 0.2),
        ("__missing_interest_b_30d", 0.05)]


def _forest(validation: dict[str, float]) -> pooled.PooledForest:
    fitted = pooled.Fitted(model=None, weight=1.0, share=1.0, rows=0, positives=0)  # type: ignore[arg-type]
    return pooled.PooledForest({}, fitted, validation, {}, lambda: fitted)


def test_auto_takes_the_pooled_forest_only_where_it_validates_higher():
    auto = PropensitySettings(pooled="auto")
    forest = _forest({"A": 0.70, "B": 0.60})
    assert pooled.chooses_pooled(auto, forest, "A", own_auc=0.65)
    assert not pooled.chooses_pooled(auto, forest, "B", own_auc=0.65)
    assert not pooled.chooses_pooled(auto, forest, "B", own_auc=0.60)  # a tie keeps its own
    assert not pooled.chooses_pooled(auto, forest, "C", own_auc=0.50)  # not validated
    assert not pooled.chooses_pooled(auto, None, "A", own_auc=0.1)
    assert pooled.chooses_pooled(PropensitySettings(pooled="always"), _forest({}), "C", None)


def test_the_pooled_champion_is_fitted_once():
    calls = []
    fitted = pooled.Fitted(model=None, weight=1.0, share=1.0, rows=0, positives=0)  # type: ignore[arg-type]

    def refit():
        calls.append(dt.datetime.now())
        return fitted

    forest = pooled.PooledForest({}, fitted, {}, {}, refit)
    assert forest.champion() is forest.champion() is fitted
    assert len(calls) == 1


def test_settings_reject_an_unknown_pooled_mode():
    from segrec_spark.typed_yaml import ConfigError
    with pytest.raises(ConfigError, match="pooled"):
        PropensitySettings(pooled="sometimes").validate()


def test_no_pooled_forest_where_it_cannot_or_may_not_be_chosen():
    def frames(product, part):
        raise AssertionError("no rows are read")

    dates = [dt.date(2026, 1, 1), dt.date(2026, 2, 1)]
    never = PropensitySettings(pooled="never")
    assert pooled.fit_pooled(never, PRODUCTS, frames, dates, use_segment=False) is None
    auto = PropensitySettings(pooled="auto")
    assert pooled.fit_pooled(auto, ("MORTGAGE",), frames, dates, use_segment=False) is None
    # auto chooses on the latest of two or more training months: one gives nothing to choose on
    assert pooled.fit_pooled(auto, PRODUCTS, frames, dates[:1], use_segment=False) is None
