"""Pairwise diversity of ensemble members, averaged over the pairs of the member multiset.

Weights are copy counts (greedy selection picks a member more than once): members [a, b] with
weights [2, 1] are the multiset {a, a, b}, and every diversity equals that of the explicit list
[a, a, b]. The average runs over the K(K-1)/2 unordered pairs of the K = sum_m w_m copies, so a
pair of copies of one member counts with diversity 0 (this is what the paper's code does: its
diversity metric sees the duplicate copies). Because of this, diversity weights are NOT
normalised, [4, 2] differs from [2, 1], and they must be whole numbers. With fewer than two copies
(K = 1, e.g. M == 1) there is no pair and the diversity is 0.0.
"""

import numpy as np

from benchmarks.metrics._checks import check_members, multiplicities
from benchmarks.metrics.ensemble import PROB_FLOOR


def pairwise_disagreement(member_probs: np.ndarray) -> np.ndarray:
    """D[i, j] = mean_n [argmax_c p_i[n, c] != argmax_c p_j[n, c]] -> (M, M), zero diagonal."""
    p = check_members(member_probs)
    m, n, c = p.shape
    onehot = np.zeros_like(p)
    np.put_along_axis(onehot, np.argmax(p, axis=2)[..., None], 1.0, axis=2)
    agree = np.einsum("inc,jnc->ij", onehot, onehot)  # whole counts, exact in float64
    return 1.0 - agree / n


def pairwise_kl(member_probs: np.ndarray) -> np.ndarray:
    """K[i, j] = mean_n sum_c p_i log(p_i / p_j) -> (M, M), zero diagonal; not symmetric.

    Probabilities are floored at 1e-12 inside the log; terms with p_i = 0 contribute 0.
    """
    p = check_members(member_probs)
    logp = np.log(np.maximum(p, PROB_FLOOR))
    n = p.shape[1]
    neg_entropy = np.einsum("inc,inc->i", p, logp) / n  # mean_n sum_c p_i log p_i
    cross = np.einsum("inc,jnc->ij", p, logp) / n  # mean_n sum_c p_i log p_j
    kl = neg_entropy[:, None] - cross
    np.fill_diagonal(kl, 0.0)
    return np.maximum(kl, 0.0)  # KL >= 0; clears float round-off for near-identical members


def multiset_pair_mean(pairwise: np.ndarray, counts: np.ndarray) -> float:
    """sum_{i != j} w_i w_j D[i, j] / (K (K - 1)) with K = sum w; 0.0 when K < 2.

    The mean of D over ordered pairs of distinct copies of the multiset; for a symmetric D it is
    sum_{i<j} w_i w_j D[i, j] / (K (K - 1) / 2), the mean over its unordered pairs. D[i, i] = 0.
    """
    w = np.asarray(counts, dtype=np.float64)
    k = w.sum()
    if k < 2:
        return 0.0
    d = np.array(pairwise, dtype=np.float64)
    np.fill_diagonal(d, 0.0)
    return float(w @ d @ w / (k * (k - 1)))


def disagreement(member_probs: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean over unordered pairs of the multiset of the fraction of examples whose argmax differs.

    Weights are whole-number multiplicities (see the module docstring); 0.0 with fewer than two
    copies.
    """
    p = check_members(member_probs)
    return multiset_pair_mean(pairwise_disagreement(p), multiplicities(weights, p.shape[0]))


def average_kl(member_probs: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean over ordered pairs (i, j), i != j, of the multiset of mean_n KL(p_i[n] || p_j[n]).

    Equivalently the mean over unordered pairs of the symmetrised (KL(i||j) + KL(j||i)) / 2, so it
    does not depend on member order. Weights are whole-number multiplicities (see the module
    docstring); 0.0 with fewer than two copies.
    """
    p = check_members(member_probs)
    return multiset_pair_mean(pairwise_kl(p), multiplicities(weights, p.shape[0]))
