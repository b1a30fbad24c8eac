"""The engine: determinism, pack invariance, divergence, no retracing, checkpoints."""

import numpy as np
import pytest

from benchmarks.models.layers import LayerFactory
from benchmarks.models.lenet import LeNet5
from benchmarks.models.mlp import MLP
from benchmarks.train import TrainConfig, Trainer
from benchmarks.train import checkpoint as ckpt_mod

CFG = TrainConfig(epochs=2, batch_size=32, optimizer="adam", learning_rate=1e-3, progress=False)


def _trainer(data, pack=1, config=CFG, widths=(16,)):
    return Trainer(MLP(LayerFactory(pack), data.input_shape, 10, widths=widths), data, config)


def _hp(pack, l2=1e-4, dropout=0.2):
    return {"l2_0": [l2] * pack, "l2_1": [l2] * pack, "dropout_0": [dropout] * pack}


def test_same_seed_same_numbers(digits):
    a = _trainer(digits)
    a.fit(_hp(1), [3])
    b = _trainer(digits)
    b.fit(_hp(1), [3])
    pa, pb = a.predict(digits.x_val, _hp(1)), b.predict(digits.x_val, _hp(1))
    np.testing.assert_array_equal(pa, pb)
    c = _trainer(digits)
    c.fit(_hp(1), [4])
    assert np.abs(c.predict(digits.x_val, _hp(1)) - pa).max() > 1e-3


def test_member_of_a_pack_equals_the_trial_alone(digits):
    # A pack of 8 trials with different hyperparameters and seeds; member 1 is the trial alone.
    rng = np.random.default_rng(0)
    hp8 = {k: list(10 ** rng.uniform(-4, -1, 8)) for k in ("l2_0", "l2_1", "dropout_0")}
    seeds = [11, 3, 5, 7, 13, 17, 19, 23]
    packed = _trainer(digits, pack=8)
    packed.fit(hp8, seeds)
    hp1 = {k: v[1:2] for k, v in hp8.items()}
    alone = _trainer(digits)
    alone.fit(hp1, [3])
    np.testing.assert_allclose(
        packed.predict(digits.x_val, hp8)[1], alone.predict(digits.x_val, hp1)[0], atol=1e-5
    )


def test_lenet_member_of_a_pack_equals_the_trial_alone(digits):
    # a pack of LeNets trains with grouped convolutions (channels side by side), one LeNet with
    # plain ones: the same training up to rounding
    hp3 = {k: [1e-3, 1e-2, 1e-4] for k in ("l2_0", "l2_1", "l2_2", "l2_3", "l2_4")}
    hp3 |= {"dropout_0": [0.1, 0.2, 0.3], "dropout_1": [0.2, 0.1, 0.05]}
    packed = Trainer(LeNet5(LayerFactory(3), digits.input_shape, 10), digits, CFG)
    packed.fit(hp3, [5, 6, 7])
    hp1 = {k: v[2:] for k, v in hp3.items()}
    alone = Trainer(LeNet5(LayerFactory(1), digits.input_shape, 10), digits, CFG)
    alone.fit(hp1, [7])
    p3, p1 = packed.predict(digits.x_val, hp3), alone.predict(digits.x_val, hp1)
    np.testing.assert_allclose(p3[2], p1[0], atol=1e-4)
    assert np.abs(p3[1] - p1[0]).max() > 1e-2  # the members differ


def test_new_hyperparameters_do_not_retrace(digits):
    t = _trainer(digits)
    t.fit(_hp(1, l2=1e-4), [0])
    t.fit(_hp(1, l2=1e-2, dropout=0.5), [1])
    t.fit({**_hp(1), "learning_rate": [0.01], "label_smoothing": [0.1]}, [2])
    assert t._epoch_fn.experimental_get_tracing_count() == 1


def test_divergence_freezes_one_member_and_never_raises(digits):
    config = TrainConfig(
        epochs=2, batch_size=32, optimizer="sgd", learning_rate=0.01, progress=False
    )
    hp = {**_hp(2), "learning_rate": [1e12, 0.01]}
    packed = _trainer(digits, pack=2, config=config)
    result = packed.fit(hp, [1, 2])
    assert result.status == ["diverged", "done"]
    alone = _trainer(digits, config=config)
    assert alone.fit({**_hp(1), "learning_rate": [0.01]}, [2]).status == ["done"]
    np.testing.assert_allclose(
        packed.predict(digits.x_val, hp)[1],
        alone.predict(digits.x_val, _hp(1))[0],
        atol=1e-5,
    )


@pytest.mark.parametrize("units", ["raw", "per_example"])
def test_l2_enters_the_loss_by_the_convention(digits, units):
    # One step: loss(l2 = c) - loss(l2 = 0) = s * c * (||W_0||^2 + ||W_1||^2) at the init weights.
    config = TrainConfig(epochs=1, max_steps=1, batch_size=32, l2_units=units, progress=False)
    plain, reg = _trainer(digits, config=config), _trainer(digits, config=config)
    loss0 = plain.fit(_hp(1, l2=0.0), [0]).loss_history[0, 0]
    c = 0.3
    init = _trainer(digits, config=config)
    init.model.initialize([0])
    sq = sum(
        float(np.sum(np.square(d.kernel.numpy()))) for d in [*init.model.hidden, init.model.out]
    )
    s = 1.0 if units == "raw" else 1.0 / len(digits.y_train)
    loss_c = reg.fit(_hp(1, l2=c), [0]).loss_history[0, 0]
    assert loss_c - loss0 == pytest.approx(s * c * sq, rel=1e-4)


def test_resume_from_checkpoint_equals_uninterrupted(digits, tmp_path, monkeypatch):
    config = TrainConfig(epochs=3, batch_size=32, optimizer="sgd", progress=False)
    full = _trainer(digits, config=config)
    full.fit(_hp(1), [9])
    expected = full.predict(digits.x_val, _hp(1))

    saves = []
    real_save = ckpt_mod.save

    def save_then_crash(path, variables, epoch, history, *rest):
        real_save(path, variables, epoch, history, *rest)
        saves.append(epoch)
        raise KeyboardInterrupt  # stands in for a kill right after the epoch-1 checkpoint

    monkeypatch.setattr(ckpt_mod, "save", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        _trainer(digits, config=config).fit(_hp(1), [9], checkpoint_dir=tmp_path)
    monkeypatch.setattr(ckpt_mod, "save", real_save)
    assert saves == [1]

    resumed = _trainer(digits, config=config)
    result = resumed.fit(_hp(1), [9], checkpoint_dir=tmp_path)
    assert result.resumed_from_epoch == 1 and result.loss_history.shape == (3, 1)
    np.testing.assert_array_equal(resumed.predict(digits.x_val, _hp(1)), expected)


def test_missing_or_misshaped_hyperparameters(digits):
    t = _trainer(digits, pack=2)
    with pytest.raises(ValueError, match="missing hyperparameters"):
        t.fit({"l2_0": [0, 0]}, [0, 1])
    with pytest.raises(ValueError, match="needs 2 values"):
        t.fit(_hp(1), [0, 1])
