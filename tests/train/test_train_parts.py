"""Optimisers, schedule and losses against hand-computed values and Keras."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks.train.losses import cross_entropy, l2_scale
from benchmarks.train.optim import SGD, Adam
from benchmarks.train.schedule import lr_factor


def _run(opt, keras_opt, grads_seq, lr):
    ours = tf.Variable(np.ones((1, 3), np.float32))
    ref = keras.Variable(np.ones((3,), np.float32))
    opt.build([ours])
    for g in grads_seq:
        opt.apply([tf.constant(g[None])], [ours], tf.constant([lr]), tf.constant([True]))
        keras_opt.apply_gradients([(tf.constant(g), ref)])
    return ours.numpy()[0], np.asarray(ref)


GRADS = [np.array([0.5, -1.0, 2.0], np.float32) * (i + 1) for i in range(4)]


@pytest.mark.parametrize("nesterov", [True, False])
def test_sgd_matches_keras(nesterov):
    ours, ref = _run(
        SGD(momentum=0.9, nesterov=nesterov),
        keras.optimizers.SGD(0.1, momentum=0.9, nesterov=nesterov),
        GRADS,
        0.1,
    )
    np.testing.assert_allclose(ours, ref, rtol=1e-6)


def test_sgd_nesterov_by_hand():
    # v1 = -lr g = -0.1; w1 = 1 + 0.9 * (-0.1) - 0.1 = 0.81
    var = tf.Variable([[1.0]])
    opt = SGD(0.9, nesterov=True)
    opt.build([var])
    opt.apply([tf.constant([[1.0]])], [var], tf.constant([0.1]), tf.constant([True]))
    np.testing.assert_allclose(var.numpy(), [[0.81]], rtol=1e-6)


def test_adam_matches_keras():
    ours, ref = _run(Adam(), keras.optimizers.Adam(0.01), GRADS, 0.01)
    np.testing.assert_allclose(ours, ref, rtol=1e-5)


def test_frozen_member_and_per_member_lr():
    var = tf.Variable(np.ones((3, 2), np.float32))
    opt = SGD(0.0, nesterov=False)
    opt.build([var])
    g = tf.ones((3, 2))
    opt.apply([g], [var], tf.constant([0.1, 0.5, 0.1]), tf.constant([True, True, False]))
    np.testing.assert_allclose(var.numpy(), [[0.9, 0.9], [0.5, 0.5], [1.0, 1.0]], rtol=1e-6)


def test_lr_factor_warmup_and_decay():
    f = lambda step: float(lr_factor(tf.constant(step), 10, 1.0, (2, 3), 0.2))  # noqa: E731
    assert f(0) == pytest.approx(0.1)  # (0 + 1) / 10 warm-up steps
    assert f(4) == pytest.approx(0.5)
    assert f(9) == pytest.approx(1.0)
    assert f(19) == pytest.approx(1.0)
    assert f(20) == pytest.approx(0.2)  # epoch 2
    assert f(30) == pytest.approx(0.04)  # epoch 3


def test_cross_entropy_with_smoothing_by_hand():
    logits = tf.constant([[[0.0, np.log(3.0)]]])  # p = (1/4, 3/4)
    labels = tf.constant([[1]])
    plain = float(cross_entropy(logits, labels, tf.constant([0.0]))[0])
    assert plain == pytest.approx(-np.log(0.75), rel=1e-6)
    # eps = 0.2, C = 2: targets (0.1, 0.9); CE = -(0.1 log 1/4 + 0.9 log 3/4)
    smooth = float(cross_entropy(logits, labels, tf.constant([0.2]))[0])
    assert smooth == pytest.approx(-(0.1 * np.log(0.25) + 0.9 * np.log(0.75)), rel=1e-6)


def test_l2_scale():
    assert l2_scale("raw", 3000) == 1.0
    assert l2_scale("per_example", 4000) == pytest.approx(2.5e-4)
    with pytest.raises(ValueError, match="l2_units"):
        l2_scale("half", 10)


def _steps(opt, fused, alive_at, shape=(1, 37, 5), steps=6):
    """Runs `steps` updates of one variable with seeded gradients; `alive_at(i)` per step."""
    rng = np.random.default_rng(7)
    var = tf.Variable(rng.normal(size=shape).astype(np.float32))
    opt.build([var])
    lr = tf.constant([0.03] * shape[0])
    for i in range(steps):
        g = tf.constant(rng.normal(size=shape).astype(np.float32) * 10.0 ** rng.uniform(-3, 1))
        opt.apply([g], [var], lr, tf.constant([alive_at(i)] * shape[0]), fused=fused)
    return var.numpy(), [s.numpy() for s in opt.variables()[1:]]


@pytest.mark.parametrize(
    "make", [Adam, lambda: SGD(0.9, nesterov=True), lambda: SGD(0.9, nesterov=False)]
)
def test_fused_kernels_give_the_composed_floats(make):
    fused, fused_slots = _steps(make(), True, lambda i: True)
    composed, composed_slots = _steps(make(), False, lambda i: True)
    np.testing.assert_array_equal(fused, composed)
    for a, b in zip(fused_slots, composed_slots, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("make", [Adam, lambda: SGD(0.9, nesterov=True)])
def test_a_frozen_member_keeps_its_weights_exactly_even_with_momentum(make, fused):
    # alive for 3 steps (momentum and Adam's moments are non-zero), then frozen, with a NaN
    # gradient on the step that froze it
    rng = np.random.default_rng(1)
    var = tf.Variable(rng.normal(size=(1, 4)).astype(np.float32))
    opt = make()
    opt.build([var])
    lr = tf.constant([0.1])
    for _ in range(3):
        g = tf.constant(rng.normal(size=(1, 4)).astype(np.float32))
        opt.apply([g], [var], lr, tf.constant([True]), fused=fused)
    frozen = var.numpy()
    for g in ([[np.nan, 1.0, np.inf, 2.0]], [[1.0, 1.0, 1.0, 1.0]]):
        opt.apply([tf.constant(g, tf.float32)], [var], lr, tf.constant([False]), fused=fused)
        np.testing.assert_array_equal(var.numpy(), frozen)
    assert all(np.isfinite(s.numpy()).all() for s in opt.variables()[1:])
