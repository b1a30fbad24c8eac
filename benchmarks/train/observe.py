"""Watching training as it runs: what `Trainer.fit` reports after every epoch, and two observers.

`fit(..., on_epoch=observer)` calls `observer(EpochRecord)` after each epoch it trains. The
record holds numbers the engine has already computed (the epoch's mean training loss and the
validation NLL and accuracy of `Trainer._val_curve`), so observing changes no trained number.

* `ProgressLines`: one line per epoch on stderr (epoch, train loss, val NLL, val accuracy,
  seconds), for long runs where a terminal progress bar is not seen (logs, batch jobs).
* `TensorBoardWriter`: per pack member, scalars `train/loss`, `val/nll`, `val/accuracy` at step =
  epoch, written with `tf.summary.write` and the scalars plugin's metadata into one event-file
  directory per member (TensorBoard shows them as scalars; the `tensorboard` package is not
  needed to write).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from benchmarks.settings.monitor import Monitor

SCALARS = {"train/loss": "train_loss", "val/nll": "val_nll", "val/accuracy": "val_accuracy"}


@dataclasses.dataclass(frozen=True)
class EpochRecord:
    """One finished epoch of a pack of P members: values are (P,) arrays (NaN: not recorded)."""

    epoch: int  # 1-based
    epochs: int  # the epochs this fit trains in all
    train_loss: np.ndarray
    val_nll: np.ndarray
    val_accuracy: np.ndarray
    seconds: float


EpochObserver = Callable[[EpochRecord], None]


def _values(v: np.ndarray) -> str:
    return " ".join(f"{float(x):.4f}" for x in np.ravel(v))


class ProgressLines:
    """Prints `<label> epoch e/E: train loss L, val NLL V, val acc A, S s` per epoch (one value
    per pack member, space-separated)."""

    def __init__(self, label: str, stream: TextIO | None = None):
        self.label, self.stream = label, stream

    def __call__(self, r: EpochRecord) -> None:
        print(f"{self.label} epoch {r.epoch}/{r.epochs}: train loss {_values(r.train_loss)}, "
              f"val NLL {_values(r.val_nll)}, val acc {_values(r.val_accuracy)}, "
              f"{r.seconds:.1f} s", file=self.stream or sys.stderr, flush=True)  # fmt: skip


class TensorBoardWriter:
    """Writes pack member p's scalars under `dirs[p]` (created on first use)."""

    def __init__(self, dirs: Sequence[str | Path]):
        import tensorflow as tf

        self._writers = [tf.summary.create_file_writer(str(d)) for d in dirs]
        # what `tf.summary.scalar` (which needs the tensorboard package) tags a scalar with
        meta = tf.compat.v1.SummaryMetadata()
        meta.plugin_data.plugin_name = "scalars"
        self._metadata = meta.SerializeToString()

    def __call__(self, r: EpochRecord) -> None:
        import tensorflow as tf

        for p, writer in enumerate(self._writers):
            with writer.as_default():
                for tag, field in SCALARS.items():
                    value = tf.constant(float(getattr(r, field)[p]), tf.float32)
                    tf.summary.write(tag, value, step=r.epoch, metadata=self._metadata)
            writer.flush()

    def write_history(self, history: np.ndarray) -> None:
        """Writes a stored history (P, E, 3): train loss, val NLL, val accuracy per epoch."""
        h = np.asarray(history, np.float32)
        for e in range(h.shape[1]):
            self(EpochRecord(e + 1, h.shape[1], h[:, e, 0], h[:, e, 1], h[:, e, 2], 0.0))

    def close(self) -> None:
        for writer in self._writers:
            writer.close()


def read_scalars(directory: str | Path) -> dict[str, dict[int, float]]:
    """{tag: {step: value}} of the scalars in every event file directly under `directory` (read
    back with `tf.compat.v1.train.summary_iterator`)."""
    import tensorflow as tf

    out: dict[str, dict[int, float]] = {}
    for path in sorted(Path(directory).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for v in event.summary.value:
                out.setdefault(v.tag, {})[int(event.step)] = float(tf.make_ndarray(v.tensor))
    return out


def combine(*observers: EpochObserver | None) -> EpochObserver | None:
    """One observer calling every given one in order (None when none is given)."""
    live = [o for o in observers if o is not None]
    if not live:
        return None
    if len(live) == 1:
        return live[0]

    def call(record: EpochRecord) -> None:
        for o in live:
            o(record)

    return call


@contextlib.contextmanager
def watching(
    monitor: Monitor, label: str, subdirs: Sequence[str]
) -> Iterator[EpochObserver | None]:
    """The observer `monitor` asks for (None when it asks for nothing): progress lines labelled
    `label`, TensorBoard scalars of pack member p under `tensorboard_dir/subdirs[p]`; the event
    files are closed on exit."""
    lines = ProgressLines(label) if monitor.epoch_lines else None
    board = None
    if monitor.tensorboard_dir:
        board = TensorBoardWriter([Path(monitor.tensorboard_dir) / d for d in subdirs])
    try:
        yield combine(lines, board)
    finally:
        if board is not None:
            board.close()
