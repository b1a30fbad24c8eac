"""The `hyperens` command line. Bad input: one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks import compose
from benchmarks.bench.greedy import bench_greedy
from benchmarks.bench.layers import run_layers_report
from benchmarks.errors import HyperensError
from benchmarks.settings import Cell
from benchmarks.store import RunStore, format_results, gather_results, write_results
from benchmarks.trials.executors import Resources, get_executor


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hyperens", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one benchmark cell (skipped if already done)")
    run.add_argument("--dataset", default="mnist5k")
    run.add_argument("--model", default="mlp")
    run.add_argument("--method", default="single")
    run.add_argument("--tier", default="quick")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--store", required=True, help="store directory")
    run.add_argument("--gin_file", action="append", default=[], help="extra gin file (repeatable)")
    run.add_argument("--gin_param", action="append", default=[], help="extra binding (repeatable)")
    run.add_argument("--executor", default="local", help="where trials train: local | ray")
    run.add_argument("--address", help="address of an existing Ray cluster (default: start one)")
    run.add_argument("--threads", type=int, help="TF threads per trial task (default: all; "
                     "ray: the CPUs per trial)")  # fmt: skip
    _resource_flags(run)

    mat = sub.add_parser("matrix", help="run every missing cell of gin/matrices/NAME.gin")
    mat.add_argument("name", help="matrix name: quick | paper | smoke (gin/matrices/NAME.gin)")
    mat.add_argument("--store", required=True, help="store directory")
    mat.add_argument("--executor", default="local", help="where trials train: local | ray")
    mat.add_argument("--address", help="address of an existing Ray cluster (default: start one)")
    mat.add_argument("--seeds", type=int, help="run only the first N seeds of every group")
    mat.add_argument("--only", help="fnmatch pattern on 'dataset/model/method/seed'")
    _resource_flags(mat)
    mat.add_argument(
        "--workers", type=int,
        help="cell processes at once (local executor; default: 2 on a machine with 2+ cores)",
    )  # fmt: skip

    rep = sub.add_parser("report", help="paper-style tables, figures and paired comparisons")
    rep.add_argument("--store", help="store directory to report on")
    rep.add_argument("--results", help="or: a directory written by an earlier report (no store)")
    rep.add_argument("--out", required=True, help="output directory (tables/, figures/, csv)")
    rep.add_argument("--readme", help="fill this README's generated results block")

    res = sub.add_parser("results", help="gather the store into results.parquet/.csv and print it")
    res.add_argument("--store", required=True)
    res.add_argument("--export", help="also copy results.csv/.parquet into this directory")

    bench = sub.add_parser("bench", help="benchmarks that print measured figures")
    bench.add_argument(
        "what",
        choices=[
            "engine",
            "weight_space",
            "greedy",
            "efficient",
            "layers",
            "roofline",
            "store",
            "matrix",
        ],  # fmt: skip
    )
    bench.add_argument(
        "--epochs", type=int, default=3, help="engine/efficient: timed runs per contender"
    )
    bench.add_argument("--seeds", type=int, default=10, help="weight_space: seeds per method")
    bench.add_argument("--store", default="runs/bench-weight-space", help="weight_space: store")
    bench.add_argument("--matrix", help="store: the matrix to project (default paper); "
                       "matrix: the matrix to run (default quick)")  # fmt: skip
    bench.add_argument("--only", default="mnist5k/mlp/*", help="matrix: cells to run")
    bench.add_argument("--measure", help="store: also print the size of this existing store")
    return p


def _resource_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cpus-per-trial", type=float, help="ray: CPUs a trial task requests and "
                   "TF threads it uses (default 1)")  # fmt: skip
    p.add_argument("--gpus-per-trial", type=float, help="ray: GPUs a trial task requests; "
                   "fractions pack trials on one GPU, e.g. 0.25 (default 0)")  # fmt: skip


def _executor(args):
    """The executor of `args`; with Ray, checked against the cluster (a trial that fits no
    node fails here, in one line, before anything runs)."""
    resources = None
    if args.cpus_per_trial is not None or args.gpus_per_trial is not None:
        cpus = 1.0 if args.cpus_per_trial is None else args.cpus_per_trial
        gpus = 0.0 if args.gpus_per_trial is None else args.gpus_per_trial
        resources = Resources(cpus, gpus)
    return get_executor(args.executor, args.address, resources=resources)


def _cmd_run(args) -> int:
    cell = Cell(args.dataset, args.model, args.method, args.tier, args.seed)
    executor = _executor(args)
    if args.threads is not None and args.threads < 1:
        raise HyperensError(f"--threads must be >= 1, got {args.threads}")
    compose.resolve(cell, args.gin_file, args.gin_param)  # bad input fails before TF loads
    if executor.name == "ray":
        executor.check()
    from benchmarks.runner import run_cell  # imports TensorFlow

    threads = args.threads  # None: the executor's (ray: the CPUs per trial)
    out = run_cell(cell, args.store, args.gin_file, args.gin_param, executor, threads)
    if out.skipped:
        print(f"run {out.run_id} is already done; nothing to do")
    else:
        print(f"run {out.run_id}: {out.status}")
    if out.status == "done":
        df = gather_results(RunStore(args.store))
        print(format_results(df[df["run_id"] == out.run_id]))
    return 0 if out.status in ("done", "diverged") else 1


def _cmd_matrix(args) -> int:
    executor = _executor(args)
    if args.workers is not None and args.workers < 1:
        raise HyperensError(f"--workers must be >= 1, got {args.workers}")
    compose.plan_matrix(args.name, args.seeds, args.only)  # bad input fails before TF loads
    if executor.name == "ray":
        executor.check()
    from benchmarks.matrix import default_workers, run_matrix  # imports TensorFlow

    workers = args.workers or (default_workers() if args.executor == "local" else 1)
    counts = run_matrix(args.name, args.store, executor, seeds=args.seeds, only=args.only,
                        workers=workers)  # fmt: skip
    print("cells: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    print(f"wrote {args.store}/results.parquet and results.csv")
    return 1 if counts.get("failed") else 0


def _cmd_report(args) -> int:
    from benchmarks.readme import update_readme_report
    from benchmarks.report import write_report

    if bool(args.store) == bool(args.results):
        raise HyperensError("report needs exactly one of --store DIR or --results DIR")
    paths = write_report(args.out, store=args.store, results=args.results)
    if args.readme:
        update_readme_report(args.readme, args.out)
        paths.append(args.readme)
    print(f"wrote {len(paths)} files under {args.out}")
    return 0


def _cmd_results(args) -> int:
    if not Path(args.store).is_dir():
        raise HyperensError(f"store directory {args.store} does not exist")
    store = RunStore(args.store)
    paths = write_results(store)
    df = gather_results(store)
    print(format_results(df))
    if args.export:
        import shutil

        Path(args.export).mkdir(parents=True, exist_ok=True)
        paths += tuple(shutil.copy2(p, Path(args.export) / Path(p).name) for p in paths)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _cmd_bench(args) -> int:
    if args.what == "engine":
        from benchmarks.bench.engine import run_engine_benchmark

        run_engine_benchmark(epochs=args.epochs)
    elif args.what == "weight_space":
        from benchmarks.bench.weight_space import run_weight_space_benchmark

        run_weight_space_benchmark(args.store, seeds=args.seeds)
    elif args.what == "efficient":
        from benchmarks.bench.efficient import run_efficient_benchmark

        run_efficient_benchmark(repeats=args.epochs)
    elif args.what == "store":
        from benchmarks.bench.store import run_store_benchmark

        compose.plan_matrix(args.matrix or "paper", None, None)  # an unknown matrix fails here
        run_store_benchmark(args.matrix or "paper", args.measure)
    elif args.what == "matrix":
        compose.plan_matrix(args.matrix or "quick", 2, args.only)  # bad input fails here
        from benchmarks.bench.matrix_cpu import run_matrix_benchmark

        run_matrix_benchmark(args.matrix or "quick", args.only, seeds=2)
    elif args.what == "layers":
        run_layers_report()
    elif args.what == "roofline":
        from benchmarks.bench.roofline import run_roofline_benchmark

        run_roofline_benchmark()
    else:
        bench_greedy()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parser().parse_args(argv)
    try:
        commands = {"run": _cmd_run, "matrix": _cmd_matrix, "report": _cmd_report,
                    "results": _cmd_results, "bench": _cmd_bench}  # fmt: skip
        return commands[args.command](args)
    except HyperensError as err:
        # gin appends "In call to configurable ..." lines to exceptions: keep the first line.
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        print(f"hyperens: error: {first}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hyperens: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
