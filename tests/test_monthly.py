"""A bank's monthly operation on a generated sequence of monthly deliveries.

Four months are generated; April's deliveries are held back. The pipeline runs on January to
March, then April arrives and the pipeline runs again: ingest skips the three months it has,
April becomes one more slice everywhere, and every earlier slice, model version and report
stays as it was. A re-run of April changes no data. Then a corrected April export of one
source is re-delivered (a backfill): ingest replaces that delivery only and names the
gold.client_features slices computed from the earlier rows, without recomputing them.
"""
from __future__ import annotations

import datetime as dt
import logging
import shutil
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from mlflow.tracking import MlflowClient
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segrec_spark import pipeline
from segrec_spark.generate import job as generate_job
from segrec_spark.ingest import job as ingest_job
from segrec_spark.registry import configure_mlflow, segmentation_model_name
from segrec_spark.scoring import job as score_job
from segrec_spark.tables import read_table, table_path
from tests.conftest import E2E_OVERRIDES, make_config

pytestmark = pytest.mark.integration

APRIL = "2026-04"
GOLD = ("client_features", "labels", "segment_profiles", "model_metrics", "client_segments",
        "segment_migration", "product_rankings", "campaign_plan", "next_best_offer")
PROVENANCE = ("scored_at",)  # when a row was written, not what it says


def _hold_back(landing: Path, held: Path, month: str) -> None:
    for source in sorted(landing.iterdir()):
        if (source / month).is_dir():
            shutil.move(source / month, held / source.name / month)


def _version(spark, cfg, layer: str, name: str) -> int:
    table = DeltaTable.forPath(spark, table_path(cfg.paths.root, layer, name))
    return int(table.history(1).select("version").first()[0])


def _at(spark, cfg, layer: str, name: str, version: int | None = None) -> DataFrame:
    return read_table(spark, table_path(cfg.paths.root, layer, name), version)


def _same_rows(a: DataFrame, b: DataFrame) -> bool:
    return a.exceptAll(b).isEmpty() and b.exceptAll(a).isEmpty()


def _as_of_dates(df: DataFrame) -> list[dt.date]:
    return sorted(r[0] for r in df.select("as_of_date").distinct().collect())


def test_months_arrive_one_by_one_and_every_earlier_slice_stays(spark, tmp_path, caplog):
    cfg = make_config(tmp_path, "generator.scale=tiny", "generator.months=4", *E2E_OVERRIDES)
    generate_job.run(spark, cfg)
    landing, held = Path(cfg.paths.landing), tmp_path / "not_yet_delivered"
    _hold_back(landing, held, APRIL)

    # --- January to March -----------------------------------------------------------------
    march = pipeline.run(spark, cfg, skip_generate=True)
    march_as_of = march.outputs["score"]["as_of_date"]
    assert march_as_of == dt.date(2026, 4, 1)
    versions = {name: _version(spark, cfg, "gold", name) for name in GOLD}
    march_dates = {name: _as_of_dates(_at(spark, cfg, "gold", name)) for name in GOLD}
    sources = sorted(p.name for p in landing.iterdir())
    bronze_versions = {s: _version(spark, cfg, "bronze", s) for s in sources}
    report = Path(cfg.paths.reports) / f"run_report_{march_as_of}.html"
    report_bytes = report.read_bytes()

    # --- April arrives ----------------------------------------------------------------------
    _hold_back(held, landing, APRIL)
    april = pipeline.run(spark, cfg, skip_generate=True)
    april_as_of = april.outputs["score"]["as_of_date"]
    assert april_as_of == dt.date(2026, 5, 1)
    statuses = {(r["source"], r["delivery"]): r["status"] for r in april.outputs["ingest"]}
    assert {k: v for k, v in statuses.items() if k[1] == APRIL} == {
        (s, APRIL): "OK" for s in sources if (landing / s / APRIL).is_dir()}
    assert {v for k, v in statuses.items() if k[1] != APRIL} == {"UNCHANGED"}
    for source in sources:  # the earlier deliveries' bronze rows are the same rows
        earlier = F.col("_delivery") != APRIL
        assert _same_rows(_at(spark, cfg, "bronze", source, bronze_versions[source]).filter(earlier),
                          _at(spark, cfg, "bronze", source).filter(earlier)), source
    for name in GOLD:  # every slice the March run wrote holds the same rows
        now = _at(spark, cfg, "gold", name)
        for as_of in march_dates[name]:
            in_slice = F.col("as_of_date") == F.lit(as_of)
            assert _same_rows(_at(spark, cfg, "gold", name, versions[name]).filter(in_slice),
                              now.filter(in_slice)), (name, as_of)
    for name in ("client_segments", "product_rankings", "next_best_offer", "campaign_plan",
                 "segment_migration"):
        assert _as_of_dates(_at(spark, cfg, "gold", name)) == [march_as_of, april_as_of], name
    assert report.read_bytes() == report_bytes
    assert (Path(cfg.paths.reports) / f"run_report_{april_as_of}.html").is_file()
    configure_mlflow(cfg)  # the March models are still registered, beside April's
    seg_name = segmentation_model_name(cfg)
    seg_versions = [int(v.version) for v in
                    MlflowClient().search_model_versions(f"name = '{seg_name}'")]
    assert sorted(seg_versions) == [1, 2]
    assert march.outputs["train"]["segmentation"]["version"] == "1"
    # April's segmentation continues March's: the same behaviours keep their ids
    k = april.outputs["train"]["segmentation"]["k"]
    assert len(april.outputs["train"]["segmentation"]["continued"]) >= k - 1

    # Segment ids carry over from March's model; migration counts every client once per side.
    migration = _at(spark, cfg, "gold", "segment_migration").filter(
        F.col("as_of_date") == F.lit(april_as_of)).collect()
    segments = _at(spark, cfg, "gold", "client_segments")
    count_at = {d: segments.filter(F.col("as_of_date") == F.lit(d)).count()
                for d in (march_as_of, april_as_of)}
    assert {r["previous_as_of_date"] for r in migration} == {march_as_of}
    assert sum(r["clients"] for r in migration if r["from_segment_id"] is not None) == \
        count_at[march_as_of]
    assert sum(r["clients"] for r in migration if r["to_segment_id"] is not None) == \
        count_at[april_as_of]
    by_movement: dict[str, int] = {}
    for r in migration:
        by_movement[r["movement"]] = by_movement.get(r["movement"], 0) + r["clients"]
    assert by_movement.get("stayed", 0) > by_movement.get("moved", 0), by_movement

    # --- April again: nothing new, no data changes ------------------------------------------
    before = {name: _version(spark, cfg, "gold", name) for name in GOLD}
    audit_version = _version(spark, cfg, "ops", "ingest_audit")
    rows = ingest_job.run(spark, cfg)
    assert {r["status"] for r in rows} == {"UNCHANGED"}
    assert _version(spark, cfg, "ops", "ingest_audit") == audit_version
    score_job.run(spark, cfg, april_as_of, report=False)
    for name in ("client_segments", "segment_migration", "product_rankings", "campaign_plan",
                 "next_best_offer"):
        in_slice = F.col("as_of_date") == F.lit(april_as_of)
        old = _at(spark, cfg, "gold", name, before[name]).filter(in_slice)
        new = _at(spark, cfg, "gold", name).filter(in_slice)
        keep = [c for c in old.columns if c not in PROVENANCE]
        assert _same_rows(old.select(keep), new.select(keep)), name

    # --- a corrected April export of web (a backfill) ---------------------------------------
    web_file = sorted((landing / "web" / APRIL).glob("*.csv"))[0]
    lines = web_file.read_text(encoding="utf-8").splitlines(keepends=True)
    web_file.write_text("".join(lines[:-5]), encoding="utf-8")  # five rows fewer
    # the generator wrote the file with Hadoop, which would check it against its .crc sidecar
    (web_file.parent / f".{web_file.name}.crc").unlink(missing_ok=True)
    gold_before = {name: _version(spark, cfg, "gold", name) for name in GOLD}
    bronze_before = {s: _version(spark, cfg, "bronze", s) for s in sources}
    with caplog.at_level(logging.WARNING, logger="segrec_spark.ingest"):
        rows = ingest_job.run(spark, cfg)
    changed = {(r["source"], r["delivery"]) for r in rows if r["status"] != "UNCHANGED"}
    assert changed == {("web", APRIL)}
    assert {s: _version(spark, cfg, "bronze", s) for s in sources} == {
        **bronze_before, "web": bronze_before["web"] + 1}
    earlier = F.col("_delivery") != APRIL
    assert _same_rows(_at(spark, cfg, "bronze", "web", bronze_before["web"]).filter(earlier),
                      _at(spark, cfg, "bronze", "web").filter(earlier))
    # gold is left as it is, and the warning names exactly the slices after 2026-03-29
    # (April's first day minus ingest.late_tolerance_days)
    assert {name: _version(spark, cfg, "gold", name) for name in GOLD} == gold_before
    stale = [d for d in _as_of_dates(_at(spark, cfg, "gold", "client_features"))
             if d > dt.date(2026, 3, 29)]
    assert stale == [march_as_of, april_as_of]
    warnings = [r.getMessage() for r in caplog.records if "replaced data ingested before" in
                r.getMessage()]
    assert len(warnings) == 1
    assert "web/2026-04" in warnings[0]
    assert ", ".join(d.isoformat() for d in stale) in warnings[0]
    assert "gold.labels" not in warnings[0]  # web is not where labels come from
