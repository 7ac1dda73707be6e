#!/usr/bin/env bash
# Submit a segrec_spark job with Delta's packages and the project code shipped to executors.
#
#   ./spark-submit.sh [spark-submit options] JOB [job args]
#   ./spark-submit.sh jobs/run_pipeline.py --scale tiny
#   ./spark-submit.sh --master spark://127.0.0.1:7077 jobs/run_pipeline.py --scale tiny
#   ./spark-submit.sh --master yarn --deploy-mode client jobs/score.py --config conf/cluster.yaml
#
# JOB is a jobs/*.py file or a stage name (generate, ingest, features, train, score, serve-sql,
# run). Without --master it runs in local[2]. Delta comes in through --packages (resolved from
# Maven Central by Ivy on first use); the package is zipped to build/segrec_spark.zip and sent
# with --py-files. Environment: PYTHON (interpreter, default .venv/bin/python), SPARK_HOME
# (default: the pyspark package's), SEGREC_CONFIG (default conf/local.yaml), SEGREC_HOME (where
# conf/ is, default this checkout).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-$here/.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
SPARK_HOME="${SPARK_HOME:-$("$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}"
export SPARK_HOME

opts=()
job=""
while [ $# -gt 0 ]; do
  case "$1" in
    *.py) job="$1"; shift; break ;;
    generate|ingest|features|train|score|serve-sql|run)
      name="$1"; [ "$name" = serve-sql ] && name=serve_sql; [ "$name" = run ] && name=run_pipeline
      job="$here/jobs/$name.py"; shift; break ;;
    --*=*) opts+=("$1"); shift ;;
    --verbose|--supervise|--version|-h|--help) opts+=("$1"); shift ;;
    --*) opts+=("$1" "$2"); shift 2 ;;
    *) echo "spark-submit.sh: unexpected argument '$1' (expected spark-submit options, then JOB)" >&2; exit 2 ;;
  esac
done
if [ -z "$job" ]; then
  echo "usage: spark-submit.sh [spark-submit options] JOB [job args]   (JOB: jobs/*.py or a stage name)" >&2
  exit 2
fi
[ -f "$job" ] || { echo "spark-submit.sh: job file '$job' not found" >&2; exit 2; }

has_opt() { local o; for o in "${opts[@]+"${opts[@]}"}"; do case "$o" in "$1"|"$1="*) return 0 ;; esac; done; return 1; }
defaults=()
has_opt --master || defaults+=(--master "local[2]")
has_opt --driver-memory || defaults+=(--driver-memory 4g)
# Spark's own INFO lines (dozens per job) drown the pipeline's progress lines: WARN unless the
# caller sets spark.log.level (e.g. --conf spark.log.level=INFO).
has_conf() { local o; for o in "${opts[@]+"${opts[@]}"}"; do case "$o" in "$1="*) return 0 ;; esac; done; return 1; }
has_conf spark.log.level || defaults+=(--conf spark.log.level=WARN)

mkdir -p "$here/build"
(cd "$here" && "$PY" - <<'PYEOF'
import pathlib, zipfile
out = pathlib.Path("build/segrec_spark.zip")
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for f in sorted(pathlib.Path("segrec_spark").rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            z.write(f)
PYEOF
)
read -r packages excludes < <(cd "$here" && "$PY" -c 'from segrec_spark.spark import delta_maven_coordinate, JARS_EXCLUDES; print(delta_maven_coordinate(), ",".join(JARS_EXCLUDES))')

export SEGREC_SUBMITTED=1
export SEGREC_HOME="${SEGREC_HOME:-$here}"  # conf/ (the default contract) is found here
export SEGREC_CONFIG="${SEGREC_CONFIG:-$here/conf/local.yaml}"
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$PY}"
export PYSPARK_DRIVER_PYTHON="${PYSPARK_DRIVER_PYTHON:-$PY}"

# Ivy's dependency-resolution report (about 40 lines on every submit) is dropped from standard
# error unless --verbose is given (to spark-submit or to the job); every other line, warnings
# and stack traces included, passes unchanged.
verbose=0
for a in "${opts[@]+"${opts[@]}"}" "$@"; do [ "$a" = --verbose ] && verbose=1; done
if [ "$verbose" = 0 ]; then
  ivy='^(:: (loading settings|resolving dependencies|resolution report|retrieving) :: |Ivy Default Cache set to: |The jars for the packages stored in: |[^ ]+#[^ ]+ added as a dependency$|'
  ivy+=$'\t(confs: |found |downloading |\\[SUCCESSFUL|:: |[^ ]+#[^ ]+;[^ ]+ from |-{20,}$|\\||[0-9]+ artifacts copied))'
  exec 2> >(grep --line-buffered -v -E "$ivy" >&2)
fi

exec "$SPARK_HOME/bin/spark-submit" \
  "${defaults[@]+"${defaults[@]}"}" \
  --packages "$packages" \
  --exclude-packages "$excludes" \
  --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension \
  --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog \
  --conf spark.ui.showConsoleProgress=false \
  --py-files "$here/build/segrec_spark.zip" \
  "${opts[@]+"${opts[@]}"}" \
  "$job" "$@"
