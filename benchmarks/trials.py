"""Trials: single models identified by everything that determines their numbers.

Every weight-space method asks a `TrialRunner` for the trials it needs; the runner returns the
cached ones from the store and trains the rest through an executor, in *packs* of one architecture
(one compiled step trains all members of a pack; see `benchmarks.train`). The driver writes the
store, so workers need no shared disk.

A trial's identity (`TrialSettings.identity` + hyperparameters + seed) holds the dataset (name,
split options, shapes, classes, normalisation and a fingerprint of the arrays), the model (name and
every architecture setting), the whole `TrainConfig`, the shifted sets it predicts and
`TRAINING_CODE_VERSION`; its store key is a hash of that identity, and loading a trial checks the
identity recorded with it. The worker (`train_pack`) gets these resolved settings and reads no gin.

Packs are formed from the request (its unique trials, in order, chunked by `pack_size`), and a
pack with any missing trial is trained whole: a resumed sweep therefore trains exactly the packs an
uninterrupted one would, and gets the same numbers. (A trial's numbers do not depend on its pack
beyond float rounding, ~1e-7; canonical packs make them bit-identical.)
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import shutil
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.errors import HyperensError, StoreCorruptError
from benchmarks.metrics import nll
from benchmarks.store.trials import FINAL, TrialStore, trial_key

# The version of the training semantics. Bump it whenever a trial trained with the same settings
# would give other numbers (engine, models, data pipeline, evaluation): trials and runs of another
# version are then never reused (their keys differ).
#   1: the first release of the trial cache.
#   2: batch_size counts new images per member (rows = K x batch_size); per-epoch validation NLL;
#      trials keyed by resolved settings.
TRAINING_CODE_VERSION = 2


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


def data_fingerprint(data) -> str:
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

    Built once per cell from the resolved configuration (`benchmarks.runner.trial_settings`) and
    handed to the worker as is (picklable): the worker builds dataset, shifted sets, model and
    trainer from it alone.
    """

    dataset: str
    data_options: tuple[tuple[str, Any], ...]  # get_dataset(dataset, **dict(data_options))
    data_facts: tuple[tuple[str, Any], ...]  # shapes, classes, normalisation, fingerprint
    model: str
    model_settings: tuple[tuple[str, Any], ...]  # every architecture argument of the model class
    train_config: Any  # benchmarks.train.TrainConfig
    shift_options: Any = None  # benchmarks.data.shift.ShiftOptions or None
    shift_sets: tuple[str, ...] = ()  # names of the shifted sets every trial predicts
    code_version: int = TRAINING_CODE_VERSION

    def identity(self) -> dict[str, Any]:
        """The JSON-ready identity (hashed into every trial key, recorded in every trial)."""
        return {
            "code_version": int(self.code_version),
            "dataset": {"name": self.dataset, "options": _plain(dict(self.data_options)),
                        **_plain(dict(self.data_facts))},
            "model": {"name": self.model, **_plain(dict(self.model_settings))},
            "train": _plain(self.train_config),
            "shift": {"options": _plain(self.shift_options), "sets": list(self.shift_sets)},
        }  # fmt: skip

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
    shift_probs: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    @property
    def train_seconds(self) -> float:
        """Training time recorded when the trial was trained (0 if unknown)."""
        return float(self.info.get("wall_time_s", 0.0) or 0.0)

    @property
    def val_nll_curve(self) -> list[float]:
        """Validation NLL after each epoch (empty if not recorded)."""
        return [float(v) for v in self.info.get("val_nll_curve", [])]


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


class TrainerCache:
    """Compiled trainers by (settings identity, pack size), most recent last: a process trains
    every pack of one architecture with one traced (and XLA-compiled) step; `fit` re-initialises
    all state, so a reused trainer gives the numbers of a fresh one."""

    def __init__(self, keep: int = 2):
        self.keep, self._items = keep, {}

    def get(self, key: tuple, build):
        item = self._items.pop(key, None)
        if item is None:
            item = build()
        self._items[key] = item
        while len(self._items) > self.keep:
            self._items.pop(next(iter(self._items)))
        return item

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()


_TRAINERS = TrainerCache()


def worker_parts(settings: TrialSettings, pack: int, data=None, shifted=None):
    """(data, shifted sets, trainer) for `settings`, built from the settings alone; an
    in-process worker is handed the driver's `data` and `shifted` sets instead of rebuilding."""
    from benchmarks.data.shift import get_shifted
    from benchmarks.models import build_model
    from benchmarks.train import Trainer

    if data is None:
        data = _dataset(settings.dataset, settings.data_options)
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

    def build():
        model = build_model(settings.model, data.input_shape, data.num_classes, pack,
                            settings=dict(settings.model_settings))  # fmt: skip
        return Trainer(model, data, settings.train_config)

    trainer = _TRAINERS.get((settings.identity_json(), pack, id(data)), build)
    return data, shifted, trainer


def train_pack(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Trains one pack; runs in a worker or in-process. Returns one dict per trial.

    `payload`: settings (`TrialSettings`), specs [(hparams, seed)], threads, checkpoint_dir;
    in-process only, `data` and `shifted` (the driver's, so nothing is built twice).
    Exceptions become status `failed` for the whole pack; divergence is per member.
    """
    pin_threads(payload.get("threads"))
    specs = payload["specs"]
    try:
        data, shifted_sets, trainer = worker_parts(
            payload["settings"], len(specs), payload.get("data"), payload.get("shifted")
        )
        names = sorted(specs[0][0])
        hparams = {k: [hp[k] for hp, _ in specs] for k in names}
        seeds = [seed for _, seed in specs]
        result = trainer.fit(hparams, seeds, checkpoint_dir=payload.get("checkpoint_dir"))
        val = trainer.predict(data.x_val, hparams)
        test = trainer.predict(data.x_test, hparams)
        shifted, shift_s = predict_shifted(shifted_sets, lambda x: trainer.predict(x, hparams))
    except Exception as err:  # a broken pack must not end the sweep
        message = f"{type(err).__name__}: {err}"
        detail = traceback.format_exc(limit=5)
        return [{"status": "failed", "message": message, "traceback": detail} for _ in specs]
    share = result.wall_time_s / len(specs)
    out = []
    for p, status in enumerate(result.status):
        row = {"status": status, "final_loss": float(result.final_loss[p]), "wall_time_s": share,
               "resumed_from_epoch": result.resumed_from_epoch,
               "val_nll_curve": [float(v) for v in result.val_nll_history[:, p]],
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
        settings: TrialSettings,
        val_labels: np.ndarray,
        executor,
        pack_size: int = 8,
        threads: int | None = None,
        progress: bool | None = None,
        data=None,
        shifted: list | None = None,
    ):
        self.store = TrialStore(store_root)
        self._local = (data, shifted)  # the driver's splits and shifted sets, for local workers
        self.settings = settings
        self.identity = json.loads(settings.identity_json())
        self.val_labels = np.asarray(val_labels)
        self.executor, self.pack_size, self.threads = executor, max(1, pack_size), threads
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.trained = 0  # trials trained by this runner (cached ones are not counted)
        self.shift_seconds = 0.0  # of which spent predicting shifted sets
        self.used: dict[str, float] = {}  # every trial handed out: key -> its training seconds

    @property
    def dataset(self) -> str:
        return self.settings.dataset

    @property
    def model(self) -> str:
        return self.settings.model

    def budget(self) -> dict[str, float]:
        """The training budget of every trial handed out so far, cached or not: how many
        single-model trainings and their recorded training seconds."""
        return {"trainings": len(self.used), "train_s": float(sum(self.used.values()))}

    def _checkpoint_dir(self, pack: list) -> Path:
        """Where a pack's training checkpoints go until its trials are stored (then removed).
        On a cluster without a shared disk a retried pack just starts over."""
        digest = hashlib.sha256("".join(k for k, _ in pack).encode()).hexdigest()[:20]
        return self.store.dir.parent / "checkpoints" / digest

    def key(self, spec: TrialSpec) -> str:
        return trial_key(self.identity, spec.hp(), spec.seed)

    def _load(self, spec: TrialSpec, key: str) -> Trial | None:
        if self.store.status(key) not in FINAL:
            return None
        meta, preds = self.store.load(key)
        expected = {"identity": self.identity, "hparams": spec.hp(), "seed": spec.seed}
        recorded = {k: meta.get(k) for k in expected}
        if json.dumps(recorded, sort_keys=True) != json.dumps(expected, sort_keys=True):
            raise StoreCorruptError(
                f"trial {key} in {self.store.dir} records another identity than the one "
                "requested (a store of another suite version?); remove it to retrain"
            )
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
        for k in keys:
            self.used[k] = have[k].train_seconds
        return [have[k] for k in keys]

    def _train(self, packs: list, have: dict[str, Trial]) -> None:
        payloads = [
            {
                "checkpoint_dir": str(self._checkpoint_dir(pack)),
                "settings": self.settings,
                "specs": [(s.hp(), s.seed) for _, s in pack],
                "threads": self.threads,
                **(
                    {"data": self._local[0], "shifted": self._local[1]}
                    if self.executor.name == "local" and self._local[0] is not None
                    else {}
                ),
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
                meta = {"identity": self.identity, "hparams": spec.hp(), "seed": spec.seed,
                        "dataset": self.dataset, "model": self.model, **out}  # fmt: skip
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
