"""The run store: one directory per run, its id derived from the cell and the resolved config.

Layout of ``root/runs/<run_id>/``::

    config.gin        the operative (resolved) gin config text
    cell.json         {"dataset", "model", "method", "tier", "seed", ...}
    status.json       {"status": running|done|failed|diverged, "message": str, "updated": ISO}
    metrics.json      {split: {metric: value}}                      (finished runs)
    predictions.npz   val_probs, test_probs, val_labels, test_labels, member_weights, extras
                      (shift_probs_<set> in the compact form of benchmarks.compact)
    provenance.json   see benchmarks.store.provenance                (finished runs)
    checkpoints/      free for the training engine; removed once the run is done

Every file is written atomically and ``status.json`` is written last, so a run whose status is
``done`` has every other file complete.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import timing
from benchmarks.compact import from_store, to_store
from benchmarks.errors import HyperensError, StoreCorruptError
from benchmarks.store.atomic import (
    _json_default,
    clean_temp_files,
    is_temp_name,
    read_json,
    read_npz,
    temp_path,
    write_json_atomic,
    write_npz_atomic,
    write_text_atomic,
)

STATUSES = ("running", "done", "failed", "diverged")
CELL_KEYS = ("dataset", "model", "method", "tier", "seed")
PREDICTION_KEYS = ("val_probs", "test_probs", "val_labels", "test_labels", "member_weights")
STATUS_KEYS = ("status", "message", "updated")

CONFIG_FILE = "config.gin"
CELL_FILE = "cell.json"
STATUS_FILE = "status.json"
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.npz"
PROVENANCE_FILE = "provenance.json"
CHECKPOINT_DIR = "checkpoints"
RESULT_FILES = (PREDICTIONS_FILE, METRICS_FILE, PROVENANCE_FILE)

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def config_hash(config_text: str) -> str:
    """Full sha256 hex digest of the config text (UTF-8)."""
    return hashlib.sha256(config_text.encode("utf-8")).hexdigest()


def _check_cell(cell: dict) -> None:
    if not isinstance(cell, dict):
        raise HyperensError(f"a cell must be a dict, got {type(cell).__name__}")
    missing = [k for k in CELL_KEYS if k not in cell]
    if missing:
        raise HyperensError(f"cell {cell!r} lacks keys {missing}")
    seed = cell["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise HyperensError(f"cell seed must be an integer, got {seed!r}")


def run_id(cell: dict, config_text: str) -> str:
    """``{dataset}-{model}-{method}-{tier}-s{seed}-{hash10}``.

    ``hash10`` is the first 10 hex chars of sha256 over a canonical JSON serialisation of the whole
    cell (every key) and the config text: same inputs give the same id, any change a new one.
    """
    _check_cell(cell)
    canonical = json.dumps(
        {"cell": cell, "config": config_text},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=_json_default,
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:10]
    parts = [str(cell[k]) for k in CELL_KEYS[:-1]] + [f"s{int(cell['seed'])}"]
    prefix = "-".join(_UNSAFE.sub("_", p).strip(".") or "_" for p in parts)
    return f"{prefix}-{digest}"


_compute_run_id = run_id  # RunStore methods take a ``run_id`` argument that shadows the function


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunRecord:
    """A run's stored state; predictions are loaded separately by ``RunStore.load_predictions``."""

    run_id: str
    cell: dict
    status: str
    metrics: dict[str, dict[str, float]]
    provenance: dict[str, Any]
    config_text: str
    message: str = ""
    updated: str = ""
    path: Path = field(default=Path(), compare=False)


def _check_predictions(predictions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Validate shapes and cast to the stored dtypes; extra arrays pass through unchanged."""
    missing = [k for k in PREDICTION_KEYS if k not in predictions]
    if missing:
        raise ValueError(f"predictions lack arrays {missing}")
    out = {k: np.asarray(v) for k, v in predictions.items()}
    val, test = (out[k].astype(np.float32, copy=False) for k in ("val_probs", "test_probs"))
    if val.ndim != 3 or test.ndim != 3:
        raise ValueError(f"probs must be (M, N, C); got {val.shape} and {test.shape}")
    if val.shape[0] != test.shape[0] or val.shape[2] != test.shape[2]:
        raise ValueError(f"val/test probs disagree on M or C: {val.shape} vs {test.shape}")
    m = val.shape[0]
    val_labels = out["val_labels"].astype(np.int32, copy=False)
    test_labels = out["test_labels"].astype(np.int32, copy=False)
    if val_labels.shape != (val.shape[1],) or test_labels.shape != (test.shape[1],):
        raise ValueError(
            f"labels {val_labels.shape}/{test_labels.shape} do not match probs "
            f"{val.shape}/{test.shape}"
        )
    weights = out["member_weights"].astype(np.float32, copy=False)
    if weights.shape != (m,):
        raise ValueError(f"member_weights must have shape ({m},), got {weights.shape}")
    out.update(
        val_probs=val,
        test_probs=test,
        val_labels=val_labels,
        test_labels=test_labels,
        member_weights=weights,
    )
    return out


def _check_metrics(metrics: dict) -> dict[str, dict[str, float]]:
    if not isinstance(metrics, dict):
        raise ValueError(f"metrics must be {{split: {{metric: value}}}}, got {metrics!r}")
    out: dict[str, dict[str, float]] = {}
    for split, values in metrics.items():
        if not isinstance(values, dict):
            raise ValueError(f"metrics[{split!r}] must be a dict of metric values")
        out[str(split)] = {str(k): float(v) for k, v in values.items()}
    return out


class RunStore:
    """A directory of runs. Creating it makes ``root`` and checks that it is writable."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        not_writable = HyperensError(f"store directory {self.root} is not writable")
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            probe = temp_path(self.root / "probe")
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as err:
            raise not_writable from err
        clean_temp_files(self.root)

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    @property
    def runs_dir(self) -> Path:
        """``root/runs``."""
        return self.root / "runs"

    def run_dir(self, run_id: str) -> Path:
        """``root/runs/<run_id>`` (not created)."""
        if (
            not isinstance(run_id, str)
            or not run_id
            or run_id.startswith(".")
            or "/" in run_id
            or "\\" in run_id
        ):
            raise HyperensError(f"invalid run id {run_id!r}")
        return self.runs_dir / run_id

    def checkpoint_dir(self, run_id: str) -> Path:
        """``root/runs/<run_id>/checkpoints``, created if needed; the engine owns its contents."""
        path = self.run_dir(run_id) / CHECKPOINT_DIR
        path.mkdir(parents=True, exist_ok=True)
        return path

    def run_ids(self) -> list[str]:
        """Sorted ids of every run directory (started or not); temp and hidden names skipped."""
        if not self.runs_dir.is_dir():
            return []
        return sorted(
            p.name
            for p in self.runs_dir.iterdir()
            if p.is_dir() and not p.name.startswith(".") and not is_temp_name(p.name)
        )

    # -- reading ---------------------------------------------------------------------------------

    def _corrupt(self, run_id: str, name: str) -> StoreCorruptError:
        path = self.run_dir(run_id) / name
        return StoreCorruptError(
            f"run {run_id}: file {path} is truncated or corrupt; "
            "remove the run directory to recompute it"
        )

    def _read_json(self, run_id: str, name: str, required: tuple[str, ...] = ()) -> Any:
        try:
            return read_json(self.run_dir(run_id) / name, required)
        except StoreCorruptError as err:
            raise self._corrupt(run_id, name) from err

    def _read_status(self, run_id: str) -> dict[str, Any] | None:
        if not (self.run_dir(run_id) / STATUS_FILE).exists():
            return None
        record = self._read_json(run_id, STATUS_FILE, STATUS_KEYS)
        if record["status"] not in STATUSES:
            raise self._corrupt(run_id, STATUS_FILE)
        return record

    def status(self, run_id: str) -> str | None:
        """The run's status, or None if it was never started (no status file)."""
        record = self._read_status(run_id)
        return None if record is None else record["status"]

    def _read_config(self, run_id: str) -> str:
        path = self.run_dir(run_id) / CONFIG_FILE
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise self._corrupt(run_id, CONFIG_FILE) from err

    def _read_cell(self, run_id: str) -> dict:
        cell = self._read_json(run_id, CELL_FILE, CELL_KEYS)
        try:
            _check_cell(cell)
        except HyperensError as err:
            raise self._corrupt(run_id, CELL_FILE) from err
        return cell

    def _read_metrics(self, run_id: str) -> dict[str, dict[str, float]]:
        metrics = self._read_json(run_id, METRICS_FILE)
        try:
            return _check_metrics(metrics)
        except (ValueError, TypeError) as err:
            raise self._corrupt(run_id, METRICS_FILE) from err

    def _read_provenance(self, run_id: str) -> dict[str, Any]:
        provenance = self._read_json(run_id, PROVENANCE_FILE)
        if not isinstance(provenance, dict):
            raise self._corrupt(run_id, PROVENANCE_FILE)
        return provenance

    def provenance(self, run_id: str) -> dict[str, Any]:
        """The run's `provenance.json` alone (no other file is read or verified)."""
        return self._read_provenance(run_id)

    def load_predictions(
        self, run_id: str, keys: Iterable[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Every array of ``predictions.npz`` (or those in ``keys``, and ``PREDICTION_KEYS``), in
        memory; StoreCorruptError if unreadable (``read_npz``)."""
        try:
            arrays = read_npz(self.run_dir(run_id) / PREDICTIONS_FILE, PREDICTION_KEYS, keys)
            return _check_predictions(from_store(arrays))
        except (StoreCorruptError, ValueError) as err:
            raise self._corrupt(run_id, PREDICTIONS_FILE) from err

    def verify(self, run_id: str) -> None:
        """Check the run's files parse; for a done run every file must exist and parse.

        Raises StoreCorruptError "run X: file Y is truncated or corrupt; ..." on the first bad
        file, HyperensError if the run was never started.
        """
        record = self._read_status(run_id)
        if record is None:
            raise HyperensError(f"run {run_id} was never started")
        cell = self._read_cell(run_id)
        config_text = self._read_config(run_id)
        if _compute_run_id(cell, config_text) != run_id:
            raise self._corrupt(run_id, CONFIG_FILE)
        if record["status"] == "done":
            self._read_metrics(run_id)
            self._read_provenance(run_id)
            self.load_predictions(run_id)

    def load(self, run_id: str) -> RunRecord:
        """The run's record (a done run is verified first); HyperensError if never started."""
        record = self._read_status(run_id)
        if record is None:
            raise HyperensError(f"run {run_id} was never started")
        status = record["status"]
        if status == "done":
            self.verify(run_id)
        directory = self.run_dir(run_id)
        has = {name: (directory / name).exists() for name in (METRICS_FILE, PROVENANCE_FILE)}
        return RunRecord(
            run_id=run_id,
            cell=self._read_cell(run_id),
            status=status,
            metrics=self._read_metrics(run_id) if has[METRICS_FILE] else {},
            provenance=self._read_provenance(run_id) if has[PROVENANCE_FILE] else {},
            config_text=self._read_config(run_id),
            message=str(record["message"]),
            updated=str(record["updated"]),
            path=directory,
        )

    # -- writing ---------------------------------------------------------------------------------

    def _write_status(self, run_id: str, status: str, message: str) -> None:
        write_json_atomic(
            self.run_dir(run_id) / STATUS_FILE,
            {"status": status, "message": str(message), "updated": _now()},
        )

    def begin(self, run_id: str, cell: dict, config_text: str) -> Path:
        """Start (or restart) a run: write config, cell, then status ``running``.

        ``run_id`` must equal ``run_id(cell, config_text)``. A done run is never overwritten
        (HyperensError); a running, failed or diverged run is restarted, its old results removed
        and its checkpoints kept. Returns the run directory.
        """
        expected = _compute_run_id(cell, config_text)
        if run_id != expected:
            raise HyperensError(f"run id {run_id} does not match its cell and config ({expected})")
        if self.status(run_id) == "done":
            raise HyperensError(
                f"run {run_id} is already done; remove {self.run_dir(run_id)} to recompute it"
            )
        directory = self.run_dir(run_id)
        directory.mkdir(parents=True, exist_ok=True)
        clean_temp_files(directory)
        for name in RESULT_FILES:
            (directory / name).unlink(missing_ok=True)
        write_text_atomic(directory / CONFIG_FILE, config_text)
        write_json_atomic(directory / CELL_FILE, cell)
        self._write_status(run_id, "running", "")
        return directory

    def _require_started(self, run_id: str) -> str:
        status = self.status(run_id)
        if status is None:
            raise HyperensError(f"run {run_id} was never started; call begin() first")
        return status

    def finish(
        self,
        run_id: str,
        metrics: dict[str, dict[str, float]],
        predictions: dict[str, np.ndarray],
        provenance: dict[str, Any],
        status: str = "done",
        message: str = "",
    ) -> None:
        """Record a finished run: predictions, metrics and provenance first, the status LAST,
        then (``done`` only) remove its checkpoints, which a done run never reads again.

        ``status`` is ``done`` or ``diverged``. Predictions must hold ``PREDICTION_KEYS`` with
        probs (M, N, C) cast to float32, labels (N,) to int32, member_weights (M,) to float32;
        extra arrays are stored as given.
        """
        if status not in ("done", "diverged"):
            raise ValueError(f"finish() status must be 'done' or 'diverged', got {status!r}")
        if self._require_started(run_id) == "done":
            raise HyperensError(f"run {run_id} is already done")
        if not isinstance(provenance, dict):
            raise ValueError("provenance must be a dict")
        arrays = _check_predictions(predictions)
        clean_metrics = _check_metrics(metrics)
        directory = self.run_dir(run_id)
        with timing.part("store"):
            write_npz_atomic(directory / PREDICTIONS_FILE, **to_store(arrays))
            write_json_atomic(directory / METRICS_FILE, clean_metrics)
            write_json_atomic(directory / PROVENANCE_FILE, provenance)
            self._write_status(run_id, status, message)
            if status == "done":
                shutil.rmtree(directory / CHECKPOINT_DIR, ignore_errors=True)

    def mark(self, run_id: str, status: str, message: str) -> None:
        """Set a started, not-done run's status to ``failed`` or ``diverged`` with a message."""
        if status not in ("failed", "diverged"):
            raise ValueError(f"mark() status must be 'failed' or 'diverged', got {status!r}")
        if self._require_started(run_id) == "done":
            raise HyperensError(f"run {run_id} is already done; it cannot be marked {status}")
        self._write_status(run_id, status, message)
