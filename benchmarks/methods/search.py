"""The cell's random search and what every method built on it shares.

The search: kappa trials, trial 0 = the default model, the rest log-uniform draws; every search
trial uses the cell's seed as its init seed (the paper's "fixed init"), so it trains once per
(dataset, model, tier, seed) whatever the method. Selection reads validation predictions only.
"""

from __future__ import annotations

import numpy as np

from benchmarks.errors import HyperensError
from benchmarks.methods.base import CellContext, MethodResult
from benchmarks.train.engine import TRAINER_HPARAMS
from benchmarks.trials import Trial, TrialSpec


def search_names(ctx: CellContext) -> list[str]:
    """Tuned names: the model's, plus trainer hyperparameters the search space has a range for."""
    names = list(ctx.build_model(1).hparam_names)
    return names + [n for n in TRAINER_HPARAMS if ctx.space.covers(n)]


def random_search(ctx: CellContext, kappa: int) -> list[TrialSpec]:
    """Trial 0 = defaults; trial i draws from rng([seed, 101]) in order (a prefix of a bigger
    search is the smaller search)."""
    names = search_names(ctx)
    rng = np.random.default_rng([ctx.cell.seed, 101])
    specs = [TrialSpec.make(ctx.space.default_values(names), ctx.cell.seed)]
    specs += [TrialSpec.make(ctx.space.sample(names, rng), ctx.cell.seed) for _ in range(kappa - 1)]
    return specs


def usable(trials: list[Trial]) -> np.ndarray:
    return np.array([t.status == "done" for t in trials])


def stack(trials: list[Trial], split: str) -> np.ndarray:
    """(T, N, C) probabilities; unusable trials get uniform rows (they are masked anyway)."""
    ref = next((t for t in trials if t.status == "done"), None)
    if ref is None:
        raise HyperensError("every trial diverged or failed; nothing to select from")
    shape = getattr(ref, f"{split}_probs").shape
    uniform = np.full(shape, 1.0 / shape[-1], np.float32)
    return np.stack(
        [getattr(t, f"{split}_probs") if t.status == "done" else uniform for t in trials]
    )


def ensemble_result(
    ctx: CellContext,
    trials: list[Trial],
    counts: np.ndarray,
    info: dict,
    picks: list[int] | None = None,
) -> MethodResult:
    """The members with counts > 0 (in pool order); `picks` (pool indices in the order the
    method added them, repeats allowed) becomes the result's build order."""
    chosen = [i for i in range(len(trials)) if counts[i] > 0]
    members = [trials[i] for i in chosen]
    row = {i: r for r, i in enumerate(chosen)}
    order = None if picks is None else [row[i] for i in picks]
    single_params = ctx.build_model(1).param_count()
    info = {
        **info,
        "members": [{"hparams": t.spec.hp(), "seed": t.spec.seed, "trial": t.key} for t in members],
        "member_counts": [int(counts[i]) for i in chosen],
        "trials_trained": ctx.trials.trained,
        "trials_diverged_or_failed": int(sum(t.status != "done" for t in trials)),
        "hparams_source": "random search",
    }
    weights = np.array([counts[i] for i in chosen], np.float32)
    return MethodResult.from_trials(members, weights, single_params * len(members), info, order)


def search_pool(ctx: CellContext) -> list[Trial]:
    """The cell's random search (cached trials after its first method)."""
    return ctx.trials.run(random_search(ctx, ctx.settings.weight_space.kappa))


def best_search_setting(ctx: CellContext) -> TrialSpec:
    """The cell's tuned setting: the random-search trial with the lowest validation NLL (the
    `single` model's hyperparameters; cached trials, so no extra training once searched)."""
    pool = search_pool(ctx)
    return pool[best_index(pool)].spec


def best_index(trials: list[Trial]) -> int:
    mask = usable(trials)
    if not mask.any():
        raise HyperensError("every trial diverged or failed; nothing to select from")
    return int(np.argmin([t.val_nll if ok else np.inf for t, ok in zip(trials, mask, strict=True)]))
