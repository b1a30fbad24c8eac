"""Hyperparameter-conditioned layers: Δ = 0 gives the batch-ensemble layer; outputs and the
closed-form L2 equal brute force with one kernel per example; parameter counts ≈ 2x."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks.models import build_model
from benchmarks.models.batch_ensemble import (
    BatchEnsembleConv2D,
    BatchEnsembleDense,
    BatchEnsembleFactory,
)
from benchmarks.models.hyper_layers import EMBED_KEY, HyperConv2D, HyperDense, HyperFactory

K, B, D = 2, 3, 4


def _hp(rng, keys=("l2",)):
    hp = {k: rng.uniform(0.1, 2.0, size=(1, K * B)).astype(np.float32) for k in keys}
    hp[EMBED_KEY] = rng.uniform(size=(1, K * B, D)).astype(np.float32)
    return hp


def _randomise(layer, rng):
    for v in layer.weights:
        v.assign(rng.normal(size=v.shape).astype(np.float32))


def _dense(rng, fast=True):
    layer = HyperDense(1, K, 3, "l2", "l2b", embed_dim=lambda: D, fast_weights=fast)
    x = rng.normal(size=(1, K * B, 5)).astype(np.float32)
    hp = _hp(rng, ("l2", "l2b"))
    layer(x, hp=hp)
    _randomise(layer, rng)
    return layer, x, hp


def _gates(layer, hp):
    e1, e2 = layer.embedding(hp)
    return np.asarray(e1)[0], (None if e2 is None else np.asarray(e2)[0])


def _explicit_dense(layer, hp):
    """Per row i of member k: W_k(λ_i) = (W + Δ ∘ e1_i) ∘ r_k s_kᵀ, b = b_k + δ_k ∘ e2_i."""
    u = layer.units
    kern = layer.kernel.numpy()[0]
    w, d = kern[:, :u], kern[:, u:]
    e1, e2 = _gates(layer, hp)
    kernels, biases = [], []
    for i in range(K * B):
        k = i // B
        rs = np.outer(layer.r.numpy()[0, k], layer.s.numpy()[0, k]) if layer.has_fast else 1.0
        kernels.append((w + d * e1[i]) * rs)
        biases.append(layer.bias.numpy()[0, k] + layer.bias_delta.numpy()[0, k] * e2[i])
    return np.stack(kernels), np.stack(biases)


@pytest.mark.parametrize("fast", [True, False])
def test_dense_equals_one_kernel_per_example(fast):
    rng = np.random.default_rng(0)
    layer, x, hp = _dense(rng, fast)
    kernels, biases = _explicit_dense(layer, hp)
    want = np.einsum("id,idu->iu", x[0], kernels) + biases
    np.testing.assert_allclose(layer(x, hp=hp)[0], want, rtol=1e-4, atol=1e-4)
    assert (layer.r is None) == (not fast)


def test_delta_zero_equals_the_batch_ensemble_dense_layer():
    rng = np.random.default_rng(1)
    layer, x, hp = _dense(rng)
    u = layer.units
    kern = layer.kernel.numpy()
    kern[..., u:] = 0.0
    layer.kernel.assign(kern)
    layer.bias_delta.assign(np.zeros(layer.bias_delta.shape, np.float32))
    be = BatchEnsembleDense(1, K, u)
    be(x)
    be.kernel.assign(kern[..., :u])
    for name in ("r", "s", "bias"):
        getattr(be, name).assign(getattr(layer, name))
    np.testing.assert_allclose(layer(x, hp=hp), be(x), rtol=1e-5, atol=1e-5)


def test_delta_zero_equals_the_batch_ensemble_conv_layer():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, K * B, 5, 5, 2)).astype(np.float32)
    hp = _hp(rng)
    layer = HyperConv2D(1, K, 3, 3, l2_key="l2", embed_dim=lambda: D)
    layer(x, hp=hp)
    _randomise(layer, rng)
    kern = layer.kernel.numpy()
    kern[..., 3:] = 0.0
    layer.kernel.assign(kern)
    layer.bias_delta.assign(np.zeros(layer.bias_delta.shape, np.float32))
    be = BatchEnsembleConv2D(1, K, 3, 3)
    be(x)
    be.kernel.assign(kern[..., :3])
    for name in ("r", "s", "bias"):
        getattr(be, name).assign(getattr(layer, name))
    np.testing.assert_allclose(layer(x, hp=hp), be(x), rtol=1e-5, atol=1e-5)


def test_conv_equals_one_kernel_per_example():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, K * B, 5, 5, 2)).astype(np.float32)
    hp = _hp(rng)
    layer = HyperConv2D(1, K, 3, 3, padding="valid", use_bias=False, l2_key="l2",
                        embed_dim=lambda: D)  # fmt: skip
    layer(x, hp=hp)
    _randomise(layer, rng)
    kern = layer.kernel.numpy()[0]
    e1, _ = _gates(layer, hp)
    out = layer(x, hp=hp).numpy()[0]
    for i in range(K * B):
        k = i // B
        rs = layer.r.numpy()[0, k][None, None, :, None] * layer.s.numpy()[0, k]
        kk = (kern[..., :3] + kern[..., 3:] * e1[i]) * rs
        want = tf.nn.conv2d(x[0, i : i + 1], kk, 1, "VALID")[0]
        np.testing.assert_allclose(out[i], want, rtol=1e-4, atol=1e-4)


def test_closed_form_l2_equals_brute_force_dense():
    rng = np.random.default_rng(4)
    layer, _, hp = _dense(rng)
    u = layer.units
    kern = layer.kernel.numpy()[0]
    e1, e2 = _gates(layer, hp)
    lam, lam_b = hp["l2"][0], hp["l2b"][0]
    kernel_term = np.mean(
        [lam[i] * np.sum((kern[:, :u] + kern[:, u:] * e1[i]) ** 2) for i in range(K * B)]
    )
    bias = [layer.bias.numpy()[0, i // B] + layer.bias_delta.numpy()[0, i // B] * e2[i]
            for i in range(K * B)]  # fmt: skip
    bias_term = np.mean([lam_b[i] * np.sum(bias[i] ** 2) for i in range(K * B)])
    got = float(layer.l2_penalty(hp)[0])
    np.testing.assert_allclose(got, kernel_term + bias_term, rtol=1e-4)


def test_closed_form_l2_equals_brute_force_conv():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1, K * B, 4, 4, 2)).astype(np.float32)
    hp = _hp(rng)
    layer = HyperConv2D(1, K, 3, 3, use_bias=False, l2_key="l2", embed_dim=lambda: D)
    layer(x, hp=hp)
    _randomise(layer, rng)
    kern = layer.kernel.numpy()[0]
    e1, _ = _gates(layer, hp)
    want = np.mean(
        [hp["l2"][0, i] * np.sum((kern[..., :3] + kern[..., 3:] * e1[i]) ** 2)
         for i in range(K * B)]
    )  # fmt: skip
    np.testing.assert_allclose(float(layer.l2_penalty(hp)[0]), want, rtol=1e-4)


def test_embedding_starts_tiny_and_takes_the_whole_hyperparameter_vector():
    model = build_model("mlp", (4, 4, 1), 3, factory_cls=HyperFactory.with_options(members=K))
    model.initialize([0])
    dense = model.hidden[0]
    assert dense.embed_out.shape == (1, len(model.hparam_names), 2 * dense.units)
    assert float(tf.math.reduce_std(dense.embed_out)) < 1e-3


def test_hyper_batch_has_about_twice_the_parameters_of_a_batch_ensemble():
    """Paper (WRN-28-10, CIFAR-100): 36.6M batch ensemble vs 73.2M hyper-batch."""
    counts = {}
    for name, factory in (("be", BatchEnsembleFactory), ("hyper", HyperFactory)):
        model = build_model(
            "wrn28_10", (32, 32, 3), 100, factory_cls=factory.with_options(members=4)
        )
        counts[name] = model.param_count()
    assert abs(counts["be"] / 36.6e6 - 1) < 0.01
    assert abs(counts["hyper"] / 73.2e6 - 1) < 0.01
    assert 1.95 < counts["hyper"] / counts["be"] < 2.05


def test_conv_bias_l2_equals_brute_force():
    # edward2's Conv2DHyperBatchEnsemble penalises its bias with its own hyperparameter: per row
    # i of member k, lam_b_i ||b_k + delta_k * e2_i||^2, averaged over the rows
    rng = np.random.default_rng(6)
    x = rng.normal(size=(1, K * B, 4, 4, 2)).astype(np.float32)
    hp = _hp(rng, ("l2", "l2b"))
    layer = HyperConv2D(1, K, 3, 3, l2_key="l2", bias_l2_key="l2b", embed_dim=lambda: D)
    layer(x, hp=hp)
    _randomise(layer, rng)
    kern = layer.kernel.numpy()[0]
    e1, e2 = _gates(layer, hp)
    kernel_term = np.mean(
        [hp["l2"][0, i] * np.sum((kern[..., :3] + kern[..., 3:] * e1[i]) ** 2)
         for i in range(K * B)]
    )  # fmt: skip
    b, d = layer.bias.numpy()[0], layer.bias_delta.numpy()[0]
    bias_term = np.mean(
        [hp["l2b"][0, i] * np.sum((b[i // B] + d[i // B] * e2[i]) ** 2) for i in range(K * B)]
    )
    assert bias_term > 10 * 1e-4 * kernel_term  # the bias term is well above the tolerance
    np.testing.assert_allclose(float(layer.l2_penalty(hp)[0]), kernel_term + bias_term, rtol=1e-4)
    no_bias_key = HyperConv2D(1, K, 3, 3, l2_key="l2", embed_dim=lambda: D)
    no_bias_key(x, hp=hp)
    for src, dst in zip(layer.weights, no_bias_key.weights, strict=True):
        dst.assign(src)
    np.testing.assert_allclose(float(no_bias_key.l2_penalty(hp)[0]), kernel_term, rtol=1e-4)


def test_factories_register_a_conv_bias_key():
    for factory in (BatchEnsembleFactory(1, K), HyperFactory(1, K)):
        factory.conv2d(3, 3, l2_key="l2_0", bias_l2_key="l2_0_bias")
        assert factory.hparam_names == ["l2_0", "l2_0_bias"]
