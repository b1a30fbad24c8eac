"""A small most-recently-used cache of compiled trainers (or any costly object)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class TrainerCache:
    """Objects by key, most recent last, at most `keep` of them (compiled trainers)."""

    def __init__(self, keep: int = 2):
        self.keep, self._items = keep, {}

    def get(self, key: tuple, build: Callable[[], Any]) -> Any:
        item = self._items.pop(key, None)
        if item is None:
            item = build()
        self._items[key] = item
        while len(self._items) > self.keep:
            self._items.pop(next(iter(self._items)))
        return item

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
