"""Calibrated metrics: each run's ensemble prediction temperature-scaled on its validation split,
computed from the stored predictions (no retraining), so any store can be reported this way.

Raw NLL and ECE can rank methods differently once each is temperature-scaled (Ashukha et al.,
ICLR 2020, "Pitfalls of in-domain uncertainty estimation and ensembling in deep learning"). The
choice made here: the ensemble prediction p̄ (member probabilities averaged with the run's member
weights) is scaled as a whole, p_T = softmax(log p̄ / T), with one temperature per run,

    T* = argmin_T  NLL_val(softmax(log p̄_val / T)),

found by golden-section search on β = 1/T in [1/20, 1/0.05] (the NLL is convex in β, so the
minimum is unique). T* is applied unchanged to the test split and to every corrupted set, giving
``nll_calibrated``, ``ece_15bin_calibrated`` and ``brier_calibrated`` (the raw metrics' own
definitions on p_T) and the run's ``temperature``. OOD rows get no calibrated metrics (they have
no labels). log p̄ uses the suite's probability floor (1e-12).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from benchmarks.metrics import PROB_FLOOR, brier, ece, ensemble_probs, nll

CALIBRATED_METRICS = ("nll_calibrated", "ece_15bin_calibrated", "brier_calibrated")
CALIBRATED_COLUMNS = ("run_id", "split", "corruption", "severity", "ood_set", "temperature",
                      *CALIBRATED_METRICS)  # fmt: skip
JOIN_KEYS = ["run_id", "split", "corruption", "severity", "ood_set"]
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


def _shift_key(name: str) -> tuple[str, int] | None:
    """A corrupted set's stored name `<corruption>_<severity>` -> (corruption, severity)."""
    if name.startswith("ood_"):
        return None
    corruption, _, severity = name.rpartition("_")
    return corruption, int(severity)


def calibrated_metrics(
    df: pd.DataFrame, load_predictions: Callable[[str], Mapping[str, np.ndarray]]
) -> pd.DataFrame:
    """One row per (run, labelled eval set) of the runs in `df` (validation, test and every
    corrupted set it stored): ``CALIBRATED_COLUMNS``."""
    out = [
        row
        for rid in dict.fromkeys(df["run_id"])
        for row in run_calibrated(rid, load_predictions(rid))
    ]
    return pd.DataFrame(out, columns=list(CALIBRATED_COLUMNS))


def run_calibrated(run_id: str, preds: Mapping[str, np.ndarray]) -> list[dict]:
    """The ``CALIBRATED_COLUMNS`` rows of one run from its stored arrays; none for a run without
    validation examples (an imported run), which has no temperature to fit."""
    w = preds.get("member_weights")
    if np.asarray(preds["val_labels"]).size == 0:
        return []

    def mean_probs(key: str) -> np.ndarray:
        return ensemble_probs(np.asarray(preds[key], np.float64), w)

    t = fit_temperature(mean_probs("val_probs"), preds["val_labels"])
    sets = [("val", "none", 0, "val_probs", "val_labels"),
            ("test", "none", 0, "test_probs", "test_labels")]  # fmt: skip
    for key in preds:
        if key.startswith("shift_probs_"):
            name = key[len("shift_probs_") :]
            parsed = _shift_key(name)
            if parsed is not None:
                sets.append(("corruption", *parsed, key, f"shift_labels_{name}"))
    out = []
    for split, corruption, severity, pkey, lkey in sets:
        probs = scale(mean_probs(pkey), t)
        row = _metrics(probs, np.asarray(preds[lkey]).astype(np.int64))
        keys = {"run_id": run_id, "split": split, "corruption": corruption,
                "severity": severity, "ood_set": "none"}  # fmt: skip
        out.append({**keys, "temperature": t, **row})
    return out


def has_calibrated(df: pd.DataFrame) -> bool:
    """Whether the results frame carries calibrated metrics (a report of an older results
    directory may not)."""
    return "nll_calibrated" in df.columns and bool(df["nll_calibrated"].notna().any())


def with_calibrated(df: pd.DataFrame, calibrated: pd.DataFrame) -> pd.DataFrame:
    """`df` with the calibrated columns joined on run and eval set (NaN where none apply)."""
    extra = [c for c in CALIBRATED_COLUMNS if c not in JOIN_KEYS]
    base = df.drop(columns=[c for c in extra if c in df.columns])
    return base.merge(calibrated, on=JOIN_KEYS, how="left", validate="many_to_one")
