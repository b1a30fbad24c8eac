# The two commands of the README. Each installs what it needs into .venv from the lock file.
PYTHON ?= python3.11
VENV ?= .venv
BIN = $(VENV)/bin
STORE ?= runs/quick

.PHONY: install quick fashion ablations test lint wheel-check notebook screenshot

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

## The paper's MLP/LeNet experiment on the full Fashion-MNIST (its IDX files: README, Datasets),
## then its report and README block (results/fashion, the paper's Table 1 layout).
FASHION_STORE ?= runs/fashion
ONLY ?=
ONLY_FLAG = $(if $(ONLY),--only '$(ONLY)',)
fashion: install
	$(BIN)/hyperens matrix fashion --store $(FASHION_STORE) $(SEEDS_FLAG) $(ONLY_FLAG)
	$(BIN)/hyperens report --store $(FASHION_STORE) --out results/fashion --readme README.md

## Ablations of the efficient rows against results/quick (run after `make quick` on the same
## commit): each reruns some methods on the first ABLATION_SEEDS seeds with other settings and
## writes paired differences to results/quick/ablations/NAME.md (benchmarks/analysis/ablation.py).
ABLATION_SEEDS ?= 4
ABLATIONS ?= single_best stop_holdout tuning_lr_1e-2 last_epoch
ablations: install
	set -e; for a in $(ABLATIONS); do \
	  $(BIN)/hyperens ablate $$a --seeds $(ABLATION_SEEDS) --store runs/ablation-$$a; done

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Tests: lint, then the whole suite (pytest exits 5 when it collects nothing, which fails here),
## on one pytest-xdist process per core, at most 4 (each holds its own TensorFlow, pinned to one
## thread by tests/conftest.py); the Ray tests share one process (one local Ray cluster at a time).
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n < 4 ? n : 4 )))
test: lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

## The package as a user gets it: build the wheel, install it (with the lock's versions and the
## [cpu] extra) into a fresh venv; check that it holds the top-level gin/ as files (benchmarks/gin
## is a symlink in the checkout), then list the names and run a smoke cell and its report from an
## empty directory.
wheel-check: install
	rm -rf build dist
	$(BIN)/python -m pip wheel -q --no-deps -w dist .
	set -e; repo=$$(pwd); tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install -q --no-compile -c requirements.lock "$$(ls dist/hyperens-*.whl)[cpu]"; \
	mkdir "$$tmp/empty"; cd "$$tmp/empty"; unset PYTHONPATH; \
	"$$tmp/venv/bin/python" -c "import benchmarks, sys; sys.exit('$$tmp/venv' not in benchmarks.__file__)"; \
	pkg=$$("$$tmp/venv/bin/python" -c "import benchmarks, os; print(os.path.dirname(benchmarks.__file__))"); \
	test ! -L "$$pkg/gin"; diff -r "$$repo/gin" "$$pkg/gin"; \
	"$$tmp/venv/bin/hyperens" list | grep -q "^  fashion "; \
	"$$tmp/venv/bin/hyperens" run --dataset digits --model mlp --method single --tier smoke --store "$$tmp/store"; \
	"$$tmp/venv/bin/hyperens" report --store "$$tmp/store" --out "$$tmp/report"; \
	test -s "$$tmp/report/results.csv"; \
	echo "wheel-check: the installed wheel ran a smoke cell and its report"

## The analysis notebook on a store (default runs/quick) in JupyterLab.
notebook: install
	HYPERENS_STORE=$(STORE) $(BIN)/jupyter lab analysis/report.ipynb

## The report page of results/quick (results/quick/index.html, from its committed files) and a
## screenshot of its top in headless Chromium (Debian's chromium), shown in the README.
CHROMIUM ?= chromium
screenshot: install
	$(BIN)/python -c "from benchmarks.report.html import write_html; write_html('results/quick', 'hyperens report: quick')"
	tmp=$$(mktemp -d); $(CHROMIUM) --headless --no-sandbox --disable-gpu --disable-quic \
	  --no-first-run --disable-background-networking --disable-component-update --disable-sync \
	  --user-data-dir="$$tmp" --hide-scrollbars --window-size=1100,900 \
	  --screenshot="$(CURDIR)/docs/report.png" "file://$(CURDIR)/results/quick/index.html"; \
	rm -rf "$$tmp"
