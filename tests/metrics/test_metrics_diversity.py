"""Pairwise disagreement and KL, averaged over the pairs of the member multiset."""

import itertools
import math

import numpy as np
import pytest

from benchmarks.metrics import average_kl, disagreement, pairwise_disagreement, pairwise_kl

# Three members, two examples: argmaxes A [0, 0], B [1, 0], C [1, 1]
A = [[0.9, 0.1], [0.8, 0.2]]
B = [[0.4, 0.6], [0.7, 0.3]]
C = [[0.3, 0.7], [0.2, 0.8]]
MEMBERS = np.array([A, B, C])


def kl(p, q):
    """KL(p || q) of one pair of distributions, by the textbook formula."""
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True))


def brute_disagreement(x, y):
    return float(np.mean(np.argmax(x, axis=1) != np.argmax(y, axis=1)))


def brute_sym_kl(x, y):
    per_example = [(kl(p, q) + kl(q, p)) / 2 for p, q in zip(x, y, strict=True)]
    return float(np.mean(per_example))


def brute_pair_mean(members, fn):
    """Mean of fn over itertools.combinations of an explicit (possibly duplicated) list."""
    return float(np.mean([fn(x, y) for x, y in itertools.combinations(members, 2)]))


def test_disagreement_three_members_by_hand():
    # d(A,B) = 1/2 (ex 1 differs), d(A,C) = 2/2, d(B,C) = 1/2 (ex 2) -> (0.5 + 1 + 0.5) / 3
    assert disagreement(MEMBERS) == pytest.approx(2 / 3)
    expected = [[0, 0.5, 1], [0.5, 0, 0.5], [1, 0.5, 0]]
    np.testing.assert_allclose(pairwise_disagreement(MEMBERS), expected)


def test_average_kl_three_members_by_hand():
    # one example: a = [0.5, 0.5], b = [0.9, 0.1], c = [0.2, 0.8]; mean over the 6 ordered pairs
    a, b, c = [0.5, 0.5], [0.9, 0.1], [0.2, 0.8]
    kab = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    kba = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    kac = 0.5 * math.log(0.5 / 0.2) + 0.5 * math.log(0.5 / 0.8)
    kca = 0.2 * math.log(0.2 / 0.5) + 0.8 * math.log(0.8 / 0.5)
    kbc = 0.9 * math.log(0.9 / 0.2) + 0.1 * math.log(0.1 / 0.8)
    kcb = 0.2 * math.log(0.2 / 0.9) + 0.8 * math.log(0.8 / 0.1)
    expected = (kab + kba + kac + kca + kbc + kcb) / 6
    members = np.array([[a], [b], [c]])
    assert average_kl(members) == pytest.approx(expected, rel=1e-12)
    # symmetric definition: member order does not matter
    assert average_kl(members[[2, 0, 1]]) == pytest.approx(expected, rel=1e-12)


def test_pairwise_kl_averages_over_examples():
    # KL(A || B) per example, then the mean over the two examples
    k = pairwise_kl(MEMBERS)
    assert k[0, 1] == pytest.approx((kl(A[0], B[0]) + kl(A[1], B[1])) / 2, rel=1e-12)
    assert k[1, 0] == pytest.approx((kl(B[0], A[0]) + kl(B[1], A[1])) / 2, rel=1e-12)
    np.testing.assert_array_equal(np.diag(k), 0.0)


def test_weights_equal_explicit_multiset_by_hand():
    # {A, A, B}: pairs (A,A)=0, (A,B)=1/2, (A,B)=1/2 -> 1/3
    explicit = np.array([A, A, B])
    assert disagreement(MEMBERS[:2], [2, 1]) == pytest.approx(1 / 3)
    assert disagreement(explicit) == pytest.approx(1 / 3)
    assert brute_pair_mean(explicit, brute_disagreement) == pytest.approx(1 / 3)


def test_weights_equal_brute_force_over_multiset():
    rng = np.random.default_rng(0)
    members = rng.dirichlet(np.ones(4), size=(3, 20))
    weights = [2, 0, 3]
    explicit = np.array([members[0]] * 2 + [members[2]] * 3)  # {m0, m0, m2, m2, m2}
    for fn, brute in ((disagreement, brute_disagreement), (average_kl, brute_sym_kl)):
        expected = brute_pair_mean(explicit, brute)
        assert expected > 0
        assert fn(members, weights) == pytest.approx(expected, rel=1e-10)
        assert fn(explicit) == pytest.approx(expected, rel=1e-10)


def test_no_pair_means_zero():
    one = MEMBERS[:1]
    assert disagreement(one) == 0.0 and average_kl(one) == 0.0
    # one distinct member, copied three times: every pair is a duplicate
    assert disagreement(one, [3]) == 0.0 and average_kl(one, [3]) == 0.0
    # the only other member has weight 0
    assert disagreement(MEMBERS[:2], [1, 0]) == 0.0 and average_kl(MEMBERS[:2], [1, 0]) == 0.0


def test_tie_uses_first_class():
    # [0.5, 0.5] has argmax 0, so it agrees with [0.9, 0.1] and disagrees with [0.1, 0.9]
    members = np.array([[[0.5, 0.5]], [[0.9, 0.1]], [[0.1, 0.9]]])
    np.testing.assert_allclose(pairwise_disagreement(members)[0], [0, 0, 1])


@pytest.mark.parametrize("weights", [[0.5, 0.5, 0.0], [1.5, 1, 1], [1, -1, 1], [0, 0, 0], [1, 1]])
def test_bad_diversity_weights_raise(weights):
    for fn in (disagreement, average_kl):
        with pytest.raises(ValueError):
            fn(MEMBERS, weights)
