"""Calibration metrics on (N, C) probabilities: ECE (equal-width bins) and Brier score."""

import numpy as np

from benchmarks.metrics._checks import check_probs

ECE_BINS = 15


def ece_bin_index(confidences: np.ndarray, num_bins: int = ECE_BINS) -> np.ndarray:
    """Bin of each confidence in [0, 1] among `num_bins` equal-width bins -> int (N,).

    Bins are right-closed: bin 0 is [0, 1/B], bin b >= 1 is (b/B, (b+1)/B]. So 0.0 lands in the
    first bin and 1.0 in the last (there is no extra bin); the edges are `linspace(0, 1, B + 1)`.
    """
    if not isinstance(num_bins, int | np.integer) or num_bins < 1:
        raise ValueError(f"num_bins must be a positive integer, got {num_bins!r}")
    conf = np.asarray(confidences, dtype=np.float64)
    if np.any(conf < 0) or np.any(conf > 1) or not np.all(np.isfinite(conf)):
        raise ValueError("confidences must lie in [0, 1]")
    inner_edges = np.linspace(0.0, 1.0, num_bins + 1)[1:-1]
    return np.searchsorted(inner_edges, conf, side="left")


def ece(probs: np.ndarray, labels: np.ndarray, num_bins: int = ECE_BINS) -> float:
    """Top-label ECE: sum_b (n_b / N) |acc_b - conf_b| over non-empty equal-width bins.

    conf_i = max_c p[i, c], correct_i = [argmax_c p[i, c] == y_i]; acc_b and conf_b are their means
    in bin b; binning as in `ece_bin_index` (results key `ece_15bin` for the default B = 15).
    """
    p = check_probs(probs, labels)
    conf = p.max(axis=1)
    correct = (np.argmax(p, axis=1) == np.asarray(labels)).astype(np.float64)
    idx = ece_bin_index(conf, num_bins)
    acc_sum = np.bincount(idx, weights=correct, minlength=num_bins)
    conf_sum = np.bincount(idx, weights=conf, minlength=num_bins)
    # (n_b / N) |acc_b - conf_b| = |acc_sum_b - conf_sum_b| / N, and an empty bin adds 0.
    return float(np.sum(np.abs(acc_sum - conf_sum)) / p.shape[0])


def brier(probs: np.ndarray, labels: np.ndarray) -> float:
    """Brier score, mean_i sum_c (p[i, c] - [c == y_i])^2; range [0, 2], 0 is perfect."""
    p = check_probs(probs, labels)
    onehot = np.zeros_like(p)
    onehot[np.arange(p.shape[0]), np.asarray(labels)] = 1.0
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))
