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
    params = 2 * ctx.build_model(1).param_count()
    return MethodResult.from_trials(
        members, np.ones(2), params, {"seeds": [t.spec.seed for t in members]}
    )
