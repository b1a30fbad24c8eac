"""Packed layers checked by hand: dense, conv, batch norm, dropout, L2 penalty, initialisation."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks.models import build_model
from benchmarks.models.layers import (
    LayerFactory,
    PackedBatchNorm,
    PackedConv2D,
    PackedDense,
    PackedDropout,
    channels_side_by_side,
    channels_to_pack,
    global_avg_pool,
    hash_uniform,
    member_sums,
    pool2d,
    sum_of_squares,
)
from benchmarks.models.resnet import ResNet20


def _np(t) -> np.ndarray:
    return np.asarray(t, dtype=np.float64)


def test_dense_equals_matmul_plus_bias():
    rng = np.random.default_rng(0)
    layer = PackedDense(2, 3)
    x = rng.normal(size=(2, 4, 5)).astype(np.float32)
    layer(x)
    w = rng.normal(size=(2, 5, 3)).astype(np.float32)
    b = rng.normal(size=(2, 3)).astype(np.float32)
    layer.kernel.assign(w)
    layer.bias.assign(b)
    want = np.stack([x[p] @ w[p] + b[p] for p in range(2)])
    np.testing.assert_allclose(_np(layer(x)), want, rtol=1e-5, atol=1e-5)


def _conv_by_hand(x, k, b, stride):
    """'valid' cross-correlation of one member: x (B, H, W, C), k (kh, kw, C, F)."""
    kh, kw = k.shape[:2]
    ho = (x.shape[1] - kh) // stride + 1
    wo = (x.shape[2] - kw) // stride + 1
    y = np.zeros((x.shape[0], ho, wo, k.shape[3]))
    for i in range(ho):
        for j in range(wo):
            patch = x[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            y[:, i, j, :] = np.einsum("bhwc,hwcf->bf", patch, k)
    return y + b


def test_conv_matches_hand_computation_per_member():
    rng = np.random.default_rng(1)
    layer = PackedConv2D(2, 3, 3, strides=2, padding="valid")
    x = rng.normal(size=(2, 2, 7, 7, 2)).astype(np.float32)
    layer(x)
    k = rng.normal(size=(2, 3, 3, 2, 3)).astype(np.float32)
    b = rng.normal(size=(2, 3)).astype(np.float32)
    layer.kernel.assign(k)
    layer.bias.assign(b)
    want = np.stack([_conv_by_hand(x[p], k[p], b[p], 2) for p in range(2)])
    np.testing.assert_allclose(_np(layer(x)), want, rtol=1e-4, atol=1e-4)


def test_channels_side_by_side_by_hand_and_back():
    # x[p, b, 0, 0, c] = 10 p + c: member 0's channels come first, then member 1's
    x = np.array([[[[[0, 1]]]] * 2, [[[[10, 11]]]] * 2], np.float32)  # (P=2, B=2, 1, 1, C=2)
    y = channels_side_by_side(tf.constant(x))
    assert y.shape == (2, 1, 1, 4)
    np.testing.assert_array_equal(_np(y)[:, 0, 0], [[0, 1, 10, 11]] * 2)
    z = np.random.default_rng(0).normal(size=(3, 2, 5, 4, 2)).astype(np.float32)
    back = channels_to_pack(channels_side_by_side(tf.constant(z)), 3)
    np.testing.assert_array_equal(_np(back), z)


def test_grouped_conv_equals_per_member_conv_with_gradients():
    # channels side by side (one grouped convolution) vs the pack axis (one convolution per
    # member): the same outputs and gradients of kernel, bias and input, up to rounding
    rng = np.random.default_rng(2)
    layer = PackedConv2D(3, 4, 3, padding="valid")
    x = tf.constant(rng.normal(size=(3, 2, 6, 6, 2)).astype(np.float32))
    layer(x)
    layer.kernel.assign(rng.normal(size=(3, 3, 3, 2, 4)).astype(np.float32))
    layer.bias.assign(rng.normal(size=(3, 4)).astype(np.float32))
    weights = rng.normal(size=(3, 2, 4, 4, 4)).astype(np.float32)

    def run(grouped: bool):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(channels_side_by_side(x)) if grouped else layer(x)
            y = channels_to_pack(y, 3) if grouped else y
            loss = tf.reduce_sum(y * weights)
        return [_np(t) for t in (y, *tape.gradient(loss, [x, layer.kernel, layer.bias]))]

    for a, b in zip(run(True), run(False), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # a grouped layer builds per-member kernels from side-by-side input channels
    fresh = PackedConv2D(3, 4, 3)
    fresh(channels_side_by_side(x))
    assert tuple(fresh.kernel.shape) == (3, 3, 3, 2, 4)


def test_pooling_shapes_and_values():
    x = np.arange(2 * 1 * 4 * 4 * 1, dtype=np.float32).reshape(2, 1, 4, 4, 1)
    y = _np(pool2d(tf.constant(x), "max", 2))
    assert y.shape == (2, 1, 2, 2, 1)
    assert y[0, 0, 0, 0, 0] == 5.0 and y[1, 0, 1, 1, 0] == 31.0
    side = _np(pool2d(channels_side_by_side(tf.constant(x)), "max", 2))  # (B, H, W, P C)
    np.testing.assert_array_equal(side[0, :, :, 1], y[1, 0, :, :, 0])
    np.testing.assert_allclose(_np(global_avg_pool(tf.constant(x))), x.mean(axis=(2, 3)))


def test_batch_norm_training_normalises_and_updates_moving_stats():
    rng = np.random.default_rng(2)
    layer = PackedBatchNorm(2, momentum=0.9, epsilon=1e-5)
    # member 0 ~ N(3, 2^2), member 1 ~ N(-1, 0.5^2): statistics must stay per member
    x = np.concatenate(
        [rng.normal(3.0, 2.0, (1, 8, 4, 4, 3)), rng.normal(-1.0, 0.5, (1, 8, 4, 4, 3))]
    ).astype(np.float32)
    layer.build(x.shape)
    layer.initialize([np.random.default_rng(0), np.random.default_rng(1)])  # gamma 1, beta 0
    y = _np(layer(x, training=True))
    np.testing.assert_allclose(y.mean(axis=(1, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(1, 2, 3)), 1.0, atol=1e-3)
    mean, var = x.mean(axis=(1, 2, 3)), x.var(axis=(1, 2, 3))
    np.testing.assert_allclose(_np(layer.moving_mean), 0.9 * 0.0 + 0.1 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(layer.moving_var), 0.9 * 1.0 + 0.1 * var, rtol=1e-5, atol=1e-6)
    layer(x, training=True)
    np.testing.assert_allclose(_np(layer.moving_mean), 0.19 * mean, rtol=1e-5, atol=1e-6)
    # inference uses the moving statistics
    y_inf = _np(layer(x, training=False))
    want = (x - _np(layer.moving_mean)[:, None, None, None]) / np.sqrt(
        _np(layer.moving_var)[:, None, None, None] + 1e-5
    )
    np.testing.assert_allclose(y_inf, want, rtol=1e-4, atol=1e-4)


def _dropout(rates, seed_rows, shape=(3, 64, 50), index=1):
    layer = PackedDropout(len(rates), "dropout_0", index)
    x = tf.ones(shape)
    hp = {"dropout_0": tf.constant(rates, tf.float32)}
    return _np(layer(x, hp=hp, seed=tf.constant(seed_rows, tf.int32), training=True))


def test_dropout_rate_zero_is_identity_and_eval_is_identity():
    seeds = [[1, 2], [3, 4], [5, 6]]
    np.testing.assert_array_equal(_dropout([0.0, 0.0, 0.0], seeds), 1.0)
    layer = PackedDropout(1, "dropout_0", 1)
    x = tf.ones((1, 4, 5))
    out = layer(x, hp={"dropout_0": tf.constant([0.9])}, seed=tf.zeros((1, 2), tf.int32))
    np.testing.assert_array_equal(_np(out), 1.0)


def test_dropout_same_seed_same_mask_and_per_member_rates():
    seeds = [[1, 2], [1, 2], [7, 8]]
    a = _dropout([0.5, 0.5, 0.5], seeds)
    b = _dropout([0.5, 0.5, 0.5], seeds)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[0], a[1])  # same seed row -> same mask
    assert not np.array_equal(a[0], a[2])
    # another layer index draws another mask from the same seed
    assert not np.array_equal(a, _dropout([0.5, 0.5, 0.5], seeds, index=2))
    out = _dropout([0.0, 0.5, 0.9], [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(out[0], 1.0)
    for p, rate in ((1, 0.5), (2, 0.9)):
        kept = out[p] != 0
        assert abs(1.0 - kept.mean() - rate) < 0.03
        np.testing.assert_allclose(out[p][kept], 1.0 / (1.0 - rate), rtol=1e-5)


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h.astype(np.uint64)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


def test_hash_uniform_is_the_documented_formula_and_uniform():
    seed = tf.constant([-5, 123456789012], tf.int64)
    u = _np(hash_uniform(tf.constant([3, 4]), seed))
    k0, k1 = (-5) & 0xFFFFFFFF, 123456789012 & 0xFFFFFFFF  # low 32 bits of each word
    i = np.arange(12, dtype=np.uint64)
    want = (_fmix32(_fmix32((i + k0) & 0xFFFFFFFF) ^ k1) >> 8) / 2.0**24
    np.testing.assert_array_equal(u, want.reshape(3, 4).astype(np.float32))
    n = 200_000
    a = _np(hash_uniform(tf.constant([n]), seed))
    b = _np(hash_uniform(tf.constant([n]), tf.constant([-5, 7], tf.int64)))  # k0 shared
    assert a.min() >= 0.0 and a.max() < 1.0
    counts = np.histogram(a, bins=20, range=(0, 1))[0]
    assert np.all(np.abs(counts - n / 20) < 5 * np.sqrt(n / 20))  # 5 s.d. of a binomial count
    for x, y in ((a[:-1], a[1:]), (a, b)):  # neighbours, and streams that share k0
        assert abs(np.corrcoef(x, y)[0, 1]) < 5 / np.sqrt(n)


def test_l2_penalty_equals_hand_sum():
    model = build_model("lenet", (8, 8, 1), 10, pack=2)
    model.initialize([3, 4])
    hp = {k: tf.constant([0.5, 2.0]) for k in model.hparam_names}
    hp.update({f"l2_{i}": tf.constant([0.1 * (i + 1), 0.3 * (i + 2)]) for i in range(5)})
    layers = model.factory.layers
    kernels = [layer.kernel for layer in layers if hasattr(layer, "kernel")]
    want = sum(
        _np(hp[f"l2_{i}"]) * (_np(k) ** 2).reshape(2, -1).sum(1) for i, k in enumerate(kernels)
    )
    np.testing.assert_allclose(_np(model.l2_penalty(hp)), want, rtol=1e-5)


def test_resnet_l2_groups_and_fixed_bn_l2():
    model = ResNet20(LayerFactory(1), (8, 8, 3), 10, bn_l2=0.25)
    model.initialize([0])
    keys = model.hparam_names
    hp = {k: tf.constant([float(10**i)]) for i, k in enumerate(keys)}
    want = 0.0
    for layer in model.factory.layers:
        if isinstance(layer, PackedBatchNorm):
            want += 0.25 * ((_np(layer.gamma) ** 2).sum() + (_np(layer.beta) ** 2).sum())
            continue
        name = layer.name
        if name == "dense":
            key, bias_key = "l2_dense_kernel", "l2_dense_bias"
            want += float(hp[bias_key][0]) * (_np(layer.bias) ** 2).sum()
        else:
            key = "l2_input_conv" if name == "input_conv" else "l2_" + "_".join(name.split("_")[:2])
        want += float(hp[key][0]) * (_np(layer.kernel) ** 2).sum()
    np.testing.assert_allclose(_np(model.l2_penalty(hp)), [want], rtol=1e-5)


def test_initialize_is_deterministic():
    def weights(seeds):
        model = build_model("lenet", (8, 8, 1), 10, pack=len(seeds))
        model.initialize(seeds)
        return [_np(v) for v in model.weights]

    a, b, c = weights([5, 6]), weights([5, 6]), weights([5, 7])
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa[1], wc[1]) for wa, wc in zip(a, c, strict=True))
    np.testing.assert_array_equal(a[0][0], c[0][0])  # member 0 depends on its own seed only
    with pytest.raises(ValueError):
        build_model("lenet", (8, 8, 1), 10, pack=2).initialize([1])


def test_member_sums_and_sum_of_squares_by_hand():
    w = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4) - 5.0
    np.testing.assert_array_equal(member_sums(tf.constant(w)).numpy(), w.reshape(2, -1).sum(1))
    np.testing.assert_array_equal(
        sum_of_squares(tf.constant(w)).numpy(), (w.reshape(2, -1) ** 2).sum(1)
    )
    np.testing.assert_array_equal(member_sums(tf.constant([3.0, -1.0])).numpy(), [3.0, -1.0])
    v = tf.Variable(w)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(tf.constant([1.0, 0.5]) * sum_of_squares(v))
    grad = tape.gradient(total, v).numpy()
    np.testing.assert_array_equal(grad, 2 * w * np.array([1.0, 0.5])[:, None, None])
    bad = w.copy()
    bad[1, 2, 3] = np.nan
    assert member_sums(tf.constant(bad)).numpy().tolist()[0] == w[0].sum()
    assert not np.isfinite(member_sums(tf.constant(bad)).numpy()[1])
