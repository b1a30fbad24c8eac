"""`hyperens bench layers`: the suite's import structure, measured from its source.

Prints the number of modules, import cycles, function-level imports of the suite's own modules
(and which modules hold them), the largest files and the modules that import gin.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "benchmarks"


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Module name -> file, for every module under `package`."""
    out = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(
    package: Path = PACKAGE,
) -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """module -> suite modules it imports (every import, at any level, and the packages those
    live in, which Python runs first); and the (module, target) pairs imported inside functions."""
    found = modules(package)
    edges: dict[str, set[str]] = {m: set() for m in found}
    lazy = []
    for mod, path in found.items():
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
                target = _resolve(name, found) if name.startswith("benchmarks") else None
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


def gin_readers(package: Path = PACKAGE) -> list[str]:
    """Modules that import gin (their own source, not what they import)."""
    out = []
    for mod, path in modules(package).items():
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        if any(n == "gin" or n.startswith("gin.") for n in names):
            out.append(mod)
    return sorted(out)


def run_layers_report(package: Path = PACKAGE) -> dict:
    """Prints the figures; returns them."""
    edges, lazy = import_graph(package)
    sizes = sorted(((len(p.read_text().splitlines()), m) for m, p in modules(package).items()),
                   reverse=True)  # fmt: skip
    figures = {"modules": len(edges), "import_cycles": cycles(edges),
               "function_level_suite_imports": len(lazy),
               "modules_with_them": sorted({m for m, _ in lazy}),
               "largest_files": sizes[:5], "gin_readers": gin_readers(package)}  # fmt: skip
    for key, value in figures.items():
        print(f"{key}: {value}")
    return figures
