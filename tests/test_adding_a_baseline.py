"""docs/USAGE.md's "Adding a baseline", end to end: one Python file + one gin file give a method
that runs in a matrix and appears in the report's tables, with no change to the suite."""

import importlib.util
import shutil
from pathlib import Path

import pytest

from benchmarks import compose as config
from benchmarks.matrix import run_matrix
from benchmarks.methods import METHODS

EXAMPLE = Path(__file__).parent / "example_baseline"


@pytest.fixture
def gin_dir(tmp_path, monkeypatch):
    """A user's gin dir (`--gin_dir`) with only the example's gin file and a one-group matrix;
    every other file comes from the packaged gin files."""
    root = tmp_path / "gin"
    (root / "methods").mkdir(parents=True)
    (root / "matrices").mkdir()
    shutil.copy(EXAMPLE / "seed_pair.gin", root / "methods" / "seed_pair.gin")
    (root / "matrices" / "example.gin").write_text(
        "Matrix.tier = 'smoke'\n"
        "Matrix.groups = [{'datasets': ['digits'], 'models': ['mlp'], 'seeds': 2,\n"
        "                  'methods': ['single', 'seed_pair']}]\n"
    )
    monkeypatch.delenv(config.GIN_DIR_ENV, raising=False)
    monkeypatch.setattr(config, "GIN_DIRS", config.gin_dirs_from([root]))
    return root


@pytest.fixture
def seed_pair():
    """Imports the example (registering it), and unregisters it afterwards."""
    spec = importlib.util.spec_from_file_location("seed_pair", EXAMPLE / "seed_pair.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    yield
    METHODS._items.pop("seed_pair")


def test_a_new_method_is_one_python_file_and_one_gin_file(gin_dir, seed_pair, tmp_path):
    assert "seed_pair" in METHODS

    store = tmp_path / "store"
    counts = run_matrix("example", store, echo=lambda line: None)
    assert counts["done"] == 4 and not counts["failed"]

    from benchmarks.report import write_report
    from benchmarks.report.markdown import tables_markdown

    write_report(tmp_path / "report", store=store)
    table = tables_markdown(__import__("pandas").read_csv(tmp_path / "report" / "results.csv"))
    assert "seed_pair" in table["digits_mlp"]
    assert (tmp_path / "report" / "tables" / "digits_mlp.tex").read_text().count("seed\\_pair") == 1
