"""`hyper_batch_ensemble` (paper §3): K hyperparameter-conditioned rank-1 members in one network.

Every weight step samples λ per member and row from the member's log-uniform q_k; every
`every`-th step a tuning step on a validation batch moves only q's bounds (ensemble NLL − τ·entropy,
Adam); prediction at each q_k's mean (`benchmarks.hyper.tuner`). K = `WeightSpace.k`; q starts as
`HyperTuning.init` says (by default one decade around the search space's default), so the method
tunes itself in one run, without the random search.
"""

from __future__ import annotations

from benchmarks.hyper.distributions import LogUniform
from benchmarks.hyper.tuner import Tuner
from benchmarks.methods.base import METHODS, CellContext, MethodResult
from benchmarks.methods.single_network import point_info, train_and_predict, tuned_model
from benchmarks.train.engine import Trainer


@METHODS.register("hyper_batch_ensemble")
def hyper_batch_ensemble(ctx: CellContext) -> MethodResult:
    k, cfg = ctx.settings.weight_space.k, ctx.settings.hyper_tuning

    def build() -> Trainer:
        model, names = tuned_model(ctx, k, cfg, fast_weights=True)
        low, high = cfg.bounds(ctx.space, names)
        centre = cfg.centre(ctx.space, names) if cfg.init == "centred" else None
        dist = LogUniform(names, low, high, members=k, init=cfg.init, centre=centre,
                          init_decades=cfg.init_decades)  # fmt: skip
        tuner = Tuner(dist, cfg.every, cfg.tau, cfg.learning_rate, cfg.sample_and_tune,
                      cfg.stop_holdout)  # fmt: skip
        return ctx.trainer(model=model, tuner=tuner)

    trainer = ctx.cached_trainer("hyper_batch_ensemble", build)
    names = trainer.tuner.names
    info = {"tuned": list(names), "init": cfg.init, "tied_fast_weights": cfg.tied_fast_weights,
            "embed_hidden": list(cfg.embed_hidden)}  # fmt: skip
    out = train_and_predict(ctx, trainer, {}, info)
    out.info.update(point_info(trainer.tuner, names))
    return out
