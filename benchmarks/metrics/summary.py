"""`compute_all`: the metric row every method's results use."""

import numpy as np

from benchmarks.metrics._checks import check_members, check_weights
from benchmarks.metrics.calibration import brier, ece
from benchmarks.metrics.diversity import average_kl, disagreement
from benchmarks.metrics.ensemble import (
    accuracy,
    ensemble_nll,
    ensemble_probs,
    gibbs_nll,
    member_accuracy,
    member_nll,
)

#: The keys of `compute_all`, in order.
METRIC_KEYS = (
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
)


def compute_all(
    member_probs: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
) -> dict[str, float]:
    """All metrics of a (weighted) ensemble, as plain Python floats (`num_members` an int).

    nll, accuracy, ece_15bin, brier: of the ensemble-mean probabilities (nll by log-mean-exp).
    gibbs_nll: weighted mean of member NLLs. member_nll_mean / member_accuracy_mean: unweighted
    mean over the distinct members (weight > 0). disagreement, average_kl: over the pairs of the
    member multiset (weights are copy counts). num_members: number of members with weight > 0.
    """
    p = check_members(member_probs, labels)
    w = check_weights(weights, p.shape[0])
    used = w > 0
    probs = ensemble_probs(p, w)
    row: dict[str, float] = {
        "nll": ensemble_nll(p, labels, w),
        "accuracy": accuracy(probs, labels),
        "ece_15bin": ece(probs, labels, num_bins=15),
        "brier": brier(probs, labels),
        "gibbs_nll": gibbs_nll(p, labels, w),
        "member_nll_mean": float(np.mean(member_nll(p[used], labels))),
        "member_accuracy_mean": float(np.mean(member_accuracy(p[used], labels))),
        "disagreement": disagreement(p, w),
        "average_kl": average_kl(p, w),
        "num_members": int(np.count_nonzero(used)),
    }
    return row
