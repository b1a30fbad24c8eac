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

METHODS ?= single random_search_topk deep_ensemble hyper_ens hyper_deep_ensemble \
	batch_ensemble hyper_batch_ensemble self_tuning

## Main job: the quick tier on mnist5k, ending in the results table.
quick: install
	for m in $(METHODS); do \
	  $(BIN)/hyperens run --dataset mnist5k --model mlp --method $$m --tier quick --seed 0 --store $(STORE) || exit 1; \
	done
	$(BIN)/hyperens results --store $(STORE) --export results/quick --readme README.md

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Tests: lint, then the whole suite (pytest exits 5 when it collects nothing, which fails here).
test: lint
	$(BIN)/python -m pytest -q
