"""A new baseline in one file: the default model trained with two init seeds, averaged.

This is the worked example of the README's "Adding a baseline": register a function in METHODS,
train through the cell's trial cache (the one engine), return member probabilities. Nothing
else in the suite changes.
"""

import numpy as np

from benchmarks.methods import METHODS, CellContext, MethodResult
from benchmarks.trials import TrialSpec, member_seed


@METHODS.register("seed_pair")
def seed_pair(ctx: CellContext) -> MethodResult:
    names = list(ctx.build_model(1).hparam_names)
    default = TrialSpec.make(ctx.space.default_values(names), ctx.cell.seed)
    members = ctx.trials.run([default.with_seed(member_seed(default.seed, k)) for k in range(2)])
    return MethodResult(
        status="done",
        val_probs=np.stack([t.val_probs for t in members]),
        test_probs=np.stack([t.test_probs for t in members]),
        member_weights=np.ones(2, np.float32),
        param_count=2 * ctx.build_model(1).param_count(),
        info={"seeds": [t.spec.seed for t in members]},
    )
