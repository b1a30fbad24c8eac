"""Trials: single models identified by everything that determines their numbers.

`identity` (what a trial is), `worker` (trains a pack from resolved settings; no gin, no
methods), `scheduler` (`TrialRunner`: cached or trained, in packs), `executors` (where packs
train: in process or on Ray) and `cache` (compiled trainers). This package's own namespace
holds the TensorFlow-free parts; import `worker` and `scheduler` by their module names.
"""

from benchmarks.trials.cache import TrainerCache
from benchmarks.trials.executors import Executor, LocalExecutor, RayExecutor, get_executor
from benchmarks.trials.identity import (
    HISTORY_FIELDS,
    SHIFT_PREFIX,
    TRAINING_CODE_VERSION,
    Trial,
    TrialSettings,
    TrialSpec,
    cell_seed,
    data_fingerprint,
    member_seed,
)

__all__ = [
    "HISTORY_FIELDS",
    "SHIFT_PREFIX",
    "TRAINING_CODE_VERSION",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "TrainerCache",
    "Trial",
    "TrialSettings",
    "TrialSpec",
    "cell_seed",
    "data_fingerprint",
    "get_executor",
    "member_seed",
]
