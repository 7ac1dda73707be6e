"""Issue 20's battery of bad deliveries, each built by hand in tmp_path: every kind ends in rows
read, rows quarantined with a reason, or one clear line naming the file and the problem; the
counts add up (rows read = accepted + quarantined + duplicates) and nothing else changes.

One ingest run (module fixture ``battery``) covers the kinds that end in bronze or quarantine:
file names with glob and URI-reserved characters, an upper-case extension, a Spark-style output
folder, RFC 4180 quoting (doubled quotes, a backslash before the closing quote, a line break
inside quotes, a stray quote), conflicting natural keys, numbers in Java literal syntax or not
finite, a trailing delimiter. The kinds that stop a source or a delivery get a folder each.
"""
from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

import pytest
from chispa import assert_df_equality
from conftest import make_config
from pyspark.sql import functions as F

from segrec_spark.errors import InputDataError, SchemaMismatchError, SegrecError
from segrec_spark.features.client_features import activity_facts
from segrec_spark.generate.bank import synthetic_contract
from segrec_spark.ingest import job
from segrec_spark.tables import read_table, table_path

K1, K2 = "1" * 64, "2" * 64
SOURCES = synthetic_contract().sources
# event_id,user_id,identity_id_hash,event_ts,page_url,page_category,event_type,device_type,
# time_on_page_sec
WEB_HEADER = ",".join(SOURCES["web"].column_names)
SALES_HEADER = ",".join(SOURCES["prodeje"].column_names)


def web(event_id: str, url: str = "/m", secs: str = "1", key: str = K1,
        ts: str = "2026-01-05 10:00:00") -> str:
    return ",".join([event_id, "u1", key, ts, url, "GENERAL", "page_view", "mobile", secs])


def text(header: str, *lines: str) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode("utf-8")


def deliver(cfg, source: str, delivery: str, name: str, content: bytes) -> Path:
    path = Path(cfg.paths.landing) / source / delivery / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def bronze(spark, cfg, source: str = "web"):
    return read_table(spark, table_path(cfg.paths.root, "bronze", source))


def ops(spark, cfg, name: str):
    return read_table(spark, table_path(cfg.paths.root, "ops", name))


def audit_rows(spark, cfg) -> list[tuple]:
    return sorted((r["source"], r["delivery"], r["rows_read"], r["rows_accepted"],
                   r["rows_quarantined"], r["duplicates_dropped"], r["status"])
                  for r in ops(spark, cfg, "ingest_audit").collect())



# --- one run: kinds that end in bronze or quarantine ------------------------------------------

QUOTES = [
    web("q1", url='"/say ""hi"""'),  # RFC 4180 doubled quote
    web("q2", url='"C:\\dir\\"'),  # backslash before the closing quote: not an escape
    web("q3", url='"/line1\nline2"'),  # line break inside quotes
    web("q4"),
]
STRAY = web("s1", url='"/half')  # an unclosed quote: must not swallow the rows after it
CONFLICTS = [
    web("c1", url="/a"),
    web("c2"),
    web("c1", url="/b"),  # same id, other content: CONFLICTING_DUPLICATE
    web("c2"),  # exact copy: DUPLICATE
    web("c3", url="/z"),
    web("c3", url="/a"),  # the later line conflicts, although its content sorts first
]
BAD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e309", "12d", "0x1p3"]
BATTERY = {
    "a[1].csv": text(WEB_HEADER, web("n1")),
    "b{x}.csv": text(WEB_HEADER, web("n2")),
    "c%20d.csv": text(WEB_HEADER, web("n3")),
    "e f.csv": text(WEB_HEADER, web("n4")),
    "g#h.csv": text(WEB_HEADER, web("n5")),
    "i+j.csv": text(WEB_HEADER, web("n7")),
    "UPPER.CSV": text(WEB_HEADER, web("n6")),
    # a Spark-style output folder: its part files are read, its markers ignored
    "export.csv/part-00000.csv": text(WEB_HEADER, web("p1")),
    "export.csv/_SUCCESS": b"",
    "export.csv/.part-00000.csv.crc": b"crc",
    "quotes.csv": text(WEB_HEADER, *QUOTES),
    "stray.csv": text(WEB_HEADER, STRAY, web("s2"), web("s3")),
    "conflict.csv": text(WEB_HEADER, *CONFLICTS),
    "numbers.csv": text(WEB_HEADER, *[web(f"m{i}", secs=v) for i, v in enumerate(BAD_NUMBERS)],
                        web("m7", secs="1e3"), web("m8", secs="-.5")),
    # a header and a row ending in the delimiter; a row without it has too few fields
    "trailing.csv": text(WEB_HEADER + ",", web("t1") + ",", web("t2")),
}
FILES = sorted(n for n in BATTERY if not n.rsplit("/", 1)[-1].startswith(("_", ".")))


@pytest.fixture(scope="module")
def battery(spark, tmp_path_factory):
    # Through the narrow rules (marks broadcast back), as a batch of 64 MB or more would be;
    # the other ingest tests' tiny batches take the rules on whole rows.
    cfg = make_config(tmp_path_factory.mktemp("battery"))
    for name, content in BATTERY.items():
        deliver(cfg, "web", "2026-01", name, content)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(job, "NARROW_DEDUP_MIN_BYTES", 0)
        [row] = job.run(spark, cfg, ["web"])
    return cfg, row


def test_battery_counts_add_up_with_their_reasons(spark, battery):
    cfg, row = battery
    assert (row["rows_read"], row["rows_accepted"], row["rows_quarantined"],
            row["duplicates_dropped"], row["status"]) == (31, 20, 10, 1, "OK")
    assert row["quarantine_reasons"] == {"BAD_NUMBER": 6, "CONFLICTING_DUPLICATE": 2,
                                         "WRONG_FIELD_COUNT": 2}
    assert row["files"] == FILES
    assert bronze(spark, cfg).count() == 20
    reasons = {r["reason"]: r["count"] for r in
               ops(spark, cfg, "quarantine").groupBy("reason").count().collect()}
    assert reasons == row["quarantine_reasons"]


@pytest.mark.parametrize(("min_bytes", "max_marks"), [
    (0, 0),  # narrow rules, marks joined by a shuffle (a month sent again under another name)
    (0, job.MAX_BROADCAST_MARKS),  # narrow rules, marks broadcast
    (1 << 40, job.MAX_BROADCAST_MARKS),  # a small batch: the rules on whole rows
])
def test_every_dedup_path_lands_the_same_rows(spark, tmp_path, monkeypatch, min_bytes,
                                             max_marks):
    monkeypatch.setattr(job, "NARROW_DEDUP_MIN_BYTES", min_bytes)
    monkeypatch.setattr(job, "MAX_BROADCAST_MARKS", max_marks)
    cfg = make_config(tmp_path)
    deliver(cfg, "web", "2026-01", "conflict.csv", BATTERY["conflict.csv"])
    [row] = job.run(spark, cfg, ["web"])
    assert (row["rows_read"], row["rows_accepted"], row["rows_quarantined"],
            row["duplicates_dropped"]) == (6, 3, 2, 1)
    assert row["quarantine_reasons"] == {"CONFLICTING_DUPLICATE": 2}
    kept = bronze(spark, cfg).select("event_id", "page_url")
    assert sorted(tuple(r) for r in kept.collect()) == [("c1", "/a"), ("c2", "/m"),
                                                        ("c3", "/z")]


def test_odd_file_names_extensions_and_output_folders_are_read(spark, battery):
    cfg, _ = battery
    got = {r["event_id"]: r["_source_file"] for r in bronze(spark, cfg)
           .filter(F.col("event_id").rlike("^[np]")).collect()}
    where = "web/2026-01/"
    assert got == {"n1": where + "a[1].csv", "n2": where + "b{x}.csv",
                   "n3": where + "c%20d.csv", "n4": where + "e f.csv", "n5": where + "g#h.csv",
                   "n6": where + "UPPER.CSV", "n7": where + "i+j.csv",
                   "p1": where + "export.csv/part-00000.csv"}


def test_rfc4180_quoting_lands_unescaped_and_a_stray_quote_stays_on_its_line(spark, battery):
    cfg, _ = battery
    got = bronze(spark, cfg).filter(F.col("event_id").rlike("^[qs]")).select("event_id",
                                                                             "page_url")
    assert_df_equality(got, spark.createDataFrame(
        [("q1", '/say "hi"'), ("q2", "C:\\dir\\"), ("q3", "/line1\nline2"), ("q4", "/m"),
         ("s2", "/m"), ("s3", "/m")], "event_id string, page_url string"),
        ignore_row_order=True, ignore_nullable=True)
    stray = (ops(spark, cfg, "quarantine").filter(F.col("source_file").endswith("stray.csv"))
             .select("reason", "raw_record").collect())
    assert [tuple(r) for r in stray] == [("WRONG_FIELD_COUNT", STRAY)]


def test_conflicting_natural_keys_keep_the_first_line_and_quarantine_the_later(spark, battery):
    cfg, _ = battery
    kept = bronze(spark, cfg).filter(F.col("event_id").rlike("^c")).select("event_id",
                                                                            "page_url")
    assert sorted(tuple(r) for r in kept.collect()) == [("c1", "/a"), ("c2", "/m"),
                                                        ("c3", "/z")]
    conflicting = (ops(spark, cfg, "quarantine")
                   .filter(F.col("reason") == "CONFLICTING_DUPLICATE").select("raw_record"))
    assert sorted(r[0] for r in conflicting.collect()) == sorted([CONFLICTS[2], CONFLICTS[5]])


def test_numbers_in_java_literal_syntax_or_not_finite_are_bad_numbers(spark, battery):
    cfg, _ = battery
    bad = (ops(spark, cfg, "quarantine").filter(F.col("reason") == "BAD_NUMBER")
           .select("raw_record").collect())
    assert sorted(r[0].rsplit(",", 1)[-1] for r in bad) == sorted(BAD_NUMBERS)
    good = bronze(spark, cfg).filter(F.col("event_id").isin("m7", "m8"))
    assert sorted(tuple(r) for r in good.select("event_id", "time_on_page_sec").collect()) == [
        ("m7", 1000.0), ("m8", -0.5)]


def test_trailing_delimiter_rows_are_read_or_quarantined_with_their_line(spark, battery):
    cfg, _ = battery
    assert bronze(spark, cfg).filter(F.col("event_id") == "t1").count() == 1
    [t2] = (ops(spark, cfg, "quarantine").filter(F.col("source_file").endswith("trailing.csv"))
            .select("reason", "raw_record").collect())
    assert tuple(t2) == ("WRONG_FIELD_COUNT", web("t2"))


def test_battery_again_is_unchanged(spark, battery):
    cfg, _ = battery
    [row] = job.run(spark, cfg, ["web"])
    assert row["status"] == "UNCHANGED"


# --- kinds that stop a delivery or a source ---------------------------------------------------

@pytest.mark.integration  # ingest four times on one lake: make test-slow
def test_empty_redelivery_of_an_ingested_month_is_refused_and_the_audit_kept(spark, tmp_path):
    cfg = make_config(tmp_path)
    jan = deliver(cfg, "web", "2026-01", "part-0.csv", text(WEB_HEADER, web("w1"), web("w2")))
    job.run(spark, cfg, ["web"])
    before = audit_rows(spark, cfg)

    for content in (text(WEB_HEADER), b""):  # header only, then a 0-byte file
        jan.write_bytes(content)
        feb = text(WEB_HEADER, web("f1", ts="2026-02-05 10:00:00"))
        deliver(cfg, "web", "2026-02", "part-0.csv", feb)
        with pytest.raises(InputDataError) as err:
            job.run(spark, cfg, ["web"])
        message = str(err.value)
        assert "\n" not in message
        assert f"{jan.parent}: empty re-delivery" in message
        assert "2 rows read, 2 accepted" in message
        assert "refused" in message
        assert "ingest.force=true" in message
        # the month keeps its rows and its audit record; the other month is still ingested
        assert bronze(spark, cfg).filter(F.col("_delivery") == "2026-01").count() == 2
        assert audit_rows(spark, cfg) == sorted(
            [*before, ("web", "2026-02", 1, 1, 0, 0, "OK")])

    forced = make_config(tmp_path, "ingest.force=true")
    rows = {r["delivery"]: r for r in job.run(spark, forced, ["web"])}
    assert rows["2026-01"]["status"] == "UNCHANGED"
    assert "accepted as nothing new" in rows["2026-01"]["message"]
    assert [r for r in audit_rows(spark, cfg) if r[1] == "2026-01"] == before
    assert bronze(spark, cfg).filter(F.col("_delivery") == "2026-01").count() == 2


@pytest.mark.parametrize(("extra", "problem"), [
    ("EVENT_ID", "columns 'event_id' and 'EVENT_ID' differ only in letter case"),
    ("event_date", "extra column 'event_date' has the name of a column ingest adds"),
    ("_Delivery", "extra column '_Delivery' has the name of a column ingest adds"),
    ("my col", "extra column 'my col' holds ' ', which Delta refuses"),
])
def test_extra_column_that_cannot_be_added_is_one_clear_line(spark, tmp_path, extra, problem):
    cfg = make_config(tmp_path, "ingest.schema_drift=add")
    bad = deliver(cfg, "web", "2026-01", "part-0.csv",
                  text(f"{WEB_HEADER},{extra}", web("w1") + ",x"))
    with pytest.raises(SchemaMismatchError) as err:
        job.check_delivery(spark, cfg, SOURCES["web"], "2026-01")
    message = str(err.value)
    assert f"{bad}: " in message  # the file's full path (file: URI on a local disk)
    assert problem in message
    assert "\n" not in message
    assert "ingest.schema_drift=ignore" in message


def test_ignored_extra_columns_never_clash(spark, tmp_path):
    cfg = make_config(tmp_path)  # schema_drift: ignore
    deliver(cfg, "web", "2026-01", "part-0.csv",
            text(f"{WEB_HEADER},EVENT_ID,_corrupt_record,my col", web("w1") + ",x,y,z"))
    [row] = job.run(spark, cfg, ["web"])
    assert (row["rows_read"], row["rows_accepted"]) == (1, 1)
    assert row["extra_columns"] == ["EVENT_ID", "_corrupt_record", "my col"]
    assert [r["event_id"] for r in bronze(spark, cfg).collect()] == ["w1"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway")
def test_unreadable_file_is_one_clear_line(spark, tmp_path):
    cfg = make_config(tmp_path)
    bad = deliver(cfg, "web", "2026-01", "part-0.csv", text(WEB_HEADER, web("w1")))
    bad.chmod(0)
    try:
        with pytest.raises(InputDataError, match=f"{bad}: cannot be opened"):
            job.run(spark, cfg, ["web"])
    finally:
        bad.chmod(0o644)


def test_one_source_crashing_does_not_stop_the_others(spark, tmp_path, monkeypatch):
    cfg = make_config(tmp_path)
    deliver(cfg, "web", "2026-01", "part-0.csv", text(WEB_HEADER, web("w1")))
    deliver(cfg, "prodeje", "2026-01", "part-0.csv",
            text(SALES_HEADER, f"g1,{K1},MORTGAGE,2026-01-10,SIGNED,1000,branch"))
    classify = job.classify_deliveries

    def crash_web(spark, cfg, source, *args):
        if source.name == "web":
            raise RuntimeError("boom")
        return classify(spark, cfg, source, *args)

    monkeypatch.setattr(job, "classify_deliveries", crash_web)
    with pytest.raises(SegrecError) as err:
        job.run(spark, cfg, ["web", "prodeje"])
    assert str(err.value).startswith("source web: ingest failed (RuntimeError: boom)")
    assert "\n" not in str(err.value)
    assert audit_rows(spark, cfg) == [("prodeje", "2026-01", 1, 1, 0, 0, "OK")]
    assert bronze(spark, cfg, "prodeje").count() == 1


def test_sources_run_side_by_side_and_report_in_plan_order(spark, tmp_path, monkeypatch):
    cfg = make_config(tmp_path, "ingest.parallel_sources=2")
    for source, header in (("web", WEB_HEADER), ("prodeje", SALES_HEADER),
                           ("camp", ",".join(SOURCES["camp"].column_names))):
        deliver(cfg, source, "2026-01", "part-0.csv", text(header))
    running: list[str] = []
    most = [0]
    lock = threading.Lock()
    both_started = threading.Barrier(2, timeout=30)

    def fake_ingest(spark, cfg, source, deliveries, previous):
        with lock:
            running.append(source.name)
            most[0] = max(most[0], len(running))
        if source.name in ("camp", "prodeje"):  # these two wait for each other: side by side
            both_started.wait()
        with lock:
            running.remove(source.name)
        return [{"source": source.name, "delivery": d, "status": "OK", "rows_read": 0,
                 "rows_accepted": 0, "rows_quarantined": 0, "duplicates_dropped": 0}
                for d in deliveries]

    monkeypatch.setattr(job, "ingest_source", fake_ingest)
    rows = job.run(spark, cfg, ["web", "prodeje", "camp"])
    assert most[0] == 2  # two at a time, as configured, never three
    plan_order = list(job.plan_batches(spark, cfg.paths.landing, cfg.contract,
                                       ["web", "prodeje", "camp"], None))
    assert [r["source"] for r in rows] == plan_order


# --- concurrent ingests -----------------------------------------------------------------------

class ConcurrentAppendException(Exception):  # named like Delta's, as the check reads names
    pass


def test_commit_conflicts_are_retried_then_one_clear_line():
    calls: list[int] = []

    def conflict_twice() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise ConcurrentAppendException("Files were added to the root of the table")

    job._commit(conflict_twice, "/lake/ops/ingest_audit", backoff=0)
    assert len(calls) == 3

    def always() -> None:
        raise ConcurrentAppendException("Files were added to the root of the table")

    with pytest.raises(SegrecError) as err:
        job._commit(always, "/lake/ops/ingest_audit", attempts=3, backoff=0)
    assert str(err.value).startswith("/lake/ops/ingest_audit: Delta commit conflict on each "
                                     "of 3 attempts")
    with pytest.raises(ValueError):  # anything else is not retried
        job._commit(lambda: (_ for _ in ()).throw(ValueError("no")), "/x", backoff=0)


def test_two_sources_ingested_at_the_same_time_both_land(spark, tmp_path):
    cfg = make_config(tmp_path)
    # the ops tables exist first, so the two runs race on commits, not on creating them
    deliver(cfg, "web", "2026-01", "part-0.csv", text(WEB_HEADER, web("w1")))
    job.run(spark, cfg, ["web"])
    deliver(cfg, "web", "2026-02", "part-0.csv",
            text(WEB_HEADER, web("w2", ts="2026-02-05 10:00:00")))
    deliver(cfg, "prodeje", "2026-01", "part-0.csv",
            text(SALES_HEADER, f"g1,{K1},MORTGAGE,2026-01-10,SIGNED,1000,branch"))
    errors: list[BaseException] = []

    def ingest(source: str, delivery: str) -> None:
        try:
            job.run(spark, cfg, [source], [delivery])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=args)
               for args in (("web", "2026-02"), ("prodeje", "2026-01"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [r[:4] for r in audit_rows(spark, cfg)] == [
        ("prodeje", "2026-01", 1, 1), ("web", "2026-01", 1, 1), ("web", "2026-02", 1, 1)]


# --- deterministic features -------------------------------------------------------------------

def test_session_duration_does_not_depend_on_row_order_when_end_times_tie(spark):
    start, end = dt.datetime(2026, 1, 5, 10), dt.datetime(2026, 1, 5, 10, 5)
    rows = [(K1, "u1", "app", dt.date(2026, 1, 5), "s1", area, 1, start, end, secs)
            for area, secs in (("GENERAL", 5.0), ("MORTGAGE", 9.0), ("SAVINGS", None))]
    schema = ("identity_id_hash string, user_id string, channel string, event_date date, "
              "session_id string, product_area string, n long, start_ts timestamp, "
              "end_ts timestamp, last_duration double")
    results = set()
    for order in (rows, rows[::-1], rows[1:] + rows[:1]):
        facts = activity_facts(spark.createDataFrame(order, schema).repartition(3))
        results.add(tuple(r[0] for r in facts.filter(F.col("kind") == "session")
                          .select("duration_sec").collect()))
    assert results == {(300.0 + 9.0,)}
