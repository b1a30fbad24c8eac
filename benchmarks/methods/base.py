"""The method plug-in contract.

A method is a function `run(ctx: CellContext) -> MethodResult` registered in `METHODS`. It trains
through `ctx.trials` (cached single models) or `ctx.trainer(...)` (the one engine) and returns its
members' probabilities on the validation and test inputs and on the inputs of every shifted set
(`MethodResult.from_trials` carries the trials'; a network of its own predicts them with
`ctx.predict_shifted`). The runner rejects a result that lacks a shifted set. A method never sees
test or shifted *labels*: `ctx.data.y_test` is all -1 and shifted sets are handed over as inputs
only, so nothing a method selects, tunes or stops on can depend on them. Its settings arrive
resolved in `ctx.settings` (no method reads gin). The runner scores the result.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.data import Splits
from benchmarks.data.shift import ShiftedSet, predict_shifted
from benchmarks.hparams import SearchSpace
from benchmarks.models.base import PackedModel
from benchmarks.registry import Registry
from benchmarks.settings import Cell, MethodSettings, Monitor
from benchmarks.settings.train import TrainConfig
from benchmarks.train.engine import StepTuner, Trainer
from benchmarks.trials import TrainerCache, Trial
from benchmarks.trials.scheduler import TrialRunner


@dataclasses.dataclass
class CellContext:
    """What a method gets: the cell, data without test labels, resolved settings, the cell's
    trial cache, its shifted sets (inputs only) and a working directory."""

    cell: Cell
    data: Splits
    train_config: TrainConfig
    space: SearchSpace
    settings: MethodSettings
    build_model: Callable[..., PackedModel]  # (pack, factory_cls=LayerFactory, mimo=None) -> model
    work_dir: Path
    trials: TrialRunner
    shifted: list[ShiftedSet] = dataclasses.field(default_factory=list)
    # compiled trainers of the methods that train their own network, reused across cells
    trainers: TrainerCache = dataclasses.field(default_factory=lambda: TrainerCache(keep=3))
    config_key: str = ""  # the cell's resolved configuration (keys `trainers`)
    run_id: str = ""  # names the progress lines and TensorBoard directory of its own networks
    monitor: Monitor = dataclasses.field(default_factory=Monitor)
    shift_seconds: float = 0.0  # time spent in predict_shifted

    def predict_shifted(self, predict: Callable[[np.ndarray], np.ndarray]) -> dict:
        """{set name: predict(inputs)} over the cell's shifted sets (inputs only, no labels)."""
        start = time.perf_counter()
        out = predict_shifted(self.shifted, predict)
        self.shift_seconds += time.perf_counter() - start
        return out

    def trainer(
        self,
        pack: int = 1,
        factory_cls=None,
        tuner: StepTuner | None = None,
        model: PackedModel | None = None,
        config: TrainConfig | None = None,
    ) -> Trainer:
        """The engine on this cell's data and training settings (or `config`): for `model`, or a
        new model whose layers `factory_cls` makes."""
        if model is None:
            model = self.build_model(pack, *(() if factory_cls is None else (factory_cls,)))
        return Trainer(model, self.data, config or self.train_config, tuner=tuner)

    def cached_trainer(self, method: str, build: Callable[[], Trainer]) -> Trainer:
        """The trainer `build()` makes for this cell's configuration, reused by the next seed of
        the same cell and rebound to its splits (the traced epoch is kept; `fit` re-initialises
        every variable, so the numbers are those of a new trainer)."""
        key = (method, self.config_key, self.cell.dataset, self.cell.model,
               self.data.shapes())  # fmt: skip
        trainer = self.trainers.get(key, build)
        trainer.rebind(self.data)
        return trainer


@dataclasses.dataclass
class MethodResult:
    """Members' probabilities (M, N, C) on validation and test, their weights, and status."""

    status: str  # "done" | "diverged"
    val_probs: np.ndarray
    test_probs: np.ndarray
    member_weights: np.ndarray
    param_count: int
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    shift_probs: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # name: (M,N,C)
    # Member rows in the order the method added them (a row repeats when greedy selection picks
    # it again); None: 0..M-1. The size-k ensemble is the shortest prefix with k distinct rows.
    build_order: np.ndarray | None = None
    # Per epoch of every network trained for this result (R, E, 3): training loss, validation
    # NLL and validation accuracy (`benchmarks.trials.HISTORY_FIELDS`; NaN: not recorded).
    history: np.ndarray | None = None
    own_trainings: int = 0  # networks the method trained itself (outside the trial cache)
    # (R,) the epoch whose weights each network kept (`TrainConfig.stopping`); None: unknown
    kept_epochs: np.ndarray | None = None
    # Arrays stored with the run for the analyses, not scored (e.g. `curve_val_probs`).
    extra_arrays: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def order(self) -> np.ndarray:
        """`build_order`, or 0..M-1 when the method gave none."""
        if self.build_order is None:
            return np.arange(len(self.member_weights), dtype=np.int64)
        return np.asarray(self.build_order, np.int64)

    @classmethod
    def from_trials(
        cls,
        members: list[Trial],
        weights: np.ndarray,
        param_count: int,
        info: dict[str, Any],
        build_order: Sequence[int] | None = None,
    ) -> MethodResult:
        """An ensemble of finished trials, with their predictions on every shifted set they all
        hold and their per-epoch histories (when every member has one of the same length)."""
        names = set.intersection(*(set(t.shift_probs) for t in members)) if members else set()
        histories = [t.history for t in members]
        same = histories and all(len(h) == len(histories[0]) and len(h) for h in histories)
        return cls(
            status="done",
            val_probs=np.stack([t.val_probs for t in members]),
            test_probs=np.stack([t.test_probs for t in members]),
            member_weights=np.asarray(weights, np.float32),
            param_count=param_count,
            info=info,
            shift_probs={n: np.stack([t.shift_probs[n] for t in members]) for n in sorted(names)},
            build_order=None if build_order is None else np.asarray(build_order, np.int64),
            history=np.stack(histories) if same else None,
            kept_epochs=np.array(
                [t.info.get("kept_epoch", len(t.history)) for t in members], np.float32
            ),
        )


MethodFn = Callable[[CellContext], MethodResult]
METHODS: Registry[MethodFn] = Registry("method")
