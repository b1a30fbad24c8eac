"""Trials: single models identified by (training config, hyperparameters, init seed).

Every weight-space method asks a `TrialRunner` for the trials it needs; the runner returns the
cached ones from the store and trains the rest through an executor, in *packs* of one architecture
(one compiled step trains all members of a pack; see `benchmarks.train`). The driver writes the
store, so workers need no shared disk.

Packs are formed from the request (its unique trials, in order, chunked by `pack_size`), and a
pack with any missing trial is trained whole: a resumed sweep therefore trains exactly the packs an
uninterrupted one would, and gets the same numbers. (A trial's numbers do not depend on its pack
beyond float rounding, ~1e-7; canonical packs make them bit-identical.)
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import shutil
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.metrics import nll
from benchmarks.store.trials import FINAL, TrialStore, trial_key


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
    shift_probs: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


SHIFT_PREFIX = "shift_"  # a trial's predictions on shifted set S are stored as `shift_<S>`


def member_seed(seed: int, k: int) -> int:
    """The init seed of ensemble member k of a cell with seed `seed` (k = 0 is `seed` itself)."""
    return int(seed) + 1_000_000 * int(k)


def pin_threads(threads: int | None) -> None:
    """Bounds TF's thread pools (a no-op once TF has run ops in this process)."""
    if not threads:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass


@functools.lru_cache(maxsize=4)
def _dataset(name: str, options: tuple):
    from benchmarks.data import get_dataset

    return get_dataset(name, **dict(options))


def predict_shifted(sets, predict) -> tuple[dict[str, np.ndarray], float]:
    """`predict(x)` on every shifted set's inputs (labels are never read) -> ({name: probs},
    seconds spent, loading included)."""
    start, out = time.perf_counter(), {}
    for s in sets:
        x, _ = s.load()
        out[s.name] = predict(x)
    return out, time.perf_counter() - start


# Compiled trainers by (config, dataset, model, pack size): a process trains every pack of one
# architecture with one traced (and XLA-compiled) step; `fit` re-initialises all state.
_TRAINERS: dict[tuple, Any] = {}


def train_pack(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Trains one pack; runs in a worker or in-process. Returns one dict per trial.

    `payload`: config_text (gin, parsed when `reparse`), dataset, model, specs [(hparams, seed)],
    threads. Exceptions become status `failed` for the whole pack; divergence is per member.
    """
    pin_threads(payload.get("threads"))
    import gin

    from benchmarks import config
    from benchmarks.data.config import data_options, shifted_sets
    from benchmarks.models import build_model
    from benchmarks.train import TrainConfig, Trainer

    specs = payload["specs"]
    try:
        if payload.get("reparse", True):
            config.register_configurables()
            gin.clear_config()
            gin.parse_config(payload["config_text"])
        name, model_name = payload["dataset"], payload["model"]
        data = _dataset(name, tuple(sorted(data_options(name).items())))
        cache_key = (payload["config_text"], name, model_name, len(specs))
        trainer = _TRAINERS.pop(cache_key, None)
        if trainer is None:
            with gin.config_scope(model_name):
                train_config = TrainConfig()
                model = build_model(model_name, data.input_shape, data.num_classes, len(specs))
            trainer = Trainer(model, data, train_config)
        _TRAINERS[cache_key] = trainer  # most recent last
        while len(_TRAINERS) > 2:
            _TRAINERS.pop(next(iter(_TRAINERS)))
        names = sorted(specs[0][0])
        hparams = {k: [hp[k] for hp, _ in specs] for k in names}
        seeds = [seed for _, seed in specs]
        result = trainer.fit(hparams, seeds, checkpoint_dir=payload.get("checkpoint_dir"))
        val = trainer.predict(data.x_val, hparams)
        test = trainer.predict(data.x_test, hparams)
        shifted, shift_s = predict_shifted(
            shifted_sets(name, data), lambda x: trainer.predict(x, hparams)
        )
    except Exception as err:  # a broken pack must not end the sweep
        message = f"{type(err).__name__}: {err}"
        detail = traceback.format_exc(limit=5)
        return [{"status": "failed", "message": message, "traceback": detail} for _ in specs]
    share = result.wall_time_s / len(specs)
    out = []
    for p, status in enumerate(result.status):
        row = {"status": status, "final_loss": float(result.final_loss[p]), "wall_time_s": share,
               "resumed_from_epoch": result.resumed_from_epoch,
               "eval_shift_s": shift_s / len(specs)}  # fmt: skip
        if status == "done":
            row["val_probs"], row["test_probs"] = val[p], test[p]
            row.update({SHIFT_PREFIX + n: v[p] for n, v in shifted.items()})
        out.append(row)
    return out


class TrialRunner:
    """Returns trials from the store, training the missing ones in packs through `executor`."""

    def __init__(
        self,
        store_root: str | Path,
        trial_config: str,
        dataset: str,
        model: str,
        val_labels: np.ndarray,
        executor,
        pack_size: int = 8,
        threads: int | None = None,
        progress: bool | None = None,
    ):
        self.store = TrialStore(store_root)
        self.trial_config, self.dataset, self.model = trial_config, dataset, model
        self.val_labels = np.asarray(val_labels)
        self.executor, self.pack_size, self.threads = executor, max(1, pack_size), threads
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.trained = 0  # trials trained by this runner (cached ones are not counted)
        self.shift_seconds = 0.0  # of which spent predicting shifted sets

    def _checkpoint_dir(self, pack: list) -> Path:
        """Where a pack's training checkpoints go until its trials are stored (then removed).
        On a cluster without a shared disk a retried pack just starts over."""
        digest = hashlib.sha256("".join(k for k, _ in pack).encode()).hexdigest()[:20]
        return self.store.dir.parent / "checkpoints" / digest

    def key(self, spec: TrialSpec) -> str:
        return trial_key(self.trial_config, spec.hp(), spec.seed)

    def _load(self, spec: TrialSpec, key: str) -> Trial | None:
        if self.store.status(key) not in FINAL:
            return None
        meta, preds = self.store.load(key)
        if preds is None:
            return Trial(spec, key, meta["status"], None, None, float("inf"), meta)
        v, t = preds["val_probs"], preds["test_probs"]
        shift = {k[len(SHIFT_PREFIX) :]: a for k, a in preds.items() if k.startswith(SHIFT_PREFIX)}
        return Trial(spec, key, "done", v, t, nll(v, self.val_labels), meta, shift)

    def run(self, specs: Sequence[TrialSpec]) -> list[Trial]:
        """The trials of `specs`, in order (duplicates share one trial)."""
        keys = [self.key(s) for s in specs]
        unique = list(dict.fromkeys(zip(keys, specs, strict=True)))
        have = {k: t for k, s in unique if (t := self._load(s, k)) is not None}
        packs = [unique[i : i + self.pack_size] for i in range(0, len(unique), self.pack_size)]
        todo = [pack for pack in packs if any(k not in have for k, _ in pack)]
        if todo:
            self._train(todo, have)
        return [have[k] for k in keys]

    def _train(self, packs: list, have: dict[str, Trial]) -> None:
        payloads = [
            {
                "checkpoint_dir": str(self._checkpoint_dir(pack)),
                "config_text": self.trial_config,
                "dataset": self.dataset,
                "model": self.model,
                "specs": [(s.hp(), s.seed) for _, s in pack],
                "threads": self.threads,
                "reparse": self.executor.name != "local",
            }
            for pack in packs
        ]
        total = sum(len(p) for p in packs)
        bar, done, failed, start = _bar(self.progress, total), 0, 0, time.perf_counter()
        for index, outputs in self.executor.map(train_pack, payloads):
            for (key, spec), out in zip(packs[index], outputs, strict=True):
                done += 1
                failed += out["status"] == "failed"
                self.shift_seconds += float(out.get("eval_shift_s", 0.0))
                if key in have:  # trained again only because its pack had a missing trial
                    continue
                preds = None
                if out["status"] == "done":
                    arrays = [k for k in out if k.endswith("_probs") or k.startswith(SHIFT_PREFIX)]
                    preds = {k: out.pop(k) for k in arrays}
                meta = {"hparams": spec.hp(), "seed": spec.seed, "dataset": self.dataset,
                        "model": self.model, **out}  # fmt: skip
                self.store.save(key, meta, preds)
                self.trained += 1
                have[key] = self._load(spec, key) or Trial(
                    spec, key, out["status"], None, None, float("inf"), meta
                )
            shutil.rmtree(self._checkpoint_dir(packs[index]), ignore_errors=True)
            if bar is not None:
                bar.update(len(outputs))
                bar.set_postfix(failed=failed, running=total - done)
        if bar is not None:
            bar.close()
        elif self.progress is False and total:
            elapsed = time.perf_counter() - start
            print(
                f"trials: {done}/{total} trained, {failed} failed, {elapsed:.1f} s", file=sys.stderr
            )


def _bar(enabled: bool, total: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="trials", unit="trial", leave=False)
