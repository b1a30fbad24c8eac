"""Running benchmark matrices (`gin/matrices/NAME.gin`, see
`benchmarks.settings.matrix`), resumably, on one or more worker processes.

The unit of work is a *group*: the cells of one (dataset, model, seed), which share their trials
(every weight-space method of a seed draws on the same random search). A group's cells run in
matrix order in one process, so a trial is trained once and every cell computes what it would
compute alone. With `workers` > 1 the groups run in that many processes at once (spawned, each
with its own TensorFlow); groups are handed out seed-major (all groups of seed 0 first), so an
interrupted matrix has whole seeds to compare. Every process that runs cells, the driver too
when `workers` = 1 and a Ray task, uses one intra-op and one inter-op TensorFlow thread and the
same environment (`benchmarks.trials.runtime`): a kernel's result can depend on how its work is
split across threads, so fixing the count makes a cell's numbers the same for any `workers`, any
executor and any core count (and one thread per process is also the fastest way to fill the
cores: less contention than two processes with two threads each). A driver whose TensorFlow
already runs with other thread counts (it ran ops before the matrix) hands its cells to one
worker process instead. A cell already `done`
in the store is skipped; a cell interrupted mid-way resumes from its trial cache and checkpoints
(see `benchmarks.runner`).
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import functools
import io
import multiprocessing
import os
import platform
import queue
import resource
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from benchmarks import compose, timing
from benchmarks.errors import HyperensError
from benchmarks.runner import run_cell
from benchmarks.settings import Cell
from benchmarks.settings.matrix import cell_name
from benchmarks.store import RunStore, write_results
from benchmarks.store.atomic import write_text_atomic
from benchmarks.store.provenance import cpu_model, git_commit
from benchmarks.store.trial_store import TrialStore
from benchmarks.trials import TrainerCache, cell_seed
from benchmarks.trials.executors import LocalExecutor
from benchmarks.trials.runtime import enter_worker, worker_environment

_ECHO = functools.partial(print, flush=True)
# compiled trainers a matrix process keeps: the trial worker and the three efficient methods'
# networks, for two models (groups of MLP and LeNet seeds alternate)
KEEP_TRAINERS = 8


def _elapsed(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}h{m % 60:02d}m{s:02d}s" if m >= 60 else f"{m}m{s:02d}s"


MAX_DEFAULT_WORKERS = 8  # each process holds its own TensorFlow and compiled networks (~1-2 GB)


def default_workers() -> int:
    """One single-threaded cell process per core, at most `MAX_DEFAULT_WORKERS`."""
    return max(1, min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1))


def one_thread() -> bool:
    """One intra-op and one inter-op TensorFlow thread in this process, and the environment of
    every training process (`benchmarks.trials.runtime.worker_env`; see the module docstring).
    False if TensorFlow already runs here with other thread counts (e.g. in a notebook that ran
    ops first), where the thread pools are fixed."""
    return enter_worker(1)


def groups_of(cells: Sequence[Cell]) -> list[list[Cell]]:
    """The cells grouped by (dataset, model, seed), in order of each group's first cell."""
    groups: dict[tuple, list[Cell]] = {}
    for cell in cells:
        groups.setdefault((cell.dataset, cell.model, cell.seed), []).append(cell)
    return list(groups.values())


# -- what a worker process runs -------------------------------------------------------------------
_worker: dict = {}


def _die_with_parent() -> None:
    """Linux: a worker is killed when the driver dies (even by SIGKILL), so a restarted matrix
    never races an orphan on the same cell."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def _setup(
    report: Callable,
    store: str,
    gin,
    executor,
    tensorboard: str | None = None,
    pin: bool = True,
    prune: bool = False,
) -> None:
    """State of a process that runs groups: `report(cell, outcome, error, seconds)` is called
    after every cell; `gin` = (extra gin files, gin params) for every cell; `tensorboard` the
    event-file directory (or None); `pin`: one TF thread (else the threads already pinned);
    `prune`: `Matrix.prune_weights`."""
    if pin:
        one_thread()
    _worker.update(report=report, store=store, gin=gin, executor=executor, tensorboard=tensorboard,
                   trainers=TrainerCache(keep=KEEP_TRAINERS), prune=prune)  # fmt: skip


def _init_worker(messages, store: str, gin, executor, gin_dirs, tensorboard, prune) -> None:
    _die_with_parent()
    compose.GIN_DIRS = gin_dirs  # the parent's gin search path (--gin_dir)
    _setup(messages.put, store, gin, executor, tensorboard, prune=prune)


def used_trials(store: RunStore) -> set[str]:
    """Keys of the trials the finished runs of `store` have as members
    (`method_info.members[].trial`) or restore (MC dropout's `method_info.trial`)."""
    keys: set[str] = set()
    for rid in store.run_ids():
        if store.status(rid) != "done":
            continue
        info = store.provenance(rid).get("method_info", {})
        members = info.get("members")
        if isinstance(members, list):
            keys.update(m["trial"] for m in members if isinstance(m, dict) and "trial" in m)
        if isinstance(info.get("trial"), str):
            keys.add(info["trial"])
    return keys


def prune_group(store: str | Path, dataset: str, model: str, seed: int) -> tuple[int, int]:
    """`Matrix.prune_weights` for one finished group: deletes the weights of the trials of
    (dataset, model) trained for cell seed `seed` (any member seed of it) that no finished run in
    the store uses (`used_trials`); their predictions stay, so every method that selects among
    them still runs from the cache. Returns (files, bytes) deleted."""

    def belongs(meta: dict) -> bool:
        return (meta.get("dataset"), meta.get("model")) == (dataset, model) and cell_seed(
            meta.get("seed", -1)
        ) == seed

    return TrialStore(store).prune_weights(used_trials(RunStore(store)), belongs)


def _run_group(cells: list[Cell]) -> dict[str, float]:
    """Runs one group in this process (set up by `_setup`); reports every cell and returns the
    group's seconds per timing part."""
    before = timing.snapshot()
    files, params = _worker["gin"]
    finished = True
    for cell in cells:
        t0 = time.perf_counter()
        try:
            out = run_cell(cell, _worker["store"], files, params, _worker["executor"],
                           trainers=_worker["trainers"],
                           tensorboard=_worker["tensorboard"])  # fmt: skip
            key, error = ("skipped" if out.skipped else out.status), None
        except HyperensError as err:
            key, error = "failed", str(err).splitlines()[0]
        finished = finished and key != "failed"
        _worker["report"]((cell, key, error, time.perf_counter() - t0))
    if _worker.get("prune") and finished and cells:  # a failed cell may need any trial's weights
        with timing.part("store"):
            prune_group(_worker["store"], cells[0].dataset, cells[0].model, cells[0].seed)
    return timing.since(before)


def run_group_task(payload: tuple) -> tuple[list[tuple], dict[str, float]]:
    """One group as a Ray task (`RayExecutor.map_groups`): its trials train inside the task, with
    the threads and devices the task was given; returns the cells' outcomes and timing parts."""
    cells, store, gin, gin_dirs, tensorboard, prune = payload
    compose.GIN_DIRS = gin_dirs
    rows: list[tuple] = []
    _setup(rows.append, store, gin, LocalExecutor(), tensorboard, pin=False, prune=prune)
    parts = _run_group(cells)
    return rows, parts


# -- the driver -----------------------------------------------------------------------------------
class _Progress:
    """Counts outcomes and prints one line per finished cell."""

    def __init__(self, total: int, trials_dir: Path, echo: Callable):
        self.total, self.trials_dir, self.echo = total, trials_dir, echo
        self.counts = {"done": 0, "skipped": 0, "diverged": 0, "failed": 0}
        self.finished, self.busy, self.start = 0, 0.0, time.perf_counter()

    def cell(self, cell: Cell, key: str, error: str | None, seconds: float) -> None:
        self.finished += 1
        self.busy += seconds
        self.counts[key] = self.counts.get(key, 0) + 1
        if error:
            self.echo(f"  {cell_name(cell)} failed: {error}")
        d = self.trials_dir
        trials = sum(1 for _ in d.iterdir()) if d.is_dir() else 0
        self.echo(
            f"[{self.finished}/{self.total}] {cell_name(cell)} {key} ({seconds:.1f} s) | "
            f"trials in store {trials} | elapsed {_elapsed(time.perf_counter() - self.start)}"
        )


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_matrix(
    name: str,
    store: str | Path,
    executor=None,
    seeds: int | None = None,
    only: str | None = None,
    echo=_ECHO,
    workers: int = 1,
    gin_files: Sequence[str | Path] = (),
    gin_params: Sequence[str] = (),
    tensorboard: str | Path | None = None,
) -> dict[str, int]:
    """Runs every missing cell of matrix `name` on `workers` processes; returns counts by outcome.

    `gin_files` and `gin_params` apply to every cell (files after the cell's shipped files,
    params after the matrix's own `Matrix.gin_params`), and change the run ids of the cells
    whose settings they change. Every cell's configuration is composed before anything runs,
    so a bad name or binding fails in seconds with nothing written. A cell that fails is
    reported and the matrix goes on; the caller decides the exit code from the counts. The last
    lines give the wall time, the CPU use (of `workers` x 100%) and where the cells' time went
    (`benchmarks.timing`)."""
    if workers < 1:
        raise HyperensError(f"workers must be >= 1, got {workers}")
    if workers > 1 and executor is not None and executor.name != "local":
        raise HyperensError("--workers > 1 runs cells in local processes; with ray every group is "
                            "a task (use --workers 1)")  # fmt: skip
    gin_files = tuple(str(Path(f).resolve()) for f in gin_files)
    matrix, cells = compose.plan_matrix(name, seeds, only, gin_files, gin_params)  # bad input
    gin = (gin_files, (*matrix.gin_params, *gin_params))
    groups = groups_of(cells)
    progress = _Progress(len(cells), Path(store) / "trials", echo)
    cpu0, parts = _cpu_seconds(), dict.fromkeys(timing.PARTS, 0.0)
    workers = min(workers, len(groups)) or 1
    if executor is not None and executor.name == "ray":
        store = Path(store).resolve()  # group tasks write runs and trials: a path every node sees
        payloads = [
            (g, str(store), gin, compose.GIN_DIRS, tensorboard, matrix.prune_weights)
            for g in groups
        ]
        for _, (rows, group_parts) in executor.map_groups(run_group_task, payloads):
            for row in rows:
                progress.cell(*row)
            for k, v in group_parts.items():
                parts[k] += v
    elif workers == 1 and one_thread():
        _setup(lambda message: progress.cell(*message), str(store), gin, executor, tensorboard,
               pin=False, prune=matrix.prune_weights)  # fmt: skip
        for group in groups:
            for k, v in _run_group(group).items():
                parts[k] += v
    else:
        if workers == 1:
            echo("TensorFlow already runs in this process with other thread counts: the cells "
                 "run in one worker process")  # fmt: skip
        parts = _run_parallel(groups, str(store), gin, executor, workers, progress, tensorboard,
                              matrix.prune_weights)  # fmt: skip
    wall = time.perf_counter() - progress.start
    cpu = _cpu_seconds() - cpu0
    write_results(RunStore(store))
    log_matrix_run(store, name, workers, wall, cpu, progress.counts)
    echo(f"wall {_elapsed(wall)} on {workers} worker(s); CPU {cpu / wall:.0%} "
         f"(of {100 * (os.cpu_count() or 1)}% on this machine)")  # fmt: skip
    echo(timing.summary(parts, progress.busy, workers * wall))
    return progress.counts


MATRIX_LOG = "matrix_log.csv"  # one row per `hyperens matrix` run on a store


def log_matrix_run(
    store: str | Path, name: str, workers: int, wall: float, cpu: float, counts: dict[str, int]
) -> None:
    """Appends the run's wall and CPU seconds, cells and machine to `store/matrix_log.csv`, which
    the report copies beside the results (the README states the matrix's time from it)."""
    path = Path(store) / MATRIX_LOG
    row = {"finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "matrix": name,
           "workers": workers, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
           "cells_run": sum(v for k, v in counts.items() if k != "skipped"),
           "cells_skipped": counts.get("skipped", 0), "cpu_model": cpu_model(),
           "cores": os.cpu_count() or 1, "python": platform.python_version(),
           "git_commit": git_commit()}  # fmt: skip
    old = path.read_text() if path.is_file() else ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(row))
    if not old:
        writer.writeheader()
    writer.writerow(row)
    write_text_atomic(path, old + buf.getvalue())


@contextlib.contextmanager
def worker_pool(
    workers: int, ctx=None, initargs: tuple | None = None
) -> Iterator[ProcessPoolExecutor]:
    """`workers` spawned cell processes (TensorFlow is not fork-safe), each started with the
    environment of every training process (`worker_environment(1)`, before TF loads) and set up
    by `_init_worker(*initargs)` (default: reporting to a queue nobody reads, no store)."""
    ctx = ctx or multiprocessing.get_context("spawn")
    if initargs is None:
        initargs = (ctx.Queue(), "", ((), ()), None, compose.GIN_DIRS, None, False)
    with (
        worker_environment(1),
        ProcessPoolExecutor(workers, ctx, initializer=_init_worker, initargs=initargs) as pool,
    ):
        yield pool


def _run_parallel(
    groups, store, gin, executor, workers, progress, tensorboard, prune=False
) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    messages = ctx.Queue()
    parts = dict.fromkeys(timing.PARTS, 0.0)
    initargs = (messages, store, gin, executor, compose.GIN_DIRS, tensorboard, prune)
    with worker_pool(workers, ctx, initargs) as pool:
        pending = {pool.submit(_run_group, group) for group in groups}
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            _drain(messages, progress)
            for future in done:
                try:
                    result = future.result()
                except BrokenProcessPool as err:
                    raise HyperensError(
                        f"a matrix worker process died ({err}); run the matrix again to resume"
                    ) from None
                for k, v in result.items():
                    parts[k] += v
    _drain(messages, progress)
    return parts


def _drain(messages, progress: _Progress) -> None:
    while True:
        try:
            progress.cell(*messages.get_nowait())
        except queue.Empty:
            return
