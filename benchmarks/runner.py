"""Running one cell: compose config -> run id -> skip if done -> method -> metrics -> store."""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import gin
import numpy as np

from benchmarks import config
from benchmarks.errors import HyperensError
from benchmarks.metrics import compute_all
from benchmarks.store import RunStore, collect_provenance, run_id


@dataclasses.dataclass
class CellOutcome:
    run_id: str
    status: str
    skipped: bool
    metrics: dict


def trial_settings(cell, data, shifted: list, shift_opts, data_opts: dict, train_config):
    """The resolved settings that identify this cell's trials (`benchmarks.trials.TrialSettings`);
    call inside `gin.config_scope(cell.model)`. Method and search-space settings are not part of
    it, so every method of a cell shares one trial cache."""
    from benchmarks import trials
    from benchmarks.models import model_settings

    facts = (
        ("input_shape", tuple(int(d) for d in data.input_shape)),
        ("num_classes", int(data.num_classes)),
        ("sizes", (len(data.y_train), len(data.y_val), len(data.y_test))),
        ("pixel_mean", tuple(float(v) for v in data.pixel_mean)),
        ("pixel_std", tuple(float(v) for v in data.pixel_std)),
        ("augment", data.augment),
        ("fingerprint", trials.data_fingerprint(data)),
    )
    return trials.TrialSettings(
        dataset=cell.dataset,
        data_options=tuple(sorted(data_opts.items())),
        data_facts=facts,
        model=cell.model,
        model_settings=tuple(model_settings(cell.model).items()),
        train_config=train_config,
        shift_options=shift_opts,
        shift_sets=tuple(s.name for s in shifted),
        code_version=trials.TRAINING_CODE_VERSION,
    )


def resolve_trial_settings(
    cell, gin_files: Sequence[str | Path] = (), gin_params: Sequence[str] = ()
):
    """(TrialSettings, Splits) of `cell`'s trials, composed and resolved from gin (for benches and
    tests that drive a `TrialRunner` directly)."""
    from benchmarks.data import get_dataset
    from benchmarks.data.config import data_options, shift_options
    from benchmarks.data.shift import get_shifted
    from benchmarks.train import TrainConfig

    config.compose(cell.dataset, cell.model, cell.method, cell.tier, gin_files, gin_params)
    with gin.config_scope(cell.model):
        train_config = TrainConfig()
        data_opts = data_options(cell.dataset, cell.seed)
        shift_opts = shift_options(cell.dataset, cell.seed)
    data = get_dataset(cell.dataset, **data_opts)
    shifted = [] if shift_opts is None else get_shifted(cell.dataset, data, shift_opts)
    with gin.config_scope(cell.model):
        return trial_settings(cell, data, shifted, shift_opts, data_opts, train_config), data


def run_cell(
    cell,
    store_root: str | Path,
    gin_files: Sequence[str | Path] = (),
    gin_params: Sequence[str] = (),
    executor=None,
    threads: int | None = None,
) -> CellOutcome:
    """Runs `cell` unless its run is already done; records everything in the store.

    Trials are trained through `executor` (default: local) and cached in the store."""
    from benchmarks import trials
    from benchmarks.data import get_dataset
    from benchmarks.data.config import data_options, shift_options
    from benchmarks.data.shift import get_shifted
    from benchmarks.executors import LocalExecutor
    from benchmarks.hparams import SearchSpace
    from benchmarks.methods import METHODS, CellContext
    from benchmarks.methods.weight_space import WeightSpace
    from benchmarks.models import LayerFactory, build_model
    from benchmarks.train import TrainConfig
    from benchmarks.trials import TrialRunner

    if int(cell.seed) < 0:
        raise HyperensError(f"seed must be >= 0, got {cell.seed}")
    text = config.compose(cell.dataset, cell.model, cell.method, cell.tier, gin_files, gin_params)
    # the run id (and the stored config) carry the training-code version: runs of another
    # version are never reused
    text += f"\n# hyperens training code version {trials.TRAINING_CODE_VERSION}\n"
    store = RunStore(store_root)
    rid = run_id(cell.as_dict(), text)
    if store.status(rid) == "done":
        store.verify(rid)
        return CellOutcome(rid, "done", True, store.load(rid).metrics)

    method = METHODS.get(cell.method)
    with gin.config_scope(cell.model):
        train_config = TrainConfig()
        space = SearchSpace()
        pack_size = WeightSpace().pack_size
        data_opts = data_options(cell.dataset, cell.seed)
        shift_opts = shift_options(cell.dataset, cell.seed)
    data = get_dataset(cell.dataset, **data_opts)
    # checks availability before anything trains
    shifted = [] if shift_opts is None else get_shifted(cell.dataset, data, shift_opts)
    with gin.config_scope(cell.model):
        settings = trial_settings(cell, data, shifted, shift_opts, data_opts, train_config)
    # Methods never see test labels: they are replaced by -1 (see benchmarks.methods.base).
    blind = dataclasses.replace(data, y_test=np.full(len(data.y_test), -1, np.int32))

    def make_model(pack: int, factory_cls=LayerFactory):
        with gin.config_scope(cell.model):
            return build_model(
                cell.model, data.input_shape, data.num_classes, pack=pack,
                factory_cls=factory_cls, settings=dict(settings.model_settings),
            )  # fmt: skip

    store.begin(rid, cell.as_dict(), text)
    ctx = CellContext(cell, blind, train_config, space, make_model, store.checkpoint_dir(rid))
    ctx.shifted = shifted
    ctx.trials = TrialRunner(
        store_root, settings, data.y_val, executor or LocalExecutor(), pack_size=pack_size,
        threads=threads, data=data, shifted=shifted,
    )  # fmt: skip
    start = time.perf_counter()
    try:
        with gin.config_scope(cell.model):  # per-model bindings (e.g. WeightSpace) apply inside
            result = method(ctx)
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
    if result.val_nll_curve is not None and np.size(result.val_nll_curve):
        predictions["val_nll_curve"] = np.asarray(result.val_nll_curve, np.float32)
    start = time.perf_counter()
    shift_metrics, shift_arrays = score_shifted(result, shifted)
    provenance["shift_eval_s"] += time.perf_counter() - start
    metrics.update(shift_metrics)
    predictions.update(shift_arrays)
    store.finish(rid, metrics, predictions, provenance, status="done")
    return CellOutcome(rid, "done", False, metrics)


def score_shifted(result, shifted: list) -> tuple[dict, dict]:
    """Metrics and stored arrays for every shifted set the method predicted.

    Metric keys: `corruption/<type>/<severity>` (`compute_all` against the true labels) and
    `ood/<set>` (`ood_metrics`, the clean test split as in-distribution). Arrays:
    `shift_probs_<set>` (M, N, C) and `shift_labels_<set>` (N,; -1 for OOD sets)."""
    from benchmarks.metrics.ood import ood_metrics

    metrics, arrays = {}, {}
    w = result.member_weights
    for s in shifted:
        probs = result.shift_probs.get(s.name)
        if probs is None:  # a method that does not predict shifted sets: no row, no error
            continue
        _, labels = s.load()
        if s.kind == "ood":
            metrics[f"ood/{s.corruption}"] = ood_metrics(result.test_probs, probs, w)
        else:
            metrics[f"corruption/{s.corruption}/{s.severity}"] = compute_all(probs, labels, w)
        arrays[f"shift_probs_{s.name}"] = probs.astype(np.float32)
        arrays[f"shift_labels_{s.name}"] = labels.astype(np.int32)
    return metrics, arrays
