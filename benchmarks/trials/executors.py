"""Executors: where packs of trials train. One interface, `map(fn, payloads)`, which yields
`(index, fn(payloads[index]))` as tasks finish. The driver (the caller) writes the store.

* `local`: in this process, one task after another (the default).
* `ray`: Ray core tasks, each requesting `Resources` (CPUs and GPUs, fractions allowed);
  `ray.init()` on this machine unless an address is given. The suite's own code ships to the
  workers with the job (`runtime_env` `py_modules`); its dependencies must be installed on every
  node, and the store must sit on a path every node sees (see README, "Scaling out on GPUs").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from benchmarks.errors import HyperensError
from benchmarks.trials.runtime import enter_worker, worker_env

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # the `benchmarks` package


def job_runtime_env() -> dict[str, Any]:
    """The Ray job's runtime environment: the `benchmarks` package shipped as a py_module, so a
    worker on any node imports the driver's code, not whatever is installed there (Ray accepts a
    local directory only at `ray.init`)."""
    return {"py_modules": [str(PACKAGE_DIR)], "excludes": ["__pycache__"]}


@dataclasses.dataclass(frozen=True)
class Resources:
    """What one Ray task requests: `cpus` > 0 and `gpus` >= 0; a value above 1 must be whole
    (Ray packs fractions of one CPU or GPU, e.g. four MLP trials at `gpus=0.25` on one GPU).
    A task pins TensorFlow to `threads` = max(1, floor(cpus)) intra- and inter-op threads."""

    cpus: float = 1.0
    gpus: float = 0.0

    def __post_init__(self):
        if not (math.isfinite(self.cpus) and self.cpus > 0):
            raise HyperensError(f"--cpus-per-trial must be > 0, got {self.cpus:g}")
        if not (math.isfinite(self.gpus) and self.gpus >= 0):
            raise HyperensError(f"--gpus-per-trial must be >= 0, got {self.gpus:g}")
        for flag, value in (("--cpus-per-trial", self.cpus), ("--gpus-per-trial", self.gpus)):
            if value > 1 and value != int(value):
                raise HyperensError(f"{flag} above 1 must be a whole number, got {value:g}")

    @property
    def threads(self) -> int:
        return max(1, int(self.cpus))

    def ray_options(self) -> dict[str, float]:
        return {"num_cpus": self.cpus, "num_gpus": self.gpus}

    def check_fits(self, nodes: Sequence[dict[str, float]]) -> None:
        """One-line error unless some node of the cluster (its total resources, e.g.
        `{"CPU": 8, "GPU": 2}`) can hold one task: Ray would otherwise wait for it forever."""
        if self.gpus > 0 and not any(n.get("GPU", 0) > 0 for n in nodes):
            raise HyperensError(
                f"--gpus-per-trial {self.gpus:g} but the Ray cluster reports no GPU; "
                "use --gpus-per-trial 0 on a CPU-only cluster"
            )
        if not any(n.get("CPU", 0) >= self.cpus and n.get("GPU", 0) >= self.gpus for n in nodes):
            most = max((n.get("CPU", 0), n.get("GPU", 0)) for n in nodes) if nodes else (0, 0)
            raise HyperensError(
                f"no Ray node has {self.cpus:g} CPUs and {self.gpus:g} GPUs for one trial "
                f"(largest node: {most[0]:g} CPUs, {most[1]:g} GPUs)"
            )


class Executor(Protocol):
    name: str
    threads: int | None  # TF threads a task pins (None: TensorFlow's default)

    def map(self, fn: Callable, payloads: Sequence[Any]) -> Iterator[tuple[int, Any]]: ...


class LocalExecutor:
    name = "local"
    threads = None

    def map(self, fn: Callable, payloads: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        for index, payload in enumerate(payloads):
            yield index, fn(payload)


def _pinned(fn: Callable, threads: int) -> Callable:
    """`fn` run in a training process of `threads` threads (`enter_worker`: TF's pools pinned,
    BLAS limited; for group tasks, which build no `TrialWorker` payload of their own)."""

    def run(payload):
        enter_worker(threads)
        return fn(payload)

    return run


class RayExecutor:
    """Ray tasks requesting `resources` each (default: one CPU, no GPU).

    The job ships the `benchmarks` package (`job_runtime_env`, when this executor starts or
    joins Ray); every task adds `worker_env(threads)` (`runtime_env` env_vars: thread counts and
    TensorFlow's options, as for a local worker process). Ray reuses a worker
    process only for tasks of the same runtime environment, so a process pinned to n threads
    (`pin_threads` holds from a process's first op on) only ever runs tasks asking for n. Each
    task trains its pack on a fresh `TrialWorker` (dataset and trainer built per pack)."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        resources: Resources | None = None,
    ):
        self.address, self.num_cpus = address, num_cpus
        self.resources = resources or Resources()

    @property
    def threads(self) -> int:
        return self.resources.threads

    def _init(self):
        try:
            import ray
        except ImportError:
            raise HyperensError("the ray executor needs Ray: pip install 'ray==2.60.*'") from None
        if not ray.is_initialized():
            kwargs = {"address": self.address} if self.address else {"num_cpus": self.num_cpus}
            try:
                ray.init(include_dashboard=False, log_to_driver=False,
                         runtime_env=job_runtime_env(), **kwargs)  # fmt: skip
            except (ConnectionError, ValueError, RuntimeError) as err:
                raise HyperensError(f"cannot start or reach Ray ({self.address}): {err}") from None
        return ray

    def check(self, resources: Resources | None = None) -> None:
        """Starts or reaches Ray and fails in one line if no node can run one task."""
        ray = self._init()
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        (resources or self.resources).check_fits(nodes)

    def runtime_env(self, threads: int) -> dict[str, Any]:
        """The task's runtime environment, merged by Ray into the job's (`job_runtime_env`):
        `worker_env(threads)`, the environment of every training process (a local worker's
        too), so a task computes what a local worker computes."""
        return {"env_vars": worker_env(threads)}

    def task_options(self, resources: Resources) -> dict[str, Any]:
        """Everything a task is submitted with: `num_cpus`, `num_gpus`, retries, environment."""
        return {**resources.ray_options(), "max_retries": 2,
                "runtime_env": self.runtime_env(resources.threads)}  # fmt: skip

    def _submit(self, fn: Callable, payloads: Sequence[Any], resources: Resources):
        ray = self._init()
        remote = ray.remote(fn).options(**self.task_options(resources))
        pending = {remote.remote(p): i for i, p in enumerate(payloads)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                yield pending.pop(ref), ray.get(ref)

    def map(self, fn: Callable, payloads: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        """Trial packs: one task per payload with this executor's per-trial resources (`fn`
        pins the threads itself: `TrialWorker` reads `payload["threads"]`)."""
        return self._submit(fn, payloads, self.resources)

    def map_groups(
        self, fn: Callable, groups: Sequence[Any], resources: Resources | None = None
    ) -> Iterator[tuple[int, Any]]:
        """`(index, fn(groups[index]))` as the tasks finish, one Ray task per group (e.g. the
        cells of one matrix group), each requesting `resources` (default: this executor's) with
        TF pinned to `resources.threads` threads before `fn` runs. `fn` must be importable by
        the workers (a function of the `benchmarks` package)."""
        resources = resources or self.resources
        return self._submit(_pinned(fn, resources.threads), groups, resources)


def get_executor(
    name: str,
    address: str | None = None,
    num_cpus: int | None = None,
    resources: Resources | None = None,
):
    """`local` or `ray` (unknown names: a one-line error listing both). `resources` (per trial)
    are for Ray only: the local executor rejects them."""
    if name == "local":
        if resources is not None and resources != Resources():
            raise HyperensError("--cpus-per-trial and --gpus-per-trial need --executor ray")
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address, num_cpus, resources)
    raise HyperensError(f"unknown executor {name!r}; valid names: local, ray")
