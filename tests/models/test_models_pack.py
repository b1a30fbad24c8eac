"""Pack invariance: member p of a pack computes what a pack of one computes with p's seed."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks.models import build_model

CASES = [
    ("mlp", (28, 28, 1), 4),
    ("lenet", (28, 28, 1), 4),
    ("lenet", (8, 8, 1), 4),
    ("resnet20", (32, 32, 3), 2),
]


def _hp(names, member_values):
    """hp with one value per member: dropout rates in [0.1, 0.5], L2 coefficients positive."""
    hp = {}
    for i, key in enumerate(names):
        base = np.array(member_values, np.float32)
        hp[key] = tf.constant(base + 0.05 * i if key.startswith("dropout") else base * (i + 1))
    return hp


@pytest.mark.parametrize("name, shape, batch", CASES)
def test_member_equals_single_run(name, shape, batch):
    seeds = [11, 22, 33]
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(3, batch, *shape)).astype(np.float32))
    step_seeds = tf.constant([[1, 2], [3, 4], [5, 6]], tf.int32)

    packed = build_model(name, shape, 10, pack=3)
    packed.initialize(seeds)
    hp3 = _hp(packed.hparam_names, [0.1, 0.3, 0.2])
    logits3 = packed(x, hp=hp3, seed=step_seeds, training=True).numpy()
    assert logits3.shape == (3, batch, 10)

    single = build_model(name, shape, 10, pack=1)
    single.initialize(seeds[1:2])
    hp1 = {k: v[1:2] for k, v in hp3.items()}
    logits1 = single(x[1:2], hp=hp1, seed=step_seeds[1:2], training=True).numpy()

    np.testing.assert_allclose(logits3[1], logits1[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        packed.l2_penalty(hp3).numpy()[1], single.l2_penalty(hp1).numpy()[0], rtol=1e-5
    )
    # after the training-mode call the state (e.g. BN moving statistics) agrees too
    for v3, v1 in zip(packed.weights, single.weights, strict=True):
        np.testing.assert_allclose(v3.numpy()[1], v1.numpy()[0], rtol=1e-5, atol=1e-6)
    # members really differ, and inference mode is deterministic
    assert not np.allclose(logits3[0], logits3[1])
    eval_a = packed(x, hp=hp3, seed=step_seeds, training=False).numpy()
    eval_b = packed(x, hp=hp3, seed=step_seeds + 1, training=False).numpy()
    np.testing.assert_array_equal(eval_a, eval_b)


def test_dropout_depends_on_step_seed():
    model = build_model("mlp", (4, 4, 1), 3, pack=1)
    model.initialize([0])
    x = tf.ones((1, 8, 4, 4, 1))
    hp = {k: tf.constant([0.5]) for k in model.hparam_names}
    a = model(x, hp=hp, seed=tf.constant([[1, 2]]), training=True).numpy()
    b = model(x, hp=hp, seed=tf.constant([[1, 3]]), training=True).numpy()
    c = model(x, hp=hp, seed=tf.constant([[1, 2]]), training=True).numpy()
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, c)


def test_wrn_forward_shape_training_mode():
    model = build_model("wrn28_10", (32, 32, 3), 100, pack=1)
    hp = {k: tf.constant([1e-4]) for k in model.hparam_names}
    x = tf.zeros((1, 2, 32, 32, 3))
    logits = model(x, hp=hp, seed=tf.zeros((1, 2), tf.int32), training=True)
    assert logits.shape == (1, 2, 100)
    assert np.isfinite(logits.numpy()).all()
