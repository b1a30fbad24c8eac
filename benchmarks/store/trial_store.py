"""The trial cache: one directory per trained single model, shared by every method of a cell.

`root/trials/<key>/predictions.npz` (`val_probs`, `test_probs`, each (N, C); stores written before
shifted sets were predicted on demand also hold `shift_<set>`, in the compact form of
`benchmarks.compact`), `weights.npz` (the trained network's variables,
`w0`, `w1`, ... in the model's `weights` order, without the pack axis) and `trial.json`
(hyperparameters, seed, status, metrics), written in that order, each atomically: a trial whose
`trial.json` exists is complete. Statuses: `done`, `diverged` (final: a rerun keeps it) and
`failed` (retried by a rerun).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import timing
from benchmarks.compact import from_store, to_store
from benchmarks.errors import StoreCorruptError
from benchmarks.store.atomic import read_json, read_npz, write_json_atomic, write_npz_atomic

FINAL = ("done", "diverged")


def trial_key(identity: Mapping[str, Any], hparams: dict[str, float], seed: int) -> str:
    """sha256 over the trial's identity (settings, see `benchmarks.trials.TrialSettings`), its
    hyperparameters (exact float reprs) and its seed."""
    payload = json.dumps(
        {
            "identity": identity,
            "hparams": {k: repr(float(v)) for k, v in hparams.items()},
            "seed": int(seed),
        },  # fmt: skip
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


class TrialStore:
    """Reads and writes trials under `root/trials/`."""

    def __init__(self, root: str | Path):
        self.dir = Path(root) / "trials"

    def _path(self, key: str) -> Path:
        return self.dir / key

    def status(self, key: str) -> str | None:
        """None if never finished; else the recorded status (corrupt file -> StoreCorruptError)."""
        meta = self._path(key) / "trial.json"
        if not meta.exists():
            return None
        return read_json(meta, required=("status",))["status"]

    def load(self, key: str) -> tuple[dict[str, Any], dict[str, np.ndarray] | None]:
        """(metadata, predictions or None for a trial that is not done)."""
        with timing.part("store"):
            return self._load(key)

    def _load(self, key: str) -> tuple[dict[str, Any], dict[str, np.ndarray] | None]:
        meta = read_json(self._path(key) / "trial.json", required=("status", "hparams", "seed"))
        if meta["status"] != "done":
            return meta, None
        path = self._path(key) / "predictions.npz"
        preds = from_store(read_npz(path, required=("val_probs", "test_probs")))
        if preds["val_probs"].ndim != 2:
            raise StoreCorruptError(f"trial {key}: predictions.npz has the wrong shape")
        return meta, preds

    def load_weights(self, key: str) -> list[np.ndarray]:
        """The trained variables of done trial `key`, in the model's `weights` order."""
        path = self._path(key) / "weights.npz"
        if self.status(key) != "done" or not path.is_file():
            raise StoreCorruptError(
                f"trial {key} has no stored weights (pruned: Matrix.prune_weights); remove "
                f"{self._path(key)} to retrain it"
            )
        with timing.part("store"):
            arrays = read_npz(path)
        return [arrays[f"w{i}"] for i in range(len(arrays))]

    def prune_weights(self, keep: set[str], belongs: Callable[[dict], bool]) -> tuple[int, int]:
        """Deletes `weights.npz` of every finished trial whose `trial.json` satisfies `belongs`
        and whose key is not in `keep`; predictions and metadata stay. Returns (files, bytes)."""
        files = size = 0
        for path in sorted(self.dir.iterdir()) if self.dir.is_dir() else ():
            weights = path / "weights.npz"
            if path.name in keep or not weights.is_file() or self.status(path.name) is None:
                continue
            if belongs(read_json(path / "trial.json")):
                size += weights.stat().st_size
                weights.unlink()
                files += 1
        return files, size

    def save(
        self,
        key: str,
        meta: dict[str, Any],
        predictions: dict[str, np.ndarray] | None,
        weights: list[np.ndarray] | None = None,
    ) -> None:
        """Writes predictions and weights (if any) then metadata; refuses to overwrite a final
        trial."""
        if self.status(key) in FINAL:
            raise StoreCorruptError(f"trial {key} is already recorded; refusing to overwrite it")
        path = self._path(key)
        path.mkdir(parents=True, exist_ok=True)
        with timing.part("store"):
            if predictions is not None:
                write_npz_atomic(path / "predictions.npz", **to_store(predictions))
            if weights is not None:
                write_npz_atomic(
                    path / "weights.npz", **{f"w{i}": w for i, w in enumerate(weights)}
                )
            write_json_atomic(path / "trial.json", meta)
