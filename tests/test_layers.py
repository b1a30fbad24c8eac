"""The suite's layers: no import cycles, the suite's own imports at module level, and what each
entry point pulls in, checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchmarks.bench.layers import PACKAGE, ROOT, cycles, gin_readers, import_graph

# Function-level imports of the suite's own modules, allowed only where they keep something heavy
# out of a path that does not need it: the CLI (TensorFlow, matplotlib) and the analysis package
# (its figure functions, matplotlib).
LAZY_IMPORTERS = {"benchmarks.cli", "benchmarks.analysis"}


def test_cycle_finder_finds_a_planted_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_suite_has_no_import_cycle():
    edges, _ = import_graph()
    assert len(edges) > 60 and cycles(edges) == []


def test_the_suite_imports_its_own_modules_at_module_level():
    _, lazy = import_graph()
    assert sorted({m for m, _ in lazy} - LAZY_IMPORTERS) == []


def _fresh(module: str) -> dict[str, bool]:
    code = (
        f"import json, sys; import {module}; "
        "print(json.dumps({k: k in sys.modules for k in ("
        "'tensorflow', 'gin', 'benchmarks.methods', 'benchmarks.compose', 'matplotlib')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "module",
    ["benchmarks.settings", "benchmarks.compose", "benchmarks.data", "benchmarks.store",
     "benchmarks.trials", "benchmarks.cli"],
)  # fmt: skip
def test_settings_and_entry_points_load_without_tensorflow(module):
    """Names, bindings and values are checked (compose) before any training code loads."""
    assert _fresh(module)["tensorflow"] is False


def test_the_trial_worker_imports_neither_gin_nor_methods():
    loaded = _fresh("benchmarks.trials.worker")
    assert loaded["tensorflow"] is True  # it does train
    assert not (loaded["gin"] or loaded["benchmarks.methods"] or loaded["benchmarks.compose"])


def test_every_package_imports_alone():
    packages = sorted(
        {".".join(p.relative_to(ROOT).parts[:-1]) for p in PACKAGE.rglob("__init__.py")}
    )
    assert "benchmarks.trials" in packages
    code = "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]"
    for package in packages:
        subprocess.run([sys.executable, "-c", code, package], cwd=ROOT, check=True, timeout=120,
                       capture_output=True)  # fmt: skip


def test_only_compose_reads_gin():
    assert gin_readers() == ["benchmarks.compose"]
