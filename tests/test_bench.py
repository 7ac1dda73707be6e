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
