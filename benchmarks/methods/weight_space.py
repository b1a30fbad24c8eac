"""Weight-space ensembles: methods that select and combine trials of one random search.

All five share the cell's random search (kappa trials, trial 0 = the default model, the rest
log-uniform draws; every search trial uses the cell's seed as its init seed, the paper's "fixed
init"), so it trains once per (dataset, model, tier, seed) whatever the method. Selection reads
validation predictions only.

* `single`: the best search trial by validation NLL.
* `random_search_topk`: the K best search trials by validation NLL, averaged.
* `deep_ensemble`: the best trial's hyperparameters with K init seeds (seed k = member_seed).
* `hyper_ens`: greedy selection (with replacement) over the search pool, K distinct members.
* `hyper_deep_ensemble`: greedy selection over the pool -> each selected setting retrained with K
  seeds (the search trial is seed 0) -> greedy selection over that stratified pool (paper §3).
"""

from __future__ import annotations

import dataclasses

import gin
import numpy as np

from benchmarks.errors import HyperensError
from benchmarks.methods.base import METHODS, CellContext, MethodResult
from benchmarks.selection import OBJECTIVES, greedy_select, top_k_by_nll
from benchmarks.train.engine import TRAINER_HPARAMS
from benchmarks.trials import Trial, TrialSpec, member_seed


@gin.configurable
@dataclasses.dataclass(frozen=True)
class WeightSpace:
    """kappa: random-search trials; k: ensemble size; objective: greedy objective on validation;
    pack_size: trials trained together in one compiled step."""

    kappa: int = 20
    k: int = 3
    objective: str = "nll"
    pack_size: int = 10

    def __post_init__(self):
        if self.kappa < 1 or self.k < 1 or self.pack_size < 1:
            raise HyperensError("WeightSpace.kappa, k and pack_size must be >= 1")
        if self.objective not in OBJECTIVES:
            raise HyperensError(
                f"unknown greedy objective {self.objective!r}; valid: {', '.join(OBJECTIVES)}"
            )


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


def _usable(trials: list[Trial]) -> np.ndarray:
    return np.array([t.status == "done" for t in trials])


def _stack(trials: list[Trial], split: str) -> np.ndarray:
    """(T, N, C) probabilities; unusable trials get uniform rows (they are masked anyway)."""
    ref = next((t for t in trials if t.status == "done"), None)
    if ref is None:
        raise HyperensError("every trial diverged or failed; nothing to select from")
    shape = getattr(ref, f"{split}_probs").shape
    uniform = np.full(shape, 1.0 / shape[-1], np.float32)
    return np.stack(
        [getattr(t, f"{split}_probs") if t.status == "done" else uniform for t in trials]
    )


def _result(
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


def _pool(ctx: CellContext) -> tuple[WeightSpace, list[Trial]]:
    ws = WeightSpace()
    return ws, ctx.trials.run(random_search(ctx, ws.kappa))


def best_search_setting(ctx: CellContext) -> TrialSpec:
    """The cell's tuned setting: the random-search trial with the lowest validation NLL (the
    `single` model's hyperparameters; cached trials, so no extra training once searched)."""
    _, pool = _pool(ctx)
    return pool[_best(pool)].spec


def _best(trials: list[Trial]) -> int:
    mask = _usable(trials)
    if not mask.any():
        raise HyperensError("every trial diverged or failed; nothing to select from")
    return int(np.argmin([t.val_nll if ok else np.inf for t, ok in zip(trials, mask, strict=True)]))


@METHODS.register("single")
def single(ctx: CellContext) -> MethodResult:
    _, pool = _pool(ctx)
    counts = np.zeros(len(pool), int)
    counts[_best(pool)] = 1
    return _result(ctx, pool, counts, {"selection": "best validation NLL"})


@METHODS.register("random_search_topk")
def random_search_topk(ctx: CellContext) -> MethodResult:
    ws, pool = _pool(ctx)
    top = top_k_by_nll(_stack(pool, "val"), ctx.data.y_val, ws.k, mask=_usable(pool))
    counts = np.zeros(len(pool), int)
    counts[top] = 1
    return _result(ctx, pool, counts, {"selection": f"top {ws.k} by validation NLL"}, list(top))


@METHODS.register("deep_ensemble")
def deep_ensemble(ctx: CellContext) -> MethodResult:
    ws, pool = _pool(ctx)
    best = pool[_best(pool)].spec
    members = ctx.trials.run([best.with_seed(member_seed(best.seed, k)) for k in range(ws.k)])
    return _result(ctx, members, _usable(members).astype(int), {"selection": "best x K seeds"})


def _greedy(ctx: CellContext, trials: list[Trial], ws: WeightSpace):
    return greedy_select(
        _stack(trials, "val"), ctx.data.y_val, ws.k, objective=ws.objective, mask=_usable(trials)
    )


@METHODS.register("hyper_ens")
def hyper_ens(ctx: CellContext) -> MethodResult:
    ws, pool = _pool(ctx)
    sel = _greedy(ctx, pool, ws)
    info = {"selection": "greedy", "picks": list(sel.picks)}
    return _result(ctx, pool, sel.counts, info, list(sel.picks))


@METHODS.register("hyper_deep_ensemble")
def hyper_deep_ensemble(ctx: CellContext) -> MethodResult:
    ws, pool = _pool(ctx)
    first = _greedy(ctx, pool, ws)
    settings = [pool[i].spec for i in first.members]
    strat = ctx.trials.run(
        [s.with_seed(member_seed(s.seed, k)) for s in settings for k in range(ws.k)]
    )
    sel = _greedy(ctx, strat, ws)
    info = {"selection": "greedy -> stratify -> greedy", "first_picks": list(first.picks),
            "picks": list(sel.picks), "settings": len(settings)}  # fmt: skip
    return _result(ctx, strat, sel.counts, info, list(sel.picks))
