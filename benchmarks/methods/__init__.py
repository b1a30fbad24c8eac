"""Method plug-ins, registered by name in METHODS (importing this package registers them all).

Siblings: each family file imports only `base` (the contract), `settings` (resolved method
settings), `search` (the cell's random search) and `single_network` (one network of its own).
"""

from benchmarks.methods import (  # noqa: F401  (registers)
    batch_ensemble,
    hyper_batch_ensemble,
    mc_dropout,
    mimo,
    self_tuning,
    weight_space,
)
from benchmarks.methods.base import METHODS, Cell, CellContext, MethodResult

__all__ = ["METHODS", "Cell", "CellContext", "MethodResult"]
