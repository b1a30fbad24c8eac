"""The engine with K members in one model: tiling, member-major predictions, frozen fast weights."""

import numpy as np
import tensorflow as tf

from benchmarks.models import build_model
from benchmarks.models.batch_ensemble import BatchEnsembleFactory
from benchmarks.train import TrainConfig, Trainer

CONFIG = dict(epochs=1, batch_size=12, max_steps=5, optimizer="adam", learning_rate=1e-2,
              l2_units="per_example", jit_compile=False)  # fmt: skip
HP = {"l2_0": [1.0], "l2_1": [0.5], "l2_2": [2.0], "dropout_0": [0.1], "dropout_1": [0.2]}


def _be(members, fast_init=-0.5):
    factory = BatchEnsembleFactory.with_options(members=members, fast_init=fast_init)
    return build_model("mlp", (8, 8, 1), 10, factory_cls=factory)


def test_batch_size_counts_new_images_per_member(digits):
    """Every member gets batch_size new images per step, as a single model does: the step has
    K x batch_size rows and an epoch has as many steps as the single model's."""
    cfg = TrainConfig(**CONFIG)
    trainer = Trainer(_be(3), digits, cfg)
    single = Trainer(build_model("mlp", (8, 8, 1), 10), digits, cfg)
    assert trainer.batch == single.batch == cfg.batch_size
    assert trainer.steps_per_epoch == single.steps_per_epoch == len(digits.y_train) // 12
    rows = trainer._tile(tf.zeros((1, trainer.batch, 8, 8, 1)))
    assert rows.shape[1] == 3 * cfg.batch_size


def test_predictions_are_member_k_of_the_explicit_rank1_model(digits):
    trainer = Trainer(_be(3), digits, TrainConfig(**CONFIG))
    trainer.fit(HP, [4])
    probs = trainer.predict(digits.x_val, HP)
    assert probs.shape == (3, len(digits.y_val), 10)
    x = digits.x_val.reshape(len(digits.x_val), -1).astype(np.float64)
    layers = [*trainer.model.hidden, trainer.model.out]
    for k in range(3):
        h = x
        for i, layer in enumerate(layers):
            w = layer.kernel.numpy()[0] * np.outer(layer.r.numpy()[0, k], layer.s.numpy()[0, k])
            h = h @ w + layer.bias.numpy()[0, k]
            if i < len(layers) - 1:
                h = np.maximum(h, 0)
        want = np.exp(h - h.max(1, keepdims=True))
        want /= want.sum(1, keepdims=True)
        np.testing.assert_allclose(probs[k], want, rtol=1e-4, atol=1e-5)


def test_one_member_with_frozen_unit_fast_weights_trains_as_the_plain_model(digits):
    """fast_init=1 (all +1) and a zero fast-weight gradient multiplier: a batch ensemble of one
    member is the shared layer, so training must match the plain model step for step."""
    config = TrainConfig(**{**CONFIG, "fast_weight_lr_multiplier": 0.0, "max_steps": 8})
    plain = Trainer(build_model("mlp", (8, 8, 1), 10), digits, config)
    be = Trainer(_be(1, fast_init=1.0), digits, config)
    r_plain, r_be = plain.fit(HP, [7]), be.fit(HP, [7])
    np.testing.assert_allclose(r_be.loss_history, r_plain.loss_history, rtol=1e-5)
    np.testing.assert_allclose(
        be.predict(digits.x_test, HP), plain.predict(digits.x_test, HP), rtol=1e-4, atol=1e-6
    )
    assert np.all(be.model.hidden[0].r.numpy() == 1.0)
