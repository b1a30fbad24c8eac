"""Greedy ensemble selection with replacement (Caruana et al., 2004), as in hyper-deep ensembles.

Only VALIDATION predictions may enter this module: callers must never pass test data, or the
selected ensemble (and every test metric computed on it) is biased.

The ensemble prediction of a multiset E of pool models is the mean of member probabilities, so a
model picked c times has weight c/|E|. Objectives (all minimised), on that mean prediction:

* ``nll``: -mean_i log pbar[i, y_i], member probabilities floored at 1e-12 as in
  `benchmarks.metrics.ensemble_nll`;
* ``acc``: -accuracy, accuracy = mean_i [argmax_c pbar[i, c] == y_i] (ties -> first class), i.e.
  accuracy is maximised (the released paper code minimises +accuracy, a sign error);
* ``nll-acc``: NLL - accuracy (accuracy as a fraction in [0, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.metrics import PROB_FLOOR
from benchmarks.metrics._checks import check_labels, check_members

#: The valid values of `objective`.
OBJECTIVES = ("nll", "acc", "nll-acc")

#: Budget (bytes) of the float64 buffer scoring candidates for accuracy (small stays in cache).
_ACC_BUFFER_BYTES = 8 * 2**20


@dataclass(frozen=True, eq=False)
class Selection:
    """Result of `greedy_select`; pool indices refer to axis 0 of `val_probs`.

    picks: pool indices in pick order, with repeats. counts: (T,) int multiplicities.
    weights: (T,) float, counts / counts.sum(). members: sorted distinct picked indices.
    scores: objective value of the ensemble after each accepted pick (the minimised value, so
    -accuracy for ``acc``). objective: the objective name.
    """

    picks: list[int]
    counts: np.ndarray
    weights: np.ndarray
    members: list[int]
    scores: list[float]
    objective: str


def _check_pool(
    val_probs: np.ndarray, val_labels: np.ndarray, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and return (probs (T, N, C) floating, labels int64 (N,), usable indices)."""
    p = np.asarray(val_probs)
    if p.ndim != 3 or 0 in p.shape:
        raise ValueError(f"val_probs must have shape (T, N, C) with T, N, C >= 1, got {p.shape}")
    if not np.issubdtype(p.dtype, np.floating):
        p = p.astype(np.float64)
    t, n, c = p.shape
    y = check_labels(val_labels, n, c)
    if mask is None:
        usable = np.arange(t)
    else:
        m = np.asarray(mask)
        if m.shape != (t,) or m.dtype != np.bool_:
            raise ValueError(f"mask must be a bool array of shape ({t},), got {m.dtype} {m.shape}")
        usable = np.flatnonzero(m)
        if usable.size == 0:
            raise ValueError("mask excludes every candidate: no usable model in the pool")
    # Only usable candidates are validated (masked ones may hold NaN from diverged runs); chunked
    # so that no full float64 copy of the pool is ever made.
    chunk = max(1, (16 * 2**20) // (n * c * 8))
    for lo in range(0, usable.size, chunk):
        idx = usable[lo : lo + chunk]
        block = p[idx[0] : idx[-1] + 1] if np.all(np.diff(idx) == 1) else p[idx]
        try:
            check_members(block)
        except ValueError as err:
            raise ValueError(f"val_probs of candidates {idx[0]}..{idx[-1]}: {err}") from None
    return p, y, usable


def _label_probs(p: np.ndarray, y: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """max(p[t, i, y_i], 1e-12) for the usable t -> (len(usable), N) float64."""
    rows = np.arange(y.shape[0])
    py = p[usable[:, None], rows[None, :], y[None, :]]
    return np.maximum(py.astype(np.float64), PROB_FLOOR)


def _check_k(k: int) -> None:
    try:
        ok = not isinstance(k, bool) and int(k) == k and k >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")


def greedy_select(
    val_probs: np.ndarray,
    val_labels: np.ndarray,
    k: int,
    objective: str = "nll",
    mask: np.ndarray | None = None,
) -> Selection:
    """Greedy selection with replacement until `k` DISTINCT members or no strict improvement.

    val_probs (T, N, C): VALIDATION probabilities of the T pool models (never test data);
    val_labels (N,). Start with E empty and best = +inf; each round score E + {t} for every usable
    t (including members of E), take the lowest (ties -> lowest index); add it if its score is
    strictly below best, else stop. The first pick is the best single model by the objective.
    `mask` (T,) bool marks usable candidates (exclude diverged/failed trials through it). Raises
    ValueError for an unknown objective, k < 1, bad shapes or an all-False mask.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; valid: {', '.join(OBJECTIVES)}")
    _check_k(k)
    p, y, usable = _check_pool(val_probs, val_labels, mask)
    n, c = p.shape[1], p.shape[2]
    want_nll = objective in ("nll", "nll-acc")
    want_acc = objective in ("acc", "nll-acc")

    py = _label_probs(p, y, usable) if want_nll else None  # (U, N)
    sum_py = np.zeros(n)  # running sum over picks of the floored label probability
    sum_p = np.zeros((n, c)) if want_acc else None  # running sum over picks of probabilities
    buf = None
    if want_acc:
        rows = max(1, min(usable.size, _ACC_BUFFER_BYTES // (n * c * 8)))
        buf = np.empty((rows, n, c))

    picks: list[int] = []
    scores: list[float] = []
    best = np.inf
    distinct: set[int] = set()
    while len(distinct) < k:
        size = len(picks) + 1
        cand = np.zeros(usable.size)
        if want_nll:
            cand += -np.mean(np.log((sum_py[None, :] + py) / size), axis=1)
        if want_acc:
            cand -= _candidate_accuracy(p, y, usable, sum_p, buf)
        j = int(np.argmin(cand))  # first minimum -> lowest pool index (usable is sorted)
        if not cand[j] < best:
            break
        best = float(cand[j])
        t = int(usable[j])
        picks.append(t)
        scores.append(best)
        distinct.add(t)
        if want_nll:
            sum_py += py[j]
        if want_acc:
            sum_p += p[t]

    counts = np.bincount(np.array(picks, dtype=np.int64), minlength=p.shape[0])
    weights = counts / counts.sum()
    counts.setflags(write=False)
    weights.setflags(write=False)
    return Selection(picks, counts, weights, sorted(distinct), scores, objective)


def _candidate_accuracy(
    p: np.ndarray, y: np.ndarray, usable: np.ndarray, sum_p: np.ndarray, buf: np.ndarray
) -> np.ndarray:
    """Accuracy of argmax_c (sum_p + p[t]) for every usable t -> (U,), chunked over t.

    The argmax of the running sum equals that of the mean (a positive rescaling).
    """
    out = np.empty(usable.size)
    rows = buf.shape[0]
    for lo in range(0, usable.size, rows):
        idx = usable[lo : lo + rows]
        b = buf[: idx.size]
        for j, t in enumerate(idx):
            np.add(p[t], sum_p, out=b[j])
        out[lo : lo + idx.size] = np.mean(np.argmax(b, axis=2) == y[None, :], axis=1)
    return out


def top_k_by_nll(
    val_probs: np.ndarray, val_labels: np.ndarray, k: int, mask: np.ndarray | None = None
) -> list[int]:
    """The k usable models with the lowest single-model validation NLL, best first.

    NLL_t = -mean_i log max(p[t, i, y_i], 1e-12); ties -> lower index. Raises ValueError if
    k < 1 or k exceeds the number of usable models.
    """
    _check_k(k)
    p, y, usable = _check_pool(val_probs, val_labels, mask)
    if k > usable.size:
        raise ValueError(f"k={k} exceeds the {usable.size} usable models")
    nlls = -np.mean(np.log(_label_probs(p, y, usable)), axis=1)
    order = np.argsort(nlls, kind="stable")[:k]
    return [int(usable[j]) for j in order]
