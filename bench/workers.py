"""The data-parallel stages on a localhost standalone cluster: 1 worker against 2 (issue 19).

    .venv/bin/python bench/workers.py --scale medium --work /tmp/workers [--workers 1,2]
                                      [--worker-memory 6g] [--driver-memory 4g] [--runs 1]

Generates the scale's landing files once (local mode), then for each worker count starts a
Spark standalone master and that many workers of **one core each** on 127.0.0.1
(bench/standalone.py) and submits ingest, features and score to it with ``spark-submit.sh``,
each stage its own application, on a lake of its own (the same landing files, the same seed).
The models are trained once, in local mode, on the first lake (training is not a data-parallel
stage and is not timed); the other lakes get a copy of the tables training writes, and every
run scores with the same registered models. Prints per stage the wall seconds of each worker
count (the ``spark-submit`` process, JVM start and Ivy resolution included) and the ratio
``1 worker / 2 workers``; ``--runs`` repeats the whole comparison, alternating the order, and
reports medians. Writes ``workers.json`` in ``--work``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from standalone import standalone_cluster  # noqa: E402

TIMED = ("ingest", "features", "score")
TRAIN_TABLES = ("model_metrics", "segment_profiles")  # gold tables `segrec train` writes


def paths(work: Path, lake: str) -> list[str]:
    return ["--set", f"paths.root={work}/{lake}", "--set", f"paths.landing={work}/landing",
            "--set", f"paths.ground_truth={work}/gt",
            "--set", f"paths.reports={work}/reports_{lake}",
            "--set", f"mlflow.tracking_uri=sqlite:///{work}/mlflow/mlflow.db",
            "--set", f"mlflow.artifact_location={work}/mlflow/artifacts"]


def submit(master: str, stage: str, args: list[str], driver_memory: str,
           executor_memory: str, log: Path) -> float:
    """Run one stage with spark-submit.sh; its wall seconds (raises on failure)."""
    command = [str(ROOT / "spark-submit.sh"), "--master", master,
               "--driver-memory", driver_memory,
               *(["--conf", f"spark.executor.memory={executor_memory}"]
                 if master.startswith("spark://") else []),
               stage, *args]
    started = time.perf_counter()
    with open(log, "a") as out:
        done = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"bench/workers: {stage} on {master} failed (exit {done.returncode}); "
                         f"see {log}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--work", required=True)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--worker-memory", default="6g")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], dest="overrides",
                        help="extra configuration overrides for every stage")
    args = parser.parse_args()
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    log = work / "workers.log"
    counts = [int(n) for n in args.workers.split(",")]
    common = ["--set", f"generator.scale={args.scale}",
              *[x for o in args.overrides for x in ("--set", o)]]
    executor_memory = args.worker_memory
    if not (work / "landing").exists():
        submit("local[2]", "generate", [*common, *paths(work, "lake_gen")], args.driver_memory,
               executor_memory, log)
    seconds: dict[int, dict[str, list[float]]] = {n: {s: [] for s in TIMED} for n in counts}
    trained_lake: Path | None = None
    for run in range(args.runs):
        for n in (counts if run % 2 == 0 else list(reversed(counts))):
            lake = f"lake_{n}w_{run}"
            shutil.rmtree(work / lake, ignore_errors=True)
            with standalone_cluster(work / f"cluster_{n}w_{run}", workers=n, cores=1,
                                    memory=executor_memory) as master:
                for stage in ("ingest", "features"):
                    seconds[n][stage].append(submit(master, stage, [*common, *paths(work, lake)],
                                                    args.driver_memory, executor_memory, log))
                    print(f"bench/workers: {n} worker(s) {stage} {seconds[n][stage][-1]:.1f} s",
                          file=sys.stderr, flush=True)
                if trained_lake is None:  # once, in local mode, not timed
                    submit("local[2]", "train", [*common, *paths(work, lake)],
                           args.driver_memory, executor_memory, log)
                    trained_lake = work / lake
                else:
                    for table in TRAIN_TABLES:
                        shutil.copytree(trained_lake / "gold" / table, work / lake / "gold" / table,
                                        dirs_exist_ok=True)
                seconds[n]["score"].append(submit(master, "score", [*common, *paths(work, lake)],
                                                  args.driver_memory, executor_memory, log))
                print(f"bench/workers: {n} worker(s) score {seconds[n]['score'][-1]:.1f} s",
                      file=sys.stderr, flush=True)
    medians = {n: {s: statistics.median(v) for s, v in by_stage.items()}
               for n, by_stage in seconds.items()}
    result = {"scale": args.scale, "runs": args.runs, "workers": counts,
              "seconds": {str(n): v for n, v in seconds.items()},
              "median_seconds": {str(n): v for n, v in medians.items()}}
    header = "stage | " + " | ".join(f"{n} worker(s) s" for n in counts)
    lines = [header]
    for stage in (*TIMED, "total"):
        row = {n: (sum(medians[n].values()) if stage == "total" else medians[n][stage])
               for n in counts}
        cells = " | ".join(f"{row[n]:.1f}" for n in counts)
        if 1 in row and 2 in row:
            cells += f" | ratio {row[1] / row[2]:.2f}"
        lines.append(f"{stage} | {cells}")
    if 1 in medians and 2 in medians:
        result["ratio_1_over_2"] = {s: round(medians[1][s] / medians[2][s], 3) for s in TIMED}
        result["ratio_1_over_2"]["total"] = round(sum(medians[1].values())
                                                  / sum(medians[2].values()), 3)
    (work / "workers.json").write_text(json.dumps(result, indent=2))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
