"""`hyperens bench matrix`: the matrix's CPU use and wall time on 1 and on 2 worker processes.

Runs the same cells (default: two seeds of the quick matrix's MLP cells, every method) into a
fresh temporary store for each worker count, in this one sitting, and prints each run's last
lines (wall time, CPU use, where the cells' time went; `benchmarks.matrix`) and the ratio of
wall times. Figures are printed, never asserted.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.matrix import run_matrix


def run_matrix_benchmark(
    matrix: str = "quick", only: str = "mnist5k/mlp/*", seeds: int = 2, workers=(1, 2)
) -> dict[int, float]:
    walls = {}
    for n in workers:
        root = Path(tempfile.mkdtemp(prefix="hyperens-bench-matrix-"))
        lines: list[str] = []
        try:
            start = time.perf_counter()
            counts = run_matrix(matrix, root, seeds=seeds, only=only, echo=lines.append, workers=n)
            walls[n] = time.perf_counter() - start
        finally:
            shutil.rmtree(root, ignore_errors=True)
        print(f"{matrix} matrix, cells {only!r}, {seeds} seeds, {n} worker(s): "
              f"{sum(counts.values())} cells in {walls[n]:.1f} s")  # fmt: skip
        for line in lines[-2:]:
            print("  " + line)
    if 1 in walls and len(walls) > 1:
        for n, wall in walls.items():
            if n != 1:
                print(f"{n} workers: {walls[1] / wall:.2f}x the speed of 1 worker")
    return walls
