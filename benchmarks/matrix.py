"""Benchmark matrices: named sets of cells in `gin/matrices/NAME.gin`, run resumably.

A matrix is a tier plus groups; each group is the product datasets x models x methods over seeds
0..seeds-1. Cells run seed by seed (all cells of seed 0 first), so an interrupted matrix has
whole seeds to compare. A cell already `done` in the store is skipped; a cell interrupted
mid-way resumes from its trial cache and checkpoints (see `benchmarks.runner`).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gin

from benchmarks import compose
from benchmarks.errors import HyperensError
from benchmarks.methods.base import Cell
from benchmarks.runner import run_cell
from benchmarks.store import RunStore, write_results
from benchmarks.trials import TrainerCache

GROUP_KEYS = {"datasets", "models", "methods", "seeds"}
_ECHO = functools.partial(print, flush=True)


@gin.configurable
@dataclasses.dataclass(frozen=True)
class Matrix:
    """tier: the budget tier of every cell; groups: dicts with keys datasets, models, methods
    (lists of names) and seeds (int); gin_params: extra bindings applied to every cell."""

    tier: str = "smoke"
    groups: Sequence[Mapping[str, Any]] = ()
    gin_params: Sequence[str] = ()

    def __post_init__(self):
        if not self.groups:
            raise HyperensError("Matrix.groups is empty")
        for g in self.groups:
            if set(g) != GROUP_KEYS:
                raise HyperensError(f"a matrix group needs exactly {sorted(GROUP_KEYS)}, got {g}")
            if int(g["seeds"]) < 1:
                raise HyperensError(f"a matrix group needs seeds >= 1, got {g['seeds']}")

    def cells(self, seeds: int | None = None, only: str | None = None) -> list[Cell]:
        """Every cell, seed-major; `seeds` caps each group's seeds; `only` is an fnmatch pattern
        on 'dataset/model/method/seed'."""
        out: list[Cell] = []
        most = max(int(g["seeds"]) for g in self.groups)
        for seed in range(most if seeds is None else min(most, seeds)):
            for g in self.groups:
                if seed >= int(g["seeds"]):
                    continue
                for d in g["datasets"]:
                    for m in g["models"]:
                        for x in g["methods"]:
                            cell = Cell(d, m, x, self.tier, seed)
                            if only is None or fnmatch.fnmatchcase(cell_name(cell), only):
                                out.append(cell)
        return out


def cell_name(cell: Cell) -> str:
    return f"{cell.dataset}/{cell.model}/{cell.method}/{cell.seed}"


def load_matrix(name: str) -> Matrix:
    """Parses gin/matrices/NAME.gin (alone) into a Matrix; unknown names fail in one line."""
    path = compose.GIN_DIR / "matrices" / f"{name}.gin"
    if not path.is_file():
        raise HyperensError(
            f"unknown matrix {name!r}; valid names: {', '.join(compose.available('matrices'))}"
        )
    compose.parse([path])
    try:
        return Matrix()
    finally:
        gin.clear_config()


def _elapsed(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}h{m % 60:02d}m{s:02d}s" if m >= 60 else f"{m}m{s:02d}s"


def run_matrix(
    name: str,
    store: str | Path,
    executor=None,
    seeds: int | None = None,
    only: str | None = None,
    echo=_ECHO,
) -> dict[str, int]:
    """Runs every missing cell of matrix `name`; returns counts by outcome.

    Every cell's configuration is composed before anything runs, so a bad name or binding fails
    in seconds with nothing written. A cell that fails is reported and the matrix goes on; the
    caller decides the exit code from the counts.
    """
    matrix = load_matrix(name)
    cells = matrix.cells(seeds, only)
    if not cells:
        raise HyperensError(f"matrix {name!r} has no cells matching --only {only!r}")
    for cell in cells:  # validates names, gin and values before the store is touched
        compose.resolve(cell, (), matrix.gin_params)
    trainers = TrainerCache(keep=3)  # compiled networks of the efficient methods, across cells
    counts = {"done": 0, "skipped": 0, "diverged": 0, "failed": 0}
    start = time.perf_counter()
    trials_dir = Path(store) / "trials"
    for i, cell in enumerate(cells, 1):
        t0 = time.perf_counter()
        try:
            out = run_cell(cell, store, gin_params=matrix.gin_params, executor=executor,
                           trainers=trainers)  # fmt: skip
            key = "skipped" if out.skipped else out.status
        except HyperensError as err:
            key = "failed"
            echo(f"  {cell_name(cell)} failed: {str(err).splitlines()[0]}")
        counts[key] = counts.get(key, 0) + 1
        trials = sum(1 for _ in trials_dir.iterdir()) if trials_dir.is_dir() else 0
        echo(
            f"[{i}/{len(cells)}] {cell_name(cell)} {key} ({time.perf_counter() - t0:.1f} s) | "
            f"trials in store {trials} | elapsed {_elapsed(time.perf_counter() - start)}"
        )
    write_results(RunStore(store))
    return counts
