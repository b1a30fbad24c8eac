"""`single`: one model trained at the search space's default hyperparameters.

(Issue 3 turns this into "the best trial of the random search"; the trial is the same engine run.)
"""

from __future__ import annotations

import numpy as np

from benchmarks.methods.base import METHODS, CellContext, MethodResult


@METHODS.register("single")
def single(ctx: CellContext) -> MethodResult:
    """Trains one member with seed = the cell's seed; weight 1."""
    trainer = ctx.trainer(pack=1)
    values = ctx.space.default_values(trainer.model.hparam_names)
    hparams = {k: [v] for k, v in values.items()}
    result = trainer.fit(hparams, seeds=[ctx.cell.seed], checkpoint_dir=ctx.work_dir)
    info = {"hparams": values, "final_train_loss": float(result.final_loss[0])}
    info["resumed_from_epoch"] = result.resumed_from_epoch
    empty = np.zeros((0,), np.float32)
    if result.status[0] != "done":
        return MethodResult("diverged", empty, empty, empty, trainer.model.param_count(), info)
    return MethodResult(
        status="done",
        val_probs=trainer.predict(ctx.data.x_val, hparams),
        test_probs=trainer.predict(ctx.data.x_test, hparams),
        member_weights=np.ones((1,), np.float32),
        param_count=trainer.model.param_count(),
        info=info,
    )
