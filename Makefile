# Two commands on a fresh clone: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install install-dev system-deps demo test test-postgres compare fuzz soak quality latency clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Browser tests drive Debian's chromium (nothing is downloaded at test time).
system-deps:
	@command -v chromium >/dev/null || { \
		echo "installing Debian chromium for the browser tests"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

demo: install
	$(BIN)/mlapps demo --quick

test: install-dev system-deps
	$(BIN)/python -m pytest

# Flask vs Django under gunicorn: wrk drives the load when installed (Debian package), else a Python client.
COMPARE_ARGS ?=
compare: install-dev
	@command -v wrk >/dev/null || { \
		echo "installing Debian wrk for the load generator"; \
		{ $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; } \
		|| echo "wrk could not be installed: the Python load generator is used"; }
	$(BIN)/mlapps compare $(COMPARE_ARGS)

# Schemathesis against every app served by gunicorn, >= 500 examples per operation (reports/fuzz.json).
FUZZ_ARGS ?=
fuzz: install-dev
	$(BIN)/python benchmarks/fuzz.py $(FUZZ_ARGS)

# 60 s at concurrency 32 per app: errors, p99, memory drift, acknowledged writes vs rows (reports/soak.json).
SOAK_ARGS ?=
soak: install-dev
	$(BIN)/python benchmarks/soak.py $(SOAK_ARGS)

quality: install-dev
	$(BIN)/python benchmarks/credit_quality.py
	$(BIN)/python benchmarks/maintenance_quality.py
	$(BIN)/python benchmarks/recommender_quality.py

# In-process speed of each app's served path against the naive one (reports/*_latency.json, recommender_serving.json).
latency: install-dev
	$(BIN)/python benchmarks/credit_latency.py
	$(BIN)/python benchmarks/maintenance_latency.py
	$(BIN)/python benchmarks/recommender_serving.py

clean:
	rm -rf $(VENV) .pytest_cache
