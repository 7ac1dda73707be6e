"""The run report in a real headless browser (Debian's chromium + chromium-driver, Selenium).

Built from small hand-made gold tables (not the pipeline): the page loads, logs no SEVERE console
entry, every chart is rendered (naturalWidth > 0) and nothing overflows a 1366 x 768 screen.
CI installs chromium (.ci/run); the test is skipped only where the browser is absent.
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from chispa import assert_approx_df_equality
from pyspark.sql import functions as F

from segrec_spark.scoring.report import build_report, model_metrics_table, tier_summary
from segrec_spark.tables import table_path, write_slice
from tests.conftest import make_config

D = dt.date(2026, 4, 1)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HAS_BROWSER = Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()


def test_tier_summary_expected_and_observed(spark):
    rankings = spark.createDataFrame(
        [("a", "P", "High Value Engaged", 0.5), ("b", "P", "High Value Engaged", 0.25),
         ("c", "P", "Low Engagement", 0.125)],
        "identity_id_hash string, product_code string, propensity_tier string, probability double")
    purchases = spark.createDataFrame([("a", "P"), ("a", "P"), ("c", "Q")],
                                      "identity_id_hash string, product_code string")
    got = tier_summary(rankings, purchases)
    expected = spark.createDataFrame(
        [("P", "High Value Engaged", 2, 0.75, 1, 0.375, 0.5, 1),
         ("P", "Low Engagement", 1, 0.125, 0, 0.125, 0.0, 4)],
        "product_code string, propensity_tier string, clients long, expected_conversions double, "
        "observed_buyers long, expected_rate double, observed_rate double, tier_order long")
    assert_approx_df_equality(got, expected, 1e-12, ignore_nullable=True, ignore_row_order=True)


def test_model_metrics_table_reads_the_names_evaluation_writes(spark):
    metrics = spark.createDataFrame(
        [("P", "random_forest", "champion", "roc_auc", 0.8), ("P", "random_forest", "champion", "lift_top10", 3.0),
         ("P", "random_forest", "champion", "capture_top10", 0.3), ("P", "baseline", "baseline", "lift_top10", 1.5),
         ("P", "random_forest", "champion", "brier", 0.01)],
        "product_code string, model string, role string, metric string, value double")
    row = model_metrics_table(metrics).first().asDict()
    assert row["champion lift_top10"] == 3.0
    assert row["champion capture_top10"] == 0.3
    assert row["baseline lift_top10"] == 1.5
    assert row["champion roc_auc"] == 0.8
    assert "champion brier" not in row


def _write_gold(spark, cfg) -> None:
    root = cfg.paths.root
    tiers = ["High Value Engaged", "Potential Upsell", "Nurture and Educate", "Low Engagement"]
    products = ["MORTGAGE", "CONSUMER_LOAN", "CREDIT_CARD", "SAVINGS"]
    rankings = spark.range(400).select(
        F.lit(D).alias("as_of_date"),
        F.element_at(F.array(*[F.lit(p) for p in products]), (F.col("id") % 4 + 1).cast("int")).alias("product_code"),
        F.sha2(F.col("id").cast("string"), 256).alias("identity_id_hash"),
        (F.lit(0.05) / (F.col("id") + 1)).alias("probability"),
        (F.floor(F.col("id") / 4) + 1).cast("int").alias("rank"),
        (F.floor(F.col("id") / 40) + 1).cast("int").alias("decile"),
        F.element_at(F.array(*[F.lit(t) for t in tiers]), (F.floor(F.col("id") / 100) + 1).cast("int"))
        .alias("propensity_tier"),
        F.lit("1").alias("model_version"),
        F.element_at(F.array(*[F.lit(t) for t in ("contact", "control", "opted_out")]),
                     (F.col("id") % 3 + 1).cast("int")).alias("contact_status"))
    write_slice(rankings, table_path(root, "gold", "product_rankings"), None, ["as_of_date"])
    metrics = spark.createDataFrame(
        [(D, p, "random_forest", role, m, v, "r", "1") for p in products
         for role in ("champion", "baseline", "oracle")
         for m, v in (("roc_auc", 0.7), ("pr_auc", 0.05), ("lift_top10", 2.5), ("capture_top10", 0.25))],
        "as_of_date date, product_code string, model string, role string, metric string, value double, "
        "run_id string, model_version string")
    write_slice(metrics, table_path(root, "gold", "model_metrics"), None, ["as_of_date"])
    # Many segments make the holding / conversion table (a column per segment) wider than the
    # window: it must scroll in its own box, not push the page sideways.
    wide = {f"{kind}_rate_{p.lower()}": 0.123456 for p in products
            for kind in ("holding", "conversion")}
    profiles = spark.createDataFrame(
        [{"as_of_date": D, "segment_id": s, "size": 100 * (s + 1), "share": 0.25,
          "segment_name": f"mobile-first, high engagement #{s}",
          "description": "holds mortgage, high app events 30d, age band 26-35, no investment fund",
          **wide} for s in range(16)])
    write_slice(profiles, table_path(root, "gold", "segment_profiles"), None, ["as_of_date"])
    before = D - dt.timedelta(days=31)
    migration = spark.createDataFrame(
        [(D, before, 0, "web-first", 0, "web-first", "stayed", 90, 0.9),
         (D, before, 0, "web-first", 1, "branch-only", "moved", 10, 0.1),
         (D, before, None, None, 1, "branch-only", "joined", 5, None)],
        "as_of_date date, previous_as_of_date date, from_segment_id int, from_segment_name string, "
        "to_segment_id int, to_segment_name string, movement string, clients long, "
        "share_of_from_segment double")
    write_slice(migration, table_path(root, "gold", "segment_migration"), None, ["as_of_date"])
    plan = spark.createDataFrame(
        [(D, p, share, int(100 * share), 0.01, 2.0 * share, 600.0 * share, 50.0 * share,
          profit, profit == 90.0, "1")
         for p in products
         for share, profit in ((0.01, 10.0), (0.1, 90.0), (0.5, 40.0), (1.0, -20.0))],
        "as_of_date date, product_code string, audience_share double, clients long, "
        "min_probability double, expected_conversions double, expected_revenue double, "
        "expected_cost double, expected_profit double, best_size boolean, model_version string")
    write_slice(plan, table_path(root, "gold", "campaign_plan"), None, ["as_of_date", "product_code"])


@pytest.fixture(scope="module")
def report_file(spark, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    cfg = make_config(tmp)
    _write_gold(spark, cfg)
    out = tmp / "report.html"
    out.write_text(build_report(spark, cfg, D), encoding="utf-8")
    return out


def test_report_sections(report_file):
    text = report_file.read_text()
    for section in ("Model vs baseline vs oracle", "Segments", "Propensity tiers",
                    "Campaign plan", "champion lift_top10", "expected_conversions",
                    "Who may be contacted", "opted_out", "holds mortgage, high app events 30d",
                    "Segment movement", f"at {D - dt.timedelta(days=31)} (the previous scoring)",
                    "<td>web-first</td><td>branch-only</td><td>10</td>"):
        assert section in text
    assert text.count("data:image/png;base64,") >= 1  # the profit chart (no gains: no future sales)


@pytest.mark.skipif(not HAS_BROWSER, reason=f"chromium / chromedriver not installed ({CHROMIUM}, "
                                            f"{CHROMEDRIVER}); CI installs them (.ci/run)")
def test_report_renders_in_a_headless_browser(report_file, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
                 "--window-size=1366,768"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_window_size(1366, 768)
        driver.get(report_file.as_uri())
        assert driver.execute_script("return document.readyState") == "complete"
        assert "segrec_spark" in driver.title
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
        assert len(images) >= 1, images
        assert all(done and width > 0 for done, width in images), images
        scroll, client = driver.execute_script(
            "const e = document.documentElement; return [e.scrollWidth, e.clientWidth]")
        assert client > 1000, (scroll, client)
        assert scroll <= client, (scroll, client)
        wide = driver.execute_script(
            "return Array.from(document.querySelectorAll('.scroll'))"
            ".filter(d => d.scrollWidth > d.clientWidth).length")
        assert wide >= 1, "the wide segment table (16 segments) should scroll inside its own box"
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == []
    finally:
        driver.quit()
