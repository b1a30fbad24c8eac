"""The MIMO wrapper: the released code's training rows and the heads' input/output layout."""

import numpy as np
import tensorflow as tf

from benchmarks.models import MimoOptions, build_model
from benchmarks.models.mimo import mimo_indices


def _idx(batch, heads, reps, rho, seed=(1, 2)):
    return mimo_indices(tf.constant(batch), heads, reps, rho, tf.constant(seed, tf.int32)).numpy()


def test_every_head_sees_each_image_r_times():
    idx = _idx(8, heads=3, reps=4, rho=0.0)
    assert idx.shape == (3, 32)
    for head in idx:
        np.testing.assert_array_equal(np.bincount(head, minlength=8), np.full(8, 4))
    assert not np.array_equal(idx[0], idx[1])  # independent shuffles per head


def test_input_repetition_one_shows_every_head_the_same_rows():
    idx = _idx(10, heads=3, reps=2, rho=1.0)
    np.testing.assert_array_equal(idx[0], idx[1])
    np.testing.assert_array_equal(idx[0], idx[2])
    # rho = 0.5: the last floor(20 * 0.5) = 10 rows are shared, the first 10 shuffled per head
    half = _idx(10, heads=2, reps=2, rho=0.5)
    np.testing.assert_array_equal(half[0, 10:], half[1, 10:])
    np.testing.assert_array_equal(np.sort(half[0, :10]), np.sort(half[1, :10]))


def test_training_rows_keep_images_and_labels_together():
    model = build_model("mlp", (4,), 3, mimo=MimoOptions(2, 3, 0.0))
    x = tf.constant(np.arange(5 * 4, dtype=np.float32).reshape(1, 5, 4))
    y = tf.constant(np.arange(5, dtype=np.int32)[None])
    xr, yr = model.training_rows(x, y, tf.constant([[3, 4]], tf.int32))
    assert xr.shape == (1, 2 * 3 * 5, 4) and yr.shape == (1, 30)
    np.testing.assert_array_equal(xr.numpy()[0, :, 0] / 4, yr.numpy()[0])  # row i = image y_i


def test_param_count_by_hand():
    """digits MLP (64 inputs, widths 200, 200, 10 classes) with K = 3 heads: the first layer
    reads 3 x 64 inputs, the output layer has 3 x 10 units."""
    model = build_model("mlp", (64,), 10, settings={"widths": (200, 200)},
                        mimo=MimoOptions(3))  # fmt: skip
    assert model.members == 3
    assert model.param_count() == (192 * 200 + 200) + (200 * 200 + 200) + (200 * 30 + 30)


def test_heads_stack_on_the_channel_axis():
    """Channel c of head k is inner input c * K + k; head k's logits are inner outputs
    k * C .. (k + 1) * C - 1 (uncertainty-baselines' wide_resnet_mimo layout)."""
    model = build_model("lenet", (8, 8, 2), 3, mimo=MimoOptions(2))
    model.initialize([0])
    seen = {}
    forward = model.inner.forward

    def spy(x, hp, seed, training):
        seen["x"] = x
        return forward(x, hp, seed, training)

    model.inner.forward = spy
    x = np.random.default_rng(0).normal(size=(1, 2 * 4, 8, 8, 2)).astype(np.float32)
    hp = {k: tf.constant([1e-4]) for k in model.hparam_names}
    logits = model(tf.constant(x), hp=hp, training=False).numpy()
    inner = seen["x"].numpy()
    assert inner.shape == (1, 4, 8, 8, 4)
    for k in range(2):
        for c in range(2):
            np.testing.assert_array_equal(
                inner[0, :, :, :, c * 2 + k], x[0, k * 4 : (k + 1) * 4, :, :, c]
            )
    raw = forward(tf.constant(inner), hp, None, False).numpy()  # (1, 4, 2 * 3)
    for k in range(2):
        np.testing.assert_array_equal(
            logits[0, k * 4 : (k + 1) * 4], raw[0, :, k * 3 : (k + 1) * 3]
        )
