"""Training checkpoints: every state variable as one .npz, written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.errors import StoreCorruptError
from benchmarks.store.atomic import read_npz, write_npz_atomic


def save(path: Path, variables: Sequence, epoch: int, history: list[np.ndarray]) -> None:
    """Writes variables (in order), the number of finished epochs and the loss history."""
    arrays = {f"v{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(variables)}
    arrays["epoch"] = np.asarray(epoch, np.int64)
    arrays["history"] = np.asarray(history, np.float32)
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
