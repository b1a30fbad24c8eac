import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from benchmarks.metrics.ood import (
    aupr,
    auroc,
    entropy,
    fpr_at_tpr,
    max_prob_score,
    mutual_info_score,
    ood_metrics,
)


def test_perfect_separation():
    s_in, s_out = np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.9])
    assert auroc(s_in, s_out) == 1.0
    assert aupr(s_in, s_out) == 1.0
    assert fpr_at_tpr(s_in, s_out) == 0.0


def test_reversed_separation():
    s_in, s_out = np.array([0.5, 0.9]), np.array([0.1, 0.2, 0.3])
    assert auroc(s_in, s_out) == 0.0
    assert fpr_at_tpr(s_in, s_out) == 1.0


def test_identical_scores():
    s_in, s_out = np.full(6, 0.4), np.full(2, 0.4)
    assert auroc(s_in, s_out) == 0.5
    assert aupr(s_in, s_out) == pytest.approx(2 / 8)
    assert fpr_at_tpr(s_in, s_out) == 1.0


def test_by_hand_small_case():
    # in: 0.1 0.4 0.35 0.8; out: 0.35 0.9. Pairs (out > in) + ties/2:
    # 0.35 beats 0.1 and ties 0.35 -> 1.5; 0.9 beats all four -> 4; AUROC = 5.5 / 8.
    s_in, s_out = np.array([0.1, 0.4, 0.35, 0.8]), np.array([0.35, 0.9])
    assert auroc(s_in, s_out) == pytest.approx(5.5 / 8)
    # thresholds 0.9 (tp 1, flagged 1), 0.8 (1, 2), 0.4 (1, 3), 0.35 (2, 5), 0.1 (2, 6):
    # AP = 0.5 * 1 + 0.5 * 2/5 = 0.7.
    assert aupr(s_in, s_out) == pytest.approx(0.7)
    # TPR >= 0.95 needs both OOD points: t = 0.35, in-scores >= 0.35: 0.4, 0.35, 0.8 -> 3/4.
    assert fpr_at_tpr(s_in, s_out) == pytest.approx(0.75)
    assert fpr_at_tpr(s_in, s_out, tpr=0.5) == 0.0  # t = 0.9


def test_matches_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    s_in = rng.integers(0, 20, 300) / 20  # many ties
    s_out = rng.integers(5, 25, 120) / 20
    y = np.r_[np.zeros(300), np.ones(120)]
    s = np.r_[s_in, s_out]
    assert auroc(s_in, s_out) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert aupr(s_in, s_out) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_scores_by_hand():
    p1 = np.array([[[1.0, 0.0], [0.5, 0.5]]])
    p2 = np.array([[[0.0, 1.0], [0.5, 0.5]]])
    members = np.concatenate([p1, p2])  # (2, 2, 2)
    np.testing.assert_allclose(max_prob_score(members), [0.5, 0.5])
    np.testing.assert_allclose(entropy(np.array([[0.5, 0.5]])), [np.log(2)])
    # confident members that disagree: MI = log 2 - 0; agreeing uniform members: MI = 0
    np.testing.assert_allclose(mutual_info_score(members), [np.log(2), 0.0], atol=1e-12)
    np.testing.assert_allclose(mutual_info_score(p1), [0.0, 0.0], atol=1e-12)
    # weights 3:1 -> mean (0.75, 0.25) on the first example
    np.testing.assert_allclose(max_prob_score(members, np.array([3.0, 1.0]))[0], 0.25)


def test_ood_metrics_keys_and_mutual_info_only_for_ensembles():
    rng = np.random.default_rng(1)
    confident = np.eye(3)[rng.integers(0, 3, 50)] * 0.97 + 0.01
    uniform = np.full((40, 3), 1 / 3)
    single = ood_metrics(confident[None], uniform[None])
    assert sorted(single) == sorted(
        f"{m}_{s}" for m in ("auroc", "aupr", "fpr95") for s in ("max_prob", "entropy")
    )
    assert single["auroc_max_prob"] == 1.0 and single["fpr95_entropy"] == 0.0
    pair = ood_metrics(np.stack([confident] * 2), np.stack([uniform] * 2))
    assert "auroc_mutual_info" in pair
    assert pair["auroc_mutual_info"] == 0.5  # identical members: MI 0 everywhere
    one_used = ood_metrics(np.stack([confident] * 2), np.stack([uniform] * 2), np.array([1.0, 0.0]))
    assert "auroc_mutual_info" not in one_used


def test_bad_scores_raise():
    with pytest.raises(ValueError):
        auroc(np.array([]), np.array([1.0]))
    with pytest.raises(ValueError):
        aupr(np.array([np.nan]), np.array([1.0]))
