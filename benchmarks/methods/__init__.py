"""Method plug-ins, registered by name in METHODS (importing this package registers them all)."""

from benchmarks.methods import efficient, self_tuning, weight_space  # noqa: F401  (registers)
from benchmarks.methods.base import METHODS, Cell, CellContext, MethodResult

__all__ = ["METHODS", "Cell", "CellContext", "MethodResult"]
