"""Ensemble metrics, pure numpy on probability arrays.

Members are `member_probs` of shape (M, N, C), labels are int (N,), and optional `weights` (M,)
are non-negative member multiplicities (None = uniform). The ensemble prediction is the weighted
mean of member probabilities.
"""

from benchmarks.metrics.calibration import ECE_BINS, brier, ece, ece_bin_index
from benchmarks.metrics.diversity import (
    average_kl,
    disagreement,
    multiset_pair_mean,
    pairwise_disagreement,
    pairwise_kl,
)
from benchmarks.metrics.ensemble import (
    PROB_FLOOR,
    accuracy,
    ensemble_nll,
    ensemble_probs,
    gibbs_nll,
    member_accuracy,
    member_nll,
    nll,
)
from benchmarks.metrics.summary import METRIC_KEYS, compute_all

__all__ = [
    "ECE_BINS",
    "METRIC_KEYS",
    "PROB_FLOOR",
    "accuracy",
    "average_kl",
    "brier",
    "compute_all",
    "disagreement",
    "ece",
    "ece_bin_index",
    "ensemble_nll",
    "ensemble_probs",
    "gibbs_nll",
    "member_accuracy",
    "member_nll",
    "multiset_pair_mean",
    "nll",
    "pairwise_disagreement",
    "pairwise_kl",
]
