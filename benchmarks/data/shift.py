"""Shifted evaluation sets: corrupted copies of a dataset's clean test split and
out-of-distribution (OOD) sets, kept apart from `Splits` so no method can train or select on them.

A dataset's *family* (`SHIFTS`, by dataset name) lists the corruption types and OOD sets it
offers and builds `ShiftedSet`s on request. Arrays are loaded only when `ShiftedSet.load()` is
called (CIFAR-10-C alone is 750,000 images). Pure numpy here: no TensorFlow import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks import timing
from benchmarks.compact import round_trip
from benchmarks.data.base import Splits
from benchmarks.errors import HyperensError
from benchmarks.registry import Registry

SEVERITIES = (1, 2, 3, 4, 5)
KINDS = ("corruption", "ood")


@dataclass(frozen=True)
class ShiftOptions:
    """Which shifted sets to evaluate.

    corruptions / ood: names to use (None = every one the family offers; () = none);
    severities: subset of 1..5; max_examples: keep only the first n examples of every set
    (None = all); data_dir: the TFDS data directory; corrupted_dir: a directory holding the
    public CIFAR-100-C release (`<corruption>.npy`, `labels.npy`); split_seed: the dataset's.
    """

    corruptions: tuple[str, ...] | None = None
    severities: tuple[int, ...] = SEVERITIES
    ood: tuple[str, ...] | None = None
    max_examples: int | None = None
    data_dir: str | None = None
    corrupted_dir: str | None = None
    split_seed: int = 0

    def __post_init__(self) -> None:
        bad = [s for s in self.severities if s not in SEVERITIES]
        if bad or not self.severities:
            raise HyperensError(f"severities must be a non-empty subset of 1..5, got {bad}")
        if self.max_examples is not None and self.max_examples < 1:
            raise HyperensError(f"max_examples must be >= 1, got {self.max_examples}")


@dataclass(frozen=True, eq=False)
class ShiftedSet:
    """One shifted set. `load()` -> (x float32 NHWC normalised exactly like the dataset's test
    split, y int32: the true labels for a corruption, all -1 for an OOD set)."""

    kind: str  # "corruption" | "ood"
    source: str  # the corruption type, or the OOD set's name
    severity: int  # 1..5 for a corruption, 0 for an OOD set
    load: Callable[[], tuple[np.ndarray, np.ndarray]]

    @property
    def name(self) -> str:
        """`<corruption>_<severity>` or `ood_<name>`: the set's key in stores and metrics."""
        if self.kind == "ood":
            return f"ood_{self.source}"
        return f"{self.source}_{self.severity}"


@dataclass(frozen=True)
class ShiftFamily:
    """What a dataset offers: `build(data, options, corruptions, ood)` -> the sets, in order
    (corruption-major, severities ascending, then OOD sets)."""

    corruptions: tuple[str, ...]
    ood: tuple[str, ...]
    build: Callable[[Splits, ShiftOptions, Sequence[str], Sequence[str]], list[ShiftedSet]]


SHIFTS: Registry[ShiftFamily] = Registry("dataset with shifted sets")


def _choose(kind: str, asked: Sequence[str] | None, offered: Sequence[str], dataset: str):
    if asked is None:
        return list(offered)
    bad = [n for n in asked if n not in offered]
    if bad:
        raise HyperensError(
            f"dataset {dataset!r} has no {kind} {', '.join(map(repr, bad))}; "
            f"valid: {', '.join(offered) or '(none)'}"
        )
    return list(asked)


def get_shifted(dataset: str, data: Splits, options: ShiftOptions) -> list[ShiftedSet]:
    """The shifted sets of `dataset` chosen by `options` (unknown names: one-line error)."""
    family = SHIFTS.get(dataset)
    corruptions = _choose("corruption", options.corruptions, family.corruptions, dataset)
    ood = _choose("OOD set", options.ood, family.ood, dataset)
    return family.build(data, options, corruptions, ood)


def predict_shifted(
    sets: Sequence[ShiftedSet], predict: Callable[[np.ndarray], np.ndarray]
) -> dict[str, np.ndarray]:
    """{set name: predict(inputs)} over `sets`, rounded to the store's compact form
    (`benchmarks.compact`); labels are never read."""
    with timing.part("eval_shift"):
        return {s.name: round_trip(predict(s.load()[0])) for s in sets}


def limit(x: np.ndarray, y: np.ndarray, max_examples: int | None):
    """The first `max_examples` examples (all if None)."""
    return (x, y) if max_examples is None else (x[:max_examples], y[:max_examples])
