"""Validation rules, duplicates and typing of ingest, on tiny hand-written frames."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from segrec_spark.contract import REASONS
from segrec_spark.errors import InputDataError
from segrec_spark.generate.bank import synthetic_contract
from segrec_spark.ingest.dedup import (
    mark_conflicts,
    mark_duplicates,
    outcome_counts,
    row_marks,
    with_marks,
    with_outcome,
    with_row_hash,
)
from segrec_spark.ingest.settings import IngestSettings
from segrec_spark.ingest.validate import (
    RULE_ORDER,
    Period,
    delivery_period,
    flag_rejects,
    quarantine_records,
    typed_bronze,
)

CONTRACT = synthetic_contract()
SOURCES = CONTRACT.sources

K = "a" * 64  # a well-formed key
K2 = "b" * 64
JAN = delivery_period("2026-01", 3)
FLAG = IngestSettings()
REJECT = IngestSettings(unknown_category="reject")
META = ("_corrupt_record", "_raw_record", "_source_file")


def text_frame(spark, source: str, rows: list[dict]):
    """A landing text frame: a valid row of ``source`` updated with each dict of ``rows``."""
    valid = {
        "web": {"event_id": "e1", "user_id": "u1", "identity_id_hash": K,
                "event_ts": "2026-01-15 10:00:00", "page_url": "/mortgage",
                "page_category": "MORTGAGE", "event_type": "page_view", "device_type": "mobile",
                "time_on_page_sec": "12.5"},
        "clients": {"identity_id_hash": K, "age_band": "26-35", "region": "PRG",
                    "income_band": "MID", "tenure_months": "24",
                    "products_held": "SAVINGS|CREDIT_CARD", "snapshot_date": "2026-01-31"},
        "prodeje": {"agreement_id": "g1", "identity_id_hash": K, "product_code": "MORTGAGE",
                    "signed_date": "2026-01-10", "status": "SIGNED", "amount": "1000",
                    "sales_channel": "branch"},
    }[source]
    columns = [*SOURCES[source].column_names, *META]
    data = [tuple({**valid, "_corrupt_record": None, "_raw_record": "raw",
                   "_source_file": f"{source}/2026-01/part-0.csv", **r}.get(c) for c in columns)
            for r in rows]
    return spark.createDataFrame(data, ", ".join(f"`{c}` string" for c in columns))


def reasons(df, source: str, settings: IngestSettings = FLAG, period: Period = JAN):
    return df.transform(flag_rejects(CONTRACT, SOURCES[source], period, settings)).select(
        "event_id" if source == "web" else "identity_id_hash", "_reject_reason")


def expected(spark, rows, first: str = "event_id"):
    return spark.createDataFrame(rows, f"{first} string, _reject_reason string")


def test_every_contract_reason_has_exactly_one_place_in_the_rule_order():
    # CONFLICTING_DUPLICATE is not a row rule: it compares rows (dedup.mark_conflicts)
    assert sorted([*RULE_ORDER, "CONFLICTING_DUPLICATE"]) == sorted(REASONS)
    assert RULE_ORDER[0] == "WRONG_FIELD_COUNT"  # a broken line's fields cannot be judged


def test_delivery_period_is_the_month_widened_by_the_tolerance():
    assert delivery_period("2026-12", 2) == Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1), 2)
    assert (JAN.lower, JAN.upper) == (dt.date(2025, 12, 29), dt.date(2026, 2, 4))
    with pytest.raises(InputDataError, match="2026-13"):
        delivery_period("2026-13")


def test_key_rules_web_anonymous_visitor_is_not_a_reject(spark):
    df = text_frame(spark, "web", [
        {"event_id": "ok"},
        {"event_id": "anonymous", "identity_id_hash": None},
        {"event_id": "blank_key", "identity_id_hash": "  ", "user_id": "u9"},
        {"event_id": "no_key_no_cookie", "identity_id_hash": None, "user_id": None},
        {"event_id": "upper", "identity_id_hash": K.upper()},
        {"event_id": "short", "identity_id_hash": "abc"},
        {"event_id": None},
    ])
    assert_df_equality(reasons(df, "web"), expected(spark, [
        ("ok", None), ("anonymous", None), ("blank_key", None),
        ("no_key_no_cookie", "MISSING_KEY"), ("upper", "MALFORMED_KEY"),
        ("short", "MALFORMED_KEY"), (None, "MISSING_KEY"),
    ]), ignore_nullable=True)


def test_key_missing_elsewhere_is_a_reject_even_without_cookie_column(spark):
    df = text_frame(spark, "clients", [{"identity_id_hash": None}, {"identity_id_hash": ""}])
    got = df.transform(flag_rejects(CONTRACT, SOURCES["clients"], JAN, FLAG)).select("_reject_reason")
    assert_df_equality(got, spark.createDataFrame([("MISSING_KEY",), ("MISSING_KEY",)],
                                                  "_reject_reason string"), ignore_nullable=True)


def test_timestamp_rules_and_period_with_tolerance(spark):
    df = text_frame(spark, "web", [
        {"event_id": "iso_t", "event_ts": "2026-01-15T10:00:00"},
        {"event_id": "month13", "event_ts": "2026-13-01 00:00:00"},
        {"event_id": "empty", "event_ts": None},
        {"event_id": "late_ok", "event_ts": "2026-02-03 23:59:59"},
        {"event_id": "too_late", "event_ts": "2026-02-04 00:00:00"},
        {"event_id": "early_ok", "event_ts": "2025-12-29 00:00:00"},
        {"event_id": "too_early", "event_ts": "2025-12-28 23:59:59"},
    ])
    assert_df_equality(reasons(df, "web"), expected(spark, [
        ("iso_t", "BAD_TIMESTAMP"), ("month13", "BAD_TIMESTAMP"), ("empty", "BAD_TIMESTAMP"),
        ("late_ok", None), ("too_late", "OUT_OF_PERIOD"),
        ("early_ok", None), ("too_early", "OUT_OF_PERIOD"),
    ]), ignore_nullable=True)


def test_zero_tolerance_date_period_for_sales(spark):
    df = text_frame(spark, "prodeje", [
        {"agreement_id": "in", "signed_date": "2026-01-31"},
        {"agreement_id": "next", "signed_date": "2026-02-01"},
        {"agreement_id": "bad", "signed_date": "31.01.2026"},
    ])
    got = df.transform(flag_rejects(CONTRACT, SOURCES["prodeje"], delivery_period("2026-01", 0), FLAG))
    assert_df_equality(
        got.select("agreement_id", "_reject_reason"),
        spark.createDataFrame([("in", None), ("next", "OUT_OF_PERIOD"), ("bad", "BAD_TIMESTAMP")],
                              "agreement_id string, _reject_reason string"),
        ignore_nullable=True)


def test_number_rules(spark):
    df = text_frame(spark, "web", [
        {"event_id": "comma", "time_on_page_sec": "1,5"},
        {"event_id": "text", "time_on_page_sec": "abc"},
        {"event_id": "empty_nullable", "time_on_page_sec": None},
        {"event_id": "int_like", "time_on_page_sec": "7"},
    ])
    assert_df_equality(reasons(df, "web"), expected(spark, [
        ("comma", "BAD_NUMBER"), ("text", "BAD_NUMBER"), ("empty_nullable", None),
        ("int_like", None),
    ]), ignore_nullable=True)
    clients = text_frame(spark, "clients", [
        {"identity_id_hash": K, "tenure_months": "12.5"},
        {"identity_id_hash": K2, "tenure_months": None},  # not nullable
    ])
    assert_df_equality(reasons(clients, "clients"), expected(spark, [
        (K, "BAD_NUMBER"), (K2, "BAD_NUMBER")], "identity_id_hash"), ignore_nullable=True)


def test_numbers_with_a_decimal_comma_parse_under_that_dialect(spark):
    web = dataclasses.replace(SOURCES["web"], dialect=dataclasses.replace(
        SOURCES["web"].dialect, delimiter=";", decimal=","))
    df = text_frame(spark, "web", [
        {"event_id": "comma", "time_on_page_sec": "1,5"},
        {"event_id": "thousands", "time_on_page_sec": "1.234,5"},
        {"event_id": "spaced", "time_on_page_sec": "1 234"},
        {"event_id": "text", "time_on_page_sec": "abc"},
    ])
    flagged = df.transform(flag_rejects(CONTRACT, web, JAN, FLAG))
    assert_df_equality(flagged.select("event_id", "_reject_reason"), expected(spark, [
        ("comma", None), ("thousands", None), ("spaced", None), ("text", "BAD_NUMBER"),
    ]), ignore_nullable=True)
    typed = (flagged.filter(F.col("_reject_reason").isNull())
             .withColumn("_row_hash", F.lit("h")).withColumn("_delivery", F.lit("2026-01"))
             .withColumn("_batch_id", F.lit("web/2026-01"))
             .withColumn("_ingested_at", F.lit(dt.datetime(2026, 2, 1)))
             .transform(typed_bronze(CONTRACT, web)))
    assert sorted(r[0] for r in typed.select("time_on_page_sec").collect()) == [1.5, 1234.0,
                                                                                 1234.5]


def test_unknown_category_is_rejected_only_under_reject_policy(spark):
    df = text_frame(spark, "web", [
        {"event_id": "odd_device", "device_type": "smart_fridge"},
        {"event_id": "lower_case", "page_category": "mortgage"},
        {"event_id": "empty_category", "event_type": None},
    ])
    assert_df_equality(reasons(df, "web", FLAG), expected(spark, [
        ("odd_device", None), ("lower_case", None), ("empty_category", None),
    ]), ignore_nullable=True)
    assert_df_equality(reasons(df, "web", REJECT), expected(spark, [
        ("odd_device", "UNKNOWN_CATEGORY"), ("lower_case", "UNKNOWN_CATEGORY"),
        ("empty_category", "UNKNOWN_CATEGORY"),
    ]), ignore_nullable=True)


def test_list_items_are_checked_against_the_value_set(spark):
    df = text_frame(spark, "clients", [
        {"identity_id_hash": K, "products_held": "SAVINGS|YACHT"},
        {"identity_id_hash": K2, "products_held": None},
    ])
    assert_df_equality(reasons(df, "clients", REJECT), expected(spark, [
        (K, "UNKNOWN_CATEGORY"), (K2, None)], "identity_id_hash"), ignore_nullable=True)


def test_wrong_field_count_wins_and_each_row_gets_the_first_failing_rule(spark):
    df = text_frame(spark, "web", [
        {"event_id": "short_line", "_corrupt_record": "x,y", "identity_id_hash": None,
         "user_id": None},
        {"event_id": "key_and_ts", "identity_id_hash": "bad", "event_ts": "never"},
        {"event_id": "ts_and_number", "event_ts": "never", "time_on_page_sec": "x"},
        {"event_id": "period_and_category", "event_ts": "2026-03-01 00:00:00",
         "device_type": "?"},
    ])
    assert_df_equality(reasons(df, "web", REJECT), expected(spark, [
        ("short_line", "WRONG_FIELD_COUNT"), ("key_and_ts", "MALFORMED_KEY"),
        ("ts_and_number", "BAD_TIMESTAMP"), ("period_and_category", "OUT_OF_PERIOD"),
    ]), ignore_nullable=True)


def test_row_hash_ignores_empty_vs_null_and_uses_the_raw_line_of_broken_rows(spark):
    df = text_frame(spark, "web", [
        {"event_id": "a", "page_url": ""},
        {"event_id": "a", "page_url": None, "_raw_record": "different raw text"},
        {"event_id": "a", "page_url": None, "_corrupt_record": "a,,"},
        {"event_id": "a", "page_url": None, "_corrupt_record": "a,,,"},
    ]).transform(with_row_hash(SOURCES["web"]))
    hashes = [r["_row_hash"] for r in df.select("_row_hash").collect()]
    assert hashes[0] == hashes[1]
    assert len({hashes[0], hashes[2], hashes[3]}) == 3
    assert all(len(h) == 64 for h in hashes)


def test_duplicates_within_the_delivery_and_against_other_deliveries(spark):
    df = spark.createDataFrame(
        [("h1", "f1", "r"), ("h1", "f2", "r"), ("h2", "f1", "r"), ("h3", "f1", "r")],
        "_row_hash string, _source_file string, _raw_record string")
    seen = spark.createDataFrame([("h3",), ("h3",), ("h9",)], "_row_hash string")
    got = df.transform(mark_duplicates(seen)).select("_row_hash", "_source_file", "_is_duplicate")
    assert_df_equality(got, spark.createDataFrame(
        [("h1", "f1", False), ("h1", "f2", True), ("h2", "f1", False), ("h3", "f1", True)],
        "_row_hash string, _source_file string, _is_duplicate boolean"),
        ignore_row_order=True, ignore_nullable=True)


def test_marks_on_the_narrow_columns_give_the_same_rows_as_the_rules_on_whole_rows(spark):
    line = "struct<block:long,row:long>"
    df = spark.createDataFrame([
        ("f1", (0, 0), "h1", "2026-01", None, "e1", "first e1"),
        ("f1", (0, 1), "h1", "2026-01", None, "e1", "copy of it: duplicate"),
        ("f1", (0, 2), "h2", "2026-01", None, "e1", "e1 again, other content: conflict"),
        ("f2", (0, 0), "h3", "2026-01", "BAD_NUMBER", "e2", "bad, first e2"),
        ("f2", (0, 1), "h4", "2026-01", "BAD_NUMBER", "e2", "bad, conflict wins"),
        ("f2", (0, 2), "h5", "2026-01", None, "e3", "in bronze already"),
        ("f2", (0, 3), "h6", "2026-01", "MISSING_KEY", "", "no key: no conflict"),
    ], f"_source_file string, _line {line}, _row_hash string, _delivery string, "
       "_reject_reason string, event_id string, _raw_record string")
    seen = spark.createDataFrame([("h5",), ("h9",)], "_row_hash string")
    web = SOURCES["web"]
    assert web.id_column == "event_id"

    marks = df.transform(row_marks(web, seen))
    assert sorted(tuple(r) for r in marks.select(
        "_source_file", F.col("_line.row"), "_is_duplicate", "_is_conflict").collect()) == [
        ("f1", 1, True, False), ("f1", 2, False, True), ("f2", 1, False, True),
        ("f2", 2, True, False)]
    got = df.transform(with_marks(F.broadcast(marks)))
    expected = df.transform(mark_duplicates(seen)).transform(mark_conflicts(web))
    assert_df_equality(got.select(*expected.columns), expected, ignore_row_order=True,
                       ignore_nullable=True)
    assert [r["_reject_reason"] for r in got.orderBy("_source_file", "_line").collect()] == [
        None, None, "CONFLICTING_DUPLICATE", "BAD_NUMBER", "CONFLICTING_DUPLICATE", None,
        "MISSING_KEY"]


def test_outcome_is_duplicate_then_reason_then_accepted_and_counts_add_up(spark):
    df = spark.createDataFrame(
        [("h1", "f", True, "BAD_NUMBER"), ("h2", "f", False, "BAD_NUMBER"),
         ("h3", "f", False, None), ("h4", "f", False, None)],
        "_row_hash string, _source_file string, _is_duplicate boolean, _reject_reason string")
    got = df.transform(with_outcome)
    assert_df_equality(got.select("_row_hash", "_outcome"), spark.createDataFrame(
        [("h1", "DUPLICATE"), ("h2", "BAD_NUMBER"), ("h3", "ACCEPTED"), ("h4", "ACCEPTED")],
        "_row_hash string, _outcome string"), ignore_nullable=True)
    assert_df_equality(outcome_counts(got).select("_outcome", "rows"), spark.createDataFrame(
        [("ACCEPTED", 2), ("BAD_NUMBER", 1), ("DUPLICATE", 1)], "_outcome string, rows long"),
        ignore_row_order=True, ignore_nullable=True)


def test_typed_bronze_casts_and_marks_unknown_categories(spark):
    rows = text_frame(spark, "clients", [
        {"identity_id_hash": K, "region": "ATLANTIS", "products_held": "SAVINGS|YACHT"},
        {"identity_id_hash": K2, "products_held": None, "tenure_months": " 7 "},
    ])
    ingested = dt.datetime(2026, 2, 1, 6, 0)
    got = (rows.withColumn("_row_hash", F.lit("h"))
           .withColumn("_delivery", F.lit("2026-01"))
           .withColumn("_batch_id", F.lit("clients/2026-01"))
           .withColumn("_ingested_at", F.lit(ingested))
           .transform(typed_bronze(CONTRACT, SOURCES["clients"])))
    schema = ("identity_id_hash string, age_band string, region string, income_band string, "
              "tenure_months int, products_held array<string>, snapshot_date date, "
              "_delivery string, _batch_id string, _source_file string, _row_hash string, "
              "_has_unknown_category boolean, _ingested_at timestamp, event_date date")
    jan31 = dt.date(2026, 1, 31)
    common = ("2026-01", "clients/2026-01", "clients/2026-01/part-0.csv", "h")
    assert_df_equality(got, spark.createDataFrame([
        (K, "26-35", "UNKNOWN", "MID", 24, ["SAVINGS", "UNKNOWN"], jan31, *common, True,
         ingested, jan31),
        (K2, "26-35", "PRG", "MID", 7, [], jan31, *common, False, ingested, jan31),
    ], schema), ignore_nullable=True)


def test_typed_bronze_web_anonymous_visitor_has_null_key(spark):
    rows = text_frame(spark, "web", [{"identity_id_hash": "", "time_on_page_sec": None}])
    got = (rows.withColumn("_row_hash", F.lit("h")).withColumn("_delivery", F.lit("2026-01"))
           .withColumn("_batch_id", F.lit("web/2026-01"))
           .withColumn("_ingested_at", F.lit(dt.datetime(2026, 2, 1)))
           .transform(typed_bronze(CONTRACT, SOURCES["web"]))
           .select("user_id", "identity_id_hash", "event_ts", "time_on_page_sec", "event_date"))
    assert_df_equality(got, spark.createDataFrame(
        [("u1", None, dt.datetime(2026, 1, 15, 10), None, dt.date(2026, 1, 15))],
        "user_id string, identity_id_hash string, event_ts timestamp, "
        "time_on_page_sec double, event_date date"), ignore_nullable=True)


def test_quarantine_records_keep_source_batch_raw_record_and_reason(spark):
    at = dt.datetime(2026, 2, 1, 6, 0)
    df = spark.createDataFrame([("web/2026-01/p.csv", "BAD_NUMBER", "e1,u1,...", "h1")],
                               "_source_file string, _reject_reason string, "
                               "_raw_record string, _row_hash string")
    got = df.transform(quarantine_records("web", "2026-01", "web/2026-01", at))
    assert_df_equality(got, spark.createDataFrame(
        [("web", "2026-01", "web/2026-01", "web/2026-01/p.csv", "BAD_NUMBER", "e1,u1,...", "h1",
          at)],
        "source string, delivery string, batch_id string, source_file string, reason string, "
        "raw_record string, row_hash string, quarantined_at timestamp"), ignore_nullable=True)


def test_a_source_without_time_column_has_no_period_and_dates_by_delivery(spark):
    from segrec_spark.contract import contract_from_dict

    contract = contract_from_dict({
        "key": {"column": "cid", "pattern": "^[0-9]+$"},
        "products": [{"code": "LOAN"}],
        "sources": {"people": {"kind": "clients", "columns": [
            {"name": "cid", "type": "key", "role": "key"},
            {"name": "vip", "type": "boolean", "role": "numeric", "nullable": True}]}},
    }, "own.yaml")
    people = contract.sources["people"]
    df = spark.createDataFrame(
        [("1", "YES", None, "raw", "f"), ("2", "nope", None, "raw", "f"), ("3", None, None, "raw", "f")],
        "cid string, vip string, _corrupt_record string, _raw_record string, _source_file string")
    got = (df.transform(flag_rejects(contract, people, JAN, FLAG))
           .withColumn("_row_hash", F.lit("h")).withColumn("_delivery", F.lit("2026-01"))
           .withColumn("_batch_id", F.lit("people/2026-01"))
           .withColumn("_ingested_at", F.lit(dt.datetime(2026, 2, 1))))
    assert [r["_reject_reason"] for r in got.orderBy("cid").collect()] == [None, "BAD_NUMBER", None]
    typed = got.filter(F.col("_reject_reason").isNull()).transform(typed_bronze(contract, people))
    assert_df_equality(typed.select("cid", "vip", "event_date"), spark.createDataFrame(
        [("1", True, dt.date(2026, 1, 1)), ("3", None, dt.date(2026, 1, 1))],
        "cid string, vip boolean, event_date date"), ignore_row_order=True, ignore_nullable=True)
    assert IngestSettings.partition_column(people) == "_delivery"
