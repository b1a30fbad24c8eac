"""Helpers of the methods that train one network of their own (K members in it): fit it on the
engine (resuming from the run's checkpoint), predict every split and shifted set, and describe
what a tuned distribution learned."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from benchmarks.methods.base import CellContext, MethodResult
from benchmarks.models.base import PackedModel
from benchmarks.models.hyper_layers import HyperFactory
from benchmarks.settings import HyperTuning
from benchmarks.train.engine import Trainer, TrainResult
from benchmarks.train.observe import watching


def default_hparams(ctx: CellContext, model: PackedModel) -> dict[str, list[float]]:
    """The search space's default value of every model hyperparameter (one pack member)."""
    return {k: [v] for k, v in ctx.space.default_values(model.hparam_names).items()}


def fit(
    ctx: CellContext,
    trainer: Trainer,
    hparams: Mapping[str, Sequence[float]],
    name: str = "train",
) -> TrainResult:
    """Fits one model from the cell's seed, resuming from the checkpoint in `work_dir/name`."""
    label = f"{ctx.cell.dataset}/{ctx.cell.model}/{ctx.cell.method}/{ctx.cell.seed}"
    label += "" if name == "train" else f" {name}"
    run = ctx.run_id if name == "train" else f"{ctx.run_id}/{name}"
    with watching(ctx.monitor, label, [f"{run}/member_0"]) as observe:
        return trainer.fit(hparams, [ctx.cell.seed], ctx.work_dir / name, observe)


def train_and_predict(
    ctx: CellContext,
    trainer: Trainer,
    hparams: Mapping[str, Sequence[float]],
    info: dict,
    result: TrainResult | None = None,
) -> MethodResult:
    """Fits one model (resuming from the run's checkpoint; `result`: already fitted, the trainer
    holds its weights) and returns its K members, with their predictions on validation, test and
    every shifted set."""
    if result is None:
        result = fit(ctx, trainer, hparams)
    k = trainer.members
    info = {**info, "members": k, "steps": result.steps, "train_wall_time_s": result.wall_time_s,
            "final_train_loss": float(result.final_loss[0]),
            "kept_epoch": int(result.kept_epoch[0]),
            "rows_per_step": k * trainer.batch, "images_per_step": trainer.batch}  # fmt: skip
    params = trainer.model.param_count()
    if result.status[0] != "done":
        empty = np.zeros((0,), np.float32)
        return MethodResult("diverged", empty, empty, empty, params, info, own_trainings=1)
    return MethodResult(
        status="done",
        val_probs=trainer.predict(ctx.data.x_val, hparams),
        test_probs=trainer.predict(ctx.data.x_test, hparams),
        member_weights=np.ones(k, np.float32),
        param_count=params,
        info=info,
        shift_probs=ctx.predict_shifted(lambda x: trainer.predict(x, hparams)),
        history=np.stack(
            [result.loss_history, result.val_nll_history, result.val_accuracy_history], axis=-1
        ).transpose(1, 0, 2),
        own_trainings=1,
        kept_epochs=np.asarray(result.kept_epoch[:1], np.float32),
        # q's (K, D, 3) low/high/point after every epoch, per member (hyper.distributions.state)
        extra_arrays={} if result.tuner_path is None else {"q_path": result.tuner_path},
    )


def tuned_model(
    ctx: CellContext, k: int, cfg: HyperTuning, fast_weights: bool
) -> tuple[PackedModel, tuple[str, ...]]:
    """A hyperparameter-conditioned model with K members and the names q ranges over."""
    factory = HyperFactory.with_options(
        members=k, fast_init=cfg.fast_init, embed_hidden=cfg.embed_hidden,
        fast_weights=fast_weights, extra_names=cfg.extra_names,
        tied_fast_weights=cfg.tied_fast_weights,
    )  # fmt: skip
    model = ctx.build_model(1, factory)
    return model, model.factory.embed_names


def point_info(tuner, names: Sequence[str]) -> dict:
    """The learned distribution: each member's test-time point and q's parameters."""
    point = np.asarray(tuner.dist.point())
    return {
        "tuned_point": [{n: float(point[m, j]) for j, n in enumerate(names)}
                        for m in range(point.shape[0])],
        "distribution": {v.name: np.asarray(v).tolist() for v in tuner.dist.variables},
        "q_summary": tuner.dist.summary(),
        "q_range": {n: [float(lo), float(hi)]
                    for n, lo, hi in zip(names, tuner.dist.low, tuner.dist.high, strict=True)},
        "hparams_source": "tuned during training on validation data",
    }  # fmt: skip
