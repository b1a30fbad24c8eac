"""Learned hyperparameter distributions: sampling, point, entropy, projection, initialisation."""

import math

import numpy as np
import pytest
import tensorflow as tf

from benchmarks.hyper.distributions import (
    LogNormalPerturbation,
    LogUniform,
    log_scale,
    loguniform_mean,
)

NAMES = ("l2_a", "l2_b", "dropout")
LOW = np.array([1e-4, 1e-2, 1e-3])
HIGH = np.array([1e-1, 10.0, 0.9])
SEED = tf.constant([3, 4], tf.int32)


def _set(dist, log_a, log_b):
    dist.log_a.assign(np.asarray(log_a, np.float32))
    dist.log_b.assign(np.asarray(log_b, np.float32))


def _distinct(n_members=2):
    """A (K=2, D=3) log-uniform with distinct bounds per member and dimension."""
    dist = LogUniform(NAMES, LOW, HIGH, members=n_members)
    a = np.array([[2e-4, 0.05, 0.01], [1e-3, 0.5, 0.2]])
    b = np.array([[5e-3, 3.0, 0.02], [0.08, 0.6, 0.8]])
    _set(dist, np.log(a), np.log(b))
    return dist, a, b


def test_log_scale_endpoints_and_centre():
    lam = tf.constant(np.stack([LOW, HIGH, np.sqrt(LOW * HIGH)]), tf.float64)
    z = log_scale(lam, LOW, HIGH).numpy()
    np.testing.assert_allclose(z, [[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5]], atol=1e-12)


def test_loguniform_samples_shape_range_and_seed():
    dist, a, b = _distinct()
    lam = dist.sample(SEED, 500).numpy()
    assert lam.shape == (2, 500, 3) and lam.dtype == np.float32
    assert np.all(lam >= a[:, None, :] * (1 - 1e-6)) and np.all(lam <= b[:, None, :] * (1 + 1e-6))
    # every member/dim covers its own interval, not just the union
    assert np.all(lam.min(axis=1) < a + 0.1 * (b - a)) and np.all(
        lam.max(axis=1) > b - 0.1 * (b - a)
    )
    np.testing.assert_array_equal(lam, dist.sample(SEED, 500).numpy())
    assert not np.allclose(lam, dist.sample(tf.constant([3, 5]), 500).numpy())


def test_sample_in_tf_function_with_dynamic_n():
    dist, _, _ = _distinct()
    fn = tf.function(
        dist.sample,
        input_signature=[tf.TensorSpec([2], tf.int32), tf.TensorSpec([], tf.int32)],
    )
    assert fn(SEED, tf.constant(3)).shape == (2, 3, 3)
    out = fn(SEED, tf.constant(7))
    assert out.shape == (2, 7, 3)
    np.testing.assert_allclose(out.numpy(), dist.sample(SEED, 7).numpy(), rtol=1e-6)


def test_point_is_loguniform_mean():
    dist = LogUniform(("x",), [0.5], [5.0], members=1)
    _set(dist, [[0.0]], [[1.0]])  # a = 1, b = e
    np.testing.assert_allclose(dist.point().numpy(), [[math.e - 1]], rtol=1e-6)
    _set(dist, [[0.3]], [[0.3]])  # b -> a: the limit is a, no NaN
    np.testing.assert_allclose(dist.point().numpy(), [[math.exp(0.3)]], rtol=1e-6)

    dist, a, b = _distinct()
    np.testing.assert_allclose(dist.point().numpy(), (b - a) / (np.log(b) - np.log(a)), rtol=1e-5)
    lam = dist.sample(SEED, 200_000).numpy().astype(np.float64)
    se = lam.std(axis=1) / math.sqrt(lam.shape[1])
    assert np.all(np.abs(lam.mean(axis=1) - dist.point().numpy()) < 4 * se)
    # the mean, not the median sqrt(ab)
    assert np.all(np.abs(np.sqrt(a * b) - dist.point().numpy()) > 10 * se)


def test_loguniform_entropy_matches_monte_carlo():
    dist, a, b = _distinct()
    per_dim = 0.5 * (np.log(a) + np.log(b)) + np.log(np.log(b) - np.log(a))
    np.testing.assert_allclose(dist.entropy().numpy(), per_dim.mean(), rtol=1e-5)
    lam = dist.sample(SEED, 200_000).numpy().astype(np.float64)
    neg_log_q = np.log(lam) + np.log(np.log(b) - np.log(a))[:, None, :]
    se = neg_log_q.std(axis=1) / math.sqrt(lam.shape[1])
    assert np.all(np.abs(neg_log_q.mean(axis=1) - per_dim) < 4 * se + 1e-6)
    assert abs(neg_log_q.mean() - dist.entropy().numpy()) < 4 * se.max()


def test_lognormal_entropy_matches_monte_carlo():
    dist = LogNormalPerturbation(NAMES, [1e-8] * 3, [1e8] * 3, members=2)
    sigma = np.array([[0.2, 0.5, 1.0], [0.1, 0.7, 2.0]])
    dist.log_sigma.assign(np.log(sigma).astype(np.float32))
    log_lam = np.log(dist.sample(SEED, 200_000).numpy().astype(np.float64))
    delta = log_lam - dist.mu.numpy()[:, None, :]
    s = sigma[:, None, :]
    neg_log_p = 0.5 * np.log(2 * np.pi * s**2) + delta**2 / (2 * s**2)
    per_dim = 0.5 * np.log(2 * np.pi * np.e * sigma**2)
    se = neg_log_p.std(axis=1) / math.sqrt(delta.shape[1])
    assert np.all(np.abs(neg_log_p.mean(axis=1) - per_dim) < 4 * se + 1e-4)
    np.testing.assert_allclose(dist.entropy().numpy(), per_dim.mean(), rtol=1e-5)


def test_loguniform_gradients_flow():
    dist, _, _ = _distinct()
    with tf.GradientTape(persistent=True) as tape:
        mean = tf.reduce_mean(dist.sample(SEED, 64))
        entropy = dist.entropy()
    for grad in tape.gradient(mean, [dist.log_a, dist.log_b]) + tape.gradient(
        entropy, [dist.log_a, dist.log_b]
    ):
        assert grad is not None and np.all(np.isfinite(grad)) and np.all(grad.numpy() != 0)


def test_lognormal_gradients_point_and_clip():
    dist = LogNormalPerturbation(NAMES, LOW, HIGH, members=1)
    np.testing.assert_allclose(dist.point().numpy(), [np.sqrt(LOW * HIGH)], rtol=1e-5)
    np.testing.assert_allclose(np.exp(dist.log_sigma.numpy()), 0.5, rtol=1e-6)
    with tf.GradientTape() as tape:
        mean = tf.reduce_mean(tf.math.log(dist.sample(SEED, 64)))
    grads = tape.gradient(mean, dist.variables)
    assert all(g is not None and np.all(g.numpy() != 0) for g in grads)
    dist.log_sigma.assign(np.full((1, 3), 5.0, np.float32))  # unprojected, huge perturbation
    lam = dist.sample(SEED, 1000).numpy()
    assert np.all(lam >= LOW.astype(np.float32) * (1 - 1e-6))
    assert np.all(lam <= HIGH.astype(np.float32) * (1 + 1e-6))


def test_loguniform_project_clips_to_documented_values():
    dist = LogUniform(NAMES, LOW, HIGH, members=2)
    log_low, log_high = np.log(LOW).astype(np.float32), np.log(HIGH).astype(np.float32)
    eps = (1e-6 * 0.5 * (np.log(HIGH) - np.log(LOW))).astype(np.float32)
    log_a = np.stack([log_low - 1, log_high + 1])  # below range / above range
    log_b = np.stack([log_high + 1, log_low - 2])  # above range / below log_a
    log_a[0, 2], log_b[0, 2] = log_low[2] + 1, log_low[2] + 0.5  # b < a inside the range
    _set(dist, log_a, log_b)
    dist.project()
    want_a = np.stack([log_low, log_high - 2 * eps])
    want_a[0, 2] = log_low[2] + 1
    want_b = np.stack([log_high, want_a[1] + eps])
    want_b[0, 2] = want_a[0, 2] + eps[2]
    np.testing.assert_allclose(dist.log_a.numpy(), want_a, rtol=0, atol=1e-6)
    np.testing.assert_allclose(dist.log_b.numpy(), want_b, rtol=0, atol=1e-6)
    assert np.all(dist.log_b.numpy() > dist.log_a.numpy())


def test_lognormal_project_clips_to_documented_values():
    dist = LogNormalPerturbation(NAMES, LOW, HIGH, members=2)
    dist.mu.assign(np.stack([np.log(LOW) - 1, np.log(HIGH) + 1]).astype(np.float32))
    dist.log_sigma.assign(np.array([[-20.0] * 3, [20.0] * 3], np.float32))
    dist.project()
    np.testing.assert_allclose(dist.mu.numpy(), np.stack([np.log(LOW), np.log(HIGH)]), rtol=1e-6)
    want = np.stack([np.full(3, np.log(1e-3)), np.log(0.5 * (np.log(HIGH) - np.log(LOW)))])
    np.testing.assert_allclose(dist.log_sigma.numpy(), want, rtol=1e-6)


def test_init_full_is_whole_range():
    a, b = LogUniform(NAMES, LOW, HIGH, members=3).bounds()
    np.testing.assert_allclose(a.numpy(), np.tile(LOW, (3, 1)), rtol=1e-6)
    np.testing.assert_allclose(b.numpy(), np.tile(HIGH, (3, 1)), rtol=1e-6)


def _narrow(low, high, seed=0):
    dist = LogUniform(("x", "y"), [low] * 2, [high] * 2, members=4, init="narrow", seed=seed)
    a, b = (t.numpy().astype(np.float64) for t in dist.bounds())
    return dist, a, b


def test_init_narrow_reproduces_released_code_and_is_scale_free():
    mu = float(loguniform_mean(0.1, 100.0))
    assert mu == pytest.approx(14.462, abs=1e-3)
    dist, a, b = _narrow(0.1, 100.0)
    np.testing.assert_allclose(b - a, 0.4, atol=1e-5)
    centre = 0.5 * (a + b)
    assert np.all(np.abs(centre - mu) < 0.1) and np.std(centre) > 1e-4  # lam0 ~ N(mu, 0.02)
    assert len(np.unique(centre)) == centre.size  # an independent draw per member and dim
    np.testing.assert_array_equal(a, _narrow(0.1, 100.0)[1])  # deterministic in the seed
    assert not np.allclose(a, _narrow(0.1, 100.0, seed=1)[1])
    dist.initialize(0)  # re-initialisation gives the same start
    np.testing.assert_allclose(dist.bounds()[0].numpy(), a, rtol=1e-7)

    # [2.1e-6, 2.1e-3] has the same high/low ratio: same bounds relative to its mean
    _, a_small, b_small = _narrow(2.1e-6, 2.1e-3)
    mu_small = float(loguniform_mean(2.1e-6, 2.1e-3))
    np.testing.assert_allclose(a_small / mu_small, a / mu, rtol=1e-5)
    np.testing.assert_allclose(b_small / mu_small, b / mu, rtol=1e-5)
    # a range [1e-3, 0.9] also gets valid, narrow bounds inside it
    _, a_drop, b_drop = _narrow(1e-3, 0.9)
    mu_drop = float(loguniform_mean(1e-3, 0.9))
    assert np.all(a_drop >= 1e-3) and np.all(b_drop <= 0.9)
    np.testing.assert_allclose((b_drop - a_drop) / mu_drop, 0.4 / mu, rtol=1e-4)


def test_validation_errors():
    with pytest.raises(ValueError, match="unknown init 'wide'.*full, narrow"):
        LogUniform(NAMES, LOW, HIGH, members=1, init="wide")
    with pytest.raises(ValueError, match="0 < low < high"):
        LogUniform(("x",), [1.0], [1.0], members=1)
    with pytest.raises(ValueError, match="0 < low < high"):
        LogUniform(("x",), [0.0], [1.0], members=1)
    with pytest.raises(ValueError, match="0 < low < high"):
        LogNormalPerturbation(("x",), [2.0], [1.0])
    with pytest.raises(ValueError, match="one \\(low, high\\) per name"):
        LogUniform(("x", "y"), [0.1], [1.0], members=1)
