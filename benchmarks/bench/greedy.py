"""`hyperens bench greedy`: the time of greedy selection on a random pool, per objective."""

from __future__ import annotations

import time

import numpy as np

from benchmarks.selection import OBJECTIVES, greedy_select


def random_pool(pool: int, n: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A float32 Dirichlet pool whose models put extra, model-dependent mass on the label."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    shape = np.full((pool, n, classes), 0.3, dtype=np.float32)
    skill = rng.uniform(0.5, 3.0, size=pool).astype(np.float32)
    shape[:, np.arange(n), labels] += skill[:, None]
    probs = rng.standard_gamma(shape, dtype=np.float32)
    probs += np.float32(1e-30)
    probs /= probs.sum(axis=2, keepdims=True)
    return probs, labels


def bench_greedy(
    pool: int = 100, n: int = 10_000, classes: int = 100, k: int = 4, seed: int = 0
) -> dict[str, float]:
    """Time `greedy_select` (best of 3) on a random float32 pool for each objective.

    Prints one line per objective; returns {objective: seconds}.
    """
    probs, labels = random_pool(pool, n, classes, seed)
    times: dict[str, float] = {}
    for objective in OBJECTIVES:
        best = np.inf
        for _ in range(3):
            start = time.perf_counter()
            sel = greedy_select(probs, labels, k, objective=objective)
            best = min(best, time.perf_counter() - start)
        times[objective] = best
        print(
            f"greedy_select objective={objective:<8} T={pool} N={n} C={classes} k={k}: "
            f"{best:.3f} s (picks={len(sel.picks)}, distinct={len(sel.members)})"
        )
    return times
