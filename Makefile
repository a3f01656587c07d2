# Two commands on a fresh clone: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install install-dev system-deps demo test test-postgres compare fuzz soak quality clean

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
	$(BIN)/mlapps demo

test: install-dev system-deps
	$(BIN)/python -m pytest

compare: install-dev
	$(BIN)/mlapps compare

quality: install-dev
	$(BIN)/python benchmarks/credit_quality.py
	$(BIN)/python benchmarks/maintenance_quality.py
	$(BIN)/python benchmarks/recommender_quality.py

clean:
	rm -rf $(VENV) .pytest_cache
