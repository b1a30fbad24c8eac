"""Registries by name: `REGISTRY.register(name)(obj)` and `REGISTRY.get(name)`."""

from collections.abc import Callable
from typing import Generic, TypeVar

from benchmarks.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> object map whose lookups fail with the list of valid names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        if name not in self._items:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; valid names: {', '.join(self.names())}"
            )
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items
