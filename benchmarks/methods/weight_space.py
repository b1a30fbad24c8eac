"""Weight-space ensembles: methods that select and combine trials of one random search.

All five share the cell's random search (`benchmarks.methods.search`). Selection reads validation
predictions only.

* `single`: the best search trial by validation NLL.
* `random_search_topk`: the K best search trials by validation NLL, averaged.
* `deep_ensemble`: the best trial's hyperparameters with K init seeds (seed k = member_seed).
* `hyper_ens`: greedy selection (with replacement) over the search pool, K distinct members.
* `hyper_deep_ensemble`: greedy selection over the pool -> each selected setting retrained with K
  seeds (the search trial is seed 0) -> greedy selection over that stratified pool (paper §3).
"""

from __future__ import annotations

import numpy as np

from benchmarks.methods.base import METHODS, CellContext, MethodResult
from benchmarks.methods.search import best_index, ensemble_result, search_pool, stack, usable
from benchmarks.selection import greedy_select, top_k_by_nll
from benchmarks.settings import WeightSpace
from benchmarks.trials import Trial, member_seed


@METHODS.register("single")
def single(ctx: CellContext) -> MethodResult:
    pool = search_pool(ctx)
    counts = np.zeros(len(pool), int)
    counts[best_index(pool)] = 1
    return ensemble_result(ctx, pool, counts, {"selection": "best validation NLL"})


@METHODS.register("random_search_topk")
def random_search_topk(ctx: CellContext) -> MethodResult:
    ws, pool = ctx.settings.weight_space, search_pool(ctx)
    top = top_k_by_nll(stack(pool, "val"), ctx.data.y_val, ws.k, mask=usable(pool))
    counts = np.zeros(len(pool), int)
    counts[top] = 1
    return ensemble_result(
        ctx, pool, counts, {"selection": f"top {ws.k} by validation NLL"}, list(top)
    )


@METHODS.register("deep_ensemble")
def deep_ensemble(ctx: CellContext) -> MethodResult:
    ws, pool = ctx.settings.weight_space, search_pool(ctx)
    best = pool[best_index(pool)].spec
    members = ctx.trials.run([best.with_seed(member_seed(best.seed, k)) for k in range(ws.k)])
    result = ensemble_result(
        ctx, members, usable(members).astype(int), {"selection": "best x K seeds"}
    )
    # seeds K.. of the same setting, for the size curve of the deep ensemble equivalent only
    extra = [best.with_seed(member_seed(best.seed, k)) for k in range(ws.k, ws.curve_members)]
    curve = members + ctx.trials.run(extra, budget=False) if extra else []
    if curve and usable(curve).all():
        result.extra_arrays = {"curve_val_probs": stack(curve, "val"),
                               "curve_test_probs": stack(curve, "test")}  # fmt: skip
    return result


def _greedy(ctx: CellContext, trials: list[Trial], ws: WeightSpace):
    return greedy_select(
        stack(trials, "val"), ctx.data.y_val, ws.k, objective=ws.objective, mask=usable(trials)
    )


@METHODS.register("hyper_ens")
def hyper_ens(ctx: CellContext) -> MethodResult:
    ws, pool = ctx.settings.weight_space, search_pool(ctx)
    sel = _greedy(ctx, pool, ws)
    info = {"selection": "greedy", "picks": list(sel.picks)}
    return ensemble_result(ctx, pool, sel.counts, info, list(sel.picks))


@METHODS.register("hyper_deep_ensemble")
def hyper_deep_ensemble(ctx: CellContext) -> MethodResult:
    ws, pool = ctx.settings.weight_space, search_pool(ctx)
    first = _greedy(ctx, pool, ws)
    settings = [pool[i].spec for i in first.members]
    strat = ctx.trials.run(
        [s.with_seed(member_seed(s.seed, k)) for s in settings for k in range(ws.k)]
    )
    sel = _greedy(ctx, strat, ws)
    info = {"selection": "greedy -> stratify -> greedy", "first_picks": list(first.picks),
            "picks": list(sel.picks), "settings": len(settings)}  # fmt: skip
    return ensemble_result(ctx, strat, sel.counts, info, list(sel.picks))
