"""Where a process's time goes: wall-clock seconds per part, exclusive of nested parts.

`part(name)` is a context manager; time inside a nested part counts for the inner part only, so
the parts of a process add up to at most its wall time. Counters are per process (a matrix
worker sends its `snapshot()` back with every group of cells). The parts the suite records:

* `compile`: tracing and compiling a trainer's epoch function (its first epoch's time beyond the
  mean of its later epochs, see `benchmarks.train.engine.Trainer.fit`);
* `train`: training epochs (the steps, the per-epoch validation curve included);
* `eval_clean`: predicting the validation and test splits;
* `eval_shift`: predicting the shifted sets;
* `store`: reading and writing the trial and run stores.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

PARTS = ("compile", "train", "eval_clean", "eval_shift", "store")

_totals: dict[str, float] = dict.fromkeys(PARTS, 0.0)
_stack: list[list] = []  # open parts: [name, start of its current uncovered stretch]


@contextlib.contextmanager
def part(name: str, unless_in: tuple[str, ...] = ()) -> Iterator[None]:
    """Counts the time inside the block for `name` (minus the time of parts nested in it); if the
    innermost open part is one of `unless_in`, the block counts for that part instead."""
    if name not in _totals:
        raise ValueError(f"unknown timing part {name!r}; valid names: {', '.join(PARTS)}")
    if _stack and _stack[-1][0] in unless_in:
        yield
        return
    now = time.perf_counter()
    if _stack:
        outer = _stack[-1]
        _totals[outer[0]] += now - outer[1]
    _stack.append([name, now])
    try:
        yield
    finally:
        end = time.perf_counter()
        inner = _stack.pop()
        _totals[inner[0]] += end - inner[1]
        if _stack:
            _stack[-1][1] = end


def move(seconds: float, source: str, target: str) -> None:
    """Reclassifies `seconds` already counted for `source` as `target` (never below zero)."""
    seconds = max(0.0, min(seconds, _totals[source]))
    _totals[source] -= seconds
    _totals[target] += seconds


def snapshot() -> dict[str, float]:
    """Seconds per part counted so far in this process (closed stretches only)."""
    return dict(_totals)


def since(before: dict[str, float]) -> dict[str, float]:
    """Seconds per part counted after `before` (a `snapshot()`)."""
    now = snapshot()
    return {k: now[k] - before.get(k, 0.0) for k in PARTS}


def summary(parts: dict[str, float], busy: float, capacity: float) -> str:
    """One line: each part's seconds and share of `busy` (seconds inside cells), the rest of the
    cells' time as `other`, and `idle` = `capacity` (workers x wall seconds) - `busy`."""
    counted = sum(parts.get(k, 0.0) for k in PARTS)
    items = [(k, parts.get(k, 0.0)) for k in PARTS] + [("other", max(0.0, busy - counted))]
    text = ", ".join(
        f"{k} {v:.0f} s ({v / busy:.0%})" if busy else f"{k} {v:.0f} s" for k, v in items
    )
    return f"time in cells {busy:.0f} s: {text}; idle {max(0.0, capacity - busy):.0f} s"
