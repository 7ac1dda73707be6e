"""`segrec forget`: a client's rows leave every layer, a tombstone keeps them out of later
ingests, and VACUUM makes the erasure physical. Lakes built by hand in tmp_path."""
from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from conftest import make_config
from pyspark.sql import functions as F

from segrec_spark.config import ConfigError
from segrec_spark.forget import job as forget_job
from segrec_spark.forget.erase import (
    Columns,
    client_columns,
    erase_condition,
    with_forgotten_flag,
)
from segrec_spark.ingest import job as ingest_job
from segrec_spark.tables import read_table, table_path, write_slice
from tests.ingest.test_ingest_battery import WEB_HEADER, deliver, text, web

K1, K2 = "1" * 64, "2" * 64
D = dt.date(2026, 4, 1)


def test_client_columns_by_name():
    got = client_columns(["event_id", "user_id", "identity_id_hash", "raw_record", "x"],
                         ["customer_key"], ["visitor"])
    assert got == Columns(keys=("identity_id_hash",), cookies=("user_id",), raw=("raw_record",))
    assert client_columns(["customer_key", "visitor"], ["customer_key"], ["visitor"]) == Columns(
        keys=("customer_key",), cookies=("visitor",))
    assert not client_columns(["product_code", "value"], ["customer_key"], []).any
    with pytest.raises(ValueError, match="names no client"):
        erase_condition(Columns())


def test_forgotten_flag_marks_keys_and_the_anonymous_rows_of_their_cookies(spark):
    rows = [("e1", K1, "u1"), ("e2", None, "u1"), ("e3", K2, "u1"), ("e4", K2, "u2"),
            ("e5", None, "u2"), ("e6", None, None)]
    df = spark.createDataFrame(rows, "event_id string, key string, cookie string")
    forgotten = spark.createDataFrame([("key", K1), ("cookie", "u1")], "kind string, value string")
    got = df.transform(with_forgotten_flag(forgotten, "key", "cookie"))
    expected = spark.createDataFrame(
        [("e1", True), ("e2", True), ("e3", False), ("e4", False), ("e5", False), ("e6", False)],
        "event_id string, _forgotten boolean")
    assert_df_equality(got.select("event_id", "_forgotten"), expected, ignore_row_order=True,
                       ignore_nullable=True)
    none = df.transform(with_forgotten_flag(None, "key", "cookie"))
    assert none.where("_forgotten").count() == 0


def test_requested_keys_from_flags_and_a_file(tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# GDPR requests\n{K2}\n\n{K1}\n", encoding="utf-8")
    assert forget_job.requested_keys([K1, " "], str(keys)) == [K1, K2]
    with pytest.raises(ConfigError, match="no client key given"):
        forget_job.requested_keys(None, None)
    with pytest.raises(ConfigError, match="--keys-file .*nope.txt: no such file"):
        forget_job.requested_keys(None, str(tmp_path / "nope.txt"))


@pytest.mark.integration  # forget and ingest more than once on one lake
def test_forget_erases_every_layer_keeps_a_tombstone_and_blocks_reingest(spark, tmp_path):
    cfg = make_config(tmp_path)
    # K1 logs in on cookie u1, then browses anonymously on it; K2 is another client on u2.
    jan = [web("a1", key=K1), web("a2", key=K1),
           web("a3", key=""),  # anonymous, K1's cookie
           web("b1", key=K2).replace(",u1,", ",u2,"),
           web("b2", key="").replace(",u1,", ",u2,"),  # anonymous, K2's cookie
           web("a4", key=K1, ts="not a time")]  # quarantined, its raw line names K1
    deliver(cfg, "web", "2026-01", "part-0.csv", text(WEB_HEADER, *jan))
    ingest_job.run(spark, cfg, ["web"])
    bronze_path = table_path(cfg.paths.root, "bronze", "web")
    quarantine_path = table_path(cfg.paths.root, "ops", "quarantine")
    assert read_table(spark, bronze_path).count() == 5
    assert read_table(spark, quarantine_path).count() == 1
    gold_path = table_path(cfg.paths.root, "gold", "product_rankings")
    ranks = spark.createDataFrame([(D, "SAVINGS", K1, 0.2), (D, "SAVINGS", K2, 0.1)],
                                  "as_of_date date, product_code string, identity_id_hash string, "
                                  "probability double")
    write_slice(ranks, gold_path, None, ["as_of_date"])
    kept_before = read_table(spark, gold_path).where(F.col("identity_id_hash") == K2)

    summary = forget_job.erase(spark, cfg, [K1])
    assert summary["deleted"] == {"bronze.web": 3, "gold.product_rankings": 1,
                                  "ops.quarantine": 1}
    assert summary["cookies"] == 1
    web_rows = read_table(spark, bronze_path)
    assert sorted(r["event_id"] for r in web_rows.collect()) == ["b1", "b2"]
    assert read_table(spark, quarantine_path).count() == 0
    assert_df_equality(read_table(spark, gold_path), kept_before, ignore_row_order=True)
    tombs = read_table(spark, table_path(cfg.paths.root, "ops", "forgotten_clients"))
    assert sorted((r["kind"], r["value"]) for r in tombs.collect()) == [("cookie", "u1"),
                                                                         ("key", K1)]

    again = forget_job.erase(spark, cfg, [K1])  # a repeated request changes nothing
    assert again["deleted"] == {}
    assert tombs.count() == 2

    # The month re-delivered with K1 back in it, and a new month: K1's rows never return and
    # the counts still add up (rows read = accepted + quarantined + duplicates + forgotten).
    deliver(cfg, "web", "2026-01", "part-1.csv", text(WEB_HEADER, web("a5", key=K1)))
    deliver(cfg, "web", "2026-02", "part-0.csv", text(
        WEB_HEADER, web("a6", key=K1, ts="2026-02-03 10:00:00"),
        web("a7", key="", ts="2026-02-03 10:05:00"),
        web("b3", key=K2, ts="2026-02-03 11:00:00").replace(",u1,", ",u2,")))
    rows = {r["delivery"]: r for r in ingest_job.run(spark, cfg, ["web"])}
    assert rows["2026-02"]["rows_forgotten"] == 2
    # a1-a5: the bad row a4 too, so the quarantine does not keep the client's raw line
    assert rows["2026-01"]["rows_forgotten"] == 5
    assert read_table(spark, quarantine_path).count() == 0
    for row in rows.values():
        assert row["rows_read"] == (row["rows_accepted"] + row["rows_quarantined"]
                                    + row["duplicates_dropped"] + row["rows_forgotten"])
    keys = {r["identity_id_hash"] for r in read_table(spark, bronze_path).collect()}
    assert K1 not in keys
    assert sorted(r["event_id"] for r in read_table(spark, bronze_path).collect()) == [
        "b1", "b2", "b3"]


@pytest.mark.integration  # forget and ingest more than once on one lake
def test_vacuum_makes_the_erasure_physical(spark, tmp_path):
    cfg = make_config(tmp_path)
    path = table_path(cfg.paths.root, "gold", "client_segments")
    rows = spark.createDataFrame([(D, K1, 0), (D, K2, 1)],
                                 "as_of_date date, identity_id_hash string, segment_id int")
    write_slice(rows, path, None, ["as_of_date"])
    forget_job.erase(spark, cfg, [K1])
    # Without VACUUM, Delta's time travel still reads the erased row.
    assert read_table(spark, path, version=0).where(F.col("identity_id_hash") == K1).count() == 1
    forget_job.erase(spark, cfg, [K2], vacuum_hours=0)
    assert read_table(spark, path).count() == 0
    with pytest.raises(Exception, match="(?i)not.*found|does not exist|FileNotFound"):
        read_table(spark, path, version=0).collect()
