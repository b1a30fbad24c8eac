"""Deep ensemble equivalent: placing a calibrated NLL on the deep-ensemble size curve."""

import math

import numpy as np
import pandas as pd
import pytest

from benchmarks.analysis.calibrated import calibrated_metrics, with_calibrated
from benchmarks.analysis.dee import dee_table, deep_ensemble_curve, equivalent_members

CURVE = np.array([0.30, 0.25, 0.22, 0.21])


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_a_deep_ensemble_of_size_k_is_worth_k_members(k):
    assert equivalent_members(CURVE, CURVE[k - 1]) == k


def test_interpolation_and_the_ends_of_the_curve():
    assert equivalent_members(CURVE, 0.275) == pytest.approx(1.5)
    assert equivalent_members(CURVE, 0.214) == pytest.approx(3.6)
    assert equivalent_members(CURVE, 0.31) == 0.0  # worse than one member
    assert math.isinf(equivalent_members(CURVE, 0.20))  # better than the whole curve
    # a curve that rises again: the first crossing counts
    assert equivalent_members(np.array([0.30, 0.20, 0.25]), 0.25) == pytest.approx(1.5)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_the_deep_ensemble_and_its_first_member_on_their_own_curve():
    rng = np.random.default_rng(0)
    n, c = 400, 4
    y_val, y_test = rng.integers(0, c, n), rng.integers(0, c, n)

    def members(y):  # three noisy members, each right more often than chance
        z = rng.normal(scale=1.5, size=(3, n, c))
        z[:, np.arange(n), y] += 1.0
        return _softmax(z)

    de = {"val_probs": members(y_val), "val_labels": y_val, "test_probs": members(y_test),
          "test_labels": y_test, "member_weights": np.ones(3),
          "build_order": np.arange(3)}  # fmt: skip
    first = {k: (v[:1] if k.endswith("_probs") else v) for k, v in de.items()}
    first["member_weights"], first["build_order"] = np.ones(1), np.arange(1)
    preds = {"de": de, "one": first}
    base = {"dataset": "d", "model": "m", "tier": "t", "seed": 0, "corruption": "none",
            "severity": 0, "ood_set": "none"}  # fmt: skip
    df = pd.DataFrame([
        {**base, "run_id": "de", "method": "deep_ensemble", "split": "test"},
        {**base, "run_id": "one", "method": "single", "split": "test"},
    ])  # fmt: skip
    df = with_calibrated(df, calibrated_metrics(df, preds.__getitem__))
    curve = deep_ensemble_curve(df, preds.__getitem__)
    assert list(curve["size"]) == [1, 2, 3]
    table = dee_table(df, curve).set_index("method")
    values = curve["nll_calibrated"].to_numpy()
    assert values[0] > values[1] > values[2]  # more members help on this data
    assert table.loc["deep_ensemble", "dee"] == pytest.approx(3.0)
    assert table.loc["single", "dee"] == pytest.approx(1.0)


def test_stored_curve_members_extend_the_curve_beyond_k():
    """A deep ensemble of K = 2 that stored 4 seeds for the curve: the curve reaches 4 members,
    its first two points are those of the K members alone, and the 2-member deep ensemble sits
    at DEE 2 on it."""
    rng = np.random.default_rng(1)
    n, c = 400, 4
    y_val, y_test = rng.integers(0, c, n), rng.integers(0, c, n)

    def members(y, m):
        z = rng.normal(scale=1.5, size=(m, n, c))
        z[:, np.arange(n), y] += 1.0
        return _softmax(z)

    cv, ct = members(y_val, 4), members(y_test, 4)
    de = {"val_probs": cv[:2], "val_labels": y_val, "test_probs": ct[:2], "test_labels": y_test,
          "member_weights": np.ones(2), "build_order": np.arange(2),
          "curve_val_probs": cv, "curve_test_probs": ct}  # fmt: skip
    short = {k: v for k, v in de.items() if not k.startswith("curve_")}
    base = {"dataset": "d", "model": "m", "tier": "t", "seed": 0, "corruption": "none",
            "severity": 0, "ood_set": "none", "run_id": "de", "method": "deep_ensemble",
            "split": "test"}  # fmt: skip
    df = pd.DataFrame([base])
    df = with_calibrated(df, calibrated_metrics(df, {"de": de}.__getitem__))
    curve = deep_ensemble_curve(df, {"de": de}.__getitem__)
    plain = deep_ensemble_curve(df, {"de": short}.__getitem__)
    assert list(curve["size"]) == [1, 2, 3, 4] and list(plain["size"]) == [1, 2]
    np.testing.assert_allclose(curve["nll_calibrated"][:2], plain["nll_calibrated"], rtol=1e-12)
    assert dee_table(df, curve).set_index("method").loc["deep_ensemble", "dee"] == pytest.approx(2)
