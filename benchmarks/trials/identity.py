"""What identifies a trial: the resolved settings of its cell, its hyperparameters and seed.

A trial's identity (`TrialSettings.identity` + hyperparameters + seed) holds the dataset (name,
split options, shapes, classes, normalisation and a fingerprint of the arrays), the model (name and
every architecture setting), the whole `TrainConfig`, the shifted sets it predicts and
`TRAINING_CODE_VERSION`; its store key is a hash of that identity
(`benchmarks.store.trial_store`), and loading a trial checks the identity recorded with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from benchmarks.data import Splits
from benchmarks.data.shift import ShiftOptions
from benchmarks.settings.train import TrainConfig

# The version of the training semantics. Bump it whenever a trial trained with the same settings
# would give other numbers (engine, models, data pipeline, evaluation): trials and runs of another
# version are then never reused (their keys differ).
#   1: the first release of the trial cache.
#   2: batch_size counts new images per member (rows = K x batch_size); per-epoch validation NLL;
#      trials keyed by resolved settings.
#   3: shifted-set predictions rounded to float16 log-probabilities (`benchmarks.compact`).
#   4: dropout masks from a counter-based hash (`benchmarks.models.layers.hash_uniform`), not
#      Philox; matrix processes with one TensorFlow thread each.
#   5: Adam and momentum in Keras 3's arithmetic order (fused kernels for a pack of one), bias
#      gradients from `tf.nn.bias_add`, batch-ensemble and hyper-batch layers with member kernels
#      W ∘ (r_k s_kᵀ): the same functions with other rounding.
#   6: the stopping rule (`TrainConfig.stopping`): a run keeps its lowest-validation-NLL epoch.
TRAINING_CODE_VERSION = 6

# per-epoch numbers every trained network records (`<name>_curve` in a trial's record)
HISTORY_FIELDS = ("train_loss", "val_nll", "val_accuracy")


def _plain(value: Any) -> Any:
    """JSON-ready form of a settings value (tuples -> lists, numpy scalars -> Python)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float):
        return repr(value)  # exact
    return value


def data_fingerprint(data: Splits) -> str:
    """sha256 (first 16 hex) over every split's labels and a strided sample of its inputs, so two
    datasets with the same name and shapes but other images never share a trial."""
    h = hashlib.sha256()
    for part in ("train", "val", "test"):
        x, y = getattr(data, f"x_{part}"), getattr(data, f"y_{part}")
        h.update(np.ascontiguousarray(y).tobytes())
        flat = x.reshape(-1)
        h.update(np.ascontiguousarray(flat[:: max(1, flat.size // 200_000)]).tobytes())
    return h.hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class TrialSettings:
    """Everything but hyperparameters and seed that determines a trial's training and predictions.

    Built once per cell from the resolved configuration (`benchmarks.compose`) and handed to the
    worker as is (picklable): the worker builds dataset, shifted sets, model and trainer from it
    alone.
    """

    dataset: str
    data_options: tuple[tuple[str, Any], ...]  # get_dataset(dataset, **dict(data_options))
    data_facts: tuple[tuple[str, Any], ...]  # shapes, classes, normalisation, fingerprint
    model: str
    model_settings: tuple[tuple[str, Any], ...]  # every architecture argument of the model class
    train_config: TrainConfig
    shift_options: ShiftOptions | None = None
    shift_sets: tuple[str, ...] = ()  # names of the shifted sets every trial predicts
    code_version: int = TRAINING_CODE_VERSION
    # trials trained together (`WeightSpace.pack_size`); every pack is padded to it
    pack_size: int = 1

    def identity(self) -> dict[str, Any]:
        """The JSON-ready identity (hashed into every trial key, recorded in every trial).

        A pack size above one is part of it: a pack trains as one network (LeNet's convolutions
        grouped, `benchmarks.models.layers.PackedConv2D`), whose numbers differ from a lone
        trial's at float rounding but not with the other members of the pack."""
        out = {
            "code_version": int(self.code_version),
            "dataset": {"name": self.dataset, "options": _plain(dict(self.data_options)),
                        **_plain(dict(self.data_facts))},
            "model": {"name": self.model, **_plain(dict(self.model_settings))},
            "train": _plain(self.train_config),
            "shift": {"options": _plain(self.shift_options), "sets": list(self.shift_sets)},
        }  # fmt: skip
        return out if self.pack_size == 1 else {**out, "pack_size": int(self.pack_size)}

    def identity_json(self) -> str:
        return json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))


@dataclasses.dataclass(frozen=True)
class TrialSpec:
    """Hyperparameters (sorted name/value pairs) and the init/data/dropout seed of one trial."""

    hparams: tuple[tuple[str, float], ...]
    seed: int

    @classmethod
    def make(cls, hparams: dict[str, float], seed: int) -> TrialSpec:
        return cls(tuple(sorted((k, float(v)) for k, v in hparams.items())), int(seed))

    def hp(self) -> dict[str, float]:
        return dict(self.hparams)

    def with_seed(self, seed: int) -> TrialSpec:
        return TrialSpec(self.hparams, int(seed))


@dataclasses.dataclass
class Trial:
    """A finished trial: status `done`, `diverged` or `failed`; probabilities when done."""

    spec: TrialSpec
    key: str
    status: str
    val_probs: np.ndarray | None
    test_probs: np.ndarray | None
    val_nll: float
    info: dict[str, Any]
    # {set name: (N, C)} on the shifted sets, or the function that predicts them (from the trial's
    # stored weights) when the trial is first asked for them: `shift_probs`
    shifted: dict[str, np.ndarray] | Callable[[], dict[str, np.ndarray]] = dataclasses.field(
        default_factory=dict
    )

    @property
    def shift_probs(self) -> dict[str, np.ndarray]:
        """Predictions on every shifted set, made on first use and kept: only the trials a
        method returns as members are ever predicted on them."""
        if callable(self.shifted):
            self.shifted = self.shifted()
        return self.shifted

    @property
    def train_seconds(self) -> float:
        """Training time recorded when the trial was trained (0 if unknown)."""
        return float(self.info.get("wall_time_s", 0.0) or 0.0)

    @property
    def val_nll_curve(self) -> list[float]:
        """Validation NLL after each epoch (empty if not recorded)."""
        return [float(v) for v in self.info.get("val_nll_curve", [])]

    @property
    def history(self) -> np.ndarray:
        """(E, 3) per epoch: training loss, validation NLL, validation accuracy (`HISTORY_FIELDS`);
        a curve the trial did not record (a trial stored before it was) is NaN."""
        curves = [self.info.get(f"{name}_curve") or [] for name in HISTORY_FIELDS]
        epochs = max(len(c) for c in curves)
        out = np.full((epochs, len(curves)), np.nan, np.float32)
        for j, curve in enumerate(curves):
            out[: len(curve), j] = np.asarray(curve, np.float32)
        return out


SHIFT_PREFIX = "shift_"  # a trial's predictions on shifted set S are stored as `shift_<S>`


def member_seed(seed: int, k: int) -> int:
    """The init seed of ensemble member k of a cell with seed `seed` (k = 0 is `seed` itself)."""
    return int(seed) + 1_000_000 * int(k)


def cell_seed(init_seed: int) -> int:
    """The cell seed whose member seeds include `init_seed` (inverse of `member_seed`)."""
    return int(init_seed) % 1_000_000
