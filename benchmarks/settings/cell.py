"""A benchmark cell: dataset x model x method x tier x seed."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Cell:
    """One benchmark cell."""

    dataset: str
    model: str
    method: str
    tier: str
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
