"""Batch-ensemble layers: equal to the shared layer at unit fast weights, and to the explicit
member kernel W ∘ (r_k s_kᵀ) otherwise."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks.models import build_model
from benchmarks.models.batch_ensemble import (
    BatchEnsembleConv2D,
    BatchEnsembleDense,
    BatchEnsembleFactory,
    fast_weight_init,
)
from benchmarks.models.layers import PackedConv2D, PackedDense

K = 3


def _tiled(x: np.ndarray) -> np.ndarray:
    """(P, B, ...) -> (P, K * B, ...), member-major, as the engine feeds a batch ensemble."""
    return np.concatenate([x] * K, axis=1)


def _set_random(layer, rng):
    for v in layer.weights:
        v.assign(rng.normal(size=v.shape).astype(np.float32))


def _share(be, plain):
    """The batch-ensemble layer gets the plain layer's kernel and bias and unit fast weights."""
    be.kernel.assign(plain.kernel)
    be.r.assign(np.ones(be.r.shape, np.float32))
    be.s.assign(np.ones(be.s.shape, np.float32))
    be.bias.assign(np.repeat(plain.bias.numpy()[:, None], K, axis=1))


def test_unit_fast_weights_equal_the_shared_dense_layer():
    rng = np.random.default_rng(0)
    x = _tiled(rng.normal(size=(1, 4, 5)).astype(np.float32))
    be, plain = BatchEnsembleDense(1, K, 3), PackedDense(1, 3)
    be(x), plain(x)
    _set_random(plain, rng)
    _share(be, plain)
    np.testing.assert_allclose(be(x), plain(x), rtol=1e-6, atol=1e-6)


def test_unit_fast_weights_equal_the_shared_conv_layer():
    rng = np.random.default_rng(1)
    x = _tiled(rng.normal(size=(1, 2, 6, 6, 2)).astype(np.float32))
    be, plain = BatchEnsembleConv2D(1, K, 4, 3, strides=2), PackedConv2D(1, 4, 3, strides=2)
    be(x), plain(x)
    _set_random(plain, rng)
    _share(be, plain)
    np.testing.assert_allclose(be(x), plain(x), rtol=1e-5, atol=1e-5)


def test_dense_member_k_uses_the_explicit_rank1_kernel():
    rng = np.random.default_rng(2)
    b = 4
    x = rng.normal(size=(1, K * b, 5)).astype(np.float32)  # every member sees other rows
    layer = BatchEnsembleDense(1, K, 3)
    layer(x)
    _set_random(layer, rng)
    w, r, s, bias = (v.numpy()[0] for v in (layer.kernel, layer.r, layer.s, layer.bias))
    want = np.concatenate(
        [x[0, k * b : (k + 1) * b] @ (w * np.outer(r[k], s[k])) + bias[k] for k in range(K)]
    )
    np.testing.assert_allclose(layer(x)[0], want, rtol=1e-5, atol=1e-5)


def test_conv_member_k_uses_the_explicit_rank1_kernel():
    rng = np.random.default_rng(3)
    b = 2
    x = rng.normal(size=(1, K * b, 5, 5, 2)).astype(np.float32)
    layer = BatchEnsembleConv2D(1, K, 3, 3, padding="valid")
    layer(x)
    _set_random(layer, rng)
    kern, r, s, bias = (v.numpy()[0] for v in (layer.kernel, layer.r, layer.s, layer.bias))
    out = layer(x).numpy()[0]
    for k in range(K):
        kk = kern * r[k][None, None, :, None] * s[k][None, None, None, :]
        want = tf.nn.conv2d(x[0, k * b : (k + 1) * b], kk, 1, "VALID") + bias[k]
        np.testing.assert_allclose(out[k * b : (k + 1) * b], want, rtol=1e-4, atol=1e-4)


def test_fast_weight_initialisers():
    rng = np.random.default_rng(4)
    normal = fast_weight_init(-0.5)(rng, (20000,))
    assert abs(normal.mean() - 1) < 0.02 and abs(normal.std() - 0.5) < 0.02
    signs = fast_weight_init(0.75)(rng, (20000,))
    assert set(np.unique(signs)) == {-1.0, 1.0} and abs((signs > 0).mean() - 0.75) < 0.02
    assert np.all(fast_weight_init(1.0)(rng, (100,)) == 1.0)
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="fast_init"):
            fast_weight_init(bad)


def test_mlp_parameter_count_by_hand():
    model = build_model(
        "mlp", (28, 28, 1), 10, factory_cls=BatchEnsembleFactory.with_options(members=K)
    )
    shared = 784 * 200 + 200 * 200 + 200 * 10
    per_member = (784 + 200 + 200) + (200 + 200 + 200) + (200 + 10 + 10)  # r, s, bias per layer
    assert model.param_count() == shared + K * per_member
    assert model.members == K
