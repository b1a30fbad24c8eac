"""train_pack: a reused compiled trainer gives the same numbers as a fresh one."""

import numpy as np

from benchmarks import config, trials
from benchmarks.runner import trial_config


def test_reused_trainer_equals_a_fresh_one():
    text = trial_config(config.compose("digits", "mlp", "single", "smoke"))
    hp = {"dropout_0": 0.1, "dropout_1": 0.2, "l2_0": 1.0, "l2_1": 0.5, "l2_2": 2.0}
    payload = lambda seed: {"config_text": text, "dataset": "digits", "model": "mlp",  # noqa: E731
                            "specs": [(hp, seed)], "reparse": True}  # fmt: skip
    trials._TRAINERS.clear()
    fresh = trials.train_pack(payload(5))[0]
    trials.train_pack(payload(6))  # the cached trainer now holds another trial's state
    assert len(trials._TRAINERS) == 1
    reused = trials.train_pack(payload(5))[0]
    assert fresh["status"] == reused["status"] == "done"
    np.testing.assert_array_equal(fresh["val_probs"], reused["val_probs"])
    np.testing.assert_array_equal(fresh["test_probs"], reused["test_probs"])
