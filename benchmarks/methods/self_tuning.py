"""`self_tuning`: the self-tuning network baseline (MacKay, Vicol, Lorraine, Duvenaud, Grosse 2019).

Where it follows the STN paper:
* one network whose layers approximate the best response to the hyperparameters,
  Ŵ(λ) = W + Δ ∘ e1(λ) and b̂(λ) = b + δ ∘ e2(λ), the hyperparameters gating output units;
* alternating optimisation: weight steps on training data with the hyperparameters *perturbed*
  around the current point (λ = exp(μ + σ·ε), ε ~ N(0, I), in log space), then a tuning step on
  validation data that moves (μ, σ) by the validation loss minus τ times the entropy of the
  perturbation (τ = 1e-3 as in the authors' CNN script); the point λ = exp(μ) is used at test time;
  μ starts at the search space's default (as the hyper-batch ensemble's q does).

Where it shares the hyper-batch machinery (and so departs from the STN paper):
* the layers are `HyperFactory` layers with K = 1 and no fast weights, and the embedding e(λ) is
  our per-layer linear (or small tanh) map of the whole log-scaled λ vector, not STN's linear
  map of the raw hyperparameters;
* the perturbation lives in log space for every hyperparameter (STN uses a logit transform for
  rates such as dropout) and is clipped into the allowed range;
* the tuning step runs the network in inference mode, so dropout rates reach the validation loss
  through e(λ) only (STN relaxes dropout with a concrete distribution during tuning);
* the engine, validation batches, tuning schedule (`HyperTuning.every`), optimiser (Adam on μ and
  log σ) and L2 closed form are exactly those of `hyper_batch_ensemble`.
"""

from __future__ import annotations

from benchmarks.hyper.distributions import LogNormalPerturbation
from benchmarks.hyper.tuner import Tuner
from benchmarks.methods.base import METHODS, CellContext, MethodResult
from benchmarks.methods.single_network import point_info, train_and_predict, tuned_model
from benchmarks.train.engine import Trainer


@METHODS.register("self_tuning")
def self_tuning(ctx: CellContext) -> MethodResult:
    cfg, init_scale = ctx.settings.hyper_tuning, ctx.settings.self_tuning.init_scale

    def build() -> Trainer:
        model, names = tuned_model(ctx, 1, cfg, fast_weights=False)
        low, high = cfg.bounds(ctx.space, names)
        dist = LogNormalPerturbation(names, low, high, members=1, init_scale=init_scale,
                                     init_point=cfg.centre(ctx.space, names))  # fmt: skip
        tuner = Tuner(dist, cfg.every, cfg.tau, cfg.learning_rate, cfg.sample_and_tune,
                      cfg.stop_holdout)  # fmt: skip
        return ctx.trainer(model=model, tuner=tuner)

    trainer = ctx.cached_trainer("self_tuning", build)
    names = trainer.tuner.names
    out = train_and_predict(ctx, trainer, {}, {"tuned": list(names)})
    out.info.update(point_info(trainer.tuner, names))
    return out
