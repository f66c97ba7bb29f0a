# ecocloud — the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
NATIVE := ingest/hj212/_tokens.c
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml Makefile $(NATIVE) | sha256sum | cut -c1-12)
UV_VERSION := 0.13.9
CHROMIUM := /usr/bin/chromium

.PHONY: help venv demo up test test-fast lint format typecheck bench browser clean

help:
	@echo "make demo   run the simulator and the Airflow DAGs for a few simulated days, print results, serve the web app"
	@echo "make up     the platform on this machine until Ctrl-C (UP_FLAGS=--simulate: with simulated upstreams)"
	@echo "make test   lint, type-check, check import directions and run every test (unit, integration, e2e)"
	@echo "make bench  national-scale benchmark (figures go to BENCHMARKS.md)"
	@echo "make lint | format | typecheck | test-fast | clean"

venv: $(STAMP)

# Creates .venv and installs the pinned lock (uv for speed; pip bootstraps uv) plus the project itself,
# whose C kernels (NATIVE) are compiled in place by the editable install (gcc and the Python headers).
# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set, every Airflow task process
# would otherwise recompile Airflow, GX and pandas from source (seconds per process).
$(STAMP): requirements.lock pyproject.toml Makefile $(NATIVE)
	@command -v $(PY) >/dev/null || { echo "need $(PY) on PATH"; exit 1; }
	@command -v gcc >/dev/null || { echo "need gcc on PATH (the C kernels in $(NATIVE))"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync -q --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

browser:
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium for browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; }

# Ends by serving the web app on the demo's data when run from a terminal (Ctrl-C stops it); DEMO_FLAGS=--no-serve exits.
demo: venv
	$(BIN)/ecocloud demo $(DEMO_FLAGS)

# Airflow (scheduler, DAG processor, triggerer, API server/UI), the HJ 212 receiver and the web app until Ctrl-C.
up: venv
	$(BIN)/ecocloud up $(UP_FLAGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: venv
	$(BIN)/mypy

test: venv lint browser
	$(BIN)/pytest -q

test-fast: venv
	$(BIN)/pytest -q -m "unit"

bench: venv
	$(BIN)/python -m bench.run_air
	$(BIN)/python -m bench.run_hj212_ingest
	$(BIN)/python -m bench.run_hj212_dates --runs 3
	$(BIN)/python -m bench.run_hj212_receiver --clients 2 --runs 3
	$(BIN)/python -m bench.run_hj212_receiver --clients 2 --runs 3 --rate 10000 --skip-memory
	$(BIN)/python -m bench.run_hj212_compaction
	$(BIN)/python -m bench.run_serving_refresh
	$(BIN)/python -m bench.run_risk
	$(BIN)/python -m bench.run_task_startup --runs 2

clean:
	rm -rf .ecocloud bench/out .mypy_cache .ruff_cache
