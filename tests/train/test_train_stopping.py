"""The stopping rule: every member keeps the weights of its lowest-validation-NLL epoch."""

import dataclasses

import numpy as np
import pytest

from benchmarks.errors import HyperensError
from benchmarks.metrics import nll
from benchmarks.models.layers import LayerFactory
from benchmarks.models.mlp import MLP
from benchmarks.train import TrainConfig, Trainer

# A learning rate that overfits digits' small train split within a few epochs, so the minimum
# of some member's validation curve is not at the last epoch.
CFG = TrainConfig(epochs=6, batch_size=32, optimizer="adam", learning_rate=3e-2, progress=False)


def _trainer(data, pack=1, config=CFG):
    return Trainer(MLP(LayerFactory(pack), data.input_shape, 10, widths=(32,)), data, config)


def _hp(pack):
    return {"l2_0": [1e-6] * pack, "l2_1": [1e-6] * pack, "dropout_0": [0.0] * pack}


def _val_nll(trainer, data, hp):
    probs = trainer.predict(data.x_val, hp)
    return np.array([nll(p, data.y_val) for p in probs])


def test_each_member_keeps_its_best_epoch(digits):
    seeds = [1, 2, 3]
    t = _trainer(digits, pack=3)
    result = t.fit(_hp(3), seeds)
    curve = result.val_nll_history  # (epochs, P)
    np.testing.assert_array_equal(result.kept_epoch, np.argmin(curve, axis=0) + 1)
    # the kept weights predict the curve's minimum, per member
    np.testing.assert_allclose(_val_nll(t, digits, _hp(3)), curve.min(axis=0), rtol=1e-5)
    assert (result.kept_epoch < CFG.epochs).any(), "the test needs a member that overfits"


def test_the_kept_weights_are_those_of_a_run_stopped_at_that_epoch(digits):
    t = _trainer(digits)
    kept = int(t.fit(_hp(1), [6]).kept_epoch[0])
    assert kept < CFG.epochs
    stopped = _trainer(digits, config=dataclasses.replace(CFG, epochs=kept, stopping="last_epoch"))
    stopped.fit(_hp(1), [6])
    np.testing.assert_array_equal(t.predict(digits.x_val, _hp(1)),
                                  stopped.predict(digits.x_val, _hp(1)))  # fmt: skip


def test_last_epoch_keeps_the_last_weights(digits):
    t = _trainer(digits, config=dataclasses.replace(CFG, stopping="last_epoch"))
    result = t.fit(_hp(1), [4])
    assert result.kept_epoch.tolist() == [CFG.epochs]
    np.testing.assert_allclose(_val_nll(t, digits, _hp(1)), result.val_nll_history[-1], rtol=1e-5)


def test_resume_keeps_the_same_best_epoch(digits, tmp_path, monkeypatch):
    full = _trainer(digits)
    want = full.fit(_hp(1), [6])
    from benchmarks.train import engine

    # kill the run after its third epoch: the checkpoint holds the best weights so far
    calls = {"n": 0}
    real = engine.checkpoint.save

    def save_then_die(*args, **kw):
        real(*args, **kw)
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(engine.checkpoint, "save", save_then_die)
    killed = _trainer(digits)
    with pytest.raises(KeyboardInterrupt):
        killed.fit(_hp(1), [6], tmp_path)
    monkeypatch.setattr(engine.checkpoint, "save", real)
    resumed = _trainer(digits)
    got = resumed.fit(_hp(1), [6], tmp_path)
    assert got.resumed_from_epoch == 3 and want.kept_epoch.tolist() == [4]
    assert got.kept_epoch.tolist() == want.kept_epoch.tolist()
    np.testing.assert_array_equal(resumed.predict(digits.x_val, _hp(1)),
                                  full.predict(digits.x_val, _hp(1)))  # fmt: skip


def test_bad_rules_are_refused():
    with pytest.raises(HyperensError, match="stopping must be one of"):
        TrainConfig(stopping="early")
    with pytest.raises(HyperensError, match="val_curve"):
        TrainConfig(val_curve=False)
    TrainConfig(val_curve=False, stopping="last_epoch")
