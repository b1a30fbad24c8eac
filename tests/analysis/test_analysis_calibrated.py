"""Temperature scaling on validation and the calibrated metrics built from stored predictions."""

import numpy as np
import pandas as pd
import pytest

from benchmarks.analysis.calibrated import (
    CALIBRATED_COLUMNS,
    calibrated_metrics,
    fit_temperature,
    scale,
    with_calibrated,
)
from benchmarks.metrics import brier, ece, nll


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sample(probs, rng):
    cum = probs.cumsum(axis=1)
    return (rng.random(len(probs))[:, None] > cum).sum(axis=1).clip(0, probs.shape[1] - 1)


@pytest.mark.parametrize("true_t", [0.5, 2.5])
def test_fit_recovers_a_known_temperature(true_t):
    """Labels drawn from softmax(z / T0); the prediction softmax(z) is recalibrated by T0."""
    rng = np.random.default_rng(0)
    z = rng.normal(scale=3.0, size=(40_000, 10))
    labels = _sample(_softmax(z / true_t), rng)
    assert fit_temperature(_softmax(z), labels) == pytest.approx(true_t, rel=0.04)


def test_a_calibrated_prediction_keeps_its_metrics():
    rng = np.random.default_rng(1)
    probs = _softmax(rng.normal(scale=2.0, size=(40_000, 5)))
    labels = _sample(probs, rng)
    t = fit_temperature(probs, labels)
    assert t == pytest.approx(1.0, abs=0.03)
    scaled = scale(probs, t)
    assert nll(scaled, labels) == pytest.approx(nll(probs, labels), abs=1e-3)
    assert brier(scaled, labels) == pytest.approx(brier(probs, labels), abs=1e-3)
    assert ece(scaled, labels) == pytest.approx(ece(probs, labels), abs=5e-3)
    np.testing.assert_allclose(scale(probs, 1.0), probs, rtol=1e-12, atol=1e-15)


def test_scaling_by_hand():
    p = np.array([[0.8, 0.2]])
    expected = np.array([[0.8**0.5, 0.2**0.5]]) / (0.8**0.5 + 0.2**0.5)  # T = 2
    np.testing.assert_allclose(scale(p, 2.0), expected, rtol=1e-12)


def test_rows_per_run_and_labelled_set():
    rng = np.random.default_rng(2)

    def members(n):
        return _softmax(rng.normal(size=(2 * n, 3))).reshape(2, n, 3)

    preds = {
        "val_probs": members(300), "val_labels": rng.integers(0, 3, 300),
        "test_probs": members(200), "test_labels": rng.integers(0, 3, 200),
        "member_weights": np.array([2.0, 1.0]),
        "shift_probs_gaussian_noise_3": members(50),
        "shift_labels_gaussian_noise_3": rng.integers(0, 3, 50),
        "shift_probs_ood_uniform": members(50), "shift_labels_ood_uniform": np.full(50, -1),
    }  # fmt: skip
    df = pd.DataFrame({"run_id": ["r", "r"], "split": ["val", "test"]})
    out = calibrated_metrics(df, lambda run_id: preds)
    assert list(out.columns) == list(CALIBRATED_COLUMNS)
    assert list(zip(out["split"], out["corruption"], out["severity"], strict=True)) == [
        ("val", "none", 0), ("test", "none", 0), ("corruption", "gaussian_noise", 3)]  # fmt: skip
    assert out["temperature"].nunique() == 1
    mean = (2 * preds["test_probs"][0] + preds["test_probs"][1]) / 3  # weighted ensemble
    t = out["temperature"].iloc[0]
    val_mean = (2 * preds["val_probs"][0] + preds["val_probs"][1]) / 3
    assert t == pytest.approx(fit_temperature(val_mean, preds["val_labels"]))
    assert out["nll_calibrated"].iloc[1] == pytest.approx(nll(scale(mean, t), preds["test_labels"]))
    table = pd.DataFrame({"run_id": ["r", "r", "r"], "split": ["test", "ood", "val"],
                          "corruption": "none", "severity": 0,
                          "ood_set": ["none", "uniform", "none"]})  # fmt: skip
    joined = with_calibrated(table, out)
    assert joined["nll_calibrated"].notna().tolist() == [True, False, True]
    assert len(joined) == 3


def test_a_run_without_validation_examples_gets_no_calibrated_rows():
    """An imported run stores val_probs (M, 0, C): no temperature can be fitted, so no rows; its
    joined metrics stay NaN while another run's are filled."""
    probs = _softmax(np.random.default_rng(3).normal(size=(20, 3))).reshape(1, 20, 3)
    with_val = {"val_probs": probs, "val_labels": np.arange(20) % 3, "test_probs": probs,
                "test_labels": np.arange(20) % 3, "member_weights": np.ones(1)}  # fmt: skip
    without = {**with_val, "val_probs": np.zeros((1, 0, 3)), "val_labels": np.zeros(0, int)}
    stores = {"a": with_val, "b": without}
    df = pd.DataFrame({"run_id": ["a", "b"], "split": "test", "corruption": "none",
                       "severity": 0, "ood_set": "none"})  # fmt: skip
    out = calibrated_metrics(df, stores.__getitem__)
    assert set(out["run_id"]) == {"a"}
    assert with_calibrated(df, out)["temperature"].notna().tolist() == [True, False]
