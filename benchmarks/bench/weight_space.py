"""`hyperens bench weight_space`: the weight-space methods on mnist5k, and trial throughput.

1. Every weight-space method on mnist5k x MLP in the quick tier (kappa = 20, K = 3) over
   `seeds` seeds: test NLL / accuracy / ECE as mean +- standard error, and the paired difference
   hyper_deep_ensemble - deep_ensemble in test NLL (mean +- s.e., wins out of seeds).
2. Trial throughput, measured in this one process: the same trials trained as one pack versus one
   at a time; and one-trial packs on `ray` with 2 workers versus `local`.
3. Greedy selection time on a pool of 100 x 10,000 x 100.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import compose
from benchmarks.bench.greedy import bench_greedy
from benchmarks.methods import Cell
from benchmarks.runner import resolve_trial_settings, run_cell
from benchmarks.trials import LocalExecutor, RayExecutor, TrialSpec
from benchmarks.trials.scheduler import TrialRunner

METHODS = ("single", "random_search_topk", "deep_ensemble", "hyper_ens", "hyper_deep_ensemble")


def _se(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")


def method_table(store: str | Path, seeds: int, executor=None) -> pd.DataFrame:
    """Runs (or reuses) every method x seed in `store`; returns test metrics per (method, seed)."""

    rows = []
    for seed in range(seeds):
        for method in METHODS:
            out = run_cell(Cell("mnist5k", "mlp", method, "quick", seed), store, executor=executor)
            rows.append({"method": method, "seed": seed, **out.metrics.get("test", {})})
    return pd.DataFrame(rows)


def summarize(df: pd.DataFrame) -> str:
    """mean +- s.e. per method, and the paired hyper-deep - deep difference in test NLL."""
    lines = [f"{'method':<22}{'test NLL':>18}{'accuracy':>18}{'ECE (15 bins)':>18}"]
    for method in METHODS:
        sub = df[df.method == method]
        cells = [f"{sub[m].mean():.4f} ± {_se(sub[m].to_numpy()):.4f}" for m in
                 ("nll", "accuracy", "ece_15bin")]  # fmt: skip
        lines.append(f"{method:<22}" + "".join(f"{c:>18}" for c in cells))
    deep = df[df.method == "deep_ensemble"].set_index("seed")["nll"]
    hyper = df[df.method == "hyper_deep_ensemble"].set_index("seed")["nll"]
    diff = (hyper - deep).dropna().to_numpy()
    wins = int(np.sum(diff < 0))
    lines.append(
        f"paired test NLL, hyper_deep_ensemble - deep_ensemble: {diff.mean():+.4f} ± "
        f"{_se(diff):.4f} (hyper-deep better on {wins} of {len(diff)} seeds)"
    )
    return "\n".join(lines)


def _time_trials(specs, pack_size: int, executor, threads=None) -> float:
    """Seconds to train `specs` (a fresh store) with the quick-tier MLP config."""

    settings, data = resolve_trial_settings(Cell("mnist5k", "mlp", "single", "quick", 0))
    settings = dataclasses.replace(settings, pack_size=pack_size)
    with tempfile.TemporaryDirectory() as root:
        runner = TrialRunner(root, settings, data.y_val, executor, threads=threads,
                             progress=False)  # fmt: skip
        start = time.perf_counter()
        runner.run(specs)
        return time.perf_counter() - start


def throughput(trials: int = 10) -> dict[str, float]:
    """Packed vs one at a time (local), and ray (2 workers) vs local for one-trial packs."""

    space = compose.resolve(Cell("mnist5k", "mlp", "single", "quick", 0)).space
    names = ["dropout_0", "dropout_1", "l2_0", "l2_1", "l2_2"]
    rng = np.random.default_rng(0)
    specs = [TrialSpec.make(space.sample(names, rng), 100 + i) for i in range(trials)]
    local = LocalExecutor()
    _time_trials(specs[:1], 1, local)  # warm-up: data loading and imports
    out = {
        "packed": _time_trials(specs, trials, local),
        "one_at_a_time": _time_trials(specs, 1, local),
    }
    ray_ex = RayExecutor(num_cpus=2)
    _time_trials(specs[:2], 1, ray_ex, threads=1)  # warm-up: starts Ray and its workers
    out["ray_2_workers"] = _time_trials(specs, 1, ray_ex, threads=1)
    import ray

    ray.shutdown()
    return out


def run_weight_space_benchmark(store: str, seeds: int = 10, trials: int = 10) -> None:
    """Prints the method table, the paired difference, throughput and greedy timings."""

    print(f"== mnist5k, MLP, quick tier (kappa = 20, K = 3), {seeds} seeds; store {store}")
    start = time.perf_counter()
    df = method_table(store, seeds)
    print(summarize(df))
    print(f"(matrix wall time {time.perf_counter() - start:.0f} s, cached runs are reused)")
    print(f"== trial throughput: {trials} quick-tier MLP trials on mnist5k")
    t = throughput(trials)
    pack_x = t["one_at_a_time"] / t["packed"]
    ray_x = t["one_at_a_time"] / t["ray_2_workers"]
    print(f"  one pack of {trials}: {t['packed']:.1f} s; one at a time: {t['one_at_a_time']:.1f} s")
    print(f"  packing speed-up {pack_x:.2f}x (target >= 3)")
    print(f"  unpacked: ray 2 workers {t['ray_2_workers']:.1f} s, local {t['one_at_a_time']:.1f} s")
    print(f"  ray speed-up {ray_x:.2f}x (target >= 1.7)")
    print("== greedy selection, pool 100 x 10,000 examples x 100 classes, K = 4 (best of 3)")
    bench_greedy()
