"""Deep ensemble equivalent (DEE, Ashukha et al., ICLR 2020): for a method in a cell, the
(interpolated) number of deep-ensemble members whose calibrated test NLL equals the method's.

The curve: for every deep-ensemble run of the cell, the ensembles of its first k members (its
build order: the best setting's seeds in order; k = 1..K, or up to `WeightSpace.curve_members`
when the run stored that many seeds as `curve_val_probs` / `curve_test_probs`), each
temperature-scaled on the validation split as in `benchmarks.analysis.calibrated`, scored on
test; averaged over the cell's seeds.
A method's calibrated test NLL x (mean over seeds) is placed on the curve c(1), ..., c(K) by linear
interpolation at its first crossing: DEE = k + (c(k) − x) / (c(k) − c(k+1)) for the first k with
c(k + 1) <= x <= c(k). A curve need not fall at every size (a member can make the ensemble worse
on average); then the deep ensemble's own DEE is below K.
The curve reaches only the members the deep ensembles trained, so a method better than the
largest deep ensemble on the curve gets DEE > that size (reported as inf) and one worse than a
single member DEE < 1 (reported as 0): the table says which.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.analysis.calibrated import fit_temperature, scale
from benchmarks.analysis.derived import PredictionLoader, runs_of, split_arrays
from benchmarks.analysis.tables import METHOD_ORDER, split_rows
from benchmarks.metrics import ensemble_probs, nll

DE_CURVE_COLUMNS = ("dataset", "model", "tier", "seed", "run_id", "size", "nll_calibrated")
DEE_COLUMNS = ("dataset", "model", "tier", "method", "nll_calibrated", "dee", "de_members")


def deep_ensemble_curve(df: pd.DataFrame, load_predictions: PredictionLoader) -> pd.DataFrame:
    """Calibrated test NLL of the first k members of every `deep_ensemble` run of `df`, one row
    per (run, k): ``DE_CURVE_COLUMNS``."""
    runs = runs_of(df, "test")
    out = []
    for run in runs[runs["method"] == "deep_ensemble"].itertuples(index=False):
        preds = load_predictions(run.run_id)
        val, val_y, _ = split_arrays(preds, "val", run.run_id)
        test, test_y, _ = split_arrays(preds, "test", run.run_id)
        order = preds.get("build_order")
        order = np.arange(len(val)) if order is None else np.asarray(order, np.int64)
        if "curve_val_probs" in preds:  # the K members' seeds and more, in seed order
            val, test = preds["curve_val_probs"], preds["curve_test_probs"]
            order = np.arange(len(val))
        for k in range(1, len(order) + 1):
            members = order[:k]
            t = fit_temperature(ensemble_probs(val[members]), val_y)
            value = nll(scale(ensemble_probs(test[members]), t), test_y)
            out.append((run.dataset, run.model, run.tier, run.seed, run.run_id, k, value))
    return pd.DataFrame(out, columns=list(DE_CURVE_COLUMNS))


def equivalent_members(curve: np.ndarray, value: float, tol: float = 1e-6) -> float:
    """DEE of calibrated NLL `value` on the mean curve c(1..K): the first size at which the curve,
    followed from one member up and interpolated linearly, comes down to `value` (so on a curve
    that rises again, a later member that hurts does not count); 0 when `value` > c(1) + tol,
    inf when the curve never comes within tol of `value`."""
    c = np.asarray(curve, np.float64)
    if value > c[0] + tol:
        return 0.0
    if value >= c[0] - tol:
        return 1.0
    for k in range(len(c) - 1):
        if c[k + 1] <= value + tol:
            if c[k + 1] >= value - tol:
                return float(k + 2)
            return float(k + 1 + (c[k] - value) / (c[k] - c[k + 1]))
    return float("inf")


def dee_table(df: pd.DataFrame, curve: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, model, tier) with a deep-ensemble curve and per method: its mean calibrated
    test NLL over seeds and its DEE; ``DEE_COLUMNS`` (de_members = K, the curve's reach)."""
    rows = split_rows(df, "test")
    out = []
    for (dataset, model, tier), part in curve.groupby(["dataset", "model", "tier"]):
        mean_curve = part.groupby("size")["nll_calibrated"].mean().sort_index().to_numpy()
        cell = rows[
            (rows["dataset"] == dataset) & (rows["model"] == model) & (rows["tier"] == tier)
        ]
        values = cell.groupby("method")["nll_calibrated"].mean()
        for method in [m for m in METHOD_ORDER if m in values.index]:
            x = float(values[method])
            out.append((dataset, model, tier, method, x, equivalent_members(mean_curve, x),
                        len(mean_curve)))  # fmt: skip
    return pd.DataFrame(out, columns=list(DEE_COLUMNS))


def dee_markdown(table: pd.DataFrame) -> str:
    """Per cell a table: method, calibrated test NLL, DEE ('> K' / '< 1' outside the curve)."""
    parts = []
    for (dataset, model, tier), rows in table.groupby(["dataset", "model", "tier"]):
        k = int(rows["de_members"].iloc[0])
        lines = ["| method | calibrated NLL | DEE |", "|---|---:|---:|"]
        for r in rows.itertuples():
            shown = f"> {k}" if np.isinf(r.dee) else "< 1" if r.dee == 0 else f"{r.dee:.2f}"
            lines.append(f"| {r.method} | {r.nll_calibrated:.4f} | {shown} |")
        parts.append(f"*{dataset}, {model} ({tier})*\n\n" + "\n".join(lines))
    return "\n\n".join(parts) if parts else "(no deep-ensemble curve)"
