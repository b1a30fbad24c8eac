"""Input validation shared by the metrics; every failure is a one-line ValueError."""

import numpy as np

#: Tolerance on |sum_c p(c|x) - 1| for a row to count as a probability vector.
SUM_TOL = 1e-3


def _check_prob_values(p: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{what} contains NaN or inf")
    if np.any(p < 0) or np.any(p > 1):
        raise ValueError(f"{what} must lie in [0, 1] (got logits?)")
    sums = p.sum(axis=-1)
    if np.any(np.abs(sums - 1.0) > SUM_TOL):
        worst = float(np.max(np.abs(sums - 1.0)))
        raise ValueError(f"{what} rows must sum to 1 (worst deviation {worst:.3g})")


def check_labels(labels: np.ndarray, n: int, c: int) -> np.ndarray:
    """Return `labels` as int64 of shape (n,) with values in [0, c), or raise."""
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"labels must have shape ({n},), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= c):
        raise ValueError(f"labels must lie in [0, {c}), got range [{y.min()}, {y.max()}]")
    return y.astype(np.int64)


def check_probs(probs: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Return `probs` as float64 (N, C) with N >= 1 (and `labels` matching), or raise."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"probs must have shape (N, C) with N, C >= 1, got {p.shape}")
    _check_prob_values(p, "probs")
    if labels is not None:
        check_labels(labels, p.shape[0], p.shape[1])
    return p


def check_members(member_probs: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Return `member_probs` as float64 (M, N, C) with M, N, C >= 1, or raise."""
    p = np.asarray(member_probs, dtype=np.float64)
    if p.ndim != 3 or 0 in p.shape:
        raise ValueError(f"member_probs must have shape (M, N, C) with M, N, C >= 1, got {p.shape}")
    _check_prob_values(p, "member_probs")
    if labels is not None:
        check_labels(labels, p.shape[1], p.shape[2])
    return p


def check_weights(weights: np.ndarray | None, m: int) -> np.ndarray:
    """Return raw weights (M,) as float64 (ones if None); non-negative, finite, sum > 0."""
    if weights is None:
        return np.ones(m, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (m,):
        raise ValueError(f"weights must have shape ({m},), got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights contain NaN or inf")
    if np.any(w < 0):
        raise ValueError(f"weights must be non-negative, got min {w.min():g}")
    if w.sum() <= 0:
        raise ValueError("weights are all zero")
    return w


def normalised_weights(weights: np.ndarray | None, m: int) -> np.ndarray:
    """Validated weights divided by their sum (uniform 1/M if None)."""
    w = check_weights(weights, m)
    return w / w.sum()


def multiplicities(weights: np.ndarray | None, m: int) -> np.ndarray:
    """Validated weights as whole-number copy counts (ones if None), as float64."""
    w = check_weights(weights, m)
    counts = np.round(w)
    if np.any(np.abs(w - counts) > 1e-9):
        raise ValueError("diversity weights are multiplicities and must be whole numbers")
    return counts
