"""Temperature scaling of an ensemble prediction on its validation split, and the calibrated
metrics it gives on every labelled eval set.

Raw NLL and ECE can rank methods differently once each is temperature-scaled (Ashukha et al.,
ICLR 2020, "Pitfalls of in-domain uncertainty estimation and ensembling in deep learning"). The
ensemble prediction p̄ (member probabilities averaged with the member weights) is scaled as a
whole, p_T = softmax(log p̄ / T), with one temperature per run,

    T* = argmin_T  NLL_val(softmax(log p̄_val / T)),

found by golden-section search on β = 1/T in [1/20, 1/0.05] (the NLL is convex in β, so the
minimum is unique). T* is applied unchanged to the test split and to every corrupted set, giving
``nll_calibrated``, ``ece_15bin_calibrated`` and ``brier_calibrated`` (the raw metrics' own
definitions on p_T) and the run's ``temperature``. OOD sets get none (they have no labels).
log p̄ uses the suite's probability floor (1e-12).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from benchmarks.metrics.calibration import brier, ece
from benchmarks.metrics.ensemble import PROB_FLOOR, ensemble_probs, nll

CALIBRATED_METRICS = ("nll_calibrated", "ece_15bin_calibrated", "brier_calibrated")
CALIBRATED_KEYS = ("temperature", *CALIBRATED_METRICS)
T_RANGE = (0.05, 20.0)
_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


def scale(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log max(probs, 1e-12) / T) over the last axis."""
    z = np.log(np.maximum(np.asarray(probs, np.float64), PROB_FLOOR)) / float(temperature)
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _nll_at(beta: float, logp: np.ndarray, labels: np.ndarray) -> float:
    z = beta * logp
    m = z.max(axis=1)
    lse = m + np.log(np.exp(z - m[:, None]).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(labels)), labels]))


def fit_temperature(probs: np.ndarray, labels: np.ndarray, iterations: int = 80) -> float:
    """T* (module docstring) of the prediction `probs` (N, C) on `labels` (N,)."""
    logp = np.log(np.maximum(np.asarray(probs, np.float64), PROB_FLOOR))
    y = np.asarray(labels).astype(np.int64)
    lo, hi = 1.0 / T_RANGE[1], 1.0 / T_RANGE[0]
    a, b = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    fa, fb = _nll_at(a, logp, y), _nll_at(b, logp, y)
    for _ in range(iterations):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - _GOLDEN * (hi - lo)
            fa = _nll_at(a, logp, y)
        else:
            lo, a, fa = a, b, fb
            b = lo + _GOLDEN * (hi - lo)
            fb = _nll_at(b, logp, y)
    return float(2.0 / (lo + hi))


def _metrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {"nll_calibrated": nll(probs, labels), "ece_15bin_calibrated": ece(probs, labels),
            "brier_calibrated": brier(probs, labels)}  # fmt: skip


def calibrated_by_split(preds: Mapping[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """``CALIBRATED_KEYS`` of a run's arrays (as a run stores them: `val_probs` (M, N, C),
    `val_labels`, `test_*`, `member_weights`, `shift_probs_<c>_<s>` / `shift_labels_<c>_<s>`),
    keyed as the run's metrics: `val`, `test`, `corruption/<c>/<s>`. Empty without validation
    examples (no temperature to fit)."""
    if np.asarray(preds["val_labels"]).size == 0:
        return {}
    w = preds.get("member_weights")

    def mean_probs(key: str) -> np.ndarray:
        return ensemble_probs(np.asarray(preds[key], np.float64), w)

    t = fit_temperature(mean_probs("val_probs"), preds["val_labels"])
    sets = {"val": ("val_probs", "val_labels"), "test": ("test_probs", "test_labels")}
    for key in preds:
        name = key.removeprefix("shift_probs_")
        if key.startswith("shift_probs_") and not name.startswith("ood_"):
            corruption, _, severity = name.rpartition("_")
            sets[f"corruption/{corruption}/{int(severity)}"] = (key, f"shift_labels_{name}")
    return {
        split: {"temperature": t, **_metrics(scale(mean_probs(p), t),
                                             np.asarray(preds[y]).astype(np.int64))}
        for split, (p, y) in sets.items()
    }  # fmt: skip
