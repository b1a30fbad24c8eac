"""A benchmark matrix: a tier plus groups of datasets x models x methods over seeds, bound in
`gin/matrices/NAME.gin` (`Matrix.groups = [...]`) and built by
`benchmarks.compose.load_matrix`."""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.errors import HyperensError
from benchmarks.settings.cell import Cell

GROUP_KEYS = {"datasets", "models", "methods", "seeds"}


@dataclasses.dataclass(frozen=True)
class Matrix:
    """tier: the budget tier of every cell; groups: dicts with keys datasets, models, methods
    (lists of names) and seeds (int); gin_params: extra bindings applied to every cell;
    prune_weights: once every cell of a (dataset, model, seed) finished, delete the stored weights
    of its trials that no finished run has as a member (`benchmarks.matrix.prune_group`)."""

    tier: str = "smoke"
    groups: Sequence[Mapping[str, Any]] = ()
    gin_params: Sequence[str] = ()
    prune_weights: bool = False

    def __post_init__(self):
        if not self.groups:
            raise HyperensError("Matrix.groups is empty")
        for g in self.groups:
            if set(g) != GROUP_KEYS:
                raise HyperensError(f"a matrix group needs exactly {sorted(GROUP_KEYS)}, got {g}")
            if int(g["seeds"]) < 1:
                raise HyperensError(f"a matrix group needs seeds >= 1, got {g['seeds']}")

    def cells(self, seeds: int | None = None, only: str | None = None) -> list[Cell]:
        """Every cell, seed-major; `seeds` caps each group's seeds; `only` is an fnmatch pattern
        on 'dataset/model/method/seed'."""
        out: list[Cell] = []
        most = max(int(g["seeds"]) for g in self.groups)
        for seed in range(most if seeds is None else min(most, seeds)):
            for g in self.groups:
                if seed >= int(g["seeds"]):
                    continue
                for d in g["datasets"]:
                    for m in g["models"]:
                        for x in g["methods"]:
                            cell = Cell(d, m, x, self.tier, seed)
                            if only is None or fnmatch.fnmatchcase(cell_name(cell), only):
                                out.append(cell)
        return out


def cell_name(cell: Cell) -> str:
    return f"{cell.dataset}/{cell.model}/{cell.method}/{cell.seed}"
