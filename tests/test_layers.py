"""The suite's layers: no import cycles, the suite's own imports at module level, and what each
entry point pulls in, checked in a fresh interpreter."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "benchmarks"
# Function-level imports of the suite's own modules, allowed only where they keep something heavy
# out of a path that does not need it: the CLI (TensorFlow, matplotlib) and the analysis package
# (its figure functions, matplotlib).
LAZY_IMPORTERS = {"benchmarks.cli", "benchmarks.analysis"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """module -> suite modules it imports (every import, at any level, and the packages those
    live in, which Python runs first); and the (module, target) pairs imported inside functions."""
    modules = _modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    lazy = []
    for mod, path in modules.items():
        tree = ast.parse(path.read_text())
        in_function = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                in_function.update(id(n) for n in ast.walk(node))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                target = _resolve(name, modules) if name.startswith("benchmarks") else None
                if target is None or target == mod:
                    continue
                if id(node) in in_function:
                    lazy.append((mod, target))
                while target.count("."):
                    if not mod.startswith(target + "."):
                        edges[mod].add(target)
                    target = target.rpartition(".")[0]
    return edges, lazy


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


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
