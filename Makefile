# The two commands of the README. Each installs what it needs into .venv from the lock file.
PYTHON ?= python3.11
VENV ?= .venv
BIN = $(VENV)/bin
STORE ?= runs/quick

.PHONY: install quick test lint

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

SEEDS ?=
SEEDS_FLAG = $(if $(SEEDS),--seeds $(SEEDS),)

## Main job: the quick matrix on mnist5k, then the report (tables, figures, README block).
quick: install
	$(BIN)/hyperens matrix quick --store $(STORE) $(SEEDS_FLAG)
	$(BIN)/hyperens report --store $(STORE) --out results/quick --readme README.md

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Tests: lint, then the whole suite (pytest exits 5 when it collects nothing, which fails here).
test: lint
	$(BIN)/python -m pytest -q
