# `make run` sets everything up and serves on http://127.0.0.1:8000; `make test` sets up and runs
# every test. Both create .venv from constraints.txt (exact pins) the first time.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1
# torch's CPU build comes from PyTorch's own index, as in the Dockerfile, when that index answers
# (a machine with internet); otherwise pip's own configuration (a local wheel folder, a mirror)
# provides the pinned torch. `make TORCH_INDEX= run` never asks it.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_INDEX_ARG = $(shell [ -n "$(TORCH_INDEX)" ] && $(PYTHON) -c "import urllib.request as u; u.urlopen('$(TORCH_INDEX)/torch/', timeout=5)" >/dev/null 2>&1 && echo --extra-index-url $(TORCH_INDEX))
PIP = $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt $(TORCH_INDEX_ARG)

.PHONY: setup setup-test run test test-fast lint format openapi docs container-smoke bench load

# What serving needs (the `server` extra); `setup-test` adds the test tools.
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[server]'
	touch $@

setup-test: $(VENV)/.installed-test

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e '.[server,test]'
	touch $@

run: setup
	$(BIN)/gradient-service serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The inner loop: everything but live servers, browsers, faults and fuzzing (about 90 s).
test-fast: setup-test
	$(BIN)/python -m pytest -m "not slow"

lint: setup-test
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: setup-test
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

openapi: setup
	$(BIN)/gradient-service openapi openapi/openapi.json

# Runs every example in README.md and docs/ against a server it starts, and writes their output.
docs: setup-test
	$(BIN)/python -m scripts.docs --write

# Builds the Dockerfile with podman and smoke-tests the image (minutes; not in CI).
container-smoke:
	scripts/container-smoke

# Benchmarks: issue 14's targets and more, each a ratio to a baseline measured in the same run,
# and bench/cost.svg (about 160 s; BENCH_ARGS=--quick ~35 s).
bench: setup-test
	$(BIN)/python -m bench $(BENCH_ARGS)

load: setup  # 60 s of wrk against 2 workers on 127.0.0.1 (apt-get install -y wrk)
	$(BIN)/python scripts/load.py
