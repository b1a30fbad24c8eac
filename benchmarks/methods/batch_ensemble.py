"""`batch_ensemble` (Wen, Tran, Ba 2020): one network with K rank-1 members.

Gin-free: K = `WeightSpace.k` (the same K as the weight-space ensembles of the cell), the cell's
seed initialises it, and the checkpoint in the run's directory makes a killed run resume. Gibbs
cross-entropy (the engine's tiled batch), prediction = mean of the member probabilities. Its
hyperparameters are tuned as the weight-space methods' are (`BatchEnsemble.hparams = 'tuned'`,
the default): the setting of the cell's best random-search trial (the `single` model's), from the
cached search; with `'default'` the search space's defaults. The run's budget counts the search
when tuned.
"""

from __future__ import annotations

from benchmarks.methods.base import METHODS, CellContext, MethodResult
from benchmarks.methods.search import best_search_setting
from benchmarks.methods.single_network import default_hparams, train_and_predict
from benchmarks.models.batch_ensemble import BatchEnsembleFactory


@METHODS.register("batch_ensemble")
def batch_ensemble(ctx: CellContext) -> MethodResult:
    k, cfg = ctx.settings.weight_space.k, ctx.settings.batch_ensemble
    factory = BatchEnsembleFactory.with_options(members=k, fast_init=cfg.fast_init)
    trainer = ctx.cached_trainer("batch_ensemble", lambda: ctx.trainer(1, factory))
    if cfg.hparams == "tuned":
        hp = {n: [v] for n, v in best_search_setting(ctx).hparams}
        source = "random search (best trial)"
    else:
        hp, source = default_hparams(ctx, trainer.model), "search-space defaults"
    info = {"hparams": {n: v[0] for n, v in hp.items()}, "hparams_source": source}
    return train_and_predict(ctx, trainer, hp, info)
