"""Ensembles of a cell's stored random-search trials, evaluated without training (the paper's
Fig. 1 past K, and any selection rule a user wants to try on the suite's trials).

    pool = cell_pool("runs/quick", Cell("mnist5k", "mlp", "hyper_ens", "quick", 0),
                     gin_params=matrix_params("quick"))
    counts = select(pool, "greedy", size=3)  # validation predictions only
    metrics = evaluate(pool, counts)          # raw and calibrated, val and test

The pool is the cell's random search in its own order (trial 0 = the defaults, then the seeded
draws; `benchmarks.methods.search.random_search`), read from the store's trial cache: a trial
that is not there is an error, never a training. Selection rules (`SELECTIONS`) read validation
predictions and labels only:

* `greedy`: greedy selection with replacement until `size` distinct members or no strict
  improvement (Caruana et al. 2004, as hyper-ens; the cell's `WeightSpace.objective`);
* `caruana`: the same greedy rule for exactly `size` picks, repeats counted, no early stop;
* `topk`: the `size` trials with the lowest validation NLL (`random_search_topk`);
* `random`: `size` distinct usable trials drawn with `np.random.default_rng([seed, size])`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import compose
from benchmarks.errors import HyperensError
from benchmarks.methods import CellContext
from benchmarks.methods.search import random_search, stack, usable
from benchmarks.metrics import compute_all, nll
from benchmarks.metrics.temperature import calibrated_by_split
from benchmarks.models import LayerFactory, build_model
from benchmarks.runner import cell_data
from benchmarks.selection import greedy_select, top_k_by_nll
from benchmarks.selection.rules import SELECTIONS
from benchmarks.settings import Cell
from benchmarks.trials.scheduler import TrialRunner

__all__ = ["SELECTIONS", "Pool", "caruana_select", "cell_pool", "evaluate", "matrix_params",
           "select"]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Pool:
    """A cell's search trials in search order: (T, N, C) probabilities (uniform rows for trials
    that diverged or failed, masked by `usable`), labels, the selection objective and K."""

    cell: Cell
    keys: list[str]
    hparams: list[dict]
    usable: np.ndarray
    val_probs: np.ndarray
    test_probs: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray
    objective: str
    k: int  # the cell's ensemble size K (WeightSpace.k)


class _ReadOnly:
    """An executor that never trains: asked to, it names what is missing from the store."""

    name = "read-only"

    def map(self, fn, payloads):
        missing = sum(len(p["keys"]) for p in payloads)
        raise HyperensError(
            f"{missing} trial(s) of the cell's search are not in the store; run the cell first "
            "(hyperens run/matrix) with the same settings (--matrix, --gin_param)"
        )


def matrix_params(name: str) -> tuple[str, ...]:
    """The `Matrix.gin_params` a matrix binds for every cell (what its trials were keyed with)."""
    matrix, _ = compose.plan_matrix(name, None, None, (), ())
    return tuple(matrix.gin_params)


def cell_pool(
    store: str | Path,
    cell: Cell,
    gin_files: Sequence[str] = (),
    gin_params: Sequence[str] = (),
    kappa: int | None = None,
) -> Pool:
    """The first `kappa` (default: the cell's `WeightSpace.kappa`) trials of `cell`'s random
    search, read from `store`'s trial cache (HyperensError if one is missing)."""
    if not (Path(store) / "trials").is_dir():
        raise HyperensError(f"{store} is not a store with trials (no trials/ directory)")
    settings = compose.resolve(cell, gin_files, gin_params)
    data, _, identity = cell_data(settings)
    ws = settings.methods.weight_space
    kappa = ws.kappa if kappa is None else int(kappa)
    if kappa < 1:
        raise HyperensError(f"kappa must be >= 1, got {kappa}")

    arch = dict(settings.model_settings)

    def make_model(pack: int, factory_cls=LayerFactory, mimo=None):
        return build_model(cell.model, data.input_shape, data.num_classes, pack=pack,
                           factory_cls=factory_cls, settings=arch)  # fmt: skip

    runner = TrialRunner(store, identity, data.y_val, _ReadOnly(), progress=False)
    ctx = CellContext(cell, data, settings.train_config, settings.space, settings.methods,
                      make_model, Path(store) / "unused", runner)  # fmt: skip
    trials = runner.run(random_search(ctx, kappa), budget=False)
    return Pool(cell, [t.key for t in trials], [t.spec.hp() for t in trials], usable(trials),
                stack(trials, "val"), stack(trials, "test"), np.asarray(data.y_val),
                np.asarray(data.y_test), ws.objective, ws.k)  # fmt: skip


def caruana_select(val_probs: np.ndarray, y_val: np.ndarray, picks: int, mask: np.ndarray):
    """(T,) counts after exactly `picks` greedy picks with replacement on validation NLL: each
    pick adds the usable trial whose addition gives the lowest NLL of the mean prediction (ties:
    lowest index), even when that NLL does not improve."""
    counts, total = np.zeros(len(val_probs), int), np.zeros(val_probs.shape[1:])
    candidates = np.flatnonzero(mask)
    for n in range(picks):
        scores = [nll((total + val_probs[t]) / (n + 1), y_val) for t in candidates]
        best = int(candidates[int(np.argmin(scores))])
        counts[best] += 1
        total += val_probs[best]
    return counts


def select(pool: Pool, rule: str, size: int, seed: int = 0) -> np.ndarray:
    """(T,) member counts of the ensemble that `rule` (`SELECTIONS`) builds at `size`, from
    the pool's validation predictions and labels only."""
    if rule not in SELECTIONS:
        raise HyperensError(f"unknown selection {rule!r}; valid: {', '.join(SELECTIONS)}")
    n_usable = int(pool.usable.sum())
    if not 1 <= size <= (n_usable if rule != "caruana" else 10**6):
        raise HyperensError(f"size must be in 1..{n_usable} (usable trials), got {size}")
    counts = np.zeros(len(pool.keys), int)
    if rule == "greedy":
        return greedy_select(pool.val_probs, pool.y_val, size, pool.objective, pool.usable).counts
    if rule == "caruana":
        return caruana_select(pool.val_probs, pool.y_val, size, pool.usable)
    if rule == "topk":
        counts[top_k_by_nll(pool.val_probs, pool.y_val, size, mask=pool.usable)] = 1
        return counts
    rng = np.random.default_rng([seed, size])
    counts[rng.choice(np.flatnonzero(pool.usable), size, replace=False)] = 1
    return counts


def evaluate(pool: Pool, counts: np.ndarray) -> dict[str, dict[str, float]]:
    """The suite's metrics (`compute_all`) of the ensemble with member `counts`, on val and
    test, plus the calibrated ones (one temperature fitted on validation)."""
    chosen = np.flatnonzero(counts)
    w = counts[chosen].astype(np.float32)
    preds = {"val_probs": pool.val_probs[chosen], "val_labels": pool.y_val,
             "test_probs": pool.test_probs[chosen], "test_labels": pool.y_test,
             "member_weights": w}  # fmt: skip
    calibrated = calibrated_by_split(preds)
    return {
        split: {**compute_all(preds[f"{split}_probs"], preds[f"{split}_labels"], w),
                **calibrated.get(split, {})}
        for split in ("val", "test")
    }  # fmt: skip
