"""The trial worker: trains one pack of trials from resolved settings alone.

`TrialWorker` runs in the driver's process (local executor) or in a Ray worker. It builds the
dataset, shifted sets, model and trainer from `TrialSettings` (no gin, no method code) and keeps
its compiled trainers in a cache it owns, keyed by architecture, training settings and split
shapes: the packs of one architecture reuse one traced step, also across cells and seeds (the
trainer is rebound to each cell's splits, `Trainer.rebind`), and `fit` re-initialises every
variable, so a reused trainer gives the numbers of a fresh one.

A pack predicts the validation and test splits only. A trial's shifted-set predictions are made
when a method first returns it as a member (`shifted_predictions`): its stored weights are
restored into the one-network trainer of its architecture, which predicts what the network
predicted when it finished training: bit for bit for a trial trained in a pack of one (same
variables, same compiled prediction), to float rounding for one from a bigger pack.
Trials a method only selects among never predict the shifted sets.
"""

from __future__ import annotations

import traceback
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchmarks.data import Splits, get_dataset
from benchmarks.data.shift import ShiftedSet, get_shifted, predict_shifted
from benchmarks.errors import HyperensError
from benchmarks.models import build_model
from benchmarks.settings import Monitor
from benchmarks.train.engine import Trainer
from benchmarks.train.observe import watching
from benchmarks.train.precision import resolve_mixed_precision
from benchmarks.trials.cache import TrainerCache
from benchmarks.trials.identity import TrialSettings, data_fingerprint
from benchmarks.trials.runtime import enter_worker, pin_threads


class TrialWorker:
    """Trains packs: `worker(payload) -> [one dict per trial]`.

    `payload`: settings (`TrialSettings`), specs [(hparams, seed)], threads, checkpoint_dir,
    and optionally monitor (`Monitor`) and keys (the trials' store keys, which name their progress
    lines and TensorBoard directories).
    A worker made with the driver's `data` and `shifted` sets (in-process) uses them instead of
    building its own. Exceptions become status `failed` for the whole pack; divergence is per
    member.
    """

    def __init__(
        self,
        data: Splits | None = None,
        shifted: list[ShiftedSet] | None = None,
        shift_cache_bytes: float = 1e9,
    ):
        self.trainers = TrainerCache()
        self._local = (data, shifted)
        self._datasets = TrainerCache(keep=4)
        # trial key -> its shifted-set predictions, most recent last, at most this many bytes
        self._shifted: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()
        self.shift_cache_bytes = shift_cache_bytes

    def use(self, data: Splits, shifted: list[ShiftedSet] | None) -> None:
        """Trains in-process packs on these splits and shifted sets (None: built from the
        settings) from now on."""
        self._local = (data, shifted)

    def parts(self, settings: TrialSettings, pack: int) -> tuple[Splits, list, Trainer]:
        """(data, shifted sets, trainer) for `settings`."""
        data, shifted = self._local
        if data is None:
            data = self._datasets.get(
                (settings.dataset, settings.data_options),
                lambda: get_dataset(settings.dataset, **dict(settings.data_options)),
            )
            fingerprint = dict(settings.data_facts).get("fingerprint")
            if fingerprint is not None and fingerprint != data_fingerprint(data):
                raise HyperensError(
                    f"dataset {settings.dataset!r} on this worker differs from the driver's "
                    "(fingerprint); check data_options.data_dir on every node"
                )
        if shifted is None:
            shifted = [] if settings.shift_options is None else get_shifted(
                settings.dataset, data, settings.shift_options
            )  # fmt: skip

        def build() -> Trainer:
            mixed = resolve_mixed_precision(settings.train_config.mixed_precision)
            model = build_model(settings.model, data.input_shape, data.num_classes, pack,
                                settings=dict(settings.model_settings),
                                mixed_precision=mixed)  # fmt: skip
            return Trainer(model, data, settings.train_config)

        key = (settings.model, repr(settings.model_settings), repr(settings.train_config), pack,
               data.shapes())  # fmt: skip
        trainer = self.trainers.get(key, build)
        trainer.rebind(data)
        return data, shifted, trainer

    def __call__(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        if payload.get("threads"):  # a task of its own (Ray): a training process of that many
            enter_worker(payload["threads"])
        threads = pin_threads(None)  # what TF runs with here
        specs: Sequence = payload["specs"]
        try:
            data, _, trainer = self.parts(payload["settings"], len(specs))
            names = sorted(specs[0][0])
            hparams = {k: [hp[k] for hp, _ in specs] for k in names}
            seeds = [seed for _, seed in specs]
            keys = list(payload.get("keys") or [f"trial{p}" for p in range(len(specs))])
            label = f"{payload['settings'].dataset}/{payload['settings'].model} trial {keys[0]}"
            label += f" (+{len(keys) - 1})" if len(keys) > 1 else ""
            with watching(payload.get("monitor") or Monitor(), label, keys) as observe:
                result = trainer.fit(hparams, seeds, payload.get("checkpoint_dir"), observe)
            val = trainer.predict(data.x_val, hparams)
            test = trainer.predict(data.x_test, hparams)
        except Exception as err:  # a broken pack must not end the sweep
            message = f"{type(err).__name__}: {err}"
            detail = traceback.format_exc(limit=5)
            return [{"status": "failed", "message": message, "traceback": detail} for _ in specs]
        share = result.wall_time_s / len(specs)
        weights = [v.numpy() for v in trainer.model.weights]
        out = []
        for p, status in enumerate(result.status):
            row = {"status": status, "final_loss": float(result.final_loss[p]),
                   "wall_time_s": share, "resumed_from_epoch": result.resumed_from_epoch,
                   "kept_epoch": int(result.kept_epoch[p]),
                   "train_loss_curve": [float(v) for v in result.loss_history[:, p]],
                   "val_nll_curve": [float(v) for v in result.val_nll_history[:, p]],
                   "val_accuracy_curve": [float(v) for v in result.val_accuracy_history[:, p]],
                   "threads": threads,
                   "jit_compile": trainer.jit_compile,
                   "mixed_precision": trainer.mixed_precision}  # fmt: skip
            if status == "done":
                row["val_probs"], row["test_probs"] = val[p], test[p]
                row["weights"] = [w[p] for w in weights]
            out.append(row)
        return out

    def shifted_predictions(
        self,
        settings: TrialSettings,
        key: str,
        hparams: dict[str, float],
        weights: Callable[[], list[np.ndarray]],
    ) -> dict[str, np.ndarray]:
        """{set name: (N, C)} of trial `key` on the shifted sets of `settings`: `weights()` (its
        trained variables, without the pack axis) restored into the one-network trainer of its
        architecture (module docstring); kept for the next method that asks."""
        if key in self._shifted:
            self._shifted.move_to_end(key)
            return self._shifted[key]
        _, shifted_sets, trainer = self.parts(settings, 1)
        for var, w in zip(trainer.model.weights, weights(), strict=True):
            var.assign(np.broadcast_to(w, var.shape))
        hp = {k: [v] for k, v in hparams.items()}
        out = {
            n: v[0]
            for n, v in predict_shifted(shifted_sets, lambda x: trainer.predict(x, hp)).items()
        }
        self._shifted[key] = out
        size = lambda d: sum(a.nbytes for a in d.values())  # noqa: E731
        while (
            len(self._shifted) > 1
            and sum(map(size, self._shifted.values())) > self.shift_cache_bytes
        ):
            self._shifted.popitem(last=False)
        return out


def train_pack(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """One pack on a fresh worker (what a Ray task runs: it rebuilds dataset and trainer)."""
    return TrialWorker()(payload)
