# Plateledger: `make demo` and `make test` work on a fresh machine with Python 3.11, make and git.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DATA ?= plateledger-data
READS ?= 1000000

# System packages from Debian's registry: the web UI's map library (served from /usr/share/javascript/leaflet),
# the case packet's Unicode font (setting pdf_font) and the headless browser the UI tests drive. Installed with
# apt-get when missing (sudo unless root). The accessibility engine those tests run in it (axe-core) comes with
# the test extra (axe-playwright-python).
LEAFLET := /usr/share/javascript/leaflet/leaflet.js
DEJAVU := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
CHROMIUM := /usr/bin/chromium
APT := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: setup demo test lint typecheck pytest bench-quick clean docs screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml verify/pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]' -e ./verify
	touch $@

$(LEAFLET):
	@command -v apt-get >/dev/null || { echo "no apt-get: install Leaflet 1.x and set PLATELEDGER_LEAFLET_DIR"; exit 0; }; \
	  $(APT) update -qq && $(APT) install -y -qq libjs-leaflet

$(DEJAVU):
	@command -v apt-get >/dev/null || { echo "no apt-get: install DejaVu Sans and set PLATELEDGER_PDF_FONT"; exit 0; }; \
	  $(APT) update -qq && $(APT) install -y -qq fonts-dejavu-core

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "no apt-get: install Chromium for the browser tests"; exit 0; }; \
	  $(APT) update -qq && $(APT) install -y -qq chromium

setup: $(VENV)/.installed $(LEAFLET) $(DEJAVU)

demo: setup
	$(BIN)/plateledger demo --data $(DATA) --reads $(READS)

lint: setup
	$(BIN)/ruff check src tests benchmarks verify
	$(BIN)/ruff format --check src tests benchmarks verify
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

# The suite in PYTEST_WORKERS processes (pytest-xdist), a test module per process at a time (--dist loadfile: a
# module's shared fixtures are built once); PYTEST_WORKERS=0 runs it in this one process. Its temporary directories
# (every test's data directory) go to PYTEST_TMPDIR, a tmpfs where there is one: the stores' fsyncs cost nothing
# there (a throwaway store needs no durability, as CI's PostgreSQL runs with fsync=off), and a test's directory is
# removed when it passes (pyproject's tmp_path_retention_policy). It runs in two parts, each in fresh processes:
# chDB keeps a few open files for every store a process has opened, and one process for the whole suite came
# within 30% of the open-file limit (tests/conftest.py prints what each process held). The integration tests open
# nearly all the stores, so they are what is split: test_a* to test_m* first, then everything else.
PYTEST_WORKERS ?= 2
PYTEST_TMPDIR ?= $(if $(wildcard /dev/shm/.),/dev/shm,$(or $(TMPDIR),/tmp))
PYTEST_RUN = TMPDIR=$(PYTEST_TMPDIR) $(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile
PYTEST_FIRST = tests/integration/test_[a-m]*.py
pytest: setup $(CHROMIUM)
	$(PYTEST_RUN) $(PYTEST_FIRST)
	$(PYTEST_RUN) --ignore-glob='$(PYTEST_FIRST)'

# Retake the web UI's screenshots (docs/screenshots/, linked from the README) with the browser tests.
screenshots: setup $(CHROMIUM)
	PLATELEDGER_TEST_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q -m browser

test: lint typecheck pytest

docs: setup
	$(BIN)/python -m plateledger.docsgen

bench-quick: setup
	$(BIN)/python benchmarks/run.py --reads 1e6 --searches 500 --area-searches 100 --http-batches 20 --alert-seconds 10

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
