"""The benchmark's arithmetic: task metrics per stage window, and cost growth between scales."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def task_end(finish: int, launch: int, written: int, spilled: int) -> str:
    return json.dumps({"Event": "SparkListenerTaskEnd",
                       "Task Info": {"Launch Time": launch, "Finish Time": finish},
                       "Task Metrics": {"Shuffle Write Metrics": {"Shuffle Bytes Written": written},
                                        "Shuffle Read Metrics": {"Local Bytes Read": 7, "Remote Bytes Read": 3},
                                        "Memory Bytes Spilled": spilled, "Disk Bytes Spilled": 0}})


def test_task_metrics_are_read_from_spark4_eventlog_folders_and_split_by_stage_window(tmp_path):
    folder = tmp_path / "eventlog_v2_local-1"
    folder.mkdir()
    (folder / "events_1_local-1").write_text("\n".join([
        json.dumps({"Event": "SparkListenerJobStart"}),
        task_end(finish=1_500, launch=1_000, written=100, spilled=0),
        task_end(finish=1_900, launch=1_100, written=50, spilled=8),
        task_end(finish=2_500, launch=2_000, written=1, spilled=0),
    ]) + "\n")
    (folder / "appstatus_local-1").write_text("")

    tasks = bench.task_metrics(tmp_path)
    first = bench.metrics_between(tasks, 1_000, 2_000)
    second = bench.metrics_between(tasks, 2_000, 3_000)

    assert first == {"shuffle_read_bytes": 20, "shuffle_write_bytes": 150, "memory_spill_bytes": 8,
                     "disk_spill_bytes": 0, "tasks": 2, "max_task_seconds": 0.8}
    assert (second["tasks"], second["shuffle_write_bytes"], second["max_task_seconds"]) == (1, 1, 0.5)


def result(scale: str, rows: int, seconds: dict[str, float], heap: float, live: float) -> dict:
    return {"scale": scale, "landing_rows": rows, "total_seconds": sum(seconds.values()),
            "peak_driver_heap_mb": heap, "driver_live_heap_mb": live, "peak_driver_python_rss_mb": 1,
            "stages": {s: {"seconds": t, "rows": rows, "rows_per_second": rows / t,
                           "shuffle_write_bytes": 0, "memory_spill_bytes": 0, "disk_spill_bytes": 0}
                       for s, t in seconds.items()}}


def test_growth_is_time_ratio_over_row_ratio():
    small = result("small", 1_000, dict.fromkeys(bench.STAGES, 10.0), heap=1_000, live=200)
    medium = result("medium", 8_000, {**dict.fromkeys(bench.STAGES, 40.0), "train": 160.0},
                    heap=1_500, live=220)

    (row,) = bench.growth([small, medium])

    assert row["row_ratio"] == 8.0
    assert row["time_ratio"] == pytest.approx(320 / 50, abs=0.01)
    assert row["cost_per_row_ratio"] == pytest.approx(0.8, abs=0.01)
    assert row["per_stage_cost_per_row_ratio"] == {**dict.fromkeys(bench.STAGES, 0.5), "train": 2.0}
    assert (row["driver_heap_ratio"], row["driver_live_heap_ratio"]) == (1.5, 1.1)
    assert "cost per row x0.8 (1.0 = linear)" in bench.render([small, medium], [row])


def metric(product: str, model: str, role: str, value: float, name: str = "roc_auc") -> dict:
    return {"product_code": product, "model": model, "role": role, "metric": name, "value": value}


def test_quality_names_the_roles_and_leaves_out_the_model_judged_against():
    rows = [metric("MORTGAGE", "random_forest", "challenger", 0.70),
            metric("MORTGAGE", "random_forest", "challenger", 4.1, "lift_top10"),
            metric("MORTGAGE", "incumbent", "champion", 0.99),  # the alias holder, not this run's
            metric("MORTGAGE", "baseline", "baseline", 0.55),
            metric("MORTGAGE", "observable_ceiling", "observable_ceiling", 0.80),
            metric("MORTGAGE", "oracle", "oracle", 0.88),
            metric("MORTGAGE", "random_forest", "challenger", 0.01, "brier")]

    assert bench.quality_by_role(rows) == {"MORTGAGE": {
        "model": {"roc_auc": 0.70, "lift_top10": 4.1}, "baseline": {"roc_auc": 0.55},
        "ceiling": {"roc_auc": 0.80}, "oracle": {"roc_auc": 0.88}}}


def test_seeds_combine_into_medians_of_stage_times_and_of_each_quality_figure():
    runs = []
    for seed, train, auc in ((42, 30.0, 0.70), (7, 10.0, 0.60), (11, 20.0, 0.66)):
        run = result("small", 1_000 + seed, {**dict.fromkeys(bench.STAGES, 10.0), "train": train},
                     heap=100 + seed, live=50)
        run["seed"] = seed
        run["quality"] = {"MORTGAGE": {"model": {"roc_auc": auc},
                                       "ceiling": {"roc_auc": auc + 0.1}}}
        runs.append(run)

    combined = bench.combine_seeds(runs)

    assert combined["seeds"] == [42, 7, 11]
    assert "seed" not in combined  # not the first run's seed beside the medians
    assert combined["stages"]["train"]["seconds"] == 20.0
    assert combined["stages"]["train"]["rows"] == 1_011  # the median run's, as every figure
    assert combined["stages"]["train"]["rows_per_second"] == pytest.approx(1_011 / 20, abs=0.1)
    assert combined["total_seconds"] == 60.0
    assert combined["peak_driver_heap_mb"] == 142
    assert combined["quality"]["MORTGAGE"]["model"]["roc_auc"] == 0.66
    assert combined["quality"]["MORTGAGE"]["ceiling"]["roc_auc"] == pytest.approx(0.76)
    assert [r["stages"]["train"] for r in combined["runs"]] == [30.0, 10.0, 20.0]
    table = bench.render_quality(combined)
    assert "medians over seeds 42, 7, 11" in table
    (line,) = [ln for ln in table.splitlines() if ln.startswith("MORTGAGE")]
    # model, baseline, ceiling, oracle, gap to the ceiling, lift: absent figures as "-"
    assert line.split() == ["MORTGAGE", "0.660", "-", "0.760", "-", "-0.100", "-"]


def test_the_duckdb_yardstick_combines_into_the_median_ratio_and_one_printed_line():
    runs = []
    for seed, features, duck, same in ((42, 90.0, 6.0, True), (7, 120.0, 6.0, True),
                                       (11, 100.0, 5.0, False)):
        run = result("small", 1_000, {**dict.fromkeys(bench.STAGES, 10.0), "features": features},
                     heap=100, live=50)
        run["seed"] = seed
        run["duckdb"] = {"seconds": duck, "threads": 2, "ratio": round(features / duck, 2),
                         "identical": same}
        runs.append(run)

    combined = bench.combine_seeds(runs)

    assert combined["duckdb"]["seconds"] == 6.0
    assert combined["duckdb"]["ratio"] == 20.0  # median of 15, 20, 20
    assert combined["duckdb"]["ratios"] == [15.0, 20.0, 20.0]
    assert combined["duckdb"]["identical"] is False  # one run differed
    line = bench.render_duckdb(combined)
    assert line.startswith("features spark/duckdb ratio 20.00 (small: Spark 100.0 s, "
                           "DuckDB 6.0 s on 2 threads")
    assert "DIFFERENT" in line
    assert bench.render_duckdb({"scale": "tiny", "duckdb": {}}) == "tiny: no DuckDB yardstick"


def test_duckdb_gets_the_drivers_memory_not_most_of_the_machine(tmp_path):
    """In the bench's process beside Spark's JVM, DuckDB's default (80 % of the machine) got the
    process killed at `medium`: the yardstick caps it at Spark's driver memory and spills."""
    import sys
    sys.path.insert(0, str(ROOT / "bench"))
    import duckdb_features

    assert [bench.duckdb_memory(m) for m in ("6g", "512m", "16G")] == ["6GB", "512MB", "16GB"]
    con = duckdb_features.connect(2, "1GB", tmp_path / "spill")
    assert con.execute("SELECT current_setting('memory_limit'), current_setting('threads'), "
                       "current_setting('temp_directory')").fetchone() == (
        "953.6 MiB", 2, str(tmp_path / "spill"))
