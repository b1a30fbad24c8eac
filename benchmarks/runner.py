"""Running one cell: resolve settings -> run id -> skip if done -> method -> metrics -> store."""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import compose, trials
from benchmarks.data import Splits, get_dataset
from benchmarks.data.shift import ShiftedSet, get_shifted
from benchmarks.errors import HyperensError
from benchmarks.methods import METHODS, Cell, CellContext, MethodResult
from benchmarks.metrics import compute_all
from benchmarks.metrics.ood import ood_metrics
from benchmarks.metrics.temperature import calibrated_by_split
from benchmarks.models import LayerFactory, build_model
from benchmarks.store import RunStore, collect_provenance, run_id
from benchmarks.train.observe import TensorBoardWriter
from benchmarks.train.precision import resolve_mixed_precision
from benchmarks.trials import Executor, TrainerCache
from benchmarks.trials.scheduler import TrialRunner
from benchmarks.trials.worker import TrialWorker


@dataclasses.dataclass
class CellOutcome:
    run_id: str
    status: str
    skipped: bool
    metrics: dict


def cell_data(
    settings: compose.CellSettings,
) -> tuple[Splits, list[ShiftedSet], trials.TrialSettings]:
    """The cell's splits, its shifted sets and the identity settings of its trials."""
    cell = settings.cell
    data = get_dataset(cell.dataset, **dict(settings.data_options))
    opts = settings.shift_options
    shifted = [] if opts is None else get_shifted(cell.dataset, data, opts)
    return data, shifted, compose.trial_settings(settings, data, shifted)


def resolve_trial_settings(
    cell: Cell, gin_files: Sequence[str | Path] = (), gin_params: Sequence[str] = ()
) -> tuple[trials.TrialSettings, Splits]:
    """(TrialSettings, Splits) of `cell`'s trials (for benches and tests that drive a
    `TrialRunner` directly)."""
    data, _, identity = cell_data(compose.resolve(cell, gin_files, gin_params))
    return identity, data


def run_cell(
    cell: Cell,
    store_root: str | Path,
    gin_files: Sequence[str | Path] = (),
    gin_params: Sequence[str] = (),
    executor: Executor | None = None,
    threads: int | None = None,
    trainers: TrainerCache | None = None,
    tensorboard: str | Path | None = None,
) -> CellOutcome:
    """Runs `cell` unless its run is already done; records everything in the store.

    Settings are resolved (and every bad input rejected) before the store is touched. Trials are
    trained through `executor` (default: local) and cached in the store; `trainers` keeps the
    compiled networks (the in-process trial worker's and those of methods that train their own)
    across the cells of a matrix; `tensorboard` is `hyperens --tensorboard DIR`."""
    settings = compose.resolve(cell, gin_files, gin_params, tensorboard)
    text = settings.text
    rid = run_id(cell.as_dict(), text)
    fresh = not (Path(store_root) / "runs" / rid).exists()
    # a run not begun reads (and checks) its dataset before the store is created or touched
    loaded = cell_data(settings) if fresh else None
    store = RunStore(store_root)
    if store.status(rid) == "done":
        store.verify(rid)
        return CellOutcome(rid, "done", True, store.load(rid).metrics)

    method = METHODS.get(cell.method)
    data, shifted, identity = loaded or cell_data(settings)
    # Methods never see test labels: they are replaced by -1 (see benchmarks.methods.base).
    blind = dataclasses.replace(data, y_test=np.full(len(data.y_test), -1, np.int32))
    arch = dict(settings.model_settings)
    mixed = resolve_mixed_precision(settings.train_config.mixed_precision)

    def make_model(pack: int, factory_cls=LayerFactory, mimo=None):
        return build_model(cell.model, data.input_shape, data.num_classes, pack=pack,
                           factory_cls=factory_cls, settings=arch,
                           mixed_precision=mixed, mimo=mimo)  # fmt: skip

    store.begin(rid, cell.as_dict(), text)
    trainers = TrainerCache(keep=3) if trainers is None else trainers
    runner = TrialRunner(
        store_root, identity, data.y_val, executor,
        threads=threads, data=data,
        shifted=shifted, worker=trainers.get(("trial worker",), TrialWorker),
        monitor=settings.monitor,
    )  # fmt: skip
    ctx = CellContext(
        cell, blind, settings.train_config, settings.space, settings.methods, make_model,
        store.checkpoint_dir(rid), runner, shifted, trainers=trainers, config_key=text,
        run_id=rid, monitor=settings.monitor,
    )  # fmt: skip
    start = time.perf_counter()
    try:
        result = method(ctx)
        if result.status == "done":
            check_shift_predictions(cell, result, shifted)
    except HyperensError as err:
        store.mark(rid, "failed", str(err))
        raise
    except Exception as err:
        store.mark(rid, "failed", "".join(traceback.format_exception(err)))
        status_file = store.run_dir(rid) / "status.json"
        raise HyperensError(
            f"run {rid} failed: {type(err).__name__}: {err} (traceback in {status_file})"
        ) from err
    wall = time.perf_counter() - start
    provenance = collect_provenance(text, cell.seed, wall, result.param_count)
    provenance["method_info"] = result.info
    provenance["shift_eval_s"] = ctx.shift_seconds + ctx.trials.shift_seconds
    provenance["training_code_version"] = trials.TRAINING_CODE_VERSION
    provenance["hparams_source"] = str(result.info.get("hparams_source", "not tuned"))
    budget = ctx.trials.budget()  # every trial the method used, cached or trained now
    own = float(result.info.get("train_wall_time_s", 0.0))
    provenance["budget_trainings"] = budget["trainings"] + int(result.own_trainings)
    provenance["budget_train_s"] = budget["train_s"] + own
    kept = result.kept_epochs
    provenance["kept_epoch"] = float(np.mean(kept)) if kept is not None and len(kept) else None
    if result.status != "done":
        store.finish(rid, {}, {}, provenance, status=result.status)
        return CellOutcome(rid, result.status, False, {})
    metrics = {
        "val": compute_all(result.val_probs, data.y_val, result.member_weights),
        "test": compute_all(result.test_probs, data.y_test, result.member_weights),
    }
    predictions = {
        "val_probs": result.val_probs.astype(np.float32),
        "test_probs": result.test_probs.astype(np.float32),
        "val_labels": data.y_val.astype(np.int32),
        "test_labels": data.y_test.astype(np.int32),
        "member_weights": result.member_weights.astype(np.float32),
        "build_order": result.order().astype(np.int32),
    }
    if result.history is not None and np.size(result.history):
        predictions.update(history_arrays(result.history))
        if settings.monitor.tensorboard_dir and not result.own_trainings:
            write_tensorboard(settings.monitor.tensorboard_dir, rid, result.history)
    if result.kept_epochs is not None:
        predictions["kept_epoch"] = np.asarray(result.kept_epochs, np.float32)
    predictions.update({k: np.asarray(v, np.float32) for k, v in result.extra_arrays.items()})
    start = time.perf_counter()
    shift_metrics, shift_arrays = score_shifted(result, shifted)
    provenance["shift_eval_s"] += time.perf_counter() - start
    metrics.update(shift_metrics)
    predictions.update(shift_arrays)
    # stored beside the raw metrics, so a report reads no shifted set (metrics.temperature)
    for split, values in calibrated_by_split(predictions).items():
        metrics[split].update(values)
    store.finish(rid, metrics, predictions, provenance, status="done")
    return CellOutcome(rid, "done", False, metrics)


def check_shift_predictions(cell: Cell, result: MethodResult, shifted: list[ShiftedSet]) -> None:
    """Shift predictions are part of a method's contract: a finished result holds every set."""
    missing = [s.name for s in shifted if s.name not in result.shift_probs]
    if missing:
        raise HyperensError(
            f"method {cell.method!r} returned no predictions for {len(missing)} shifted sets "
            f"(first: {missing[0]}); predict them with ctx.predict_shifted or from_trials"
        )


def score_shifted(result: MethodResult, shifted: list[ShiftedSet]) -> tuple[dict, dict]:
    """Metrics and stored arrays for every shifted set the method predicted.

    Metric keys: `corruption/<type>/<severity>` (`compute_all` against the true labels) and
    `ood/<set>` (`ood_metrics`, the clean test split as in-distribution). Arrays:
    `shift_probs_<set>` (M, N, C) and `shift_labels_<set>` (N,; -1 for OOD sets)."""
    metrics, arrays = {}, {}
    w = result.member_weights
    for s in shifted:
        probs = result.shift_probs[s.name]
        _, labels = s.load()
        if s.kind == "ood":
            metrics[f"ood/{s.source}"] = ood_metrics(result.test_probs, probs, w)
        else:
            metrics[f"corruption/{s.source}/{s.severity}"] = compute_all(probs, labels, w)
        arrays[f"shift_probs_{s.name}"] = probs.astype(np.float32)  # stored compact
        arrays[f"shift_labels_{s.name}"] = labels.astype(np.int32)
    return metrics, arrays


def history_arrays(history: np.ndarray) -> dict[str, np.ndarray]:
    """A result's history (R, E, 3) as the run's arrays `<field>_curve` (R, E), one per
    `HISTORY_FIELDS` (`val_nll_curve`, `train_loss_curve`, `val_accuracy_curve`)."""
    h = np.asarray(history, np.float32)
    return {f"{name}_curve": h[..., j] for j, name in enumerate(trials.HISTORY_FIELDS)}


def write_tensorboard(directory: str | Path, rid: str, history: np.ndarray) -> None:
    """The stored history of a run built from cached trials, as TensorBoard scalars under
    `directory/<run id>/member_<m>/` (a network the method trains itself writes them live)."""
    writer = TensorBoardWriter([Path(directory) / rid / f"member_{m}" for m in range(len(history))])
    writer.write_history(history)
    writer.close()
