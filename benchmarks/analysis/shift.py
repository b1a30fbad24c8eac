"""Robustness tables and the Fig. 3-style box plots, from the tidy results frame.

Corruption rows (`split == "corruption"`) carry `corruption` and `severity`; OOD rows
(`split == "ood"`) carry `ood_set` and `{auroc,aupr,fpr95}_{score}` columns. The paper's
aggregate, mean over corruption types then over severities, is computed here and only here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from benchmarks.analysis.figures import _cells, _select, _title, method_colors
from benchmarks.analysis.tables import (
    CELL_KEYS,
    LOWER_IS_BETTER,
    METRIC_LABELS,
    format_cell,
    mean_se,
    order_methods,
    require_columns,
)

SHIFT_METRICS = ("nll", "accuracy", "ece_15bin")
OOD_METRICS = ("auroc", "aupr", "fpr95")
OOD_LABELS = {"auroc": "AUROC", "aupr": "AUPR", "fpr95": "FPR@95%TPR"}
KEYS = [*CELL_KEYS, "method"]


def per_severity(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per (cell, method, seed, severity): `metric` averaged over corruption types; severity 0
    is the clean test split. Columns: dataset, model, tier, method, seed, severity, value."""
    require_columns(df, [*KEYS, "seed", "split", "severity", metric])
    corrupt = df[df["split"] == "corruption"]
    clean = df[df["split"] == "test"].assign(severity=0)
    rows = pd.concat([clean, corrupt])
    out = rows.groupby([*KEYS, "seed", "severity"], as_index=False)[metric].mean()
    return out.rename(columns={metric: "value"})


def shift_summary(df: pd.DataFrame, metrics: Sequence[str] = SHIFT_METRICS) -> pd.DataFrame:
    """Per (cell, method, metric, severity) mean ± s.e. over seeds of the per-seed mean over
    corruption types, plus severity 'mean' = the mean over severities 1..5 (the paper's
    aggregate). Columns: dataset, model, tier, method, metric, severity, mean, se, n."""
    rows = []
    for metric in metrics:
        per = per_severity(df, metric)
        shifted = per[per["severity"] > 0]
        overall = shifted.groupby([*KEYS, "seed"], as_index=False)["value"].mean()
        parts = [(str(s), g) for s, g in per.groupby("severity")] + [("mean", overall)]
        for severity, part in parts:
            for key, g in part.groupby(KEYS):
                mean, se, n = mean_se(g["value"])
                rows.append([*key, metric, severity, mean, se, n])
    columns = [*KEYS, "metric", "severity", "mean", "se", "n"]
    return pd.DataFrame(rows, columns=columns)


def _rows_of(summary: pd.DataFrame, dataset: str, model: str, metric: str) -> pd.DataFrame:
    keep = (summary["dataset"] == dataset) & (summary["model"] == model)
    return summary[keep & (summary["metric"] == metric)]


def shift_markdown(summary: pd.DataFrame, dataset: str, model: str, metric: str) -> str:
    """Methods as rows; columns clean (0), severities 1..5 and their mean; best per column bold."""
    part = _rows_of(summary, dataset, model, metric)
    if part.empty:
        return "(no shifted-set results)"
    severities = sorted({s for s in part["severity"] if s != "mean"}, key=int) + ["mean"]
    names = {"0": "clean", "mean": "mean 1-5"}
    header = ["method", *(names.get(s, f"severity {s}") for s in severities)]
    cells = {(r.method, r.severity): (r.mean, r.se) for r in part.itertuples()}
    methods = order_methods(part["method"])
    best = {}
    for s in severities:
        means = [cells.get((m, s), (np.nan, np.nan))[0] for m in methods]
        finite = [v for v in means if np.isfinite(v)]
        if finite:
            best[s] = min(finite) if metric in LOWER_IS_BETTER else max(finite)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for m in methods:
        row = [m]
        for s in severities:
            mean, se = cells.get((m, s), (np.nan, np.nan))
            text = format_cell(mean, se)
            row.append(f"**{text}**" if text and f"{mean:.4f}" == f"{best[s]:.4f}" else text)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def ood_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per (cell, method, ood_set, score, metric) mean ± s.e. over seeds. Columns: dataset,
    model, tier, method, ood_set, score, metric, mean, se, n."""
    require_columns(df, [*KEYS, "split", "ood_set"])
    ood = df[df["split"] == "ood"]
    columns = [c for c in ood.columns if c.split("_", 1)[0] in OOD_METRICS and "_" in c]
    rows = []
    for key, g in ood.groupby([*KEYS, "ood_set"]):
        for col in columns:
            mean, se, n = mean_se(g[col])
            if n:
                metric, score = col.split("_", 1)
                rows.append([*key, score, metric, mean, se, n])
    return pd.DataFrame(rows, columns=[*KEYS, "ood_set", "score", "metric", "mean", "se", "n"])


def ood_markdown(summary: pd.DataFrame, dataset: str, model: str, metric: str = "auroc") -> str:
    """Methods as rows; one column per (OOD set, score) of `metric`; best per column bold
    (FPR lower is better, AUROC/AUPR higher)."""
    part = _rows_of(summary, dataset, model, metric)
    if part.empty:
        return "(no OOD results)"
    columns = sorted({(r.ood_set, r.score) for r in part.itertuples()})
    cells = {(r.method, r.ood_set, r.score): (r.mean, r.se) for r in part.itertuples()}
    methods = order_methods(part["method"])
    header = ["method", *(f"{s} ({score})" for s, score in columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    pick = min if metric == "fpr95" else max
    best = {}
    for s, score in columns:
        vals = [cells[(m, s, score)][0] for m in methods if (m, s, score) in cells]
        best[(s, score)] = pick(vals)
    for m in methods:
        row = [m]
        for s, score in columns:
            mean, se = cells.get((m, s, score), (np.nan, np.nan))
            text = format_cell(mean, se)
            row.append(f"**{text}**" if text and mean == best[(s, score)] else text)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def shift_boxplots(df: pd.DataFrame, metrics: Sequence[str] = SHIFT_METRICS) -> Figure:
    """The paper's Fig. 3: per cell (column) and metric (row), at each severity (0 = clean
    test) one box per method over the corruption types, each type's value its mean over seeds
    (at severity 0 the box collapses to the clean mean over seeds)."""

    require_columns(df, [*KEYS, "seed", "split", "corruption", "severity"])
    rows = df[df["split"].isin(["test", "corruption"])]
    if not (rows["split"] == "corruption").any():
        raise ValueError("no corruption rows to plot")
    cells = _cells(rows[rows["split"] == "corruption"])
    colors = method_colors(rows["method"].unique())
    fig = Figure(figsize=(6.0 * len(cells), 3.0 * len(metrics)), layout="constrained")
    for c, cell in enumerate(cells):
        part = _select(rows, cell)
        methods = order_methods(part["method"])
        width = 0.8 / len(methods)
        for r, metric in enumerate(metrics):
            ax = fig.add_subplot(len(metrics), len(cells), r * len(cells) + c + 1)
            clean = part[part["split"] == "test"].assign(corruption="clean")
            by_type = (
                pd.concat([clean, part[part["split"] == "corruption"]])
                .groupby(["method", "severity", "corruption"])[metric]
                .mean()
            )
            for j, method in enumerate(methods):
                if method not in by_type.index.get_level_values(0):
                    continue
                series = by_type.loc[method]
                severities = sorted(series.index.get_level_values(0).unique())
                data = [series.loc[s].to_numpy(dtype=float) for s in severities]
                pos = [s - 0.4 + width * (j + 0.5) for s in severities]
                box = ax.boxplot(data, positions=pos, widths=width * 0.9, patch_artist=True,
                                 showfliers=False, manage_ticks=False)  # fmt: skip
                for patch in box["boxes"]:
                    patch.set(facecolor=colors[method], alpha=0.7)
                ax.plot([], [], color=colors[method], label=method, linewidth=6)
            ax.set_xticks(range(6), ["clean", "1", "2", "3", "4", "5"])
            ax.set(xlabel="severity", ylabel=METRIC_LABELS.get(metric, metric))
            if r == 0:
                ax.set_title(_title(cell))
            if r == 0 and c == len(cells) - 1:
                ax.legend(fontsize="x-small", ncols=2)
    return fig
