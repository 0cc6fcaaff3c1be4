# Plateledger: `make demo` and `make test` work on a fresh machine with Python 3.11, make and git.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DATA ?= plateledger-data
READS ?= 1000000

.PHONY: setup demo test lint typecheck pytest bench-quick clean docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/plateledger demo --data $(DATA) --reads $(READS)

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest -q

test: lint typecheck pytest

docs: setup
	$(BIN)/python -m plateledger.docsgen

bench-quick: setup
	$(BIN)/python benchmarks/run.py --reads 1e6 --searches 500 --area-searches 100 --http-batches 20 --alert-seconds 10

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
