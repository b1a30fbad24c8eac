"""Out-of-distribution detection: uncertainty scores and the detection metrics.

Convention: OOD examples are the *positive* class and a higher score means "more likely OOD", so
every score is an uncertainty. Scores are computed on the weighted ensemble (weights as in
`benchmarks.metrics.ensemble`).
"""

import numpy as np

from benchmarks.metrics._checks import check_members, normalised_weights
from benchmarks.metrics.ensemble import PROB_FLOOR, ensemble_probs

#: TPR at which `fpr_at_tpr` is read by default (the usual "FPR at 95% TPR").
TPR_LEVEL = 0.95


def entropy(probs: np.ndarray) -> np.ndarray:
    """Per-row entropy in nats, -sum_c p_c log max(p_c, 1e-12) -> (N,)."""
    p = np.asarray(probs, np.float64)
    return -np.sum(p * np.log(np.maximum(p, PROB_FLOOR)), axis=-1)


def max_prob_score(member_probs: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """1 - max_c p̄(c|x) of the ensemble mean p̄ (the maximum-softmax-probability baseline)."""
    return 1.0 - ensemble_probs(member_probs, weights).max(axis=-1)


def entropy_score(member_probs: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Predictive entropy H[p̄(·|x)] of the ensemble mean."""
    return entropy(ensemble_probs(member_probs, weights))


def mutual_info_score(member_probs: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Mutual information H[p̄] - sum_m w_m H[p_m] (w normalised): the members' disagreement;
    0 for a single member."""
    p = check_members(member_probs)
    w = normalised_weights(weights, p.shape[0])
    return entropy(ensemble_probs(p, w)) - np.tensordot(w, entropy(p), axes=1)


def _split_scores(in_scores: np.ndarray, out_scores: np.ndarray):
    s_in, s_out = np.asarray(in_scores, np.float64), np.asarray(out_scores, np.float64)
    if s_in.ndim != 1 or s_out.ndim != 1 or not len(s_in) or not len(s_out):
        raise ValueError("in/out scores must be non-empty 1-d arrays")
    if not (np.all(np.isfinite(s_in)) and np.all(np.isfinite(s_out))):
        raise ValueError("scores contain NaN or inf")
    return s_in, s_out


def auroc(in_scores: np.ndarray, out_scores: np.ndarray) -> float:
    """Area under the ROC curve = P(s_out > s_in) + P(s_out = s_in) / 2 over all (in, out) pairs
    (Mann-Whitney U / (n_in n_out)): 1 = perfect separation, 0.5 = chance or identical scores."""
    s_in, s_out = _split_scores(in_scores, out_scores)
    order = np.sort(s_in)
    below = np.searchsorted(order, s_out, side="left")  # in-scores strictly below each out-score
    ties = np.searchsorted(order, s_out, side="right") - below
    return float((below.sum() + 0.5 * ties.sum()) / (len(s_in) * len(s_out)))


def aupr(in_scores: np.ndarray, out_scores: np.ndarray) -> float:
    """Area under the precision-recall curve with OOD as positive, as average precision:
    sum over distinct thresholds t (descending) of (R(t) - R(t_prev)) · P(t), where at threshold t
    everything with score >= t is flagged OOD (scikit-learn's `average_precision_score`).
    Identical scores give the OOD fraction n_out / (n_in + n_out); perfect separation gives 1."""
    s_in, s_out = _split_scores(in_scores, out_scores)
    scores = np.concatenate([s_out, s_in])
    positive = np.concatenate([np.ones(len(s_out)), np.zeros(len(s_in))])
    order = np.argsort(-scores, kind="stable")
    scores, positive = scores[order], positive[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # end of each tie group
    tp = np.cumsum(positive)[last]
    flagged = last + 1.0
    recall = tp / len(s_out)
    precision = tp / flagged
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def fpr_at_tpr(in_scores: np.ndarray, out_scores: np.ndarray, tpr: float = TPR_LEVEL) -> float:
    """False-positive rate at the largest threshold t whose TPR = mean(s_out >= t) is >= `tpr`:
    t = the ceil(tpr · n_out)-th largest OOD score, FPR = mean(s_in >= t). 0 is best."""
    s_in, s_out = _split_scores(in_scores, out_scores)
    if not 0.0 < tpr <= 1.0:
        raise ValueError(f"tpr must be in (0, 1], got {tpr}")
    k = int(np.ceil(tpr * len(s_out) - 1e-9))
    threshold = np.sort(s_out)[::-1][k - 1]
    return float(np.mean(s_in >= threshold))


#: score name -> function(member_probs, weights) -> (N,) uncertainty.
SCORES = {
    "max_prob": max_prob_score,
    "entropy": entropy_score,
    "mutual_info": mutual_info_score,
}


def ood_metrics(
    in_probs: np.ndarray, out_probs: np.ndarray, weights: np.ndarray | None = None
) -> dict[str, float]:
    """`{auroc,aupr,fpr95}_{score}` for every score in SCORES, in-distribution (clean test) vs
    OOD member probabilities, (M, N_in, C) and (M, N_out, C). `mutual_info` only when the
    ensemble has more than one member with weight > 0."""
    w = None if weights is None else np.asarray(weights, np.float64)
    members = int(np.count_nonzero(w > 0)) if w is not None else np.asarray(in_probs).shape[0]
    out: dict[str, float] = {}
    for name, score in SCORES.items():
        if name == "mutual_info" and members < 2:
            continue
        s_in, s_out = score(in_probs, w), score(out_probs, w)
        out[f"auroc_{name}"] = auroc(s_in, s_out)
        out[f"aupr_{name}"] = aupr(s_in, s_out)
        out[f"fpr95_{name}"] = fpr_at_tpr(s_in, s_out)
    return out
