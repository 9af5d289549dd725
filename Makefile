# kpi-firewatch: `make demo` sets everything up and runs the pipeline; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SPARK_STAMP := $(VENV)/.spark-stamp
MANIFEST := dbt_project/target/manifest.json
# The venv's bin first: dagster-dbt and the tests find `dbt` on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

DEMO_SCENARIO ?= clicks_up_nobody_stays:paid_search:2025-09-08

.PHONY: install manifest demo run test test-fast lint dev clean bench-detection bench bench-engines docs reliability postgres-test postgres-demo spark-test

# A line per stage, and pip's own output for the long one (a line per package it collects, then
# on a terminal a bar of the packages it installs): a first install takes 1-2 min from pip's
# cache, longer when the wheels (about 250 MB) have to be downloaded.
$(STAMP): pyproject.toml constraints.txt
	@echo "==> install 1/3: creating the virtual environment $(VENV) ($(PYTHON))"
	$(PYTHON) -m venv $(VENV)
	@echo "==> install 2/3: upgrading pip"
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> install 3/3: installing the pinned packages (pyproject.toml + constraints.txt)"
	$(BIN)/python -m pip install -c constraints.txt -e '.[dev]'
	touch $(STAMP)
	@echo "==> installed into $(VENV)"

install: $(STAMP)

# The `spark` extra for the Spark suite `make test` runs (dbt-spark's session mode, pyspark 4.3,
# about 300 MB; Java 17 must be on the machine, or the suite is skipped with the reason).
$(SPARK_STAMP): $(STAMP)
	@echo "==> installing the spark extra for the Spark tests (dbt-spark, pyspark: about 300 MB)"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark]'
	touch $(SPARK_STAMP)

# The dbt manifest is built here, once, never when Python imports the Dagster definitions.
# The folders are prerequisites too: removing a model changes its folder's time, not a file's,
# and a manifest that still lists it gives Dagster an asset dbt never builds.
$(MANIFEST): $(STAMP) $(shell find dbt_project/models dbt_project/macros dbt_project/seeds dbt_project/tests 2>/dev/null) dbt_project/dbt_project.yml
	@echo "==> parsing the dbt project into $(MANIFEST) (dbt parse)"
	# Parsed against the default warehouse, so a default run can reuse dbt's partial parse
	# (a different profile makes dbt parse everything again: about 6 s more per run).
	cd dbt_project && FIREWATCH_WAREHOUSE=$(CURDIR)/warehouse/firewatch.duckdb \
		../$(BIN)/dbt parse --profiles-dir . --quiet
	touch $(MANIFEST)

manifest: $(MANIFEST)

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	cp -n dagster_project/dagster.yaml $@

demo: $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/firewatch generate --out data --profile small --scenario $(DEMO_SCENARIO)
	$(BIN)/firewatch run --raw-dir data/raw --warehouse warehouse/firewatch.duckdb

run: $(MANIFEST)
	$(BIN)/firewatch run

# Every test (tests/unit, tests/integration, tests/e2e). Two workers (one per core here), a test
# file each at a time: the end-to-end files mostly wait on DuckDB and dbt in child processes, and
# their session fixtures are built once per worker. Per-file seconds -> docs/test_durations.md.
test: $(MANIFEST) $(SPARK_STAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder --durations=15 \
		--durations-md docs/test_durations.md tests

# The unit tests only (pure Python, no dbt build), spread test by test over the workers: about
# 1 min on 2 cores.
test-fast: $(MANIFEST)
	$(BIN)/python -m pytest -q -n auto --dist load tests/unit

lint: $(STAMP)
	$(BIN)/ruff check dagster_project tests bench
	$(BIN)/ruff format --check dagster_project tests bench

# Detection quality: 56 scenario + 200 null runs, about 1 h on 2 cores (cached in
# bench/.cache/detection, so a rule change re-tallies with `--stage evaluate` in minutes).
# PostgreSQL (docs/engines.md): a throwaway server (Debian's postgresql package, installed with
# apt-get when missing and run as root; initdb + pg_ctl on 127.0.0.1, no Docker); the tiny
# landing's dbt marts compared with DuckDB's, the whole night on both engines compared (marts,
# alerts, queue, people's commands, a second night), the warehouse interface on both.
postgres-test: $(MANIFEST)
	$(BIN)/python -m pytest -q tests/e2e/test_postgres_equality.py \
		tests/e2e/test_postgres_pipeline.py tests/integration/test_warehouse_engines.py

# The Spark suite alone (docs/engines.md; `make test` runs it too): copies the tiny landing's raw
# tables to Parquet tables of a local metastore, builds the dbt project there and compares every
# public mart, and what the checks read back, with DuckDB's; and the dbt unit tests and the
# planted landing's second night on Spark, which `make test` leaves out for CI's time
# (FIREWATCH_SPARK_FULL; about 13 min on 2 cores).
spark-test: $(MANIFEST) $(SPARK_STAMP)
	FIREWATCH_SPARK_FULL=1 $(BIN)/python -m pytest -q -rs -n 2 --dist loadfile tests/e2e/test_spark_equality.py tests/e2e/test_spark_pipeline.py

# The night on a throwaway PostgreSQL (docs/engines.md): a server of its own, `firewatch run
# --target postgres` on the sample landing `make demo` generated, the queue, then the server and
# its data are gone. The DuckDB staging file is warehouse/postgres_stage.duckdb.
postgres-demo: $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	test -d data/raw || $(BIN)/firewatch generate --out data --profile small --scenario $(DEMO_SCENARIO)
	$(BIN)/python -m tests.support.postgres --run '$(BIN)/firewatch run --raw-dir data/raw \
		--warehouse warehouse/postgres_stage.duckdb && $(BIN)/firewatch queue'

bench-detection: $(MANIFEST)
	$(BIN)/python bench/detection.py
	$(BIN)/python bench/detection_cohorts.py --out docs/detection.md

# Pipeline performance: full build, nightly, doubled history, checks and code-location load per
# profile against a hand-written DuckDB floor -> docs/performance.md (most of the time goes to
# large; the generated data sets stay in bench/.cache/pipeline, `--fresh` regenerates them).
bench: $(MANIFEST)
	$(BIN)/python bench/pipeline.py

# The whole nightly job on DuckDB and on PostgreSQL (a throwaway server per profile, from
# tests/support/postgres.py): full build and one-day nightly of small and medium, with the alerts
# and queue of both compared, and on Spark the pieces of a night (raw copy, dbt build, checks and
# state; the `spark` extra installed first) -> the last section of docs/performance.md (about
# 25 min on 2 cores, 2026-12-04).
bench-engines: $(MANIFEST) $(SPARK_STAMP)
	$(BIN)/python bench/engines.py

# Fault injection: `firewatch run` killed with SIGKILL at 24 random points of nightly runs (load,
# dbt, checks, alerts and queue, BI copy), each followed by a recovery run and its checks, then
# `dbt test`, a fresh build to compare with and the other reliability suites -> docs/reliability.md
# (about 25-30 min on 2 cores). `make test` runs a short campaign (tests/e2e/test_fault_injection.py).
reliability: $(MANIFEST)
	$(BIN)/python bench/reliability.py --kills 24

# dbt's docs site (lineage with the BI exposures, column docs, the warehouse's catalog). dbt opens
# the warehouse to read the catalog, so run it while no nightly run or other client holds it.
docs: $(MANIFEST)
	@test -f warehouse/firewatch.duckdb || \
		{ echo "no warehouse at warehouse/firewatch.duckdb: run make demo first" >&2; exit 1; }
	cd dbt_project && FIREWATCH_WAREHOUSE=$(CURDIR)/warehouse/firewatch.duckdb \
		../$(BIN)/dbt docs generate --profiles-dir . --quiet
	@echo "Docs: $(CURDIR)/dbt_project/target/index.html"
	@echo "Serve: cd dbt_project && ../$(BIN)/dbt docs serve --port 8080 --profiles-dir ."
	@echo "   or: $(BIN)/python -m http.server -d dbt_project/target 8080"

# dagster 1.13 marks `dagster dev` superseded (not removed) by `dg dev`, which comes with the
# dagster-dg-cli package, not among the pinned dependencies. Its warning is filtered the way
# Dagster documents (Python's warnings filter; SupersessionWarning is a FutureWarning), for this
# one message in the `dagster dev` process only: the code location's own warnings still show.
DAGSTER_DEV_WARNING := ignore:Function `dev_command` is superseded:FutureWarning

dev: $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -W '$(DAGSTER_DEV_WARNING)' -m dagster dev -h 127.0.0.1 -p 3000

clean:
	rm -rf data warehouse dbt_project/target dbt_project/logs .dagster_home
