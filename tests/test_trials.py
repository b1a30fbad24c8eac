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


def test_shifted_predictions_from_stored_weights_equal_those_made_after_training():
    """A trial's shifted sets predicted on demand from its stored weights (after the cached
    trainer trained another trial) equal what the network predicted when it finished training."""
    from benchmarks.data.shift import predict_shifted

    cell = Cell("digits", "mlp", "single", "smoke", 0)
    settings, _ = resolve_trial_settings(cell, gin_params=["shift_options.enabled = True"])
    hp = {"dropout_0": 0.1, "dropout_1": 0.2, "l2_0": 1.0, "l2_1": 0.5, "l2_2": 2.0}
    worker = TrialWorker(shift_cache_bytes=0)
    five = worker({"settings": settings, "specs": [(hp, 5)]})[0]
    _, shifted, trainer = worker.parts(settings, 1)
    assert len(shifted) > 10
    one = {k: [v] for k, v in hp.items()}
    want = predict_shifted(shifted, lambda x: trainer.predict(x, one))  # straight after training
    six = worker({"settings": settings, "specs": [(hp, 6)]})[0]
    loads = []

    def weights(out):
        return lambda: loads.append(1) or out["weights"]

    got = worker.shifted_predictions(settings, "five", hp, weights(five))
    assert sorted(got) == sorted(want) and loads == [1]
    for name, probs in got.items():
        np.testing.assert_array_equal(probs, want[name][0])
    assert worker.shifted_predictions(settings, "five", hp, weights(five)) is got and loads == [1]
    other = worker.shifted_predictions(settings, "six", hp, weights(six))  # evicts "five"
    assert not np.array_equal(other[shifted[0].name], got[shifted[0].name])
    worker.shifted_predictions(settings, "five", hp, weights(five))
    assert loads == [1, 1, 1]
