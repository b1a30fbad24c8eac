"""Executors: where packs of trials train. One interface, `map(fn, payloads)`, which yields
`(index, fn(payloads[index]))` as tasks finish. The driver (the caller) writes the store.

* `local`: in this process, one task after another (the default).
* `ray`: Ray core tasks, one CPU each; `ray.init()` on this machine unless an address is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from benchmarks.errors import HyperensError


class Executor(Protocol):
    name: str

    def map(self, fn: Callable, payloads: Sequence[Any]) -> Iterator[tuple[int, Any]]: ...


class LocalExecutor:
    name = "local"

    def map(self, fn: Callable, payloads: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        for index, payload in enumerate(payloads):
            yield index, fn(payload)


class RayExecutor:
    """Ray tasks with `num_cpus=1` each; workers import `benchmarks` from the same environment.
    Each task trains its pack on a fresh `TrialWorker` (dataset and trainer built per pack)."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        self.address, self.num_cpus = address, num_cpus

    def _init(self):
        try:
            import ray
        except ImportError:
            raise HyperensError("the ray executor needs Ray: pip install 'ray==2.60.*'") from None
        if not ray.is_initialized():
            kwargs = {"address": self.address} if self.address else {"num_cpus": self.num_cpus}
            try:
                ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
            except (ConnectionError, ValueError, RuntimeError) as err:
                raise HyperensError(f"cannot start or reach Ray ({self.address}): {err}") from None
        return ray

    def map(self, fn: Callable, payloads: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        ray = self._init()
        remote = ray.remote(num_cpus=1, max_retries=2)(fn)
        pending = {remote.remote(p): i for i, p in enumerate(payloads)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                yield pending.pop(ref), ray.get(ref)


def get_executor(name: str, address: str | None = None, num_cpus: int | None = None):
    """`local` or `ray` (unknown names: a one-line error listing both)."""
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address, num_cpus)
    raise HyperensError(f"unknown executor {name!r}; valid names: local, ray")
