"""Trials: single models identified by everything that determines their numbers.

`identity` (what a trial is), `worker` (trains a pack from resolved settings; no gin, no
methods), `scheduler` (`TrialRunner`: cached or trained, in packs) and `executors` (where packs
train: in process or on Ray).
"""

from benchmarks.trials.executors import Executor, LocalExecutor, RayExecutor, get_executor
from benchmarks.trials.identity import (
    SHIFT_PREFIX,
    TRAINING_CODE_VERSION,
    Trial,
    TrialSettings,
    TrialSpec,
    data_fingerprint,
    member_seed,
)
from benchmarks.trials.scheduler import TrialRunner
from benchmarks.trials.worker import TrainerCache, TrialWorker, pin_threads, train_pack

__all__ = [
    "SHIFT_PREFIX",
    "TRAINING_CODE_VERSION",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "TrainerCache",
    "Trial",
    "TrialRunner",
    "TrialSettings",
    "TrialSpec",
    "TrialWorker",
    "data_fingerprint",
    "get_executor",
    "member_seed",
    "pin_threads",
    "train_pack",
]
