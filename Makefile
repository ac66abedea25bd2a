# `make run` sets everything up and serves on http://127.0.0.1:8000; `make test` sets up and runs
# every test. Both create .venv from constraints.txt (exact pins) the first time.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1

.PHONY: setup run test test-fast lint format openapi container-smoke bench load

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

run: setup
	$(BIN)/gradient-service serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The inner loop: everything but live servers, browsers, faults and fuzzing (about 90 s).
test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

openapi: setup
	$(BIN)/gradient-service openapi openapi/openapi.json

# Builds the Dockerfile with podman and smoke-tests the image (minutes; not in CI).
container-smoke:
	scripts/container-smoke

# Benchmarks: ratios against baselines measured in the same run (about 100 s; --quick ~40 s).
bench: setup
	$(BIN)/python -m bench $(BENCH_ARGS)

load: setup  # 60 s of wrk against 2 workers on 127.0.0.1 (apt-get install -y wrk)
	$(BIN)/python scripts/load.py
