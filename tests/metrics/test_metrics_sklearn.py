"""The suite's metrics against scikit-learn's implementations of the same definitions, on random
predictions with ties, confident mistakes and every class present (beside the hand-computed
values of the other metric tests)."""

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)

from benchmarks.metrics import accuracy, brier, nll
from benchmarks.metrics.ood import aupr, auroc


def _case(seed: int, n: int = 500, c: int = 7):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(n, c))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.concatenate([np.arange(c), rng.integers(0, c, n - c)])  # every class present
    return p, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nll_accuracy_and_brier_match_scikit_learn(seed):
    p, y = _case(seed)
    classes = np.arange(p.shape[1])
    assert nll(p, y) == pytest.approx(log_loss(y, p, labels=classes), rel=1e-12)
    assert accuracy(p, y) == accuracy_score(y, p.argmax(axis=1))
    per_class = sum(brier_score_loss(y == k, p[:, k]) for k in classes)  # one-vs-rest, summed
    assert brier(p, y) == pytest.approx(per_class, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_ood_auroc_and_aupr_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    s_in = np.round(rng.normal(0.0, 1.0, 300), 1)  # rounded: many ties within and across sets
    s_out = np.round(rng.normal(0.7, 1.0, 200), 1)
    is_out = np.r_[np.zeros(300), np.ones(200)]
    scores = np.r_[s_in, s_out]
    assert auroc(s_in, s_out) == pytest.approx(roc_auc_score(is_out, scores), rel=1e-12)
    assert aupr(s_in, s_out) == pytest.approx(average_precision_score(is_out, scores), rel=1e-12)
