"""Ingest job end to end on landing files written by hand: bronze, quarantine, audit, re-runs,
re-deliveries, schema drift and missing input."""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from chispa import assert_df_equality
from conftest import make_config
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from segrec_spark.config import ConfigError
from segrec_spark.errors import InputDataError, SchemaMismatchError
from segrec_spark.generate.bank import synthetic_contract
from segrec_spark.ingest import job
from segrec_spark.tables import read_table, table_path

K1, K2, K3 = "1" * 64, "2" * 64, "3" * 64
SOURCES = synthetic_contract().sources
WEB_HEADER = ",".join(SOURCES["web"].column_names)
# event_id,user_id,identity_id_hash,event_ts,page_url,page_category,event_type,device_type,time_on_page_sec
JAN = [
    f"w1,u1,{K1},2026-01-05 10:00:00,/m,MORTGAGE,page_view,mobile,10",
    "w2,u2,,2026-01-06 11:00:00,/s,SAVINGS,search,desktop,",  # anonymous visitor
    f"w1,u1,{K1},2026-01-05 10:00:00,/m,MORTGAGE,page_view,mobile,10",  # exact duplicate
    f"w3,u3,{K2},2026-01-07 12:00:00,/c,GENERAL,page_view,smart_tv,5",  # unknown device: flagged
    f"w4,u4,{K2},07/01/2026,/c,GENERAL,page_view,mobile,5",  # BAD_TIMESTAMP
    f"w5,u5,{K2},2026-01-07 12:00:00,/c,GENERAL,page_view,mobile,5,EXTRA",  # WRONG_FIELD_COUNT
    f"w6,u6,{K2},2026-01-07 12:00:00,/c",  # WRONG_FIELD_COUNT (too few)
    "w7,,,2026-01-08 09:00:00,/c,GENERAL,page_view,mobile,1",  # MISSING_KEY
    "w8,u8,XYZ,2026-01-08 09:00:00,/c,GENERAL,page_view,mobile,1",  # MALFORMED_KEY
    f"w9,u9,{K3},2026-03-01 09:00:00,/c,GENERAL,page_view,mobile,1",  # OUT_OF_PERIOD
    f"w10,u10,{K3},2026-01-09 09:00:00,/c,GENERAL,page_view,mobile,fast",  # BAD_NUMBER
]
CHANGING = ("_ingested_at", "quarantined_at", "started_at", "finished_at")


def write_csv(cfg, source: str, delivery: str, lines: list[str], header: str = WEB_HEADER,
              name: str = "part-00000.csv") -> Path:
    folder = Path(cfg.paths.landing) / source / delivery
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def bronze(spark, cfg, source: str = "web"):
    return read_table(spark, table_path(cfg.paths.root, "bronze", source))


def ops(spark, cfg, name: str):
    return read_table(spark, table_path(cfg.paths.root, "ops", name))


def version(spark, path: str) -> int:
    return DeltaTable.forPath(spark, path).history(1).select("version").first()[0]


def versions(spark, cfg, source: str = "web") -> tuple[int, int, int]:
    root = cfg.paths.root
    return (version(spark, table_path(root, "bronze", source)),
            version(spark, table_path(root, "ops", "quarantine")),
            version(spark, table_path(root, "ops", "ingest_audit")))


def audit_counts(spark, cfg):
    return ops(spark, cfg, "ingest_audit").select(
        "source", "delivery", "rows_read", "rows_accepted", "rows_quarantined",
        "duplicates_dropped", "status")


COUNTS_SCHEMA = ("source string, delivery string, rows_read long, rows_accepted long, "
                 "rows_quarantined long, duplicates_dropped long, status string")



@pytest.fixture(scope="module")
def dirty_web(spark, tmp_path_factory):
    """One dirty January web delivery, ingested once for the tests of this module."""
    cfg = make_config(tmp_path_factory.mktemp("dirty"))
    write_csv(cfg, "web", "2026-01", JAN)
    rows = job.run(spark, cfg, ["web"])
    return cfg, rows


def test_dirty_delivery_to_bronze_quarantine_and_audit(spark, dirty_web):
    cfg, rows = dirty_web
    got = bronze(spark, cfg).select("event_id", "identity_id_hash", "event_ts", "device_type",
                                    "time_on_page_sec", "_has_unknown_category", "event_date",
                                    "_delivery", "_batch_id", "_source_file")
    meta = ("web/2026-01", "web/2026-01/part-00000.csv")
    assert_df_equality(got, spark.createDataFrame([
        ("w1", K1, dt.datetime(2026, 1, 5, 10), "mobile", 10.0, False, dt.date(2026, 1, 5),
         "2026-01", *meta),
        ("w2", None, dt.datetime(2026, 1, 6, 11), "desktop", None, False, dt.date(2026, 1, 6),
         "2026-01", *meta),
        ("w3", K2, dt.datetime(2026, 1, 7, 12), "UNKNOWN", 5.0, True, dt.date(2026, 1, 7),
         "2026-01", *meta),
    ], "event_id string, identity_id_hash string, event_ts timestamp, device_type string, "
       "time_on_page_sec double, _has_unknown_category boolean, event_date date, "
       "_delivery string, _batch_id string, _source_file string"),
        ignore_row_order=True, ignore_nullable=True)

    quarantine = ops(spark, cfg, "quarantine").select("source", "delivery", "batch_id", "reason",
                                                      "raw_record")
    batch = ("web", "2026-01", "web/2026-01")
    assert_df_equality(quarantine, spark.createDataFrame([
        (*batch, "BAD_TIMESTAMP", JAN[4]),
        (*batch, "WRONG_FIELD_COUNT", JAN[5]),
        (*batch, "WRONG_FIELD_COUNT", JAN[6]),
        (*batch, "MISSING_KEY", JAN[7]),
        (*batch, "MALFORMED_KEY", JAN[8]),
        (*batch, "OUT_OF_PERIOD", JAN[9]),
        (*batch, "BAD_NUMBER", JAN[10]),
    ], "source string, delivery string, batch_id string, reason string, raw_record string"),
        ignore_row_order=True, ignore_nullable=True)

    # Nothing lost: 11 lines read = 3 accepted + 7 quarantined + 1 duplicate.
    assert_df_equality(audit_counts(spark, cfg), spark.createDataFrame(
        [("web", "2026-01", 11, 3, 7, 1, "OK")], COUNTS_SCHEMA), ignore_nullable=True)
    assert rows[0]["quarantine_reasons"] == {"BAD_NUMBER": 1, "BAD_TIMESTAMP": 1,
                                             "MALFORMED_KEY": 1, "MISSING_KEY": 1,
                                             "OUT_OF_PERIOD": 1, "WRONG_FIELD_COUNT": 2}
    assert rows[0]["files"] == ["part-00000.csv"]
    for name in ("bronze.web", "ops.quarantine", "ops.ingest_audit"):
        assert spark.catalog.tableExists(name)


def test_same_delivery_twice_changes_nothing_and_forced_rerun_gives_equal_contents(spark,
                                                                                  dirty_web):
    cfg, first = dirty_web
    before = versions(spark, cfg)
    stable = {"bronze": lambda: bronze(spark, cfg).drop(*CHANGING),
              "quarantine": lambda: ops(spark, cfg, "quarantine").drop(*CHANGING),
              # maps cannot be compared by Spark: the reasons map is checked as text
              "audit": lambda: ops(spark, cfg, "ingest_audit").drop(*CHANGING).withColumn(
                  "quarantine_reasons", F.to_json("quarantine_reasons"))}
    tables = {name: (read().collect(), read().schema) for name, read in stable.items()}

    again = job.run(spark, cfg, ["web"])
    assert again[0]["status"] == "UNCHANGED"
    assert versions(spark, cfg) == before  # no commit at all, so no new data files

    forced = dataclasses.replace(cfg, ingest=dataclasses.replace(cfg.ingest, force=True))
    job.run(spark, forced, ["web"])
    assert versions(spark, cfg) == tuple(v + 1 for v in before)
    for name, read in stable.items():
        rows, schema = tables[name]
        assert_df_equality(read(), spark.createDataFrame(rows, schema), ignore_row_order=True)


def test_redelivery_replaces_its_month_only_and_cross_delivery_duplicates_are_dropped(spark,
                                                                                    tmp_path):
    cfg = make_config(tmp_path)
    jan = [f"a1,u1,{K1},2026-01-30 10:00:00,/m,MORTGAGE,page_view,mobile,1",
           f"a2,u2,{K2},2026-01-31 10:00:00,/m,MORTGAGE,page_view,mobile,2"]
    # February re-delivers a2 (a late copy, inside the tolerance) next to its own event.
    feb = [jan[1], f"b1,u1,{K1},2026-02-02 10:00:00,/m,SAVINGS,search,tablet,3"]
    write_csv(cfg, "web", "2026-01", jan)
    write_csv(cfg, "web", "2026-02", feb)
    job.run(spark, cfg, ["web"])

    corrected = [f"a1,u1,{K1},2026-01-30 10:00:00,/m,MORTGAGE,page_view,mobile,100", jan[1]]
    write_csv(cfg, "web", "2026-01", corrected)
    job.run(spark, cfg, ["web"], ["2026-01"])

    got = bronze(spark, cfg).select("event_id", "time_on_page_sec", "_delivery")
    assert_df_equality(got, spark.createDataFrame(
        [("a1", 100.0, "2026-01"), ("a2", 2.0, "2026-01"), ("b1", 3.0, "2026-02")],
        "event_id string, time_on_page_sec double, _delivery string"),
        ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(audit_counts(spark, cfg), spark.createDataFrame(
        [("web", "2026-01", 2, 2, 0, 0, "OK"), ("web", "2026-02", 2, 1, 0, 1, "OK")],
        COUNTS_SCHEMA), ignore_row_order=True, ignore_nullable=True)


def test_missing_column_stops_the_batch_and_leaves_tables_untouched(spark, tmp_path):
    cfg = make_config(tmp_path)
    good = f"w1,u1,{K1},2026-01-05 10:00:00,/m,MORTGAGE,page_view,mobile,10"
    write_csv(cfg, "web", "2026-01", [good])
    job.run(spark, cfg, ["web"])
    before = versions(spark, cfg)

    header = WEB_HEADER.replace(",device_type", "")
    bad = write_csv(cfg, "web", "2026-02", ["w2,u1,,2026-02-05 10:00:00,/m,MORTGAGE,page_view,1"],
                    header=header)
    with pytest.raises(SchemaMismatchError) as err:
        job.run(spark, cfg, ["web"], ["2026-02"])
    message = str(err.value)
    assert str(bad) in message
    assert "'device_type'" in message
    assert "expected type string, found missing" in message
    assert versions(spark, cfg) == before


def test_changed_parquet_type_names_file_column_and_types(spark, tmp_path):
    cfg = make_config(tmp_path)
    folder = Path(cfg.paths.landing) / "app_logins" / "2026-01"
    spark.createDataFrame(
        [("a1", K1, "2026-01-05 10:00:00", "login", None, "GENERAL", "ios", 3.5)],
        "app_event_id string, identity_id_hash string, event_ts string, event_type string, "
        "screen_name string, product_area string, os string, duration_sec double",
    ).coalesce(1).write.parquet(str(folder))
    with pytest.raises(SchemaMismatchError,
                       match=r"part-.*\.parquet: column 'duration_sec' .*expected type string, "
                             r"found double"):
        job.run(spark, cfg, ["app_logins"])
    assert not (Path(cfg.paths.root) / "bronze" / "app_logins").exists()
    assert not (Path(cfg.paths.root) / "ops").exists()


@pytest.mark.parametrize("drift", ["ignore", "add"])
def test_extra_column_is_reported_and_ignored_or_added(spark, tmp_path, drift):
    cfg = make_config(tmp_path, f"ingest.schema_drift={drift}")
    write_csv(cfg, "web", "2026-01",
              [f"w1,u1,{K1},2026-01-05 10:00:00,/m,MORTGAGE,page_view,mobile,10,cz"],
              header=WEB_HEADER + ",locale")
    rows = job.run(spark, cfg, ["web"])
    assert rows[0]["extra_columns"] == ["locale"]
    assert rows[0]["rows_accepted"] == 1
    expected_columns = ["event_id", "locale"] if drift == "add" else ["event_id"]
    got = bronze(spark, cfg).select(*[c for c in ("event_id", "locale")
                                      if c in bronze(spark, cfg).columns])
    assert got.columns == expected_columns
    assert [tuple(r) for r in got.collect()] == [("w1", "cz")[:len(expected_columns)]]


def test_parquet_delivery_for_a_csv_source_through_config(spark, tmp_path):
    cfg = make_config(tmp_path, "ingest.formats={web: parquet}")
    folder = Path(cfg.paths.landing) / "web" / "2026-01"
    spark.createDataFrame(
        [("w1", "u1", "", "2026-01-05 10:00:00", "/m", "MORTGAGE", "page_view", "mobile", "7"),
         ("w2", "u2", K1, "2026-01-05 10:00:00", "/m", "MORTGAGE", "page_view", "mobile", "7.x")],
        ", ".join(f"{c} string" for c in SOURCES["web"].column_names),
    ).coalesce(1).write.parquet(str(folder))
    rows = job.run(spark, cfg, ["web"])
    assert (rows[0]["rows_accepted"], rows[0]["quarantine_reasons"]) == (1, {"BAD_NUMBER": 1})
    assert_df_equality(
        bronze(spark, cfg).select("event_id", "identity_id_hash", "time_on_page_sec"),
        spark.createDataFrame([("w1", None, 7.0)],
                              "event_id string, identity_id_hash string, time_on_page_sec double"),
        ignore_nullable=True)
    raw = ops(spark, cfg, "quarantine").select("raw_record").first()[0]
    assert raw.startswith('{"event_id":"w2","user_id":"u2"')
    assert '"time_on_page_sec":"7.x"' in raw


def test_empty_delivery_is_audited_as_empty_and_missing_input_is_a_clear_error(spark, tmp_path):
    cfg = make_config(tmp_path)
    with pytest.raises(InputDataError, match="landing folder .*landing does not exist"):
        job.run(spark, cfg)
    write_csv(cfg, "ib", "2026-01", [], header=",".join(SOURCES["ib"].column_names))
    with pytest.raises(InputDataError, match="source web: landing folder .*/web does not exist"):
        job.main(spark, cfg, argparse.Namespace(source=["web"], delivery=None))
    with pytest.raises(InputDataError, match="ib/2026-02 does not exist"):
        job.run(spark, cfg, ["ib"], ["2026-02"])
    with pytest.raises(ConfigError, match="--source 'webb': unknown source"):
        job.run(spark, cfg, ["webb"])

    rows = job.run(spark, cfg)  # all sources: only ib has a (header-only) delivery
    assert [(r["source"], r["status"], r["rows_read"]) for r in rows] == [("ib", "EMPTY", 0)]
    assert "empty delivery" in rows[0]["message"]
    assert_df_equality(audit_counts(spark, cfg), spark.createDataFrame(
        [("ib", "2026-01", 0, 0, 0, 0, "EMPTY")], COUNTS_SCHEMA), ignore_nullable=True)
    assert not (Path(cfg.paths.root) / "bronze" / "ib").exists()


def test_rfc4180_doubled_quotes_land_unescaped(spark, tmp_path):
    cfg = make_config(tmp_path)
    write_csv(cfg, "web", "2026-01",
              [f'q1,u1,{K1},2026-01-05 10:00:00,"/say ""hi""",MORTGAGE,page_view,mobile,1',
               f'q2,u1,{K1},2026-01-05 10:01:00,"/a,b",MORTGAGE,page_view,mobile,1'])
    [row] = job.run(spark, cfg, ["web"])
    assert (row["rows_accepted"], row["rows_quarantined"]) == (2, 0)
    got = bronze(spark, cfg).select("event_id", "page_url")
    assert_df_equality(got, spark.createDataFrame([("q1", '/say "hi"'), ("q2", "/a,b")],
                                                  "event_id string, page_url string"),
                       ignore_row_order=True, ignore_nullable=True)


def test_one_progress_line_adds_up_the_deliveries_of_a_run():
    def row(status, read, accepted, quarantined, duplicates):
        return {"status": status, "rows_read": read, "rows_accepted": accepted,
                "rows_quarantined": quarantined, "duplicates_dropped": duplicates}

    rows = [row("OK", 10, 7, 2, 1), row("OK", 5, 5, 0, 0), row("EMPTY", 0, 0, 0, 0),
            row("UNCHANGED", 99, 99, 0, 0)]  # unchanged: read earlier, not in this run
    assert job.tally(rows) == ("4 deliveries (1 EMPTY, 2 OK, 1 UNCHANGED): read 15 = "
                               "accepted 12 + quarantined 2 + duplicates dropped 1")
    assert job.tally([]) == ("0 deliveries (none): read 0 = accepted 0 + quarantined 0 + "
                             "duplicates dropped 0")
