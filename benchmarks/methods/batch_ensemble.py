"""`batch_ensemble` (Wen, Tran, Ba 2020): one network with K rank-1 members.

Gin-free: K = `WeightSpace.k` (the same K as the weight-space ensembles of the cell), the cell's
seed initialises it, and the checkpoint in the run's directory makes a killed run resume. Gibbs
cross-entropy (the engine's tiled batch), prediction = mean of the member probabilities. Its
hyperparameters come from `BatchEnsemble.hparams` (`benchmarks.methods.efficient_hparams`): by
default a random search of its own (`search_trials` batch ensembles), since the released code
gives batch ensembles their own L2 (baselines/cifar/batchensemble.py --l2 against
deterministic.py's) and a single model's best setting need not suit shared kernels with
unregularised fast weights; or the single model's best setting, or the defaults. The run's budget
counts every network and search it used.
"""

from __future__ import annotations

from benchmarks.methods.base import METHODS, CellContext, MethodResult
from benchmarks.methods.efficient_hparams import tuned_result
from benchmarks.models.batch_ensemble import BatchEnsembleFactory


@METHODS.register("batch_ensemble")
def batch_ensemble(ctx: CellContext) -> MethodResult:
    k, cfg = ctx.settings.weight_space.k, ctx.settings.batch_ensemble
    factory = BatchEnsembleFactory.with_options(members=k, fast_init=cfg.fast_init)
    trainer = ctx.cached_trainer("batch_ensemble", lambda: ctx.trainer(1, factory))
    return tuned_result(ctx, trainer, cfg.hparams, cfg.search_trials, {})
