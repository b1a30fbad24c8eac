"""`hyperens bench store`: how large a matrix's store grows, and how long its report takes.

**Projection** (from the matrix's resolved settings; no data needed). Per (dataset, model, seed):

* trials <= kappa + max(K, K') - 1 + K (K - 1): the random search (kappa), max(K, K') - 1 more
  seeds of its best trial (deep ensemble and its size curve, K' = `WeightSpace.curve_members`)
  and K - 1 more seeds of each of at most K greedy picks (hyper-deep ensemble);
* runs: one per method, with 1 member (`single`, `self_tuning`), T (`mc_dropout`, its
  `MCDropout.samples`) or at most K (greedy selection with replacement can keep fewer distinct
  members); `deep_ensemble` adds the clean predictions of its K' - K curve seeds;
* a trial's weights (`weights.npz`, which MC dropout restores and from which a member's shifted
  sets are predicted): 4 bytes per parameter of one network, counted from the model the cell
  builds; with `Matrix.prune_weights` only for the trials a run uses, at most the members of the
  weight-space methods' runs (`TRIAL_METHODS`) plus MC dropout's one;
* a trial's predictions: 4 C (N_val + N_test) bytes, the clean splits (float32); trials are
  predicted on the shifted sets only as a run's members (`benchmarks.trials.worker`);
* bytes of one run member's predictions: the clean splits plus b C sum_s N_s over the shifted
  sets, b = 2 in the compact form (`benchmarks.compact`), 4 as float32 probabilities (the store
  before it); a run adds its labels, 4 (N_val + N_test + sum_s N_s) bytes.

Split sizes: the offline datasets' own splits; for the TFDS sets their catalog sizes (`TFDS`),
validation carved as `data_options.val_fraction` of train. A corrupted set has the test split's
size, SVHN (OOD) 26,032 images, either capped by `shift_options.max_examples`.

**Report time** on a synthetic store with the matrix's runs (every cell, its members, its clean
splits at full size, its metrics with the calibrated ones as the runner stores them) and its
shifted sets at two fractions of their size: the report's time is fitted linearly in the stored
shifted examples and extrapolated to full size (the report reads no shifted set of such a run,
so the slope is usually below the noise; then the larger of the two times is printed). Figures
are printed, never asserted.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import compose
from benchmarks.compact import round_trip
from benchmarks.data import get_dataset
from benchmarks.data.shift import SHIFTS, ShiftOptions
from benchmarks.metrics import compute_all
from benchmarks.metrics.ood import ood_metrics
from benchmarks.metrics.temperature import calibrated_by_split
from benchmarks.models import build_model
from benchmarks.report import write_report
from benchmarks.store import RunStore, run_id

# (train, test, classes) of the TFDS datasets, from the tensorflow-datasets catalog pages.
TFDS = {"cifar10": (50_000, 10_000, 10), "cifar100": (50_000, 10_000, 100),
        "fashion_mnist": (60_000, 10_000, 10)}  # fmt: skip
TFDS_SHAPES = {"cifar10": (32, 32, 3), "cifar100": (32, 32, 3), "fashion_mnist": (28, 28, 1)}
OOD_SIZES = {"svhn": 26_032}  # svhn_cropped, test split
SINGLE_MEMBER = ("single", "self_tuning")
# the methods whose members are trials of the cache
TRIAL_METHODS = ("single", "random_search_topk", "deep_ensemble", "hyper_ens",
                 "hyper_deep_ensemble")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class CellShape:
    """What one cell stores: members, classes, clean split sizes, shifted set sizes."""

    dataset: str
    model: str
    method: str
    seed: int
    members: int
    kappa: int
    k: int
    curve: int  # clean-only members stored beside the ensemble (the deep-ensemble size curve)
    classes: int
    n_val: int
    n_test: int
    shifted: tuple[tuple[str, int], ...]  # (set name, examples)
    params: int = 0  # trainable parameters of one network (a trial's stored weights)
    prune: bool = False  # `Matrix.prune_weights`


def _splits(dataset: str, data_options: dict) -> tuple[int, int, int, tuple[int, ...]]:
    """(N_val, N_test, classes, input shape)."""
    if dataset in TFDS:
        train, test, classes = TFDS[dataset]
        val = round(train * float(data_options.get("val_fraction", 0.05)))
        return val, test, classes, TFDS_SHAPES[dataset]
    data = get_dataset(dataset, **data_options)
    return len(data.y_val), len(data.y_test), data.num_classes, tuple(data.input_shape)


def _shifted(dataset: str, options: ShiftOptions | None, n_test: int) -> list[tuple[str, int]]:
    if options is None:
        return []
    family = SHIFTS.get(dataset)
    cap = options.max_examples or np.inf
    corruptions = family.corruptions if options.corruptions is None else options.corruptions
    ood = family.ood if options.ood is None else options.ood
    sets = [(f"{c}_{s}", int(min(n_test, cap))) for c in corruptions for s in options.severities]
    return sets + [(f"ood_{o}", int(min(OOD_SIZES.get(o, n_test), cap))) for o in ood]


def cell_shapes(matrix: str, seeds: int | None = None) -> list[CellShape]:
    """The stored shape of every cell of `matrix` (its first `seeds` seeds)."""
    m, cells = compose.plan_matrix(matrix, seeds, None)
    out, params = [], {}
    for cell in cells:
        s = compose.resolve(cell, (), m.gin_params)
        ws = s.methods.weight_space
        n_val, n_test, classes, shape = _splits(cell.dataset, dict(s.data_options))
        key = (cell.dataset, cell.model, repr(s.model_settings))
        if key not in params:
            net = build_model(cell.model, shape, classes, settings=dict(s.model_settings))
            params[key] = net.param_count()
        members = {"mc_dropout": s.methods.mc_dropout.samples}.get(
            cell.method, 1 if cell.method in SINGLE_MEMBER else ws.k
        )
        curve = max(ws.curve_members - ws.k, 0) if cell.method == "deep_ensemble" else 0
        shifted = tuple(_shifted(cell.dataset, s.shift_options, n_test))
        out.append(CellShape(cell.dataset, cell.model, cell.method, cell.seed, members, ws.kappa,
                             ws.k, curve, classes, n_val, n_test, shifted,
                             params[key], m.prune_weights))  # fmt: skip
    return out


def projection(shapes: list[CellShape]) -> pd.DataFrame:
    """GB per (dataset, model): trials and runs, compact and float32 shifted sets."""
    rows = []
    for (dataset, model), group in pd.DataFrame(map(dataclasses.asdict, shapes)).groupby(
        ["dataset", "model"], sort=False
    ):
        first = group.iloc[0]
        clean = 4 * first.classes * (first.n_val + first.n_test)
        shifted = first.classes * sum(n for _, n in first.shifted)
        seeds = group["seed"].nunique()
        curve = int(group["curve"].max())
        trials = seeds * (first.kappa + first.k + curve - 1 + first.k * (first.k - 1))
        members = int(group["members"].sum())  # over methods and seeds
        curve_bytes = int(group["curve"].sum()) * clean
        labels = 4 * len(group) * (first.n_val + first.n_test + sum(n for _, n in first.shifted))
        row = {"dataset": dataset, "model": model, "seeds": seeds, "trials": trials,
               "runs": len(group), "shifted_sets": len(first.shifted)}  # fmt: skip
        for name, b in (("compact", 2), ("float32", 4)):
            per_member = clean + b * shifted
            row[f"trials_GB_{name}"] = trials * clean / 1e9
            row[f"runs_GB_{name}"] = (members * per_member + curve_bytes + labels) / 1e9
        weighted = trials
        if first.prune:
            used = group["method"].isin(TRIAL_METHODS) * group["members"]
            weighted = min(trials, int(used.sum() + (group["method"] == "mc_dropout").sum()))
        row["trials_GB_weights"] = weighted * 4 * int(first.params) / 1e9
        rows.append(row)
    df = pd.DataFrame(rows)
    for name in ("compact", "float32"):
        df[f"GB_{name}"] = df[f"trials_GB_{name}"] + df[f"runs_GB_{name}"]
    return df


def _probs(rng: np.random.Generator, members: int, labels: np.ndarray, classes: int):
    logits = rng.normal(size=(members, len(labels), classes)).astype(np.float32)
    logits[:, np.arange(len(labels)), np.maximum(labels, 0)] += 3.0
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def synthetic_store(root: Path, shapes: list[CellShape], fraction: float, seed: int = 0) -> int:
    """Writes one finished run per cell (random predictions, the cell's shapes, shifted sets at
    `fraction` of their size); returns the shifted examples stored over all members."""
    rng, store, stored = np.random.default_rng(seed), RunStore(root), 0
    for c in shapes:
        cell = {"dataset": c.dataset, "model": c.model, "method": c.method, "tier": "synthetic",
                "seed": c.seed}  # fmt: skip
        text = f"# synthetic run of {c.dataset}/{c.model}/{c.method}/{c.seed}\n"
        rid = run_id(cell, text)
        store.begin(rid, cell, text)
        w = np.ones(c.members, np.float32)
        yv, yt = (rng.integers(0, c.classes, n).astype(np.int32) for n in (c.n_val, c.n_test))
        preds = {"val_probs": _probs(rng, c.members, yv, c.classes), "val_labels": yv,
                 "test_probs": _probs(rng, c.members, yt, c.classes), "test_labels": yt,
                 "member_weights": w, "build_order": np.arange(c.members)}  # fmt: skip
        metrics = {"val": compute_all(preds["val_probs"], yv, w),
                   "test": compute_all(preds["test_probs"], yt, w)}  # fmt: skip
        for name, n in c.shifted:
            n = max(1, round(n * fraction))
            ood = name.startswith("ood_")
            y = np.full(n, -1, np.int32) if ood else rng.integers(0, c.classes, n).astype(np.int32)
            p = round_trip(_probs(rng, c.members, y, c.classes))
            preds[f"shift_probs_{name}"], preds[f"shift_labels_{name}"] = p, y
            if ood:
                metrics[f"ood/{name[4:]}"] = ood_metrics(preds["test_probs"], p, w)
            else:
                corruption, severity = name.rsplit("_", 1)
                metrics[f"corruption/{corruption}/{severity}"] = compute_all(p, y, w)
            stored += c.members * n
        for split, values in calibrated_by_split(preds).items():  # as the runner stores them
            metrics[split].update(values)
        provenance = {"wall_time_s": 1.0, "param_count": 1, "git_commit": "synthetic",
                      "timestamp": "2026-01-01T00:00:00+00:00", "shift_eval_s": 0.0,
                      "budget_trainings": c.members, "budget_train_s": 1.0}  # fmt: skip
        store.finish(rid, metrics, preds, provenance)
    return stored


def report_time(shapes: list[CellShape], fractions=(0.01, 0.05)) -> dict[str, float]:
    """Report seconds on synthetic stores at `fractions` of the shifted sets' size, and the
    linear extrapolation to full size."""
    full = sum(c.members * n for c in shapes for _, n in c.shifted)
    points = []
    for fraction in fractions:
        root = Path(tempfile.mkdtemp(prefix="hyperens-bench-store-"))
        try:
            stored = synthetic_store(root / "store", shapes, fraction)
            size = sum(p.stat().st_size for p in (root / "store").rglob("*") if p.is_file())
            start = time.perf_counter()
            write_report(root / "report", store=root / "store")
            seconds = time.perf_counter() - start
        finally:
            shutil.rmtree(root, ignore_errors=True)
        points.append((stored, seconds, size))
        print(f"  synthetic store, shifted sets at {fraction:.1%} of full size: "
              f"{size / 1e9:.2f} GB, report {seconds:.1f} s")  # fmt: skip
    (x0, t0, _), (x1, t1, _) = points
    slope = (t1 - t0) / (x1 - x0) if x1 != x0 else 0.0
    if slope <= 0:  # the shifted sets' share is below this machine's noise at these sizes
        return {"runs": len(shapes), "seconds_full": float("nan"), "at_least": max(t0, t1)}
    return {"runs": len(shapes), "seconds_full": t0 + slope * (full - x0), "at_least": max(t0, t1)}


def run_store_benchmark(matrix: str = "paper", measured: str | None = None) -> None:
    shapes = cell_shapes(matrix)
    proj = projection(shapes)
    cols = ["dataset", "model", "seeds", "trials", "runs", "shifted_sets", "GB_float32",
            "GB_compact", "trials_GB_compact", "runs_GB_compact", "trials_GB_weights"]  # fmt: skip
    print(f"projected store of matrix {matrix!r} (trials are an upper bound, module docstring):")
    print(proj[cols].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    total32, total16 = proj["GB_float32"].sum(), proj["GB_compact"].sum()
    weights = proj["trials_GB_weights"].sum()
    pruned = " (pruned to the trials runs use: Matrix.prune_weights)" if shapes[0].prune else ""
    print(f"total: {total32:.1f} GB as float32 probabilities, {total16:.1f} GB compact "
          f"({total16 / total32:.2f}x); the trials' weights add {weights:.1f} GB{pruned} "
          f"(compact with weights: {total16 + weights:.1f} GB); compact, the trials hold "
          f"{proj['trials_GB_compact'].sum():.1f} GB and the runs "
          f"{proj['runs_GB_compact'].sum():.1f} GB")  # fmt: skip
    if measured:
        parts = {"trials": 0, "run predictions": 0, "checkpoints": 0, "other": 0}
        for p in Path(measured).rglob("*"):
            if p.is_file():
                rel = p.relative_to(measured).parts
                kind = "checkpoints" if "checkpoints" in rel else "trials"
                if kind == "trials" and rel[0] != "trials":
                    kind = "run predictions" if p.name == "predictions.npz" else "other"
                parts[kind] += p.stat().st_size
        text = ", ".join(f"{k} {v / 1e9:.3f} GB" for k, v in parts.items())
        print(f"measured: {measured} holds {sum(parts.values()) / 1e9:.3f} GB ({text}; the "
              "projection leaves out the checkpoints finished runs keep)")  # fmt: skip
    out = report_time(shapes)
    if np.isnan(out["seconds_full"]):
        print(f"report on the {out['runs']} runs of {matrix!r}: no growth with the shifted sets' "
              f"size resolved at these sizes (at least {out['at_least']:.0f} s)")  # fmt: skip
    else:
        print(f"report on the {out['runs']} runs of {matrix!r}, extrapolated to full size: "
              f"{out['seconds_full']:.0f} s")  # fmt: skip
