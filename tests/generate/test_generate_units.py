"""Pure pieces of the generator on tiny hand-written frames: randomness, truth, landing dirt."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from segrec_spark.config import ConfigError
from segrec_spark.generate.bank import KEY_PATTERN, PRODUCTS, synthetic_contract
from segrec_spark.generate.landing import (
    applicable_dirt,
    manifest_metrics,
    to_landing_text,
    with_corrupted_values,
    with_csv_line,
    with_duplicates,
)
from segrec_spark.generate.randomness import noise, pick, uniform, with_pick
from segrec_spark.generate.settings import GeneratorSettings
from segrec_spark.generate.truth import (
    buy_probability,
    label_windows,
    month_start,
    observable_buy_probability,
    shock,
    true_propensity,
    window_months,
    window_overlaps,
    with_monthly_probabilities,
)

CONTRACT = synthetic_contract()
SOURCES = CONTRACT.sources
IB = SOURCES["ib"]

KEY = "a" * 64


def test_pick_takes_the_value_whose_weight_interval_holds_u(spark):
    df = spark.createDataFrame([(0.05,), (0.3,), (0.74,), (0.76,), (0.99,)], "u double")
    choices = [("A", 1.0), ("B", 2.0), ("C", 1.0)]  # A: [0, .25), B: [.25, .75), C: [.75, 1)
    out = df.select("u", pick(F.col("u"), choices).alias("v"))
    expected = spark.createDataFrame(
        [(0.05, "A"), (0.3, "B"), (0.74, "B"), (0.76, "C"), (0.99, "C")], "u double, v string")
    assert_df_equality(out, expected, ignore_nullable=True)
    via_helper = df.transform(with_pick("v", F.col("u"), choices))
    assert_df_equality(via_helper, expected, ignore_nullable=True)


def test_uniform_depends_on_seed_purpose_and_keys_only(spark):
    df = spark.createDataFrame([(1,), (2,), (1,)], "k long")
    out = df.select(uniform(7, "p", F.col("k")).alias("u"), uniform(8, "p", F.col("k")).alias("u_seed"),
                    uniform(7, "q", F.col("k")).alias("u_purpose")).collect()
    assert out[0]["u"] == out[2]["u"]  # same keys, same number
    assert out[0]["u"] != out[1]["u"]
    assert out[0]["u"] != out[0]["u_seed"]
    assert out[0]["u"] != out[0]["u_purpose"]
    assert all(0.0 < r[c] < 1.0 for r in out for c in ("u", "u_seed", "u_purpose"))


def test_window_overlaps_are_shares_of_each_month():
    # [2026-01-31, 2026-03-02): 1 of 31 January days, all 28 February days, 1 of 31 March days
    got = window_overlaps(dt.date(2026, 1, 1), 4, dt.date(2026, 1, 31), dt.date(2026, 3, 2))
    assert got == [(0, 1 / 31), (1, 1.0), (2, 1 / 31)]
    assert label_windows(dt.date(2026, 1, 1), 3, 30) == [
        (dt.date(2026, 1, 31), dt.date(2026, 3, 2)),
        (dt.date(2026, 3, 2), dt.date(2026, 4, 1)),
        (dt.date(2026, 4, 1), dt.date(2026, 5, 1)),
    ]


def test_true_propensity_combines_the_months_a_window_covers(spark):
    df = spark.createDataFrame([(KEY, "SAVINGS", 0.1, 0.2, 0.4, 0.5, 0.3, 0.3, 0.3)],
                               "identity_id_hash string, product_code string, p_0 double, p_1 double, "
                               "p_2 double, p_3 double, po_0 double, po_1 double, po_2 double")
    windows = [(dt.date(2026, 2, 1), dt.date(2026, 3, 1)), (dt.date(2026, 3, 1), dt.date(2026, 4, 1)),
               (dt.date(2026, 1, 17), dt.date(2026, 2, 16))]
    out = df.transform(true_propensity(dt.date(2026, 1, 1), 4, windows, label_share=0.5))
    january, february = 15 / 31, 15 / 28  # days of each month inside [Jan 17, Feb 16)
    expected = spark.createDataFrame(
        [(KEY, "SAVINGS", dt.date(2026, 2, 1), dt.date(2026, 3, 1), 0.1, 0.15),   # 0.5 * 0.2, 0.5 * 0.3
         (KEY, "SAVINGS", dt.date(2026, 3, 1), dt.date(2026, 4, 1), 0.2, 0.15),   # 0.5 * 0.4
         (KEY, "SAVINGS", dt.date(2026, 1, 17), dt.date(2026, 2, 16),
          1 - (1 - 0.5 * january * 0.1) * (1 - 0.5 * february * 0.2),
          1 - (1 - 0.5 * january * 0.3) * (1 - 0.5 * february * 0.3))],
        "identity_id_hash string, product_code string, window_start date, window_end date, "
        "true_probability double, observable_probability double")
    assert_approx_df_equality(out, expected, 1e-12, ignore_nullable=True)


def test_observable_probability_is_the_generators_own_fresh_shocks_averaged_out(spark):
    """Against 20,000 months of the generator's real draws: the observable ceiling of a month must
    be E[p] over that month's fresh draw given the draw carried over from the month before, so
    the difference p - observable averages 0 and is unrelated to the carried-over draw (a ceiling
    that averaged the carried draw out too would leave p - observable rising with it)."""
    months = 20_000
    clients = spark.createDataFrame(
        [(1, need, False) for need in (-1.5, 0.0, 1.5)] + [(2, 3.0, True)],
        "client_id long, need_mortgage double, held_mortgage boolean")
    month = F.col("month")
    carried = noise(7, "shock", F.col("client_id"), "MORTGAGE", month - F.lit(1))
    residual = (buy_probability(7, "MORTGAGE", month)
                - observable_buy_probability(7, "MORTGAGE", month))
    drawn = (clients.crossJoin(spark.range(months).withColumnRenamed("id", "month"))
             .select("*", residual.alias("r"), F.signum(carried).alias("side"),
                     observable_buy_probability(7, "MORTGAGE", month).alias("observable"))
             .groupBy("client_id", "need_mortgage", "held_mortgage")
             .agg(F.avg("r").alias("mean_r"), F.avg(F.col("r") * F.col("side")).alias("mean_r_side"),
                  F.stddev("r").alias("sd_r"), F.avg("observable").alias("observable"),
                  F.stddev("observable").alias("sd_observable")))
    rows = drawn.orderBy("need_mortgage").collect()
    assert [r["held_mortgage"] for r in rows] == [False, False, False, True]
    for r in rows[:3]:  # within 4 standard errors of 0
        bound = 4 * r["sd_r"] / months ** 0.5 + 1e-9
        assert abs(r["mean_r"]) < bound, r
        assert abs(r["mean_r_side"]) < bound, r
        assert r["sd_observable"] > 0.0  # the carried-over draw moves the ceiling
    assert rows[0]["observable"] < rows[1]["observable"] < rows[2]["observable"]
    assert rows[3]["observable"] == 0.0  # a holder cannot buy


def test_without_carry_over_the_ceiling_is_the_whole_shock_averaged_out(spark):
    """carryover 0: every month's shock is fresh and the ceiling is E_shock[p], the same every
    month; with carry-over the shock keeps SD 1 and consecutive months correlate (0.5 at 0.5)."""
    months = 20_000
    df = (spark.createDataFrame([(1, 0.5, False)],
                                "client_id long, need_mortgage double, held_mortgage boolean")
          .crossJoin(spark.range(months).withColumnRenamed("id", "month")))
    month = F.col("month")
    stats = df.select(
        observable_buy_probability(7, "MORTGAGE", month, carryover=0.0).alias("o"),
        shock(7, "MORTGAGE", month, carryover=0.5).alias("s"),
        shock(7, "MORTGAGE", month + F.lit(1), carryover=0.5).alias("s_next"),
        shock(7, "MORTGAGE", month + F.lit(2), carryover=0.5).alias("s_after"),
    ).agg(F.stddev("o"), F.stddev("s"), F.corr("s", "s_next"), F.corr("s", "s_after")).first()
    sd_o, sd_s, next_month, two_months = stats
    assert sd_o == pytest.approx(0.0, abs=1e-15)
    assert sd_s == pytest.approx(1.0, abs=0.03)
    assert next_month == pytest.approx(0.5, abs=0.03)
    assert two_months == pytest.approx(0.0, abs=0.03)


def test_dirt_kinds_apply_only_where_they_can():
    rates = GeneratorSettings().dirt_rates
    assert "WRONG_FIELD_COUNT" not in applicable_dirt(SOURCES["app_logins"], rates)
    assert "BAD_NUMBER" not in applicable_dirt(SOURCES["camp"], rates)
    assert set(applicable_dirt(SOURCES["web"], rates)) == set(rates)
    assert applicable_dirt(SOURCES["ib"], {**rates, "DUPLICATE": 0.0}).get("DUPLICATE") is None


def test_dirt_settings_are_validated():
    with pytest.raises(ConfigError, match="dirt.TYPO"):
        GeneratorSettings(dirt={"TYPO": 0.01}).validate()
    with pytest.raises(ConfigError, match="dirt.DUPLICATE"):
        GeneratorSettings(dirt={"DUPLICATE": 0.5}).validate()
    assert GeneratorSettings(dirt={"DUPLICATE": 0.02}).dirt_rates["DUPLICATE"] == 0.02
    assert GeneratorSettings(dirt_rate=0.001).dirt_rates["BAD_NUMBER"] == 0.001


IB_TEXT = "ib_event_id string, identity_id_hash string, event_ts string, event_type string, " \
          "product_area string, amount string, _delivery string, _dirt string"


def _ib_rows(spark, dirt):
    return spark.createDataFrame(
        [(f"I{i}", KEY, "2026-01-05 10:00:00", "payment", "GENERAL", "12.50", "2026-01", d)
         for i, d in enumerate(dirt)], IB_TEXT)


def test_typed_rows_become_contract_text(spark):
    typed = spark.createDataFrame(
        [("I1", KEY, dt.datetime(2026, 1, 5, 10, 0, 0), "payment", "GENERAL", 12345678.5, "2026-01"),
         ("I2", KEY, dt.datetime(2026, 1, 6, 0, 0, 1), "login", "GENERAL", None, "2026-01")],
        "ib_event_id string, identity_id_hash string, event_ts timestamp, event_type string, "
        "product_area string, amount double, _delivery string")
    expected = spark.createDataFrame(
        [("I1", KEY, "2026-01-05 10:00:00", "payment", "GENERAL", "12345678.50", "2026-01"),
         ("I2", KEY, "2026-01-06 00:00:01", "login", "GENERAL", None, "2026-01")],
        "ib_event_id string, identity_id_hash string, event_ts string, event_type string, "
        "product_area string, amount string, _delivery string")
    assert_df_equality(typed.transform(to_landing_text(SOURCES["ib"])), expected, ignore_nullable=True)


def test_clean_rows_are_left_alone_and_missing_key_empties_the_key(spark):
    df = _ib_rows(spark, [None, "MISSING_KEY", "DUPLICATE"])
    expected = spark.createDataFrame(
        [("I0", KEY, "2026-01-05 10:00:00", "payment", "GENERAL", "12.50", "2026-01", None),
         ("I1", None, "2026-01-05 10:00:00", "payment", "GENERAL", "12.50", "2026-01", "MISSING_KEY"),
         ("I2", KEY, "2026-01-05 10:00:00", "payment", "GENERAL", "12.50", "2026-01", "DUPLICATE")], IB_TEXT)
    assert_df_equality(df.transform(with_corrupted_values(1, SOURCES["ib"])), expected, ignore_nullable=True)


def test_value_dirt_breaks_exactly_the_contract_it_names(spark):
    kinds = ["MALFORMED_KEY", "BAD_TIMESTAMP", "BAD_NUMBER", "UNKNOWN_CATEGORY"]
    df = _ib_rows(spark, kinds * 10)
    out = df.transform(with_corrupted_values(3, SOURCES["ib"]))
    key_ok = F.col("identity_id_hash").rlike(KEY_PATTERN)
    ts_ok = F.try_to_timestamp(F.col("event_ts"), F.lit("yyyy-MM-dd HH:mm:ss")).isNotNull()
    number_ok = F.col("amount").try_cast("double").isNotNull()
    category_ok = (F.col("event_type").isin(*CONTRACT.values_of(IB, IB.column("event_type")))
                   & F.col("product_area").isin(*CONTRACT.values_of(IB, IB.column("product_area"))))
    checks = out.select("_dirt", (~key_ok).cast("int").alias("bad_key"), (~ts_ok).cast("int").alias("bad_ts"),
                        (~number_ok).cast("int").alias("bad_number"),
                        (~category_ok).cast("int").alias("bad_category"))
    summary = checks.groupBy("_dirt").agg(*[F.sum(c).alias(c) for c in
                                            ("bad_key", "bad_ts", "bad_number", "bad_category")])
    expected = spark.createDataFrame(
        [("MALFORMED_KEY", 10, 0, 0, 0), ("BAD_TIMESTAMP", 0, 10, 0, 0), ("BAD_NUMBER", 0, 0, 10, 0),
         ("UNKNOWN_CATEGORY", 0, 0, 0, 10)],
        "_dirt string, bad_key long, bad_ts long, bad_number long, bad_category long")
    assert_df_equality(summary, expected, ignore_row_order=True, ignore_nullable=True)


def test_csv_lines_and_wrong_field_counts(spark):
    df = spark.createDataFrame(
        [("I0", KEY, "2026-01-05 10:00:00", "login", "GENERAL", None, "2026-01", None)]
        + [(f"I{i}", KEY, "2026-01-05 10:00:00", "login", "GENERAL", None, "2026-01", "WRONG_FIELD_COUNT")
           for i in range(1, 21)], IB_TEXT)
    out = df.transform(with_csv_line(5, SOURCES["ib"]))
    clean = out.filter(F.col("_dirt").isNull()).select("_line")
    assert_df_equality(clean, spark.createDataFrame([(f"I0,{KEY},2026-01-05 10:00:00,login,GENERAL,",)],
                                                    "_line string"), ignore_nullable=True)
    fields = out.filter(F.col("_dirt").isNotNull()).select(F.size(F.split("_line", ",")).alias("n"))
    counts = {r["n"] for r in fields.distinct().collect()}
    assert counts <= {5, 7}  # 6 columns: one field missing or one extra
    assert counts


def test_duplicates_and_manifest_metrics(spark):
    df = _ib_rows(spark, [None, "DUPLICATE", "BAD_NUMBER", "DUPLICATE"])
    doubled = df.transform(with_duplicates)
    assert doubled.groupBy("ib_event_id").count().orderBy("ib_event_id").collect() == [
        ("I0", 1), ("I1", 2), ("I2", 1), ("I3", 2)]
    metrics = doubled.agg(*manifest_metrics("ib", ["2026-01", "2026-02"], ["DUPLICATE", "BAD_NUMBER"]))
    expected = spark.createDataFrame(
        [(6, 2, 1, 0, 0, 0)],
        "`rows|2026-01` long, `DUPLICATE|2026-01` long, `BAD_NUMBER|2026-01` long, "
        "`rows|2026-02` long, `DUPLICATE|2026-02` long, `BAD_NUMBER|2026-02` long")
    assert_df_equality(metrics, expected, ignore_nullable=True)


def test_the_generator_writes_what_the_synthetic_contract_declares():
    from segrec_spark.generate import bank

    bank.check_generatable(CONTRACT)
    assert tuple(SOURCES) == bank.SOURCE_NAMES
    for (source, column), values in bank.VALUE_SETS.items():
        assert CONTRACT.values_of(SOURCES[source], SOURCES[source].column(column)) == values
    other = dataclasses.replace(CONTRACT, sources={"web": SOURCES["web"]}, path="bank.yaml")
    with pytest.raises(ConfigError, match=r"^bank\.yaml: sources: web are not the synthetic"):
        bank.check_generatable(other)


def test_the_default_data_leaves_every_stacked_training_snapshot_and_a_later_month():
    """conf/local.yaml's generator writes enough months that, after the longest look-back window,
    training stacks features.train_snapshots labelled months before the out-of-time month."""
    from segrec_spark import calendar
    from segrec_spark.config import load_config
    cfg = load_config()
    gen, features = cfg.generator, cfg.features
    assert gen.months >= 6
    assert GeneratorSettings().months == gen.months
    end = month_start(gen.start_date, gen.months)
    horizon = dt.timedelta(days=features.horizon_days)
    train_latest = end - 2 * horizon  # the evaluated model's latest training date; E - h evaluates
    earlier = calendar.stacked_dates(gen.start_date, train_latest, features.horizon_days,
                                     max(features.windows), features.train_snapshots)
    assert len(earlier) + 1 == features.train_snapshots == 3


def test_window_months_are_the_months_a_label_window_touches():
    windows = label_windows(dt.date(2026, 1, 1), 6, 30)  # E = 2026-07-01
    assert window_months(dt.date(2026, 1, 1), 7, windows) == [4, 5, 6]  # May 2 ... July 31


def test_monthly_probabilities_of_every_product_at_once_equal_each_products_own(spark):
    """with_monthly_probabilities computes all products from columns (short generated code); its
    p_m and po_m must be buy_probability and observable_buy_probability of the row's product."""
    needs = {f"need_{p.lower()}": 0.3 * i - 1.0 for i, p in enumerate(PRODUCTS)}
    held = {f"held_{p.lower()}": p == "SAVINGS" for p in PRODUCTS}
    clients = spark.createDataFrame([{"client_id": c, **needs, **held} for c in (1, 2, 3)])
    out = clients.transform(with_monthly_probabilities(7, 3, observable_months=(0, 2)))
    expected_p = F.col("product_code")
    for m in range(3):
        own = None
        for p in PRODUCTS:
            value = buy_probability(7, p, F.lit(m))
            own = F.when(expected_p == p, value) if own is None else own.when(expected_p == p, value)
        out = out.withColumn(f"own_p_{m}", own)
    for m in (0, 2):
        own = None
        for p in PRODUCTS:
            value = observable_buy_probability(7, p, F.lit(m))
            own = F.when(expected_p == p, value) if own is None else own.when(expected_p == p, value)
        out = out.withColumn(f"own_po_{m}", own)
    rows = out.collect()
    assert len(rows) == 3 * len(PRODUCTS)
    for r in rows:
        for name in ("p_0", "p_1", "p_2", "po_0", "po_2"):
            assert r[name] == pytest.approx(r[f"own_{name}"], rel=1e-12, abs=1e-15), (r, name)
        assert (r["p_1"] == 0.0) == (r["product_code"] == "SAVINGS")
    assert "po_1" not in out.columns
