"""Calibrated metrics (``benchmarks.metrics.temperature``: each run's ensemble prediction
temperature-scaled on its validation split) as rows of the results table.

The runner stores them in the run's metrics beside the raw ones (``stored_calibrated`` reads them
back); for a run stored without them they are computed from its stored predictions
(``run_calibrated``), the same function on the same arrays, so any store can be reported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from benchmarks.metrics.temperature import (
    CALIBRATED_KEYS,
    CALIBRATED_METRICS,
    T_RANGE,
    calibrated_by_split,
    fit_temperature,
    scale,
)
from benchmarks.store.results import parse_split

__all__ = ["CALIBRATED_COLUMNS", "CALIBRATED_METRICS", "T_RANGE", "calibrated_metrics",
           "fit_temperature", "has_calibrated", "run_calibrated", "scale", "stored_calibrated",
           "with_calibrated"]  # fmt: skip

CALIBRATED_COLUMNS = ("run_id", "split", "corruption", "severity", "ood_set", *CALIBRATED_KEYS)
JOIN_KEYS = ["run_id", "split", "corruption", "severity", "ood_set"]
_SPLIT_ORDER = {"val": 0, "test": 1, "corruption": 2}


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


def _rows(run_id: str, by_split: Mapping[str, Mapping[str, float]]) -> list[dict]:
    """Rows in one order (val, test, then corruption and severity), however they were stored."""
    rows = [{"run_id": run_id, **parse_split(split), **{k: values[k] for k in CALIBRATED_KEYS}}
            for split, values in by_split.items()]  # fmt: skip
    return sorted(rows, key=lambda r: (_SPLIT_ORDER[r["split"]], r["corruption"], r["severity"]))


def run_calibrated(run_id: str, preds: Mapping[str, np.ndarray]) -> list[dict]:
    """The ``CALIBRATED_COLUMNS`` rows of one run from its stored arrays; none for a run without
    validation examples (an imported run), which has no temperature to fit."""
    return _rows(run_id, calibrated_by_split(preds))


def stored_calibrated(run_id: str, metrics: Mapping[str, Mapping[str, float]]) -> list[dict] | None:
    """The ``CALIBRATED_COLUMNS`` rows a run stored in its metrics (`val`, `test` and every
    corrupted set carry ``CALIBRATED_KEYS``), or None if it stored none (a run of an older
    suite, or one without validation examples)."""
    labelled = {k: v for k, v in metrics.items() if not k.startswith("ood/")}
    if not labelled or not all(set(CALIBRATED_KEYS) <= set(v) for v in labelled.values()):
        return None
    return _rows(run_id, labelled)


def has_calibrated(df: pd.DataFrame) -> bool:
    """Whether the results frame carries calibrated metrics (a report of an older results
    directory may not)."""
    return "nll_calibrated" in df.columns and bool(df["nll_calibrated"].notna().any())


def with_calibrated(df: pd.DataFrame, calibrated: pd.DataFrame) -> pd.DataFrame:
    """`df` with the calibrated columns joined on run and eval set (NaN where none apply)."""
    extra = [c for c in CALIBRATED_COLUMNS if c not in JOIN_KEYS]
    base = df.drop(columns=[c for c in extra if c in df.columns])
    return base.merge(calibrated, on=JOIN_KEYS, how="left", validate="many_to_one")
