# Everything goes through a project virtualenv (.venv); `make run` and `make test` set it up
# on a fresh machine first (Java 17 must be installed; Delta's jars come from Maven Central).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat setup.py | cksum | cut -d' ' -f1)

.PHONY: setup run test test-slow test-quality clean bench lint

setup: $(STAMP)

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: setup
	$(VENV)/bin/segrec run

# Everything but the slow suite: unit and job tests, then the tests sharing one end-to-end
# pipeline run, the smallest that writes every table (published tables, notebook, report).
test: setup
	$(PY) -m pytest -q -m "not cluster and not faults and not quality and not integration" tests

# The slower suite, which CI runs too: a Spark standalone cluster (master + 2 workers) started
# and stopped by the test, jobs killed mid-write / concurrent writers (tests/reliability), and
# whole pipelines through the CLI or a server process (second bank, snapshot CLI, JDBC).
test-slow: setup
	$(PY) -m pytest -q -m "cluster or faults or integration" tests

# Model quality on a whole pipeline run at `small` (tests/test_model_quality.py, ~15 min idle):
# relative claims against the baseline and the planted truth. Not in CI (its time budget); run it
# when a change touches features or models, beside `make bench`.
test-quality: setup
	$(PY) -m pytest -q -m quality tests

# Lint and types (pyproject.toml): ruff's broad rule set and mypy on segrec_spark; CI runs it first.
lint: setup
	$(VENV)/bin/ruff check segrec_spark jobs bench tests
	$(VENV)/bin/mypy

bench: setup
	$(PY) bench/run.py --scales small,medium --seeds 42,7,11

clean:
	rm -rf data build spark-warehouse metastore_db derby.log
