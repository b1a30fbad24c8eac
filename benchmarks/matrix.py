"""Running benchmark matrices (`gin/matrices/NAME.gin`, see `benchmarks.settings.matrix`),
resumably.

Cells run seed by seed (all cells of seed 0 first), so an interrupted matrix has whole seeds to
compare. A cell already `done` in the store is skipped; a cell interrupted mid-way resumes from
its trial cache and checkpoints (see `benchmarks.runner`).
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

from benchmarks import compose
from benchmarks.errors import HyperensError
from benchmarks.runner import run_cell
from benchmarks.settings.matrix import cell_name
from benchmarks.store import RunStore, write_results
from benchmarks.trials import TrainerCache

_ECHO = functools.partial(print, flush=True)


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
    matrix, cells = compose.plan_matrix(name, seeds, only)  # every bad input fails here
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
