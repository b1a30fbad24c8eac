"""`mimo` (Havasi et al., ICLR 2021): one network with K input and K output heads
(`benchmarks.models.mimo`), trained once on the engine; its K heads are the members (equal
weights), each fed the test image.

K = `MIMO.heads` (0: the cell's `WeightSpace.k`, as batch ensembles). A step takes
TrainConfig.batch_size // r new images (r = `MIMO.batch_repetitions`) and shows each head every
one of them r times; at r = 1 every head sees the data a single model sees per epoch. The
hyperparameters follow `MIMO.hparams` exactly as `batch_ensemble`'s do
(`benchmarks.methods.efficient_hparams`: by default a random search of its own).
"""

from __future__ import annotations

import dataclasses

from benchmarks.errors import HyperensError
from benchmarks.methods.base import METHODS, CellContext, MethodResult
from benchmarks.methods.efficient_hparams import tuned_result
from benchmarks.models.mimo import MimoOptions


@METHODS.register("mimo")
def mimo(ctx: CellContext) -> MethodResult:
    cfg = ctx.settings.mimo
    heads = cfg.heads or ctx.settings.weight_space.k
    reps = cfg.batch_repetitions
    batch = min(ctx.train_config.batch_size, len(ctx.data.y_train)) // reps
    if batch < 1:
        raise HyperensError(
            f"MIMO.batch_repetitions = {reps} leaves no new image per step of "
            f"{ctx.train_config.batch_size}"
        )
    options = MimoOptions(heads, reps, cfg.input_repetition)
    config = dataclasses.replace(ctx.train_config, batch_size=batch)

    trainer = ctx.cached_trainer(
        "mimo", lambda: ctx.trainer(model=ctx.build_model(1, mimo=options), config=config)
    )
    info = {"batch_repetitions": reps, "input_repetition": cfg.input_repetition}
    result = tuned_result(ctx, trainer, cfg.hparams, cfg.search_trials, info)
    result.info["rows_per_step"] = heads * reps * batch
    return result
