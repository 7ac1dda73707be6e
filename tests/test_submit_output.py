"""spark-submit.sh drops Ivy's resolution report from standard error unless --verbose; every
other line (warnings, stack traces) and the exit code pass unchanged. Run against a stand-in
``spark-submit`` (SPARK_HOME), so no JVM starts."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IVY = """:: loading settings :: url = jar:file:/x/ivy-2.5.3.jar!/org/apache/ivy/core/settings/ivysettings.xml
Ivy Default Cache set to: /root/.ivy2.5.2/cache
The jars for the packages stored in: /root/.ivy2.5.2/jars
io.delta#delta-spark_4.2_2.13 added as a dependency
:: resolving dependencies :: org.apache.spark#spark-submit-parent-37cd;1.0
\tconfs: [default]
\tfound io.delta#delta-spark_4.2_2.13;4.4.0 in central
:: resolution report :: resolve 754ms :: artifacts dl 19ms
\t:: modules in use:
\tio.delta#delta-storage;4.4.0 from central in [default]
\t---------------------------------------------------------------------
\t|                  |            modules            ||   artifacts   |
:: retrieving :: org.apache.spark#spark-submit-parent-37cd
\t0 artifacts copied, 8 already retrieved (0kB/35ms)
"""
KEPT = """26/12/04 00:28:33 WARN NativeCodeLoader: Unable to load native-hadoop library
py4j.protocol.Py4JJavaError: An error occurred
\tat org.apache.spark.sql.Dataset.collect(Dataset.scala:1)
\t... 12 more
"""


@pytest.fixture
def fake_spark_home(tmp_path):
    (tmp_path / "bin").mkdir()
    script = tmp_path / "bin" / "spark-submit"
    script.write_text("#!/usr/bin/env bash\n"
                      f"cat >&2 <<'EOF'\n{IVY}{KEPT}EOF\n"
                      "echo job output\nexit 3\n")
    script.chmod(0o755)
    return tmp_path


def _submit(spark_home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPARK_HOME": str(spark_home), "PYTHON": sys.executable}
    return subprocess.run(["bash", str(ROOT / "spark-submit.sh"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_ivy_report_is_dropped_and_everything_else_passes(fake_spark_home):
    done = _submit(fake_spark_home, "features", "--set", "paths.root=/nowhere")
    assert done.returncode == 3
    assert done.stdout == "job output\n"
    assert done.stderr == KEPT


def test_verbose_keeps_the_ivy_report(fake_spark_home):
    done = _submit(fake_spark_home, "features", "--verbose")
    assert done.returncode == 3
    assert done.stderr == IVY + KEPT
