"""Training checkpoints: every state variable as one .npz, written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.errors import StoreCorruptError
from benchmarks.store.atomic import read_npz, write_npz_atomic


def save(
    path: Path,
    variables: Sequence,
    epoch: int,
    history: list[np.ndarray],
    tuner_path: list[np.ndarray] | None = None,
) -> None:
    """Writes variables (in order), the number of finished epochs, the loss history and the
    tuner's state after each epoch (`tuner_path`, when the run has a tuner)."""
    arrays = {f"v{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(variables)}
    arrays["epoch"] = np.asarray(epoch, np.int64)
    arrays["history"] = np.asarray(history, np.float32)
    if tuner_path:
        arrays["tuner_path"] = np.asarray(tuner_path, np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_npz_atomic(path, **arrays)


def restore(path: Path, variables: Sequence) -> tuple[int, list[np.ndarray]]:
    """Loads a checkpoint written by `save` into `variables`; returns (epoch, history)."""
    arrays = read_npz(path)
    for i, v in enumerate(variables):
        value = arrays.get(f"v{i:05d}")
        if value is None or tuple(value.shape) != tuple(v.shape):
            raise StoreCorruptError(f"checkpoint {path} does not match the model; remove it")
        v.assign(value)
    return int(arrays["epoch"]), list(arrays["history"])


def restore_tuner_path(path: Path) -> list[np.ndarray]:
    """The tuner states a checkpoint written by `save` holds (empty if none)."""
    arrays = read_npz(path)
    return list(arrays["tuner_path"]) if "tuner_path" in arrays else []
