"""Benchmark: generate data at one or more scales and time every pipeline stage.

    .venv/bin/python bench/run.py --scales small,medium [--seeds 42,7,11] [--out bench/results]
                                  [--keep]

For each scale, in a fresh driver process per scale (so driver memory figures are not shared):
wall time per stage, rows per second (rows = landing rows for generate/ingest, client-rows of the
gold tables for features/train/score), peak driver JVM heap and Python RSS, and Spark's shuffle
read/write and memory/disk spill per stage from the event log. Writes
``<out>/bench_<timestamp>.json`` and prints a table, plus how cost grows with rows between scales
(time ratio / row ratio: 1.0 = linear).

With ``--seeds 42,7,11`` every scale runs once per generator seed (each in its own process and
folder): stage times are the medians over the seeds, and the model-quality table (out-of-time
ROC-AUC and top-decile lift per product, read from ``gold.model_metrics`` by role: the new
model, the baseline, the observable ceiling and the oracle) gives each figure's median.

The single-machine yardstick (bench/duckdb_features.py): right after the features stage, DuckDB
builds the same tables from the same bronze files (on as many threads as Spark has cores, its
Parquet writes counted) and they are compared with Spark's row by row; each scale prints
``features spark/duckdb ratio X.XX`` (Spark's features stage seconds / DuckDB's, median over the
seeds) and whether the tables were identical.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))  # bench/duckdb_features.py

STAGES = ("generate", "ingest", "features", "train", "score")
QUALITY_METRICS = ("roc_auc", "lift_top10")
# gold.model_metrics roles as the quality table names them; the new model is the champion when
# promoted, else the challenger (rows of the model it was judged against are left out).
QUALITY_ROLES = {"champion": "model", "challenger": "model", "baseline": "baseline",
                 "observable_ceiling": "ceiling", "oracle": "oracle"}
STARTED = dt.datetime.now()


def task_metrics(log_dir: Path) -> list[tuple[int, dict[str, float]]]:
    """(finish time in epoch ms, metrics) of every finished task in the event log(s) under
    ``log_dir``. Read after ``spark.stop()``, when the log is complete."""
    tasks = []
    # Spark 4 writes eventlog_v2_*/ folders
    for file in (f for f in log_dir.rglob("*") if f.is_file()):
        with open(file, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if '"SparkListenerTaskEnd"' not in line:
                    continue
                event = json.loads(line)
                m = event.get("Task Metrics") or {}
                info = event.get("Task Info") or {}
                sr = m.get("Shuffle Read Metrics") or {}
                sw = m.get("Shuffle Write Metrics") or {}
                finish, launch = info.get("Finish Time") or 0, info.get("Launch Time") or 0
                tasks.append((finish, {
                    "shuffle_read_bytes": (sr.get("Remote Bytes Read", 0)
                                           + sr.get("Local Bytes Read", 0)),
                    "shuffle_write_bytes": sw.get("Shuffle Bytes Written", 0),
                    "memory_spill_bytes": m.get("Memory Bytes Spilled", 0),
                    "disk_spill_bytes": m.get("Disk Bytes Spilled", 0),
                    "tasks": 1,
                    "max_task_seconds": (finish - launch) / 1000 if finish and launch else 0.0,
                }))
    return tasks


def metrics_between(tasks: list[tuple[int, dict[str, float]]], start_ms: int, end_ms: int
                    ) -> dict[str, float]:
    """Totals (and the longest task) of the tasks that finished in [start_ms, end_ms)."""
    totals = {"shuffle_read_bytes": 0, "shuffle_write_bytes": 0, "memory_spill_bytes": 0,
              "disk_spill_bytes": 0, "tasks": 0, "max_task_seconds": 0.0}
    for finish, m in tasks:
        if start_ms <= finish < end_ms:
            for key, value in m.items():
                totals[key] = (max(totals[key], value) if key == "max_task_seconds"
                               else totals[key] + value)
    return totals


class HeapSampler(threading.Thread):
    """Samples the driver JVM's used heap every ``interval`` seconds; ``peak_mb`` is the maximum."""

    def __init__(self, memory_bean, interval: float = 1.0):
        super().__init__(daemon=True)
        self.bean, self.interval, self.peak_mb = memory_bean, interval, 0.0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.interval):
            try:
                used = self.bean.getHeapMemoryUsage().getUsed() / 2**20
            except Exception:  # the gateway closes when the session stops
                return
            self.peak_mb = max(self.peak_mb, used)


def bench_one_scale(scale: str, work: Path, driver_memory: str, overrides: list[str]) -> dict:
    """Run all stages at ``scale`` in this process; return the figures."""
    from pyspark.sql import functions as F

    from segrec_spark.config import load_config
    from segrec_spark.features import job as features_job
    from segrec_spark.generate import job as generate_job
    from segrec_spark.ingest import job as ingest_job
    from segrec_spark.propensity import job as train_job
    from segrec_spark.scoring import job as score_job
    from segrec_spark.spark import get_spark
    from segrec_spark.tables import read_table, table_path

    events = work / "eventlog"
    events.mkdir(parents=True, exist_ok=True)
    cfg = load_config(None, [
        f"generator.scale={scale}", f"paths.root={work}/lake", f"paths.landing={work}/landing",
        f"paths.ground_truth={work}/gt", f"paths.reports={work}/reports",
        f"mlflow.tracking_uri=sqlite:///{work}/mlflow/mlflow.db",
        f"mlflow.artifact_location={work}/mlflow/artifacts",
        f"spark.driver_memory={driver_memory}",
        "spark.conf={spark.eventLog.enabled: 'true', "
        "spark.eventLog.dir: '" + events.as_uri() + "', "
        "spark.eventLog.compress: 'false', spark.eventLog.rolling.enabled: 'false'}",
        *overrides,
    ])
    spark = get_spark(cfg.spark)
    jvm = spark.sparkContext._jvm
    memory_bean = jvm.java.lang.management.ManagementFactory.getMemoryMXBean()
    sampler = HeapSampler(memory_bean)
    live_heap_mb = 0.0
    sampler.start()

    stages = {
        "generate": lambda: generate_job.run(spark, cfg),
        "ingest": lambda: ingest_job.run(spark, cfg),
        "features": lambda: features_job.run(spark, cfg),
        "train": lambda: train_job.run(spark, cfg),
        "score": lambda: score_job.run(spark, cfg, report=False),
    }
    figures: dict[str, dict] = {}
    windows: dict[str, tuple[int, int]] = {}
    duckdb: dict = {}
    for name, stage in stages.items():
        jvm.System.gc()
        start_ms, started = int(time.time() * 1000), time.perf_counter()
        stage()
        figures[name] = {"seconds": round(time.perf_counter() - started, 2)}
        print(f"bench: {scale} {name} {figures[name]['seconds']:.1f} s", file=sys.stderr,
              flush=True)
        windows[name] = (start_ms, int(time.time() * 1000))
        if name == "features":  # the yardstick on the same bronze, while Spark is idle
            duckdb = duckdb_yardstick(cfg, spark.sparkContext.defaultParallelism,
                                      figures[name]["seconds"], work,
                                      duckdb_memory(driver_memory))
        jvm.System.gc()  # what the driver still holds after the stage, garbage collected
        live_heap_mb = max(live_heap_mb, memory_bean.getHeapMemoryUsage().getUsed() / 2**20)

    landing_rows = sum(r["rows_read"] for r in read_table(
        spark, table_path(cfg.paths.root, "ops", "ingest_audit")).select("rows_read").collect())
    feature_rows = read_table(spark, table_path(cfg.paths.root, "gold", "client_features")).count()
    ranking_rows = read_table(spark, table_path(cfg.paths.root, "gold", "product_rankings")).count()
    clients = (read_table(spark, table_path(cfg.paths.root, "gold", "client_features"))
               .agg(F.countDistinct("identity_id_hash")).first()[0])
    rows = {"generate": landing_rows, "ingest": landing_rows, "features": feature_rows,
            "train": feature_rows, "score": ranking_rows}
    for name, fig in figures.items():
        fig["rows"] = rows[name]
        fig["rows_per_second"] = round(rows[name] / fig["seconds"], 1) if fig["seconds"] else None
    metric_rows = [r.asDict() for r in read_table(
        spark, table_path(cfg.paths.root, "gold", "model_metrics"))
        .where(F.col("metric").isin(*QUALITY_METRICS))
        .select("product_code", "model", "role", "metric", "value").collect()]  # a few dozen
    sampler.halt.set()
    sampler.join()
    spark.stop()  # flushes the event log
    tasks = task_metrics(events)
    for name, (start_ms, end_ms) in windows.items():
        figures[name].update(metrics_between(tasks, start_ms, end_ms))
    return {
        "scale": scale,
        "seed": cfg.generator.seed,
        "clients": clients,
        "landing_rows": landing_rows,
        "total_seconds": round(sum(f["seconds"] for f in figures.values()), 1),
        "peak_driver_heap_mb": round(sampler.peak_mb, 1),
        "driver_live_heap_mb": round(live_heap_mb, 1),
        "peak_driver_python_rss_mb": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "stages": figures,
        "quality": quality_by_role(metric_rows),
        "duckdb": duckdb,
    }


def duckdb_memory(driver_memory: str) -> str:
    """Spark's driver memory ("6g", "512m") in DuckDB's notation ("6GB", "512MB")."""
    text = driver_memory.strip().lower()
    unit = {"k": "KB", "m": "MB", "g": "GB", "t": "TB"}.get(text[-1:])
    return f"{text[:-1]}{unit}" if unit else f"{text}B"


def duckdb_yardstick(cfg, threads: int, spark_seconds: float, work: Path,
                     memory_limit: str | None = None) -> dict:
    """bench/duckdb_features.py on the lake the features stage just wrote: DuckDB's seconds on
    ``threads`` threads (Spark's cores) and with ``memory_limit`` (the driver's memory: in the
    same process as Spark's JVM, DuckDB's default of 80 % of the machine got the bench killed by
    the kernel at `medium`), whether its tables equal Spark's, and the ratio."""
    from duckdb_features import describe, written_dates, yardstick

    lake = Path(cfg.paths.root)
    result = yardstick(lake, written_dates(lake, "client_features"),
                       written_dates(lake, "labels"), cfg.features, cfg.contract, threads,
                       work / "duckdb_scratch", memory_limit)
    shutil.rmtree(work / "duckdb_scratch", ignore_errors=True)
    result["spark_seconds"] = spark_seconds
    result["ratio"] = round(spark_seconds / result["seconds"], 2)
    print(f"bench: duckdb {result['seconds']:.1f} s on {threads} threads ({memory_limit}), "
          f"features spark/duckdb ratio {result['ratio']:.2f}; {describe(result['check'])}",
          file=sys.stderr,
          flush=True)
    return result


def quality_by_role(rows: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """gold.model_metrics rows -> {product: {model|baseline|ceiling|oracle: {metric: value}}}."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for r in rows:
        role = QUALITY_ROLES.get(r["role"])
        if role is None or r["model"] == "incumbent" or r["metric"] not in QUALITY_METRICS:
            continue
        out.setdefault(r["product_code"], {}).setdefault(role, {})[r["metric"]] = r["value"]
    return out


def median_quality(runs: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """The median over runs (seeds) of every (product, role, metric) the runs report."""
    values: dict[tuple[str, str, str], list[float]] = {}
    for quality in runs:
        for product, roles in quality.items():
            for role, metrics in roles.items():
                for metric, value in metrics.items():
                    values.setdefault((product, role, metric), []).append(value)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (product, role, metric), vs in sorted(values.items()):
        out.setdefault(product, {}).setdefault(role, {})[metric] = statistics.median(vs)
    return out


def combine_seeds(runs: list[dict]) -> dict:
    """One scale's runs (one per seed) -> one result: the median over the runs of every
    per-stage figure (seconds, rows, shuffle, spill, tasks; rows/s from the median seconds and
    rows), the highest driver memory, median quality; each run's seed, stage seconds and total
    kept under ``runs``."""
    first = runs[0]
    stages = {}
    for stage, figures in first["stages"].items():
        stages[stage] = {key: statistics.median(r["stages"][stage][key] for r in runs)
                         for key, value in figures.items()
                         if isinstance(value, (int, float)) and key != "rows_per_second"}
        seconds, rows = stages[stage]["seconds"], stages[stage]["rows"]
        stages[stage]["rows_per_second"] = round(rows / seconds, 1) if seconds else None
    return {
        **{k: v for k, v in first.items() if k != "seed"},  # the runs' seeds are under "seeds"
        "seeds": [r.get("seed") for r in runs],
        "landing_rows": int(statistics.median(r["landing_rows"] for r in runs)),
        "total_seconds": round(sum(f["seconds"] for f in stages.values()), 1),
        **{k: max(r[k] for r in runs) for k in ("peak_driver_heap_mb", "driver_live_heap_mb",
                                                 "peak_driver_python_rss_mb")},
        "stages": stages,
        "quality": median_quality([r.get("quality", {}) for r in runs]),
        "duckdb": combine_duckdb([r.get("duckdb") or {} for r in runs]),
        "runs": [{"seed": r.get("seed"), "total_seconds": r["total_seconds"],
                  "stages": {s: r["stages"][s]["seconds"] for s in r["stages"]},
                  "quality": r.get("quality", {}), "duckdb": r.get("duckdb") or {}}
                 for r in runs],
    }


def combine_duckdb(runs: list[dict]) -> dict:
    """The yardstick over the runs: median DuckDB seconds and spark/duckdb ratio; identical
    only when every run's tables were."""
    measured = [r for r in runs if r.get("seconds")]
    if not measured:
        return {}
    return {"seconds": statistics.median(r["seconds"] for r in measured),
            "ratio": statistics.median(r["ratio"] for r in measured),
            "ratios": [r["ratio"] for r in measured],
            "threads": measured[0]["threads"],
            "identical": all(r["identical"] for r in measured)}


def render_duckdb(result: dict) -> str:
    """``features spark/duckdb ratio X.XX`` for one scale (median over the seeds)."""
    d = result.get("duckdb") or {}
    if not d:
        return f"{result['scale']}: no DuckDB yardstick"
    ratios = d.get("ratios") or [d["ratio"]]
    return (f"features spark/duckdb ratio {d['ratio']:.2f} ({result['scale']}: Spark "
            f"{result['stages']['features']['seconds']:.1f} s, DuckDB {d['seconds']:.1f} s on "
            f"{d['threads']} threads; runs {', '.join(f'{r:.2f}' for r in ratios)}; tables "
            f"{'identical' if d['identical'] else 'DIFFERENT: see the JSON'})")


def render_quality(result: dict) -> str:
    """The model-quality table of one scale: out-of-time ROC-AUC by role, the model's gap to
    the observable ceiling, and top-decile lift (medians over the seeds when several)."""
    seeds = result.get("seeds") or [result.get("seed")]
    lines = [f"{result['scale']}: out-of-time ROC-AUC and top-10 % lift"
             + (f", medians over seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else
                f", seed {seeds[0]}"),
             f"{'product':<20}{'model':>7}{'baseline':>10}{'ceiling':>9}{'oracle':>8}"
             f"{'to ceiling':>12}{'lift10':>8}"]

    def cell(roles: dict, role: str, metric: str = "roc_auc", width: int = 7) -> str:
        value = roles.get(role, {}).get(metric)
        return f"{value:>{width}.3f}" if value is not None else f"{'-':>{width}}"

    for product, roles in sorted(result.get("quality", {}).items()):
        model = roles.get("model", {}).get("roc_auc")
        ceiling = roles.get("ceiling", {}).get("roc_auc")
        gap = (f"{model - ceiling:>+12.3f}" if model is not None and ceiling is not None
               else f"{'-':>12}")
        lines.append(f"{product:<20}{cell(roles, 'model')}{cell(roles, 'baseline', width=10)}"
                     f"{cell(roles, 'ceiling', width=9)}{cell(roles, 'oracle', width=8)}{gap}"
                     f"{cell(roles, 'model', 'lift_top10', 8)}")
    return "\n".join(lines)


def growth(results: list[dict]) -> list[dict]:
    """Cost growth between consecutive scales: (time ratio) / (row ratio); 1.0 = linear."""
    out = []
    for a, b in zip(results, results[1:], strict=False):
        row_ratio = b["landing_rows"] / a["landing_rows"]
        per_stage = {}
        for stage in STAGES:
            ta, tb = a["stages"][stage]["seconds"], b["stages"][stage]["seconds"]
            per_stage[stage] = round((tb / ta) / row_ratio, 2) if ta else None
        out.append({"from": a["scale"], "to": b["scale"], "row_ratio": round(row_ratio, 1),
                    "time_ratio": round(b["total_seconds"] / a["total_seconds"], 2),
                    "cost_per_row_ratio": round(
                        (b["total_seconds"] / a["total_seconds"]) / row_ratio, 2),
                    "per_stage_cost_per_row_ratio": per_stage,
                    "driver_heap_ratio": round(
                        b["peak_driver_heap_mb"] / a["peak_driver_heap_mb"], 2),
                    "driver_live_heap_ratio": round(
                        b["driver_live_heap_mb"] / a["driver_live_heap_mb"], 2)})
    return out


def render(results: list[dict], growth_rows: list[dict]) -> str:
    lines = [f"{'scale':<10}{'stage':<10}{'seconds':>9}{'rows':>12}{'rows/s':>11}"
             f"{'shuffle MB':>12}{'spill MB':>10}"]
    for r in results:
        for stage, f in r["stages"].items():
            lines.append(f"{r['scale']:<10}{stage:<10}{f['seconds']:>9.1f}{f['rows']:>12,}"
                         f"{(f['rows_per_second'] or 0):>11,.0f}"
                         f"{(f['shuffle_write_bytes']) / 2**20:>12.1f}"
                         f"{(f['memory_spill_bytes'] + f['disk_spill_bytes']) / 2**20:>10.1f}")
        lines.append(f"{r['scale']:<10}{'total':<10}{r['total_seconds']:>9.1f}   "
                     f"peak driver heap {r['peak_driver_heap_mb']:.0f} MB "
                     f"(live after GC {r['driver_live_heap_mb']:.0f} MB), "
                     f"python RSS {r['peak_driver_python_rss_mb']:.0f} MB")
    for g in growth_rows:
        lines.append(f"{g['from']} -> {g['to']}: rows x{g['row_ratio']}, time x{g['time_ratio']}, "
                     f"cost per row x{g['cost_per_row_ratio']} (1.0 = linear), "
                     f"driver heap x{g['driver_heap_ratio']} (live x{g['driver_live_heap_ratio']})")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="small,medium",
                        help="comma-separated scales, smallest first")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--work", help="working folder (default: a temporary one, removed after)")
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for every scale, as in `segrec --set`")
    parser.add_argument("--seeds", default="42",
                        help="comma-separated generator seeds; each scale runs once per seed and "
                             "the figures are medians over them")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one scale, print JSON
    args = parser.parse_args()

    if args.one:
        print("BENCH_JSON " + json.dumps(
            bench_one_scale(args.one, Path(args.work), args.driver_memory, args.set)))
        return 0

    scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    if not scales:
        parser.error("--scales: name at least one scale (tiny, small, medium, reference)")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds: expected comma-separated integers, found {args.seeds!r}")
    if not seeds:
        parser.error("--seeds: name at least one seed")
    base = Path(args.work or tempfile.mkdtemp(prefix="segrec_bench_"))
    results = []
    for scale in scales:
        runs = []
        for seed in seeds:
            work = base / f"{scale}_seed{seed}"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            out = subprocess.run([sys.executable, __file__, "--one", scale, "--work", str(work),
                                  "--driver-memory", args.driver_memory,
                                  *(f"--set={o}" for o in args.set),
                                  f"--set=generator.seed={seed}"],
                                 capture_output=True, text=True)
            lines = [ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")]
            if out.returncode != 0 or not lines:
                print(out.stderr[-4000:], file=sys.stderr)
                print(f"bench: scale {scale} seed {seed} failed (exit {out.returncode})",
                      file=sys.stderr)
                return 1
            runs.append(json.loads(lines[0][len("BENCH_JSON "):]))
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
        results.append(combine_seeds(runs))
        print(render(results[-1:], []), flush=True)
        print(render_quality(results[-1]), flush=True)
        print(render_duckdb(results[-1]), flush=True)
        # after every scale: a long sweep keeps what it measured
        file = write_report(results, Path(args.out))
    print(render(results, growth(results)))
    for result in results:
        print(render_quality(result))
        print(render_duckdb(result))
    print(f"results: {file}")
    return 0


def write_report(results: list[dict], out_dir: Path) -> Path:
    """Write the sweep so far as JSON (machine, versions, per-scale figures, growth); return the
    file."""
    from segrec_spark.spark import installed_versions

    report = {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(),
                    "memory_gb": round(
                        os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
        "versions": dict(zip(("pyspark", "delta_spark"), installed_versions(), strict=True)),
        "results": results,
        "growth": growth(results),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    file = out_dir / f"bench_{STARTED:%Y%m%d_%H%M%S}.json"
    file.write_text(json.dumps(report, indent=2))
    return file


if __name__ == "__main__":
    sys.exit(main())
