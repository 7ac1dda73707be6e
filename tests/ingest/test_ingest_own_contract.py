"""Ingest driven by a contract unlike the synthetic bank: other source and column names, a ``;``
delimiter, ``dd.MM.yyyy HH:mm`` times in Europe/Prague, a numeric customer id, one CSV, one
Parquet and one Delta source (at its own location), RFC 4180 quoting."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from chispa import assert_df_equality
from conftest import make_config

from segrec_spark.ingest import job
from segrec_spark.tables import read_table, table_path

CONTRACT = """
name: other_bank
key: {column: cislo_klienta, pattern: "^[0-9]+$"}
dialect:
  delimiter: ";"
  timestamp_format: "dd.MM.yyyy HH:mm"
  date_format: "dd.MM.yyyy"
  time_zone: Europe/Prague
products:
  - {code: HYPO, name: Hypoteka}
  - {code: KARTA}
extra_areas: [OSTATNI]
label_statuses: [PODEPSANO]
sources:
  navstevy:
    kind: events
    channel: portal
    format: csv
    columns:
      - {name: id_udalosti, type: string, role: event_id}
      - {name: cislo_klienta, type: key, role: key}
      - {name: cas, type: timestamp, role: time}
      - {name: typ, type: category, role: event_type, values: [zobrazeni, kalkulacka]}
      - {name: oblast, type: category, role: product_area}
      - {name: castka, type: long, role: amount, nullable: true}
      - {name: poznamka, type: string, role: ignore, nullable: true}
  smlouvy:
    kind: sales
    format: parquet
    partition_by_delivery: true
    columns:
      - {name: id_smlouvy, type: string, role: event_id}
      - {name: cislo_klienta, type: key, role: key}
      - {name: produkt, type: category, role: product}
      - {name: datum_podpisu, type: date, role: time}
      - {name: stav, type: category, role: status, values: [PODEPSANO, ZRUSENO]}
      - {name: vyse, type: double, role: amount, nullable: true}
      - {name: online, type: boolean, role: ignore, nullable: true}
  klienti:
    kind: clients
    format: delta
    location: LOCATION
    partition_by_delivery: true
    columns:
      - {name: cislo_klienta, type: key, role: key}
      - {name: segment, type: category, role: categorical, values: [A, B]}
      - {name: vek, type: int, role: numeric}
      - {name: datum, type: date, role: time}
"""
NAVSTEVY = [
    "id_udalosti;cislo_klienta;cas;typ;oblast;castka;poznamka",
    'e1;1001;15.01.2026 10:30;zobrazeni;HYPO;250;"/say ""hi"""',  # RFC 4180 doubled quotes
    "e2;1002;01.01.2026 00:30;kalkulacka;KARTA;;",  # 2025-12-31 23:30 UTC; empty number ok
    "e3;ABC;15.01.2026 10:30;zobrazeni;HYPO;1;",  # MALFORMED_KEY
    "e4;;15.01.2026 10:30;zobrazeni;HYPO;1;",  # MISSING_KEY (no cookie column)
    "e5;1003;2026-01-15 10:30:00;zobrazeni;HYPO;1;",  # BAD_TIMESTAMP (not the dialect's)
    "e6;1003;15.01.2026 10:30;zobrazeni;HYPO;12,5;",  # BAD_NUMBER (decimal comma in a long)
    "e7;1004;15.01.2026 10:30;neznamy;OSTATNI;1;",  # unknown event type: kept as UNKNOWN
    'e1;1001;15.01.2026 10:30;zobrazeni;HYPO;250;"/say ""hi"""',  # exact duplicate
    "e9;1005;15.03.2026 10:30;zobrazeni;HYPO;1;",  # OUT_OF_PERIOD
    "e10;1005;15.01.2026 10:30;zobrazeni",  # WRONG_FIELD_COUNT
]
SMLOUVY = [  # id_smlouvy, cislo_klienta, produkt, datum_podpisu, stav, vyse, online
    ("s1", "1001", "HYPO", "10.01.2026", "PODEPSANO", "1000.5", "Yes"),
    ("s2", "1002", "KARTA", "31.01.2026", "ZRUSENO", "", "0"),
    ("s3", "1003", "HYPO", "2026-01-10", "PODEPSANO", "5", None),  # BAD_TIMESTAMP
    ("s4", "1004", "HYPO", "11.01.2026", "PODEPSANO", "5", "maybe"),  # BAD_NUMBER (boolean)
    ("s5", "1005", "AUTO", "12.01.2026", "PODEPSANO", "5", None),  # unknown product: flagged
    ("s6", "12a", "HYPO", "12.01.2026", "PODEPSANO", "5", None),  # MALFORMED_KEY
]
COUNTS = "source string, rows_read long, rows_accepted long, rows_quarantined long, " \
         "duplicates_dropped long, quarantine_reasons map<string,bigint>"


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("own")
    location = tmp / "elsewhere" / "klienti"
    contract = tmp / "other_bank.yaml"
    contract.write_text(CONTRACT.replace("LOCATION", str(location)), encoding="utf-8")
    cfg = make_config(tmp, f"paths.contract={contract}")
    folder = Path(cfg.paths.landing) / "navstevy" / "2026-01"
    folder.mkdir(parents=True)
    (folder / "part-0.csv").write_text("\n".join(NAVSTEVY) + "\n", encoding="utf-8")
    columns = cfg.contract.sources["smlouvy"].column_names
    (spark.createDataFrame(SMLOUVY, ", ".join(f"{c} string" for c in columns)).coalesce(1)
     .write.parquet(f"{cfg.paths.landing}/smlouvy/2026-01"))
    (spark.createDataFrame(
        [("1001", "A", 35, dt.date(2026, 1, 31)), ("1002", "C", 40, dt.date(2026, 1, 31)),
         ("x1", "A", 30, dt.date(2026, 1, 31))],
        "cislo_klienta string, segment string, vek int, datum date")
     .coalesce(1).write.format("delta").save(f"{location}/2026-01"))
    rows = job.run(spark, cfg)
    return cfg, {r["source"]: r for r in rows}


def bronze(spark, cfg, source):
    return read_table(spark, table_path(cfg.paths.root, "bronze", source))


def test_counts_add_up_with_the_reasons_of_each_source(spark, ingested):
    cfg, rows = ingested
    got = spark.createDataFrame(
        [(s, r["rows_read"], r["rows_accepted"], r["rows_quarantined"], r["duplicates_dropped"],
          r["quarantine_reasons"]) for s, r in sorted(rows.items())], COUNTS)
    assert_df_equality(got, spark.createDataFrame([
        ("klienti", 3, 2, 1, 0, {"MALFORMED_KEY": 1}),
        ("navstevy", 10, 3, 6, 1, {"BAD_NUMBER": 1, "BAD_TIMESTAMP": 1, "MALFORMED_KEY": 1,
                                   "MISSING_KEY": 1, "OUT_OF_PERIOD": 1,
                                   "WRONG_FIELD_COUNT": 1}),
        ("smlouvy", 6, 3, 3, 0, {"BAD_NUMBER": 1, "BAD_TIMESTAMP": 1, "MALFORMED_KEY": 1}),
    ], COUNTS), ignore_nullable=True)
    for r in rows.values():
        assert r["rows_read"] == r["rows_accepted"] + r["rows_quarantined"] + r["duplicates_dropped"]
    quarantined = read_table(spark, table_path(cfg.paths.root, "ops", "quarantine"))
    assert quarantined.count() == sum(r["rows_quarantined"] for r in rows.values())


def test_csv_source_lands_typed_in_utc_with_the_banks_column_names(spark, ingested):
    cfg, _ = ingested
    got = bronze(spark, cfg, "navstevy").select(
        "id_udalosti", "cislo_klienta", "cas", "typ", "oblast", "castka", "poznamka",
        "_has_unknown_category", "event_date")
    assert_df_equality(got, spark.createDataFrame([
        ("e1", "1001", dt.datetime(2026, 1, 15, 9, 30), "zobrazeni", "HYPO", 250, '/say "hi"',
         False, dt.date(2026, 1, 15)),
        ("e2", "1002", dt.datetime(2025, 12, 31, 23, 30), "kalkulacka", "KARTA", None, None,
         False, dt.date(2025, 12, 31)),
        ("e7", "1004", dt.datetime(2026, 1, 15, 9, 30), "UNKNOWN", "OSTATNI", 1, None,
         True, dt.date(2026, 1, 15)),
    ], "id_udalosti string, cislo_klienta string, cas timestamp, typ string, oblast string, "
       "castka bigint, poznamka string, _has_unknown_category boolean, event_date date"),
        ignore_row_order=True, ignore_nullable=True)


def test_parquet_source_parses_dates_numbers_and_booleans(spark, ingested):
    cfg, _ = ingested
    table = bronze(spark, cfg, "smlouvy")
    got = table.select("id_smlouvy", "produkt", "datum_podpisu", "stav", "vyse", "online",
                       "_delivery")
    assert_df_equality(got, spark.createDataFrame([
        ("s1", "HYPO", dt.date(2026, 1, 10), "PODEPSANO", 1000.5, True, "2026-01"),
        ("s2", "KARTA", dt.date(2026, 1, 31), "ZRUSENO", None, False, "2026-01"),
        ("s5", "UNKNOWN", dt.date(2026, 1, 12), "PODEPSANO", 5.0, None, "2026-01"),
    ], "id_smlouvy string, produkt string, datum_podpisu date, stav string, vyse double, "
       "online boolean, _delivery string"), ignore_row_order=True, ignore_nullable=True)


def test_delta_source_at_its_own_location_is_validated_like_text(spark, ingested):
    cfg, _ = ingested
    got = bronze(spark, cfg, "klienti").select("cislo_klienta", "segment", "vek", "datum")
    assert_df_equality(got, spark.createDataFrame([
        ("1001", "A", 35, dt.date(2026, 1, 31)), ("1002", "UNKNOWN", 40, dt.date(2026, 1, 31)),
    ], "cislo_klienta string, segment string, vek int, datum date"),
        ignore_row_order=True, ignore_nullable=True)
