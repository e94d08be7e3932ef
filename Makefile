# Two entry points for a newcomer: `make example` (the main job) and `make test`.
# Each creates .venv when missing and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PACT_DO_NOT_TRACK := true

.PHONY: example test lint docs bench bench-full clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e . --group dev --group docs
	touch $@

example: $(VENV)/.installed-dev
	$(MAKE) -C examples/flask_users verify PYTHON_BIN=$(abspath $(BIN))
	$(MAKE) -C examples/flask_orders verify PYTHON_BIN=$(abspath $(BIN))

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	MYPYPATH=examples/flask_users $(BIN)/mypy examples/flask_users
	MYPYPATH=examples/flask_orders $(BIN)/mypy examples/flask_orders

test: lint docs
	$(BIN)/python -m pytest

# The docs, offline, warnings as errors (intersphinx only with DOCS_INTERSPHINX=1).
docs: $(VENV)/.installed-dev
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

# A quick run (about a minute): every benchmark at small sizes, missed targets flagged.
bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks --quick

# The full tables (about 20 minutes on 2 cores).
bench-full: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
