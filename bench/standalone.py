"""A Spark standalone cluster on 127.0.0.1 (master + workers), for the 1-vs-2-worker benchmark
(bench/workers.py) and the cluster test (tests/test_cluster.py).

The processes are started by ``spark-class`` from the pyspark package, in their own sessions,
and stopped by the process groups started here (SIGTERM, then SIGKILL after 30 s).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyspark

SPARK_CLASS = Path(pyspark.__file__).parent / "bin" / "spark-class"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def wait_workers(logs: Path, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        registered = sum("Successfully registered with master" in
                         (logs / f"worker{i}.log").read_text() for i in range(1, n + 1))
        if registered == n:
            return
        time.sleep(1)
    raise AssertionError(f"{n} workers did not register within {timeout} s")


@contextmanager
def standalone_cluster(logs: Path, workers: int = 2, cores: int = 1,
                       memory: str = "2g") -> Iterator[str]:
    """Start a master and ``workers`` workers of ``cores`` cores and ``memory`` each; yield the
    master URL; stop every process started, whatever happens (logs in ``logs``)."""
    logs.mkdir(parents=True, exist_ok=True)
    port, ui = free_port(), free_port()
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1"}
    procs: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> None:
        with open(logs / f"{name}.log", "w") as log:  # the process writes to its own fd copy
            procs.append(subprocess.Popen([str(SPARK_CLASS), *args], stdout=log,
                                          stderr=subprocess.STDOUT, env=env,
                                          start_new_session=True))

    master_url = f"spark://127.0.0.1:{port}"
    try:
        start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
              "--port", str(port), "--webui-port", str(ui))
        wait_port(port)
        for i in range(1, workers + 1):
            start(f"worker{i}", "org.apache.spark.deploy.worker.Worker", master_url,
                  "--host", "127.0.0.1", "--cores", str(cores), "--memory", memory,
                  "--webui-port", str(free_port()), "--work-dir", str(logs / f"work{i}"))
        wait_workers(logs, workers)
        yield master_url
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert all(p.poll() is not None for p in procs)
