"""The trial worker: a reused compiled trainer gives the same numbers as a fresh one."""

import numpy as np

from benchmarks.methods.base import Cell
from benchmarks.runner import resolve_trial_settings
from benchmarks.trials.worker import TrialWorker


def test_reused_trainer_equals_a_fresh_one():
    settings, _ = resolve_trial_settings(Cell("digits", "mlp", "single", "smoke", 0))
    hp = {"dropout_0": 0.1, "dropout_1": 0.2, "l2_0": 1.0, "l2_1": 0.5, "l2_2": 2.0}

    def payload(seed):
        return {"settings": settings, "specs": [(hp, seed)]}

    worker = TrialWorker()
    fresh = worker(payload(5))[0]
    worker(payload(6))  # the cached trainer now holds another trial's state
    assert len(worker.trainers) == 1
    reused = worker(payload(5))[0]
    assert fresh["status"] == reused["status"] == "done"
    np.testing.assert_array_equal(fresh["val_probs"], reused["val_probs"])
    np.testing.assert_array_equal(fresh["test_probs"], reused["test_probs"])
    assert fresh["val_nll_curve"] == reused["val_nll_curve"] and len(fresh["val_nll_curve"]) == 1
