"""Ensemble-mean NLL/accuracy, member and Gibbs metrics, weights and input validation."""

import math

import numpy as np
import pytest

from benchmarks.metrics import (
    accuracy,
    ensemble_nll,
    ensemble_probs,
    gibbs_nll,
    member_accuracy,
    member_nll,
    nll,
)

# Two members, three examples, two classes.
A = [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]
B = [[0.5, 0.5], [0.2, 0.8], [0.4, 0.6]]
MEMBERS = np.array([A, B])
LABELS = np.array([0, 1, 0])


def random_members(rng, m=4, n=50, c=5):
    return rng.dirichlet(np.ones(c) * 0.5, size=(m, n))


def test_ensemble_probs_and_nll_by_hand():
    # mean of A and B: [[0.7, 0.3], [0.4, 0.6], [0.3, 0.7]]; p[y] = 0.7, 0.6, 0.3
    expected = -(math.log(0.7) + math.log(0.6) + math.log(0.3)) / 3
    np.testing.assert_allclose(
        ensemble_probs(MEMBERS), [[0.7, 0.3], [0.4, 0.6], [0.3, 0.7]], atol=1e-15
    )
    assert ensemble_nll(MEMBERS, LABELS) == pytest.approx(expected, rel=1e-12)
    assert nll(ensemble_probs(MEMBERS), LABELS) == pytest.approx(expected, rel=1e-12)


def test_accuracy_by_hand():
    # ensemble argmax [0, 1, 1] vs labels [0, 1, 0] -> 2 of 3 correct
    assert accuracy(ensemble_probs(MEMBERS), LABELS) == pytest.approx(2 / 3)


def test_member_metrics_by_hand_with_tie():
    # A argmax [0, 0, 1] -> correct [T, F, F] = 1/3; B has a tie [0.5, 0.5] -> class 0 (first),
    # argmax [0, 1, 1] -> correct [T, T, F] = 2/3
    np.testing.assert_allclose(member_accuracy(MEMBERS, LABELS), [1 / 3, 2 / 3])
    nll_a = -(math.log(0.9) + math.log(0.4) + math.log(0.2)) / 3
    nll_b = -(math.log(0.5) + math.log(0.8) + math.log(0.4)) / 3
    np.testing.assert_allclose(member_nll(MEMBERS, LABELS), [nll_a, nll_b], rtol=1e-12)
    assert gibbs_nll(MEMBERS, LABELS) == pytest.approx((nll_a + nll_b) / 2, rel=1e-12)
    # weights [3, 1] -> (3 nll_a + nll_b) / 4
    assert gibbs_nll(MEMBERS, LABELS, [3, 1]) == pytest.approx((3 * nll_a + nll_b) / 4)


def test_weights_equal_explicit_duplicates():
    explicit = np.array([A, A, B])
    # weighted mean with [2, 1]: (2 A + B) / 3, e.g. first row (1.8 + 0.5) / 3 = 0.7667
    np.testing.assert_allclose(ensemble_probs(MEMBERS, [2, 1])[0], [2.3 / 3, 0.7 / 3])
    np.testing.assert_allclose(ensemble_probs(MEMBERS, [2, 1]), ensemble_probs(explicit))
    assert ensemble_nll(MEMBERS, LABELS, [2, 1]) == pytest.approx(ensemble_nll(explicit, LABELS))
    assert gibbs_nll(MEMBERS, LABELS, [2, 1]) == pytest.approx(gibbs_nll(explicit, LABELS))
    # weights are normalised: [4, 2] is the same ensemble as [2, 1]
    assert ensemble_nll(MEMBERS, LABELS, [4, 2]) == pytest.approx(
        ensemble_nll(MEMBERS, LABELS, [2, 1])
    )


def test_zero_weight_drops_member():
    np.testing.assert_allclose(ensemble_probs(MEMBERS, [1, 0]), A)
    assert ensemble_nll(MEMBERS, LABELS, [1, 0]) == pytest.approx(nll(np.array(A), LABELS))


def test_ensemble_nll_equals_nll_of_mean_on_random_data():
    rng = np.random.default_rng(0)
    members = random_members(rng)
    labels = rng.integers(0, 5, size=50)
    for weights in (None, [1.0, 2.0, 0.0, 0.5]):
        direct = nll(ensemble_probs(members, weights), labels)
        assert ensemble_nll(members, labels, weights) == pytest.approx(direct, rel=1e-10)


def test_log_of_zero_is_floored():
    # p[y] = 0 -> -log(1e-12) = 27.631...
    probs = np.array([[1.0, 0.0]])
    assert nll(probs, np.array([1])) == pytest.approx(-math.log(1e-12))
    assert ensemble_nll(probs[None], np.array([1])) == pytest.approx(-math.log(1e-12))


def test_gibbs_nll_bounds_ensemble_nll():
    # Jensen: -log mean_m p_m <= mean_m -log p_m
    rng = np.random.default_rng(1)
    members = random_members(rng)
    labels = rng.integers(0, 5, size=50)
    assert ensemble_nll(members, labels) < gibbs_nll(members, labels)


@pytest.mark.parametrize(
    "call",
    [
        lambda: ensemble_nll(MEMBERS, np.array([0, 1])),  # labels too short
        lambda: ensemble_nll(MEMBERS[0], LABELS),  # (N, C) where (M, N, C) is expected
        lambda: nll(MEMBERS, LABELS),  # (M, N, C) where (N, C) is expected
        lambda: ensemble_probs(MEMBERS, [1, 1, 1]),  # weights of the wrong length
        lambda: ensemble_probs(MEMBERS, [1, -1]),  # negative weight
        lambda: ensemble_probs(MEMBERS, [0, 0]),  # all-zero weights
        lambda: ensemble_probs(MEMBERS, [1, np.nan]),  # NaN weight
        lambda: nll(np.array(A), np.array([0, 1, 2])),  # label out of range
        lambda: nll(np.array(A), np.array([0.0, 1.0, 0.0])),  # float labels
        lambda: nll(np.array([[2.0, -1.0]]), np.array([0])),  # logits, not probabilities
        lambda: nll(np.array([[0.5, 0.4]]), np.array([0])),  # row does not sum to 1
        lambda: member_nll(np.zeros((0, 3, 2)), LABELS),  # no members
    ],
)
def test_bad_inputs_raise_one_line_value_error(call):
    with pytest.raises(ValueError) as info:
        call()
    assert "\n" not in str(info.value) and str(info.value)
