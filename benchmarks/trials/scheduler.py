"""The trial scheduler: hands out trials, cached or trained, to the methods of a cell.

Every weight-space method asks a `TrialRunner` for the trials it needs; the runner returns the
cached ones from the store and trains the rest through an executor, in *packs* of one architecture
(one compiled step trains all members of a pack; see `benchmarks.train`). The driver writes the
trials; a task writes only its pack's checkpoints, under the store's absolute path (a store on a
disk every node sees lets a retried task resume; elsewhere it starts over).

Packs are formed from the request (its unique trials, in order, chunked by the settings'
`pack_size`; the last one padded to that size with copies of its last trial), and a pack with any
missing trial is trained whole: a resumed sweep therefore trains exactly the packs an
uninterrupted one would. A trial's numbers do not depend on the other members of its pack, only
on the pack's size (at float rounding, ~1e-7 per step), which is part of its identity
(`TrialSettings.identity`): every trial of a cell is canonical.

A trial is stored with its validation and test predictions and its weights. Its shifted-set
predictions are made in this process when a method first reads `Trial.shift_probs`
(`TrialWorker.shifted_predictions`), so only the members of some method's result are predicted on
them, and only they cost evaluation time. A trial stored with `shift_<set>` arrays (by an
earlier version of the suite) brings those.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.data import Splits
from benchmarks.data.shift import ShiftedSet
from benchmarks.errors import StoreCorruptError
from benchmarks.metrics import nll
from benchmarks.settings import Monitor
from benchmarks.store.trial_store import FINAL, TrialStore, trial_key
from benchmarks.trials.executors import Executor, LocalExecutor
from benchmarks.trials.identity import SHIFT_PREFIX, Trial, TrialSettings, TrialSpec
from benchmarks.trials.worker import TrialWorker, train_pack


class TrialRunner:
    """Returns trials from the store, training the missing ones in packs through `executor`."""

    def __init__(
        self,
        store_root: str | Path,
        settings: TrialSettings,
        val_labels: np.ndarray,
        executor: Executor | None = None,
        threads: int | None = None,
        progress: bool | None = None,
        data: Splits | None = None,
        shifted: list[ShiftedSet] | None = None,
        worker: TrialWorker | None = None,
        monitor: Monitor | None = None,
    ):
        # absolute: the checkpoint directories are shipped to tasks whose working directory differs
        self.store = TrialStore(Path(store_root).resolve())
        # in-process packs train on the driver's splits and shifted sets (nothing built twice),
        # on `worker` if given (its compiled trainers kept across cells); remote ones on a fresh
        # worker per task
        self.worker = worker or TrialWorker()
        if data is not None:
            self.worker.use(data, shifted)
        self.settings = settings
        self.monitor = monitor or Monitor()  # watching training; not part of any trial's identity
        self.identity = json.loads(settings.identity_json())
        self.val_labels = np.asarray(val_labels)
        self.executor = executor or LocalExecutor()
        # TF threads per task: given, else the executor's (Ray: from its CPUs per trial)
        self.threads = threads if threads is not None else getattr(self.executor, "threads", None)
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.trained = 0  # trials trained by this runner (cached ones are not counted)
        self.shift_seconds = 0.0  # spent predicting trials on the shifted sets
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
        """`<store>/checkpoints/<pack digest>` (absolute): where a pack's training checkpoints go
        until its trials are stored (then removed)."""
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
        return self._trial(spec, key, meta, preds)

    def _trial(self, spec: TrialSpec, key: str, meta: dict, preds: dict | None) -> Trial:
        if preds is None:
            return Trial(spec, key, meta["status"], None, None, float("inf"), meta)
        v, t = preds["val_probs"], preds["test_probs"]
        shift = {k[len(SHIFT_PREFIX) :]: a for k, a in preds.items() if k.startswith(SHIFT_PREFIX)}
        if not shift and self.settings.shift_options is not None:
            shift = lambda: self._shifted(spec, key)  # noqa: E731
        return Trial(spec, key, "done", v, t, nll(v, self.val_labels), meta, shift)

    def _shifted(self, spec: TrialSpec, key: str) -> dict[str, np.ndarray]:
        start = time.perf_counter()
        out = self.worker.shifted_predictions(
            self.settings, key, spec.hp(), lambda: self.store.load_weights(key)
        )
        self.shift_seconds += time.perf_counter() - start
        return out

    def weights(self, trial: Trial) -> list[np.ndarray]:
        """The trained variables of a done trial (`TrialStore.load_weights`)."""
        return self.store.load_weights(trial.key)

    def run(self, specs: Sequence[TrialSpec], budget: bool = True) -> list[Trial]:
        """The trials of `specs`, in order (duplicates share one trial); `budget=False`: trials
        for an analysis, not for the method, left out of `budget()`."""
        keys = [self.key(s) for s in specs]
        unique = list(dict.fromkeys(zip(keys, specs, strict=True)))
        have = {k: t for k, s in unique if (t := self._load(s, k)) is not None}
        n = self.settings.pack_size
        packs = [unique[i : i + n] for i in range(0, len(unique), n)]
        if packs and len(packs[-1]) < n:  # padded: a pack of n is what its trials are keyed by
            packs[-1] = packs[-1] + [packs[-1][-1]] * (n - len(packs[-1]))
        todo = [pack for pack in packs if any(k not in have for k, _ in pack)]
        if todo:
            self._train(todo, have)
        for k in keys if budget else ():
            self.used[k] = have[k].train_seconds
        return [have[k] for k in keys]

    def _train(self, packs: list, have: dict[str, Trial]) -> None:
        payloads = [
            {
                "checkpoint_dir": str(self._checkpoint_dir(pack)),
                "settings": self.settings,
                "specs": [(s.hp(), s.seed) for _, s in pack],
                "threads": self.threads,
                "monitor": self.monitor,
                "keys": [k for k, _ in pack],
            }
            for pack in packs
        ]
        fn = self.worker if self.executor.name == "local" else train_pack
        total = sum(len(dict(p)) for p in packs)  # padding repeats a trial
        bar, done, failed, start = _bar(self.progress, total), 0, 0, time.perf_counter()
        for index, outputs in self.executor.map(fn, payloads):
            seen = set()
            for (key, spec), out in zip(packs[index], outputs, strict=True):
                if key in seen:  # padding
                    continue
                seen.add(key)
                done += 1
                failed += out["status"] == "failed"
                if key in have:  # trained again only because its pack had a missing trial
                    continue
                preds, weights = None, out.pop("weights", None)
                if out["status"] == "done":
                    arrays = [k for k in out if k.endswith("_probs")]
                    preds = {k: out.pop(k) for k in arrays}
                meta = {"identity": self.identity, "hparams": spec.hp(), "seed": spec.seed,
                        "dataset": self.dataset, "model": self.model, **out}  # fmt: skip
                self.store.save(key, meta, preds, weights)
                self.trained += 1
                have[key] = self._trial(spec, key, meta, preds)  # as stored; not read back
            shutil.rmtree(self._checkpoint_dir(packs[index]), ignore_errors=True)
            if bar is not None:
                bar.update(len(seen))
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
