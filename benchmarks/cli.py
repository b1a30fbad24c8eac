"""The `hyperens` command line. Bad input: one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks import compose
from benchmarks.bench.greedy import bench_greedy
from benchmarks.bench.layers import run_layers_report
from benchmarks.errors import HyperensError
from benchmarks.imports.uncertainty_baselines import import_ub
from benchmarks.settings import Cell
from benchmarks.store import RunStore, format_results, gather_results, write_results
from benchmarks.trials.executors import Resources, get_executor
from benchmarks.trials.runtime import enter_worker

GIN_DIR_HELP = (
    "a directory of your own gin files laid out as the packaged ones (datasets/, models/, "
    "methods/, tiers/, matrices/), searched first (repeatable; $HYPERENS_GIN_DIR next)"
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hyperens", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one benchmark cell (skipped if already done)")
    run.add_argument("--dataset", default="mnist5k", help="dataset (hyperens list; default "
                     "%(default)s)")  # fmt: skip
    run.add_argument("--model", default="mlp", help="model: mlp | lenet | resnet20 | wrn28_10 "
                     "(default %(default)s)")  # fmt: skip
    run.add_argument("--method", default="single", help="method (hyperens list; default "
                     "%(default)s)")  # fmt: skip
    run.add_argument("--tier", default="quick", help="budget tier: smoke | quick | paper "
                     "(default %(default)s)")  # fmt: skip
    run.add_argument("--seed", type=int, default=0, help="the cell's seed: splits, inits and "
                     "search draws derive from it (default %(default)s)")  # fmt: skip
    run.add_argument("--store", required=True, help="store directory")
    run.add_argument("--gin_file", action="append", default=[], help="extra gin file (repeatable)")
    run.add_argument("--gin_param", action="append", default=[], help="extra binding (repeatable)")
    run.add_argument("--gin_dir", action="append", default=[], help=GIN_DIR_HELP)
    run.add_argument("--executor", default="local", help="where trials train: local | ray")
    run.add_argument("--address", help="address of an existing Ray cluster (default: start one)")
    run.add_argument("--threads", type=int, help="TF threads of this process and its trial "
                     "tasks (default 1, as in `matrix`; ray: the CPUs per trial)")  # fmt: skip
    run.add_argument("--tensorboard", help="write per-epoch TensorBoard scalars under this dir")
    _resource_flags(run)

    mat = sub.add_parser("matrix", help="run every missing cell of matrices/NAME.gin")
    mat.add_argument("name", help="matrix name: quick | fashion | paper | smoke "
                     "(matrices/NAME.gin)")  # fmt: skip
    mat.add_argument("--gin_dir", action="append", default=[], help=GIN_DIR_HELP)
    mat.add_argument("--store", required=True, help="store directory")
    mat.add_argument("--executor", default="local", help="where trials train: local | ray")
    mat.add_argument("--address", help="address of an existing Ray cluster (default: start one)")
    mat.add_argument("--seeds", type=int, help="run only the first N seeds of every group")
    mat.add_argument("--only", help="fnmatch pattern on 'dataset/model/method/seed'")
    mat.add_argument("--tensorboard", help="write per-epoch TensorBoard scalars under this dir")
    _resource_flags(mat)
    mat.add_argument(
        "--workers", type=int,
        help="cell processes at once, one TF thread each (local executor; default: one per "
        "core, at most 8)",
    )  # fmt: skip
    mat.add_argument("--gin_file", action="append", default=[],
                     help="extra gin file for every cell (repeatable)")  # fmt: skip
    mat.add_argument("--gin_param", action="append", default=[],
                     help="extra binding for every cell, after the matrix's own")  # fmt: skip

    sub.add_parser("list", help="the datasets (and whether each is readable here), models, "
                   "methods, tiers and matrices, one line each")  # fmt: skip

    ens = sub.add_parser("ensemble", help="evaluate ensembles of a cell's stored search "
                         "trials (no training): selection on validation, metrics raw and "
                         "calibrated")  # fmt: skip
    ens.add_argument("--store", required=True, help="store directory holding the cell's trials")
    ens.add_argument("--cell", required=True, help="DATASET/MODEL/SEED, e.g. mnist5k/mlp/0")
    ens.add_argument("--tier", default="quick", help="the tier the trials were trained in")
    ens.add_argument("--matrix", help="the matrix that ran the cell (its gin_params key the "
                     "trials), e.g. quick")  # fmt: skip
    ens.add_argument("--select", default="greedy", help="greedy | caruana | topk | random")
    ens.add_argument("--size", default="1..K", help="N or A..B (B may be K or kappa): sizes")
    ens.add_argument("--seed", type=int, default=0, help="random: the draw's seed")
    ens.add_argument("--gin_param", action="append", default=[], help="extra binding the cell "
                     "was run with (repeatable)")  # fmt: skip

    rep = sub.add_parser("report", help="paper-style tables, figures and paired comparisons")
    rep.add_argument("--store", help="store directory to report on")
    rep.add_argument("--results", help="or: a directory written by an earlier report (no store)")
    rep.add_argument("--out", required=True, help="output directory (tables/, figures/, csv)")
    rep.add_argument("--readme", help="fill this README's generated results block")

    res = sub.add_parser("results", help="gather the store into results.parquet/.csv and print it")
    res.add_argument("--store", required=True)
    res.add_argument("--export", help="also copy results.csv/.parquet into this directory")

    cmp = sub.add_parser("compare", help="compare a results table with a reference, cell by cell")
    cmp.add_argument("mine", help="results directory or results.csv")
    cmp.add_argument("reference", nargs="?", default="results/quick", help="default results/quick")
    cmp.add_argument("--out", help="also write the per-cell differences to this CSV")

    # -- import-ub: uncertainty-baselines' cached logits as a run (benchmarks.imports) --------
    imp = sub.add_parser("import-ub", help="read uncertainty-baselines' cached member logits "
                         "({set}_{member}.npy) into the store as a run")  # fmt: skip
    imp.add_argument("dir", help="the UB script's --output_dir")
    imp.add_argument("--dataset", required=True)
    imp.add_argument("--method", required=True, help="row name, not one of the suite's methods")
    imp.add_argument("--store", default="runs/imported", help="store directory")
    imp.add_argument("--model", default="wrn28_10", help="the UB scripts' WRN-28-10 by default")
    imp.add_argument("--tier", default="paper")
    imp.add_argument("--seed", type=int, default=0)
    imp.add_argument("--labels", help="test labels .npy (or .npz: 'clean' and per-set arrays)")
    imp.add_argument("--data_dir", help="TFDS data_dir for labels from the dataset registry")
    imp.add_argument("--members", help="hyperdeepensemble.py's logged greedy picks, e.g. 2,7,3,3")

    abl = sub.add_parser("ablate", help="rerun some methods of a matrix with other settings and "
                         "write paired differences against base results")  # fmt: skip
    abl.add_argument("name", help="the ablation (benchmarks/analysis/ablation.py): single_best | "
                     "last_epoch | stop_holdout | tuning_lr_1e-3 | tuning_lr_1e-2")  # fmt: skip
    abl.add_argument("--store", help="store of the variant's runs (default runs/ablation-NAME)")
    abl.add_argument("--base", default="results/quick", help="base results directory or csv")
    abl.add_argument("--out", default="results/quick/ablations", help="where NAME.md/.csv go")
    abl.add_argument("--seeds", type=int, help="run only the first N seeds of every group")
    abl.add_argument("--workers", type=int, help="local worker processes (default: cores)")
    abl.add_argument("--matrix", default="quick", help="the matrix whose cells are rerun")

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


def _require_tensorflow() -> None:
    """TensorFlow is an extra (`hyperens[cpu]` or `[gpu]`): say so in one line if it is missing."""
    if importlib.util.find_spec("tensorflow") is None:
        raise HyperensError(
            "TensorFlow is not installed: pip install 'hyperens[cpu]' (or 'hyperens[gpu]')"
        )


def _check_tensorboard(directory: str | None) -> None:
    if directory and Path(directory).exists() and not Path(directory).is_dir():
        raise HyperensError(f"--tensorboard {directory} exists and is not a directory")


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
    compose.use_gin_dirs(args.gin_dir)
    _check_tensorboard(args.tensorboard)
    executor = _executor(args)
    if args.threads is not None and args.threads < 1:
        raise HyperensError(f"--threads must be >= 1, got {args.threads}")
    compose.resolve(cell, args.gin_file, args.gin_param)  # bad input fails before TF loads
    compose.check_not_shadowed(cell, args.gin_param)
    _require_tensorflow()
    if executor.name == "ray":
        executor.check()
    # one thread by default, as a matrix's cell processes: a kernel's numbers can depend on it
    enter_worker(args.threads or 1)
    from benchmarks.runner import run_cell  # imports TensorFlow

    threads = args.threads  # None: the executor's (ray: the CPUs per trial)
    out = run_cell(cell, args.store, args.gin_file, args.gin_param, executor, threads,
                   tensorboard=args.tensorboard)  # fmt: skip
    if out.skipped:
        print(f"run {out.run_id} is already done; nothing to do")
    else:
        print(f"run {out.run_id}: {out.status}")
    if out.status == "done":
        df = gather_results(RunStore(args.store))
        print(format_results(df[df["run_id"] == out.run_id]))
    return 0 if out.status in ("done", "diverged") else 1


def _cmd_matrix(args) -> int:
    compose.use_gin_dirs(args.gin_dir)
    executor = _executor(args)
    if args.workers is not None and args.workers < 1:
        raise HyperensError(f"--workers must be >= 1, got {args.workers}")
    _check_tensorboard(args.tensorboard)
    if args.seeds is not None and args.seeds < 1:
        raise HyperensError(f"--seeds is the number of seeds per group, >= 1; got {args.seeds}")
    # bad input fails before TF loads
    matrix, cells = compose.plan_matrix(args.name, args.seeds, args.only, args.gin_file,
                                        args.gin_param)  # fmt: skip
    for cell in dict.fromkeys(dataclasses.replace(c, seed=0, method="single") for c in cells):
        compose.resolve(cell, args.gin_file, (*matrix.gin_params, *args.gin_param))
        compose.check_not_shadowed(cell, args.gin_param)
    _require_tensorflow()
    if executor.name == "ray":
        executor.check()
    from benchmarks.matrix import default_workers, run_matrix  # imports TensorFlow

    workers = args.workers or (default_workers() if args.executor == "local" else 1)
    counts = run_matrix(args.name, args.store, executor, seeds=args.seeds, only=args.only,
                        workers=workers, gin_files=args.gin_file,
                        gin_params=args.gin_param, tensorboard=args.tensorboard)  # fmt: skip
    print("cells: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    print(f"wrote {args.store}/results.parquet and results.csv")
    return 1 if counts.get("failed") else 0


def _cmd_report(args) -> int:
    from benchmarks.report import write_report
    from benchmarks.report.readme import update_readme_report

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


def _cmd_compare(args) -> int:
    from benchmarks.compare import compare_results

    print(compare_results(args.mine, args.reference, args.out))
    return 0


def _cmd_import_ub(args) -> int:
    try:
        members = [int(m) for m in args.members.split(",")] if args.members else None
    except ValueError:
        msg = f"--members must be integers joined by commas, got {args.members!r}"
        raise HyperensError(msg) from None
    rid, metrics = import_ub(args.dir, args.store, args.dataset, args.method, model=args.model,
                             tier=args.tier, seed=args.seed, labels=args.labels,
                             data_dir=args.data_dir, members=members)  # fmt: skip
    test = metrics["test"]
    print(f"run {rid}: imported test (nll {test['nll']:.4f}, accuracy {test['accuracy']:.4f}) "
          f"and {len(metrics) - 1} corrupted sets into {args.store}")  # fmt: skip
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


def _describe(path) -> str:
    """The first sentence of a gin file's leading comment block, without its leading 'NAME:'."""
    block = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        block.append(line.lstrip("#").strip())
    text = " ".join(block).strip()
    if text.split(" ")[0].endswith(":"):
        text = text.split(" ", 1)[1]
    depth = 0
    for i, ch in enumerate(text):  # the first full stop outside parentheses ends the sentence
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "." and depth == 0 and text[i + 1 : i + 2] in ("", " "):
            return text[: i + 1]
    return text + "." if text else ""


def _cmd_list(args) -> int:
    from benchmarks.data.availability import availability

    for kind in ("datasets", "models", "methods", "tiers", "matrices"):
        print(f"{kind}:")
        for name in compose.available(kind):
            line = _describe(compose.find_gin(f"{kind}/{name}.gin"))
            if kind == "datasets":
                ok, where = availability(name)
                line = f"[{'here' if ok else 'absent'}] {where}"
            print(f"  {name:<22} {line}")
    return 0


def _sizes(text: str, k: int, kappa: int) -> list[int]:
    names = {"K": k, "k": k, "kappa": kappa}
    try:
        lo, _, hi = text.partition("..")
        a, b = (int(names.get(x, x)) for x in (lo, hi or lo))
    except ValueError:
        raise HyperensError(
            f"--size must be N or A..B (B may be K or kappa), got {text!r}"
        ) from None
    if not 1 <= a <= b:
        raise HyperensError(f"--size must be 1 <= A <= B, got {text!r}")
    return list(range(a, b + 1))


def _cmd_ensemble(args) -> int:
    from benchmarks.selection.rules import SELECTIONS

    parts = args.cell.split("/")
    if len(parts) != 3 or not parts[2].isdigit():
        raise HyperensError(f"--cell must be DATASET/MODEL/SEED, got {args.cell!r}")
    if args.select not in SELECTIONS:
        raise HyperensError(f"--select must be one of {', '.join(SELECTIONS)}, got {args.select!r}")
    if not (Path(args.store) / "trials").is_dir():
        raise HyperensError(f"{args.store} is not a store with trials (no trials/ directory)")
    cell = Cell(parts[0], parts[1], "hyper_ens", args.tier, int(parts[2]))
    matrix = compose.plan_matrix(args.matrix, None, None, (), ())[0] if args.matrix else None
    params = (*(matrix.gin_params if matrix else ()), *args.gin_param)
    compose.resolve(cell, (), params)  # bad input fails before TF loads
    _require_tensorflow()
    enter_worker(1)
    from benchmarks.ensembles import cell_pool, evaluate, select

    pool = cell_pool(args.store, cell, gin_params=params)
    sizes = _sizes(args.size, pool.k, int(pool.usable.sum()))
    print(f"{args.cell} ({args.tier}): {len(pool.keys)} search trials, K = {pool.k}; "
          f"selection '{args.select}' on validation")  # fmt: skip
    print("| size | members | val nll | test nll | test accuracy | test ece_15bin | "
          "test nll_calibrated |\n|---:|---:|---:|---:|---:|---:|---:|")  # fmt: skip
    for size in sizes:
        counts = select(pool, args.select, size, args.seed)
        m = evaluate(pool, counts)
        test, calibrated = m["test"], m["test"].get("nll_calibrated", float("nan"))
        print(f"| {size} | {int((counts > 0).sum())} | {m['val']['nll']:.4f} | "
              f"{test['nll']:.4f} | {test['accuracy']:.4f} | {test['ece_15bin']:.4f} | "
              f"{calibrated:.4f} |")  # fmt: skip
    return 0


def _cmd_ablate(args) -> int:
    from benchmarks.analysis.ablation import ABLATIONS
    from benchmarks.compare import results_csv

    ABLATIONS.get(args.name)  # bad input fails before TF loads
    results_csv(args.base)
    if args.workers is not None and args.workers < 1:
        raise HyperensError(f"--workers must be >= 1, got {args.workers}")
    _require_tensorflow()
    from benchmarks.ablations import run_ablation
    from benchmarks.matrix import default_workers

    store = args.store or f"runs/ablation-{args.name}"
    path = run_ablation(args.name, store, args.base, args.out, seeds=args.seeds,
                        workers=args.workers or default_workers(), matrix=args.matrix)  # fmt: skip
    print(path.read_text().rstrip())
    print(f"wrote {path} and {path.with_suffix('.csv')}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parser().parse_args(argv)
    try:
        commands = {"run": _cmd_run, "matrix": _cmd_matrix, "report": _cmd_report,
                    "results": _cmd_results, "bench": _cmd_bench,
                    "compare": _cmd_compare, "import-ub": _cmd_import_ub,
                    "ablate": _cmd_ablate, "list": _cmd_list,
                    "ensemble": _cmd_ensemble}  # fmt: skip
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
