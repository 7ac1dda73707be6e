"""The benchmark's DuckDB yardstick (bench/duckdb_features.py) builds Spark's feature tables.

The yardstick is only a fair measure if DuckDB computes the same tables: on the shared pipeline
run, its client features and labels must equal Spark's row by row. The comparison itself must
see a changed value and a missing row.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("duckdb_features",
                                              ROOT / "bench" / "duckdb_features.py")
yardstick = importlib.util.module_from_spec(spec)
spec.loader.exec_module(yardstick)

duckdb = pytest.importorskip("duckdb")


@pytest.mark.integration  # on the shared end-to-end run: `make test-slow`
def test_duckdb_builds_the_same_client_features_and_labels_as_spark(e2e, tmp_path):
    cfg, _ = e2e
    lake = Path(cfg.paths.root)
    dates = yardstick.written_dates(lake, "client_features")
    labelled = yardstick.written_dates(lake, "labels")
    assert dates
    assert labelled

    result = yardstick.yardstick(lake, dates, labelled, cfg.features, cfg.contract, threads=2,
                                 out=tmp_path)

    features, labels = result["check"]["client_features"], result["check"]["labels"]
    assert features["joined"] > 0
    assert labels["joined"] > 0
    assert result["identical"], yardstick.describe(result["check"])
    assert features["columns"] == len(yardstick.feature_sql(cfg.features, cfg.contract))
    assert (tmp_path / "duckdb" / "client_features").is_dir()
    assert result["seconds"] > 0


def test_the_comparison_counts_changed_values_and_rows_missing_on_either_side():
    con = duckdb.connect()
    con.execute("CREATE TABLE d AS SELECT * FROM (VALUES (DATE '2026-01-01', 'a', 1.0, 'x'), "
                "(DATE '2026-01-01', 'b', 2.0, 'y'), (DATE '2026-01-01', 'c', 3.0, 'z')) "
                "t(as_of_date, identity_id_hash, v, s)")
    con.execute("CREATE TABLE s AS SELECT * FROM (VALUES (DATE '2026-01-01', 'a', 1.0, 'x'), "
                "(DATE '2026-01-01', 'b', 2.0 + 1e-12, 'Y'), (DATE '2026-01-01', 'c', 3.5, 'z'), "
                "(DATE '2026-01-01', 'e', 0.0, 'w')) t(as_of_date, identity_id_hash, v, s)")
    con.execute("INSERT INTO d VALUES (DATE '2026-01-02', 'a', 1.0, 'x')")

    result = yardstick.compare(con, "d", "s", ("as_of_date", "identity_id_hash"), ["v"], ["s"])

    assert result == {"only_duckdb": 1, "only_spark": 1, "joined": 3, "columns": 2,
                      "differing_columns": {"v": 1, "s": 1}}
    assert not yardstick.identical({"t": result})


def test_the_features_sql_follows_the_registry_and_stops_when_it_does_not(tmp_config,
                                                                         monkeypatch):
    from segrec_spark.features.definitions import feature_definitions

    names = [name for name, _ in yardstick.feature_sql(tmp_config.features, tmp_config.contract)]
    assert names == [d.name for d in feature_definitions(tmp_config.features,
                                                         tmp_config.contract)]
    monkeypatch.setattr(yardstick, "feature_sql", lambda s, c: [("other", "1")])
    with pytest.raises(SystemExit, match="feature registry changed"):
        yardstick.features_select(tmp_config.features, tmp_config.contract)


def test_a_session_gap_and_midnight_start_new_sessions():
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE raw AS SELECT * FROM (VALUES "
                "('k', TIMESTAMP '2026-01-01 23:50:00', 'e1'), "
                "('k', TIMESTAMP '2026-01-01 23:59:00', 'e2'), "
                "('k', TIMESTAMP '2026-01-02 00:05:00', 'e3'), "
                "('k', TIMESTAMP '2026-01-02 00:50:00', 'e4')) t(key, ts, id)")

    class Source:
        name, kind, channel, passive_event_types = "raw", "events", "web", ()

    con.execute("CREATE VIEW c_raw AS SELECT key AS identity_id_hash, NULL::VARCHAR AS user_id, "
                "id AS event_id, ts AS event_ts, NULL::VARCHAR AS event_type, "
                "NULL::VARCHAR AS product_area, NULL::DOUBLE AS duration_sec FROM raw")
    rows = con.execute(yardstick.sessionized_sql([Source()], gap_minutes=30)
                       + " ORDER BY event_ts").fetchall()
    starts = [r[-1] for r in rows]
    assert starts == [dt.datetime(2026, 1, 1, 23, 50), dt.datetime(2026, 1, 1, 23, 50),
                      dt.datetime(2026, 1, 2, 0, 5), dt.datetime(2026, 1, 2, 0, 50)]
