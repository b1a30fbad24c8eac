"""compute_all: keys, plain types, consistency with the single metrics."""

import numpy as np
import pytest

from benchmarks.metrics import (
    METRIC_KEYS,
    accuracy,
    average_kl,
    brier,
    compute_all,
    disagreement,
    ece,
    ensemble_nll,
    ensemble_probs,
    gibbs_nll,
)

KEYS = [
    "nll",
    "accuracy",
    "ece_15bin",
    "brier",
    "gibbs_nll",
    "member_nll_mean",
    "member_accuracy_mean",
    "disagreement",
    "average_kl",
    "num_members",
]


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    members = rng.dirichlet(np.ones(3), size=(4, 30))
    labels = rng.integers(0, 3, size=30)
    return members, labels


def test_keys_and_types(data):
    row = compute_all(*data)
    assert list(row) == KEYS and list(METRIC_KEYS) == KEYS
    for key, value in row.items():
        assert type(value) is (int if key == "num_members" else float), key
    assert row["num_members"] == 4


def test_values_match_single_metrics(data):
    members, labels = data
    weights = np.array([2.0, 0.0, 1.0, 1.0])
    row = compute_all(members, labels, weights)
    probs = ensemble_probs(members, weights)
    assert row["nll"] == pytest.approx(ensemble_nll(members, labels, weights))
    assert row["accuracy"] == pytest.approx(accuracy(probs, labels))
    assert row["ece_15bin"] == pytest.approx(ece(probs, labels, 15))
    assert row["brier"] == pytest.approx(brier(probs, labels))
    assert row["gibbs_nll"] == pytest.approx(gibbs_nll(members, labels, weights))
    assert row["disagreement"] == pytest.approx(disagreement(members, weights))
    assert row["average_kl"] == pytest.approx(average_kl(members, weights))
    assert row["num_members"] == 3  # the member with weight 0 is not in the ensemble


def test_member_means_over_distinct_members():
    # member NLLs -log 0.8 and -log 0.4, accuracies 1 and 0; weights [3, 1] do not weight them,
    # and the third member (weight 0, NLL -log 0.1) is not in the ensemble
    members = np.array([[[0.8, 0.2]], [[0.4, 0.6]], [[0.1, 0.9]]])
    labels = np.array([0])
    row = compute_all(members, labels, [3, 1, 0])
    assert row["member_nll_mean"] == pytest.approx(-(np.log(0.8) + np.log(0.4)) / 2)
    assert row["member_accuracy_mean"] == pytest.approx(0.5)
    assert row["gibbs_nll"] == pytest.approx(-(3 * np.log(0.8) + np.log(0.4)) / 4)


def test_weights_match_explicit_duplicates_on_ensemble_keys(data):
    members, labels = data
    explicit = members[[0, 0, 1, 2, 2, 2]]
    weighted = compute_all(members, labels, [2, 1, 3, 0])
    direct = compute_all(explicit, labels)
    for key in ("nll", "accuracy", "ece_15bin", "brier", "gibbs_nll", "disagreement", "average_kl"):
        assert weighted[key] == pytest.approx(direct[key], rel=1e-10), key


def test_compute_all_rejects_bad_input(data):
    members, labels = data
    with pytest.raises(ValueError):
        compute_all(members, labels[:-1])
    with pytest.raises(ValueError):
        compute_all(members, labels, [0, 0, 0, 0])
