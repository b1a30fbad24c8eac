"""Hyperparameter search spaces: log-uniform ranges and default values, matched by name pattern.

Keys are exact names or fnmatch patterns (`l2_*`, `dropout_*`); the first matching key in
insertion order wins, so put exact names before patterns. Every range is log-uniform on
[low, high] with 0 < low <= high (a point range low == high fixes the value).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping, Sequence

import numpy as np

from benchmarks.errors import HyperensError

Range = tuple[float, float]
# how a tuned distribution over a range starts (`benchmarks.hyper.distributions.LogUniform`)
INIT_MODES = ("full", "narrow", "centred")


def match(table: Mapping[str, object], name: str, what: str = "ranges"):
    """The value of the first key of `table` that is `name` or an fnmatch pattern matching it."""
    for key, value in table.items():
        if key == name or fnmatch.fnmatchcase(name, key):
            return value
    raise HyperensError(f"no {what} for hyperparameter {name!r}; add one to SearchSpace.{what}")


class SearchSpace:
    """Ranges and defaults of a model's tuned hyperparameters (bound per model and tier in gin)."""

    def __init__(
        self,
        ranges: Mapping[str, Sequence[float]] | None = None,
        defaults: Mapping[str, float] | None = None,
    ):
        self.ranges = {k: validate_range(k, v) for k, v in (ranges or {}).items()}
        self.defaults = dict(defaults or {})
        for key, value in self.defaults.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise HyperensError(f"default of hyperparameter {key!r} must be >= 0, got {value}")

    def covers(self, name: str) -> bool:
        """Whether some range key matches `name`."""
        return any(k == name or fnmatch.fnmatchcase(name, k) for k in self.ranges)

    def range_of(self, name: str) -> Range:
        return match(self.ranges, name, "ranges")

    def default_values(self, names: Sequence[str]) -> dict[str, float]:
        """The default value of every name (the 'default model' of a search)."""
        return {n: float(match(self.defaults, n, "defaults")) for n in names}

    def sample(self, names: Sequence[str], rng: np.random.Generator) -> dict[str, float]:
        """One log-uniform draw per name: exp(U(log low, log high))."""
        out = {}
        for n in names:
            low, high = self.range_of(n)
            out[n] = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        return out


def validate_range(name: str, value: Sequence[float]) -> Range:
    """A (low, high) pair with 0 < low <= high, finite; dropout ranges also need high < 1."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise HyperensError(
            f"range of {name!r} must be a (low, high) pair, got {value!r}"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise HyperensError(f"range of {name!r} must be finite, got ({low}, {high})")
    if low <= 0:
        raise HyperensError(f"range of {name!r} is log-uniform: low must be > 0, got {low}")
    if low > high:
        raise HyperensError(f"range of {name!r} is inverted: low {low} > high {high}")
    if name.startswith("dropout") and high >= 1:
        raise HyperensError(f"range of {name!r}: a dropout rate must be < 1, got high {high}")
    return low, high
