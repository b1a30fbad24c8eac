"""Ensemble-mean prediction, NLL, accuracy and the per-member (Gibbs) versions."""

import numpy as np

from benchmarks.metrics._checks import check_members, check_probs, normalised_weights

#: Probabilities are floored at this value before a log, so log(0) gives -log(1e-12) ~ 27.6.
PROB_FLOOR = 1e-12


def ensemble_probs(member_probs: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted mean of member probabilities, sum_m w_m p_m / sum_m w_m -> (N, C)."""
    p = check_members(member_probs)
    w = normalised_weights(weights, p.shape[0])
    return np.tensordot(w, p, axes=1)


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood, -mean_i log max(p[i, y_i], 1e-12)."""
    p = check_probs(probs, labels)
    py = p[np.arange(p.shape[0]), np.asarray(labels)]
    return float(-np.mean(np.log(np.maximum(py, PROB_FLOOR))))


def ensemble_nll(
    member_probs: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """-mean_i log sum_m w_m p_m[i, y_i] (w normalised), as a logsumexp of log w_m + log p_m.

    Member probabilities are floored at 1e-12 before the log; this equals
    `nll(ensemble_probs(member_probs, weights), labels)` up to float error.
    """
    p = check_members(member_probs, labels)
    w = normalised_weights(weights, p.shape[0])
    py = p[:, np.arange(p.shape[1]), np.asarray(labels)]  # (M, N)
    with np.errstate(divide="ignore"):  # zero weights give log w = -inf, which is harmless
        a = np.log(w)[:, None] + np.log(np.maximum(py, PROB_FLOOR))
    amax = a.max(axis=0)  # finite: at least one weight is positive
    log_mix = amax + np.log(np.exp(a - amax).sum(axis=0))
    return float(-np.mean(log_mix))


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of examples with argmax_c p[i, c] == y_i (ties go to the first class)."""
    p = check_probs(probs, labels)
    return float(np.mean(np.argmax(p, axis=1) == np.asarray(labels)))


def member_nll(member_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-member NLL, out[m] = nll(member_probs[m], labels) -> (M,)."""
    p = check_members(member_probs, labels)
    return np.array([nll(pm, labels) for pm in p])


def member_accuracy(member_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-member accuracy, out[m] = accuracy(member_probs[m], labels) -> (M,)."""
    p = check_members(member_probs, labels)
    return np.array([accuracy(pm, labels) for pm in p])


def gibbs_nll(
    member_probs: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """Gibbs cross-entropy, sum_m w_m nll(p_m) with w normalised (>= ensemble_nll, by Jensen)."""
    p = check_members(member_probs, labels)
    w = normalised_weights(weights, p.shape[0])
    return float(np.dot(w, member_nll(p, labels)))
