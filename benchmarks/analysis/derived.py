"""Tidy tables computed from stored member predictions, so that figures never need the store.

Every function takes the results frame (to know which runs to read) and ``load_predictions``, a
callable run_id -> {"<split>_probs": (M, N, C), "<split>_labels": (N,), "member_weights": (M,)}
(e.g. ``RunStore(path).load_predictions``), optionally with ``build_order`` (L,) (member rows in the
order the method added them, repeats for picks with replacement) and the per-epoch curves of
every trained network, (R, E) each: ``train_loss_curve``, ``val_nll_curve``,
``val_accuracy_curve``. The ensemble prediction is the
weighted mean of member probabilities with normalised weights, as in ``benchmarks.metrics``.
``DERIVED_KEYS`` are the arrays these functions read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from benchmarks.analysis.tables import method_rank, split_rows
from benchmarks.metrics import PROB_FLOOR, ece_bin_index, ensemble_probs

PredictionLoader = Callable[[str], Mapping[str, np.ndarray]]
RUN_KEYS = ("dataset", "model", "tier", "method", "seed", "run_id")
GROUP_KEYS = ("dataset", "model", "tier", "method")
CURVE_COLUMNS = (*RUN_KEYS, "size", "nll", "accuracy")
HISTORY_METRICS = ("train_loss", "val_nll", "val_accuracy")  # `<metric>_curve` in a run
HISTORY_COLUMNS = (*RUN_KEYS, "member", "epoch", *HISTORY_METRICS)
BIN_COLUMNS = (*GROUP_KEYS, "bin", "lower", "upper", "confidence", "accuracy", "count")
DERIVED_KEYS = ("val_probs", "test_probs", "val_labels", "test_labels", "member_weights",
                "build_order", "curve_val_probs", "curve_test_probs", "q_path",
                *(f"{m}_curve" for m in HISTORY_METRICS))  # fmt: skip
Q_PATH_COLUMNS = (*RUN_KEYS, "member", "epoch", "hparam", "low", "high", "mean")


def runs_of(df: pd.DataFrame, split: str) -> pd.DataFrame:
    """One row per run of ``split`` (RUN_KEYS), sorted by cell, METHOD_ORDER, seed, run_id."""
    missing = [c for c in RUN_KEYS if c not in df.columns]
    if missing:
        raise ValueError(f"results frame lacks columns {missing}")
    runs = split_rows(df, split)[list(RUN_KEYS)].drop_duplicates("run_id")
    runs = runs.assign(_rank=runs["method"].map(method_rank))
    keys = ["dataset", "model", "tier", "_rank", "method", "seed", "run_id"]
    return runs.sort_values(keys).drop(columns="_rank").reset_index(drop=True)


def split_arrays(
    preds: Mapping[str, np.ndarray], split: str, run_id: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(probs (M, N, C) float64, labels (N,) int64, raw weights (M,) float64), shape-checked."""
    try:
        probs = np.asarray(preds[f"{split}_probs"], dtype=np.float64)
        labels = np.asarray(preds[f"{split}_labels"]).astype(np.int64)
    except KeyError as err:
        raise ValueError(f"run {run_id}: predictions lack {err.args[0]!r}") from None
    if probs.ndim != 3 or labels.shape != probs.shape[1:2]:
        raise ValueError(f"run {run_id}: probs {probs.shape} / labels {labels.shape} mismatch")
    weights = preds.get("member_weights")
    w = np.ones(probs.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != probs.shape[:1] or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"run {run_id}: member_weights must be finite, >= 0, shape (M,)")
    return probs, labels, w


def prefix_ensemble_metrics(
    member_probs: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(nll (M,), accuracy (M,)) of the ensembles of the first m = 1..M members.

    nll[m-1] = -mean_i log(sum_{k<=m} w_k max(p_k[i, y_i], 1e-12) / sum_{k<=m} w_k), equal to
    ``benchmarks.metrics.ensemble_nll`` on the prefix; accuracy[m-1] = mean_i [argmax_c
    sum_{k<=m} w_k p_k[i, c] == y_i]. Both NaN while the prefix weights sum to 0.
    """
    p = np.asarray(member_probs, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64)
    w = np.ones(p.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    rows = np.arange(p.shape[1])
    py = np.maximum(p[:, rows, y], PROB_FLOOR)  # (M, N) floored true-label probabilities
    mix = np.cumsum(w[:, None] * py, axis=0)
    total = np.cumsum(w)
    nll = np.full(p.shape[0], np.nan)
    acc = np.full(p.shape[0], np.nan)
    running = np.zeros(p.shape[1:])
    for m in range(p.shape[0]):
        running += w[m] * p[m]
        if total[m] > 0:
            nll[m] = -np.mean(np.log(mix[m] / total[m]))
            acc[m] = np.mean(np.argmax(running, axis=1) == y)
    return nll, acc


def _check_build_order(build_order: np.ndarray, members: int) -> np.ndarray:
    order = np.asarray(build_order)
    if order.ndim != 1 or order.size == 0 or not np.issubdtype(order.dtype, np.integer):
        raise ValueError(f"build_order must be a non-empty 1-D integer array, got {order!r}")
    if order.min() < 0 or order.max() >= members:
        raise ValueError(f"build_order {order.tolist()} indexes outside the {members} members")
    return order.astype(np.int64)


def build_order_prefixes(build_order: np.ndarray, members: int) -> list[np.ndarray]:
    """Member multiplicities (M,) of the size-k ensembles, k = 1..K distinct members of
    ``build_order``: the shortest prefix holding k distinct members, each member counted as often
    as it occurs there (what greedy selection with target k returns). Picks after the last new
    member define no size. ValueError unless build_order is a non-empty 1-D integer array with
    values in [0, members)."""
    order = _check_build_order(build_order, members)
    firsts = np.sort(np.unique(order, return_index=True)[1])  # where each new member enters
    return [np.bincount(order[: f + 1], minlength=members).astype(np.float64) for f in firsts]


def build_order_metrics(
    member_probs: np.ndarray, labels: np.ndarray, build_order: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(nll (K,), accuracy (K,)) of the size-k ensembles of ``build_order_prefixes``: with c_k
    the multiplicities, nll[k-1] = -mean_i log(sum_j c_kj max(p_j[i, y_i], 1e-12) / sum_j c_kj)
    and accuracy[k-1] = mean_i [argmax_c sum_j c_kj p_j[i, c] == y_i]."""
    p = np.asarray(member_probs, dtype=np.float64)
    order = _check_build_order(build_order, p.shape[0])
    nll, acc = prefix_ensemble_metrics(p[order], labels)  # every prefix of the pick sequence
    firsts = np.sort(np.unique(order, return_index=True)[1])
    return nll[firsts], acc[firsts]


def ensemble_size_curve(
    df: pd.DataFrame, load_predictions: PredictionLoader, split: str = "test"
) -> pd.DataFrame:
    """NLL and accuracy against ensemble size of every run of ``split`` in ``df``. With
    ``build_order`` the size-k point is the ensemble the method builds at size k
    (``build_order_metrics``: at size 1 a greedy method's first pick); without it (older stores)
    the first k stored members with their stored weights. Columns ``CURVE_COLUMNS`` (size is k),
    one row per (run, k)."""
    frames = []
    for run in runs_of(df, split).itertuples(index=False):
        preds = load_predictions(run.run_id)
        probs, labels, w = split_arrays(preds, split, run.run_id)
        if preds.get("build_order") is not None:
            try:
                nll, acc = build_order_metrics(probs, labels, preds["build_order"])
            except ValueError as err:
                raise ValueError(f"run {run.run_id}: {err}") from None
        else:
            nll, acc = prefix_ensemble_metrics(probs, labels, w)
        part = pd.DataFrame({"size": np.arange(1, len(nll) + 1), "nll": nll, "accuracy": acc})
        frames.append(part.assign(**dict(zip(RUN_KEYS, run, strict=True))))
    if not frames:
        return pd.DataFrame(columns=list(CURVE_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(CURVE_COLUMNS)]


def training_history(df: pd.DataFrame, load_predictions: PredictionLoader) -> pd.DataFrame:
    """The per-epoch history of every network trained for every run in ``df``, tidy: one row per
    (run, member r, epoch e = 1..E) with ``<metric>`` = ``<metric>_curve[r, e-1]`` for each of
    ``HISTORY_METRICS``. A curve the run did not store (a store written before it was) is NaN;
    a run without any curve gives no rows. Columns ``HISTORY_COLUMNS``."""
    frames = []
    for run in runs_of(df, "test").itertuples(index=False):
        preds = load_predictions(run.run_id)
        curves = {m: preds.get(f"{m}_curve") for m in HISTORY_METRICS}
        shapes = {np.shape(c) for c in curves.values() if c is not None}
        if not shapes:
            continue
        if len(shapes) != 1 or len(next(iter(shapes))) != 2:
            raise ValueError(f"run {run.run_id}: history curves must share one (R, E) shape")
        shape = shapes.pop()
        members, epochs = np.indices(shape)
        part = {"member": members.ravel(), "epoch": epochs.ravel() + 1}
        for m, curve in curves.items():
            part[m] = np.full(shape, np.nan) if curve is None else np.asarray(curve, np.float64)
            part[m] = part[m].ravel()
        frames.append(pd.DataFrame(part).assign(**dict(zip(RUN_KEYS, run, strict=True))))
    if not frames:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(HISTORY_COLUMNS)]


def history_from_learning_curves(learning: pd.DataFrame) -> pd.DataFrame:
    """A ``learning_curves.csv`` of a report written before ``history.csv`` (RUN_KEYS, row,
    epoch, val_nll) as a history table: member = row, train loss and accuracy NaN."""
    out = learning.rename(columns={"row": "member"})
    for m in HISTORY_METRICS:
        if m not in out.columns:
            out[m] = np.nan
    return out[list(HISTORY_COLUMNS)]


def reliability_bins(
    df: pd.DataFrame, load_predictions: PredictionLoader, split: str = "test", bins: int = 15
) -> pd.DataFrame:
    """Reliability table per (dataset, model, tier, method), pooled over its runs' examples.

    Top-label confidence of the ensemble prediction is binned with ``ece_bin_index`` (equal-width,
    right-closed, as ``ece_15bin``); per bin: lower/upper edge, mean confidence and accuracy (NaN
    if empty) and count. Columns ``BIN_COLUMNS``; every bin is listed, empty ones included.
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    out = []
    runs = runs_of(df, split)
    for cell, group in runs.groupby(list(GROUP_KEYS), sort=False):
        conf_sum, correct_sum, count = np.zeros(bins), np.zeros(bins), np.zeros(bins)
        for rid in group["run_id"]:
            probs, labels, w = split_arrays(load_predictions(rid), split, rid)
            ens = ensemble_probs(probs, w)
            conf = np.clip(ens.max(axis=1), 0.0, 1.0)
            correct = (np.argmax(ens, axis=1) == labels).astype(np.float64)
            idx = ece_bin_index(conf, bins)
            conf_sum += np.bincount(idx, weights=conf, minlength=bins)
            correct_sum += np.bincount(idx, weights=correct, minlength=bins)
            count += np.bincount(idx, minlength=bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_conf, mean_acc = conf_sum / count, correct_sum / count
        for b in range(bins):
            out.append((*cell, b, edges[b], edges[b + 1], mean_conf[b], mean_acc[b], count[b]))
    result = pd.DataFrame(out, columns=list(BIN_COLUMNS))
    return result.astype({"bin": np.int64, "count": np.int64})


def ece_from_bins(bins: pd.DataFrame) -> pd.DataFrame:
    """ECE per (dataset, model, tier, method) of a ``reliability_bins`` table:
    sum_b count_b |accuracy_b - confidence_b| / sum_b count_b over non-empty bins.
    Columns dataset, model, tier, method, ece (pooled over seeds, not a mean of per-run ECEs)."""
    full = bins[bins["count"] > 0]
    gap = full["count"] * (full["accuracy"] - full["confidence"]).abs()
    grouped = full.assign(_gap=gap).groupby(list(GROUP_KEYS), sort=False)
    ece = grouped["_gap"].sum() / grouped["count"].sum()
    return ece.rename("ece").reset_index()


def q_path(
    df: pd.DataFrame,
    load_predictions: PredictionLoader,
    load_method_info: Callable[[str], Mapping],
) -> pd.DataFrame:
    """The tuned distributions' path: one row per (run, member, epoch e = 1..E, hyperparameter)
    with q's ``low``, ``high`` and test-time ``mean`` after epoch e, from the run's ``q_path``
    array (E, K, D, 3) and the names its method info lists under ``tuned``. Runs without a
    ``q_path`` give no rows. Columns ``Q_PATH_COLUMNS``."""
    frames = []
    for run in runs_of(df, "test").itertuples(index=False):
        path = load_predictions(run.run_id).get("q_path")
        if path is None:
            continue
        names = list(load_method_info(run.run_id).get("tuned") or [])
        path = np.asarray(path, np.float64)
        if path.ndim != 4 or path.shape[2] != len(names) or path.shape[3] != 3:
            raise ValueError(f"run {run.run_id}: q_path {path.shape} does not match {names}")
        epochs, members, dims = np.indices(path.shape[:3])
        part = pd.DataFrame({"member": members.ravel(), "epoch": epochs.ravel() + 1,
                             "hparam": np.asarray(names, object)[dims.ravel()],
                             "low": path[..., 0].ravel(), "high": path[..., 1].ravel(),
                             "mean": path[..., 2].ravel()})  # fmt: skip
        frames.append(part.assign(**dict(zip(RUN_KEYS, run, strict=True))))
    if not frames:
        return pd.DataFrame(columns=list(Q_PATH_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(Q_PATH_COLUMNS)]
