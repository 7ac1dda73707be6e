"""Bad landing input end to end (issue 9): every bad file gets a clear error or quarantine with a
reason, and nothing is lost: per delivery, rows read = accepted + quarantined + duplicates dropped
in ops.ingest_audit, and bronze and ops.quarantine hold exactly the audited rows.

One ingest run (module fixture) covers the inputs that end in bronze or quarantine. The inputs that
stop a source get a landing folder each; most fail on the header, before Spark reads a row.

Covered elsewhere, not repeated here:
* a Parquet file with a changed column type:
  tests/ingest/test_ingest_job.py::test_changed_parquet_type_names_file_column_and_types
* a required column missing:
  tests/ingest/test_ingest_job.py::test_missing_column_stops_the_batch_and_leaves_tables_untouched
* a missing landing folder, source or delivery, header-only deliveries:
  tests/ingest/test_ingest_job.py::test_empty_delivery_is_audited_as_empty_and_missing_input_is_a_clear_error
* config: unknown key, wrong type, missing file, credentials: tests/test_foundation.py
"""
from __future__ import annotations

import gzip
import io
import logging
import random
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from chispa import assert_df_equality
from conftest import make_config
from pyspark.sql import functions as F

from segrec_spark.config import ConfigError, load_config
from segrec_spark.errors import InputDataError, SchemaMismatchError
from segrec_spark.generate.bank import CONTRACT_FILE, synthetic_contract
from segrec_spark.ingest import job
from segrec_spark.ingest.settings import IngestSettings
from segrec_spark.ingest.validate import delivery_period, flag_rejects
from segrec_spark.tables import delta_exists, read_table, sql_literal, table_path

K1, K2 = "1" * 64, "2" * 64
CONTRACT = synthetic_contract()
SOURCES = CONTRACT.sources
WEB_HEADER = ",".join(SOURCES["web"].column_names)
SALES_HEADER = ",".join(SOURCES["prodeje"].column_names)
APP_COLUMNS = SOURCES["app_logins"].column_names
TEN_MB = 10 * 1024 * 1024
INJECTION = "'; DROP TABLE bronze.web; --"
INJECTED_ID = "x'); DROP TABLE bronze.web; --"
COOKIE = "cookie-7f3a9c"  # a delivered cookie id: it may sit in bronze, never in the logs


def web(event_id: str, key: str = K1, ts: str = "2026-01-05 10:00:00", url: str = "/m",
        user: str = "u1") -> str:
    return ",".join([event_id, user, key, ts, url, "GENERAL", "page_view", "mobile", "1"])


def csv_bytes(header: str, *lines: str, final_newline: bool = True) -> bytes:
    return ("\n".join([header, *lines]) + ("\n" if final_newline else "")).encode("utf-8")


def parquet_bytes(rows: list[dict]) -> bytes:
    table = pa.Table.from_pylist(rows, pa.schema([(c, pa.string()) for c in APP_COLUMNS]))
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def deliver(cfg, source: str, delivery: str, name: str, content: bytes) -> Path:
    folder = Path(cfg.paths.landing) / source / delivery
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def ops(spark, cfg, name: str):
    return read_table(spark, table_path(cfg.paths.root, "ops", name))


def bronze(spark, cfg, source: str):
    return read_table(spark, table_path(cfg.paths.root, "bronze", source))


def assert_counts_add_up(spark, cfg) -> list:
    """Every audit row adds up, and bronze and quarantine hold exactly the audited rows."""
    root = cfg.paths.root
    audit = ops(spark, cfg, "ingest_audit").collect()
    assert audit, "no audit rows"
    accepted: dict[tuple[str, str], int] = {}
    for source in {r["source"] for r in audit}:
        if delta_exists(spark, table_path(root, "bronze", source)):
            for r in bronze(spark, cfg, source).groupBy("_delivery").count().collect():
                accepted[(source, r["_delivery"])] = r["count"]
    quarantined: dict[tuple[str, str], dict[str, int]] = {}
    if delta_exists(spark, table_path(root, "ops", "quarantine")):
        for r in ops(spark, cfg, "quarantine").groupBy("source", "delivery", "reason").count() \
                .collect():
            quarantined.setdefault((r["source"], r["delivery"]), {})[r["reason"]] = r["count"]
    audited = {(r["source"], r["delivery"]) for r in audit}
    assert set(accepted) <= audited  # no unaudited slice
    assert set(quarantined) <= audited
    for r in audit:
        batch = (r["source"], r["delivery"])
        assert r["rows_read"] == (r["rows_accepted"] + r["rows_quarantined"]
                                  + r["duplicates_dropped"]), batch
        assert accepted.get(batch, 0) == r["rows_accepted"], batch
        assert quarantined.get(batch, {}) == dict(r["quarantine_reasons"]), batch
        assert sum(r["quarantine_reasons"].values()) == r["rows_quarantined"], batch
    return audit



# --- one run over the inputs that end in bronze or quarantine ------------------------------------

TRUNCATED = web("w4")[:45]  # the export stopped mid-record: no trailing newline
OPEN_QUOTE = f'w5t,u1,{K1},2026-01-05 10:00:00,"/half-writ'  # stopped inside a quoted field
BAD_KEY_PREFIX = "w6,u1," + "1" * 60
BAD_KEY_TAIL = ",2026-01-05 10:00:00,/m,GENERAL,page_view,mobile,1"

WEB_FILES = {
    "a_empty.csv": b"",
    "a_empty.csv.gz": b"",
    "b_header_only.csv": csv_bytes(WEB_HEADER),
    "c_good.csv": csv_bytes(WEB_HEADER, web("w1"), web("w2", key="", user=COOKIE)),
    "d_truncated.csv": csv_bytes(WEB_HEADER, web("w3"), TRUNCATED, final_newline=False),
    "e_truncated_in_quotes.csv": csv_bytes(WEB_HEADER, web("w5"), OPEN_QUOTE,
                                           final_newline=False),
    # invalid UTF-8 bytes inside an identity hash (64 characters once decoded)
    "f_bad_bytes_in_key.csv": (csv_bytes(WEB_HEADER) + BAD_KEY_PREFIX.encode()
                               + b"\xff\xfe\xc3(" + BAD_KEY_TAIL.encode() + b"\n"),
    "g_10mb_field.csv": csv_bytes(WEB_HEADER, web("w7", url="/" + "x" * TEN_MB)),
    "h_injection.csv": csv_bytes(WEB_HEADER, web("w8", key=INJECTION),
                                 web(INJECTED_ID, url="/it's")),
    # after the delivery month: far future, and the first instant past the 3-day tolerance;
    # the last second inside the tolerance is accepted; w1 again is a duplicate
    "i_future.csv": csv_bytes(WEB_HEADER, web("w9", ts="2027-06-05 10:00:00"),
                              web("w10", ts="2026-02-04 00:00:00"),
                              web("w11", ts="2026-02-03 23:59:59"), web("w1")),
}
SALES_FILE = csv_bytes(
    SALES_HEADER,
    f"g1,{K1},MORTGAGE,2026-01-10,SIGNED,1000,branch",
    f"g2,{K1},YACHT_LOAN,2026-01-11,SIGNED,500,web",  # unknown product code
    f"g3,{K2},MORTGAGE,2030-01-01,SIGNED,1,branch",  # signed in the future
    f"g4,{K2},,2026-01-12,PENDING,,app",  # product code empty
)
APP_ROW = {"app_event_id": "a1", "identity_id_hash": K1, "event_ts": "2026-01-05 10:00:00",
           "event_type": "login", "screen_name": None, "product_area": "GENERAL", "os": "ios",
           "duration_sec": "3.5"}


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def landed(spark, tmp_path_factory):
    """web and prodeje January deliveries full of bad input, ingested once; returns
    (config, audit rows by source, log messages of the run)."""
    cfg = make_config(tmp_path_factory.mktemp("bad_input"))
    for name, content in WEB_FILES.items():
        deliver(cfg, "web", "2026-01", name, content)
    # a folder whose name tries to break a replaceWhere predicate: not a delivery, ignored
    deliver(cfg, "web", "2026-01' OR '1'='1", "part-0.csv", csv_bytes(WEB_HEADER, web("q1")))
    deliver(cfg, "prodeje", "2026-01", "part-0.csv", SALES_FILE)

    handler, logger = Collect(), logging.getLogger("segrec_spark")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        rows = job.run(spark, cfg, ["web", "prodeje"])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return cfg, {r["source"]: r for r in rows}, handler.messages


def test_bad_rows_are_quarantined_with_their_reason_and_raw_line(spark, landed):
    cfg, rows, _ = landed
    web_audit = rows["web"]
    assert (web_audit["rows_read"], web_audit["rows_accepted"], web_audit["rows_quarantined"],
            web_audit["duplicates_dropped"], web_audit["status"]) == (14, 7, 6, 1, "OK")
    assert web_audit["quarantine_reasons"] == {"MALFORMED_KEY": 2, "OUT_OF_PERIOD": 2,
                                               "WRONG_FIELD_COUNT": 2}
    assert web_audit["files"] == sorted(WEB_FILES)

    quarantine = (ops(spark, cfg, "quarantine").filter(F.col("source") == "web")
                  .select("source_file", "reason", "raw_record"))
    where = "web/2026-01/"
    assert_df_equality(quarantine, spark.createDataFrame([
        (where + "d_truncated.csv", "WRONG_FIELD_COUNT", TRUNCATED),
        (where + "e_truncated_in_quotes.csv", "WRONG_FIELD_COUNT", OPEN_QUOTE),
        # undecodable bytes read as U+FFFD: the key is malformed, the row kept as read
        (where + "f_bad_bytes_in_key.csv", "MALFORMED_KEY",
         BAD_KEY_PREFIX + "\ufffd\ufffd\ufffd(" + BAD_KEY_TAIL),
        (where + "h_injection.csv", "MALFORMED_KEY", web("w8", key=INJECTION)),
        (where + "i_future.csv", "OUT_OF_PERIOD", web("w9", ts="2027-06-05 10:00:00")),
        (where + "i_future.csv", "OUT_OF_PERIOD", web("w10", ts="2026-02-04 00:00:00")),
    ], "source_file string, reason string, raw_record string"),
        ignore_row_order=True, ignore_nullable=True)


def test_good_rows_next_to_bad_ones_reach_bronze_intact(spark, landed):
    cfg, _, _ = landed
    got = bronze(spark, cfg, "web").select(
        "event_id", "user_id", "identity_id_hash", F.length("page_url").alias("url_length"),
        F.substring("page_url", 1, 6).alias("url_start"), "_source_file")
    where = "web/2026-01/"
    assert_df_equality(got, spark.createDataFrame([
        ("w1", "u1", K1, 2, "/m", where + "c_good.csv"),
        ("w2", COOKIE, None, 2, "/m", where + "c_good.csv"),  # anonymous visitor
        ("w3", "u1", K1, 2, "/m", where + "d_truncated.csv"),
        ("w5", "u1", K1, 2, "/m", where + "e_truncated_in_quotes.csv"),
        # a 10 MB field is data like any other: kept whole, nothing crashes
        ("w7", "u1", K1, TEN_MB + 1, "/xxxxx", where + "g_10mb_field.csv"),
        # SQL in a value is stored as text; it never becomes SQL
        (INJECTED_ID, "u1", K1, 5, "/it's", where + "h_injection.csv"),
        ("w11", "u1", K1, 2, "/m", where + "i_future.csv"),
    ], "event_id string, user_id string, identity_id_hash string, url_length int, "
       "url_start string, _source_file string"), ignore_row_order=True, ignore_nullable=True)


def test_audit_counts_match_bronze_and_quarantine(spark, landed):
    cfg, _, _ = landed
    audit = assert_counts_add_up(spark, cfg)
    assert sorted((r["source"], r["delivery"], r["rows_read"]) for r in audit) == [
        ("prodeje", "2026-01", 4), ("web", "2026-01", 14)]


def test_empty_files_are_named_in_the_audit(landed):
    _, rows, _ = landed
    assert "empty file(s) (0 bytes, no rows): a_empty.csv, a_empty.csv.gz" in rows["web"]["message"]


def test_empty_parquet_file_next_to_a_good_one_is_an_empty_file_not_an_error(spark, tmp_path):
    cfg = make_config(tmp_path)
    deliver(cfg, "app_logins", "2026-01", "a_good.parquet", parquet_bytes([APP_ROW]))
    deliver(cfg, "app_logins", "2026-01", "b_empty.parquet", b"")
    checked = job.check_delivery(spark, cfg, SOURCES["app_logins"], "2026-01")
    assert checked.files == ["a_good.parquet", "b_empty.parquet"]
    assert checked.empty_files == ("b_empty.parquet",)
    assert [s.path.rsplit("/", 1)[-1] for s in checked.schemas] == ["a_good.parquet"]


def test_unknown_product_code_in_sales_is_kept_as_unknown_and_flagged(spark, landed):
    cfg, rows, _ = landed
    assert (rows["prodeje"]["rows_accepted"], rows["prodeje"]["quarantine_reasons"]) == (
        3, {"OUT_OF_PERIOD": 1})  # g3, signed in 2030
    got = bronze(spark, cfg, "prodeje").select("agreement_id", "product_code",
                                                "_has_unknown_category")
    assert_df_equality(got, spark.createDataFrame(
        [("g1", "MORTGAGE", False), ("g2", "UNKNOWN", True), ("g4", "UNKNOWN", True)],
        "agreement_id string, product_code string, _has_unknown_category boolean"),
        ignore_row_order=True, ignore_nullable=True)


def test_unknown_product_code_is_quarantined_when_the_policy_rejects(spark):
    columns = [*SOURCES["prodeje"].column_names, "_corrupt_record"]
    frame = spark.createDataFrame(
        [("g1", K1, "MORTGAGE", "2026-01-10", "SIGNED", "1", "branch", None),
         ("g2", K1, "YACHT_LOAN", "2026-01-11", "SIGNED", "1", "web", None)],
        ", ".join(f"{c} string" for c in columns))
    got = frame.transform(flag_rejects(CONTRACT, SOURCES["prodeje"], delivery_period("2026-01", 3),
                                       IngestSettings(unknown_category="reject")))
    assert sorted(tuple(r) for r in got.select("agreement_id", "_reject_reason").collect()) == [
        ("g1", None), ("g2", "UNKNOWN_CATEGORY")]


def test_injection_text_drops_no_table_and_odd_folder_names_are_not_deliveries(spark, landed):
    cfg, rows, _ = landed
    assert spark.catalog.tableExists("bronze.web")
    assert bronze(spark, cfg, "web").count() == rows["web"]["rows_accepted"]
    assert [r["_delivery"] for r in bronze(spark, cfg, "web").select("_delivery").distinct()
            .collect()] == ["2026-01"]
    assert bronze(spark, cfg, "web").filter(F.col("event_id") == "q1").count() == 0
    with pytest.raises(ConfigError, match="expected a month YYYY-MM"):
        job.run(spark, cfg, ["web"], ["2026-01' OR '1'='1"])
    with pytest.raises(ConfigError, match="unknown source"):
        job.run(spark, cfg, ["web' OR '1'='1"])


def test_logs_carry_counts_but_no_delivered_values(landed):
    _, _, messages = landed
    text = "\n".join(messages)
    assert ("web/2026-01: read 14 = accepted 7 + quarantined 6 + duplicates dropped 1"
            in text)
    for delivered in (COOKIE, INJECTION, INJECTED_ID, K1, "/half-writ", "YACHT_LOAN"):
        assert delivered not in text


def test_sql_literal_keeps_hostile_values_inside_the_literal(spark):
    """replaceWhere predicates are built with sql_literal: a value can never end the literal."""
    hostile = ["x' OR '1'='1", "a\\'b", "back\\slash", "2026-01'; DROP TABLE bronze.web; --",
               'double"quote', "new\nline", "Příbram"]
    select = ", ".join(f"{sql_literal(v)} AS v{i}" for i, v in enumerate(hostile))
    assert list(spark.sql(f"SELECT {select}").first()) == hostile

    # the predicate ingest builds for a slice matches exactly the named values
    frame = spark.createDataFrame([("web", v) for v in [*hostile, "2026-01"]],
                                  "source string, delivery string")
    picked = frame.filter(job._slice("web", [hostile[0], hostile[3]])).collect()
    assert sorted(r["delivery"] for r in picked) == sorted([hostile[0], hostile[3]])


# --- inputs that stop the source ----------------------------------------------------------------

GOOD_WEB = csv_bytes(WEB_HEADER, web("w1"))
GOOD_GZIP = gzip.compress(csv_bytes(WEB_HEADER, *[web(f"w{i}") for i in range(3000)]))
GOOD_PARQUET = parquet_bytes([APP_ROW])


@pytest.mark.parametrize(("source", "name", "content", "message"), [
    ("web", "x.csv", b"\x00\x9f" + random.Random(9).randbytes(4096),
     r"x\.csv: not a CSV file: it holds bytes that are not UTF-8 text"),
    ("web", "x.csv", GOOD_GZIP,
     r"x\.csv: not a CSV file: it starts like a gzip stream: compressed files must be named "
     r"\*\.csv\.gz"),
    ("web", "x.csv", GOOD_PARQUET, r"x\.csv: not a CSV file: it starts like a Parquet file"),
    ("web", "x.csv", csv_bytes(WEB_HEADER.replace(",", ";"), web("w2").replace(",", ";")),
     r"x\.csv: the header is one column of 9 names separated by ';'; the web contract is "
     r"comma-separated CSV"),
    ("web", "x.csv.gz", GOOD_GZIP[:12],
     r"x\.csv\.gz: cannot read its first line \(EOFException: Unexpected end of input stream\); "
     r"the file is truncated"),
    ("app_logins", "x.parquet", GOOD_PARQUET[:len(GOOD_PARQUET) // 2],
     r"x\.parquet: not a readable Parquet file \(.*is not a Parquet file"),
    ("app_logins", "x.parquet", GOOD_WEB,
     r"x\.parquet: not a readable Parquet file \(.*is not a Parquet file"),
], ids=["random_bytes", "gzip_named_csv", "parquet_named_csv", "semicolons",
        "gzip_cut_in_header", "parquet_cut", "csv_named_parquet"])
def test_unreadable_file_stops_its_source_before_anything_is_written(spark, tmp_path, source,
                                                                      name, content, message):
    cfg = make_config(tmp_path)
    good = ("part-0.csv", GOOD_WEB) if source == "web" else ("part-0.parquet", GOOD_PARQUET)
    deliver(cfg, source, "2026-01", *good)
    bad = deliver(cfg, source, "2026-01", name, content)
    with pytest.raises(SchemaMismatchError, match=message) as err:
        job.run(spark, cfg, [source])
    text = str(err.value)
    assert str(bad.parent) in text  # one line, full path, no Java trace
    assert "\n" not in text
    assert not (Path(cfg.paths.root) / "bronze").exists()
    assert not (Path(cfg.paths.root) / "ops").exists()


def test_text_that_is_not_utf8_stops_the_source_and_a_fixed_file_completes(spark, tmp_path):
    cfg = make_config(tmp_path)
    deliver(cfg, "web", "2026-01", "part-0.csv", csv_bytes(WEB_HEADER, web("w1"), web("w1")))
    # a Windows-1250 export: 'Příbram' is not UTF-8, its accented letters would be lost
    lines = [web("w2", ts="2026-02-02 10:00:00"),
             web("w3", ts="2026-02-02 10:00:00", url="/pobocky/Příbram")]
    bad = deliver(cfg, "web", "2026-02", "part-0.csv",
                  "\n".join([WEB_HEADER, *lines, ""]).encode("cp1250"))
    with pytest.raises(SchemaMismatchError) as err:
        job.run(spark, cfg, ["web"])
    text = str(err.value)
    assert ("web/2026-02: text that is not UTF-8 (bytes lost in decoding) in "
            "web/2026-02/part-0.csv: 1 row(s), column(s) page_url") in text
    assert "re-export the file(s) as UTF-8" in text
    assert "stopped at delivery 2026-02" in text
    assert "bram" not in text  # names the place, never the contents
    assert "w3" not in text
    # the delivery before it is written, nothing of the bad one
    audit = assert_counts_add_up(spark, cfg)
    assert [(r["delivery"], r["rows_read"], r["rows_accepted"], r["duplicates_dropped"])
            for r in audit] == [("2026-01", 2, 1, 1)]

    bad.write_bytes("\n".join([WEB_HEADER, *lines, ""]).encode("utf-8"))
    rows = job.run(spark, cfg, ["web"])
    assert [(r["delivery"], r["status"]) for r in rows] == [("2026-01", "UNCHANGED"),
                                                            ("2026-02", "OK")]
    assert_counts_add_up(spark, cfg)
    assert bronze(spark, cfg, "web").filter(F.col("event_id") == "w3").first()["page_url"] == \
        "/pobocky/Příbram"


def test_truncated_gzip_stops_the_source_with_the_file_named(spark, tmp_path):
    cfg = make_config(tmp_path)
    deliver(cfg, "web", "2026-01", "part-0.csv", GOOD_WEB)
    deliver(cfg, "web", "2026-02", "part-0.csv.gz", GOOD_GZIP[:len(GOOD_GZIP) // 2])
    with pytest.raises(SchemaMismatchError,
                       match=r"web/2026-02/part-0\.csv\.gz: cannot be read to its end "
                             r"\(EOFException: Unexpected end of input stream\); the file is "
                             r"truncated or corrupt\. Source web stopped at delivery 2026-02"):
        job.run(spark, cfg, ["web"])
    audit = assert_counts_add_up(spark, cfg)
    assert [(r["delivery"], r["rows_accepted"]) for r in audit] == [("2026-01", 1)]


# --- configuration ------------------------------------------------------------------------------

@pytest.mark.parametrize(("yaml_text", "message"), [
    ("ingest:\n  late_tolerance_days: -1\n", "ingest.late_tolerance_days: must be 0..31"),
    ("sql:\n  port: -80\n", "sql.port: must be 1..65535, found -80"),
    ("spark:\n  shuffle_partitions: 0\n", "spark.shuffle_partitions: must be >= 1"),
    ("paths:\n  root: [data, lake]\n", "paths.root: expected str, found list"),
    ("paths: data/lake\n", "paths: expected a mapping of settings, found str"),
    ("ingest:\n  force: maybe\n", "ingest.force: expected bool, found str 'maybe'"),
    ("ingest:\n  late_tolerance: 3\n", "ingest.late_tolerance: unknown setting (allowed here:"),
    ("ingest:\n  formats: {webb: csv}\n", "ingest.formats.webb: unknown source"),
    ("ingest:\n  formats: {web: xlsx}\n", "ingest.formats.web: expected csv, parquet, delta"),
    ("ingest:\n  unknown_category: drop\n", "ingest.unknown_category: expected flag or reject"),
    ("- spark\n- paths\n", "top level must be a mapping of sections"),
    ("spark: {master: [\n", "not valid YAML"),
])
def test_bad_config_value_names_file_and_key(tmp_path, yaml_text, message):
    file = tmp_path / "bad.yaml"
    file.write_text(yaml_text)
    # the default paths.contract is relative to the config's project root: give it one
    (tmp_path / "conf" / "contracts").mkdir(parents=True)
    (tmp_path / "conf" / "contracts" / "synthetic_bank.yaml").write_bytes(
        CONTRACT_FILE.read_bytes())
    with pytest.raises(ConfigError) as err:
        load_config(file)
    text = str(err.value)
    assert text.startswith(f"{file}: ")
    assert message in text
    assert "\n" not in text


def test_config_path_that_is_a_folder_is_named(tmp_path):
    with pytest.raises(ConfigError,
                       match=f"{re.escape(str(tmp_path))}: configuration path is not a file"):
        load_config(tmp_path)


def test_landing_path_that_is_missing_or_a_file_is_named(spark, tmp_path):
    cfg = make_config(tmp_path, f"paths.landing={tmp_path}/no/such/landing")
    missing = re.escape(f"{tmp_path}/no/such/landing")
    with pytest.raises(InputDataError,
                       match=f"landing folder .*{missing} does not exist \\(paths.landing\\)"):
        job.run(spark, cfg)
    (tmp_path / "landing.txt").write_text("not a folder")
    cfg = make_config(tmp_path, f"paths.landing={tmp_path}/landing.txt")
    with pytest.raises(InputDataError, match=r"landing\.txt is a file, not a folder"):
        job.run(spark, cfg)
