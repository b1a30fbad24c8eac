"""Figures of the benchmark, one function per figure, each from one tidy frame.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot (no global state, no
GUI backend); ``save_figure`` writes it as PNG and PDF. Panels are faceted per (dataset, model,
tier) so that runs of different cells are never averaged together. Colours are fixed per method
(``METHOD_ORDER`` position in the tab10 palette) so a method looks the same in every figure.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from benchmarks.analysis.derived import ece_from_bins
from benchmarks.analysis.tables import METHOD_ORDER, order_methods, require_columns, split_rows
from benchmarks.store.atomic import write_bytes_atomic

CELL_KEYS = ["dataset", "model", "tier"]
_PALETTE = [f"C{i}" for i in range(10)]


def method_colors(methods: Sequence[str]) -> dict[str, str]:
    """Colour per method: tab10 by ``METHOD_ORDER`` position; unknown methods take the
    remaining colours in alphabetical order (cycling)."""
    ordered = order_methods(methods)
    unknown = [m for m in ordered if m not in METHOD_ORDER]
    colors = {m: _PALETTE[METHOD_ORDER.index(m) % 10] for m in ordered if m in METHOD_ORDER}
    for i, m in enumerate(unknown):
        colors[m] = _PALETTE[(len(METHOD_ORDER) + i) % 10]
    return colors


def _cells(df: pd.DataFrame) -> list[tuple]:
    if df.empty:
        raise ValueError("nothing to plot: the frame has no rows")
    return sorted(df[CELL_KEYS].drop_duplicates().itertuples(index=False, name=None))


def _select(df: pd.DataFrame, cell: tuple) -> pd.DataFrame:
    mask = np.ones(len(df), dtype=bool)
    for key, value in zip(CELL_KEYS, cell, strict=True):
        mask &= (df[key] == value).to_numpy()
    return df[mask]


def _title(cell: tuple) -> str:
    return f"{cell[0]} / {cell[1]} ({cell[2]})"


def _legend(ax) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")


def _grid(n: int, max_cols: int = 3) -> tuple[Figure, int, int]:
    """A figure sized for n panels in rows of at most ``max_cols``; (figure, nrows, ncols)."""
    ncols = min(max_cols, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.4 * nrows), layout="constrained")
    return fig, nrows, ncols


def nll_vs_ensemble_size(
    curves: pd.DataFrame, methods: Sequence[str] | None = ("deep_ensemble", "hyper_deep_ensemble")
) -> Figure:
    """NLL against ensemble size (``ensemble_size_curve`` frame): per method the mean over seeds
    with a ± s.e. band (std ddof=1 / sqrt(n); no band where n == 1); one panel per cell.
    ``methods=None`` plots every method in ``curves``; methods absent from a cell are skipped."""
    require_columns(curves, [*CELL_KEYS, "method", "size", "nll"])
    data = curves if methods is None else curves[curves["method"].isin(list(methods))]
    cells = _cells(data)
    colors = method_colors(data["method"].unique())
    fig, nrows, ncols = _grid(len(cells))
    for i, cell in enumerate(cells):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        sub = _select(data, cell)
        for method in order_methods(sub["method"].unique()):
            stats = (
                sub[sub["method"] == method].groupby("size")["nll"].agg(["mean", "std", "count"])
            )
            se = stats["std"] / np.sqrt(stats["count"])
            x = stats.index.to_numpy()
            ax.plot(x, stats["mean"], marker="o", ms=3, color=colors[method], label=method)
            ax.fill_between(
                x, stats["mean"] - se, stats["mean"] + se, color=colors[method], alpha=0.2, lw=0
            )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(title=_title(cell), xlabel="ensemble size", ylabel="NLL")
        _legend(ax)
    return fig


LEARNING_PANELS = {"train_loss": "training loss", "val_nll": "validation NLL"}


def learning_curves(history: pd.DataFrame) -> Figure:
    """Training loss and validation NLL against epoch (``training_history`` frame): one row of
    panels per cell (training loss, validation NLL), one line per method: per epoch the mean over
    each run's members (its trained networks), then over seeds. NaN values (not recorded) are
    left out; a method without any value in a panel has no line there."""
    require_columns(history, [*CELL_KEYS, "method", "seed", "run_id", "epoch", *LEARNING_PANELS])
    cells = _cells(history)
    colors = method_colors(history["method"].unique())
    fig = Figure(figsize=(4.6 * len(LEARNING_PANELS), 3.4 * len(cells)), layout="constrained")
    for i, cell in enumerate(cells):
        sub = _select(history, cell)
        for j, (column, label) in enumerate(LEARNING_PANELS.items()):
            ax = fig.add_subplot(len(cells), len(LEARNING_PANELS), i * len(LEARNING_PANELS) + j + 1)
            for method in order_methods(sub["method"].unique()):
                rows = sub[(sub["method"] == method) & sub[column].notna()]
                if rows.empty:
                    continue
                per_run = rows.groupby(["run_id", "epoch"], as_index=False)[column].mean()
                line = per_run.groupby("epoch")[column].mean()
                ax.plot(line.index.to_numpy(), line.to_numpy(), marker="o", ms=2,
                        color=colors[method], label=method)  # fmt: skip
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set(title=_title(cell), xlabel="epoch", ylabel=label)
            _legend(ax)
    return fig


def q_paths(path: pd.DataFrame) -> Figure:
    """The tuned distributions q over training (``q_path`` frame): one row of panels per cell and
    method that tunes, one panel per hyperparameter; per member a line through q's test-time
    mean and a band from its low to its high end after each epoch, each the geometric mean over
    seeds, on a log axis."""
    require_columns(path, [*CELL_KEYS, "method", "member", "epoch", "hparam", "low", "high",
                           "mean"])  # fmt: skip
    if path.empty:
        raise ValueError("no tuned distribution stored")
    keys = [*CELL_KEYS, "method"]
    logs = path.assign(**{c: np.log10(path[c].astype(float)) for c in ("low", "high", "mean")})
    groups = list(logs.groupby(keys, sort=True))
    cols = int(logs.groupby(keys)["hparam"].nunique().max())
    fig = Figure(figsize=(3.2 * cols, 2.8 * len(groups)), layout="constrained")
    for i, (row, sub) in enumerate(groups):
        for j, name in enumerate(sorted(sub["hparam"].unique())):
            ax = fig.add_subplot(len(groups), cols, i * cols + j + 1)
            one = sub[sub["hparam"] == name].groupby(["member", "epoch"])[["low", "high", "mean"]]
            per = one.mean().reset_index()  # mean of log10 over seeds: the geometric mean
            for member, line in per.groupby("member"):
                color = f"C{int(member) % 10}"
                x = line["epoch"].to_numpy()
                ax.fill_between(x, 10 ** line["low"], 10 ** line["high"], color=color, alpha=0.15)
                ax.plot(x, 10 ** line["mean"], color=color, label=f"member {member}")
            ax.set_yscale("log")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(f"{row[1]} {row[3]}: {name}", fontsize="small")
            ax.set(xlabel="epoch")
            if j == 0:
                _legend(ax)
    return fig


def reliability_diagram(bins: pd.DataFrame) -> Figure:
    """Reliability diagrams (``reliability_bins`` frame): one row per cell, one panel per method;
    bars of accuracy per confidence bin, the diagonal, and the pooled ECE (``ece_from_bins``) in
    each title. A method missing from a cell leaves its slot empty."""
    require_columns(bins, [*CELL_KEYS, "method", "bin", "lower", "upper", "accuracy", "count"])
    cells = _cells(bins)
    methods = order_methods(bins["method"].unique())
    colors = method_colors(methods)
    ece = ece_from_bins(bins).set_index(["dataset", "model", "tier", "method"])["ece"]
    fig = Figure(figsize=(3.2 * len(methods), 3.2 * len(cells)), layout="constrained")
    for r, cell in enumerate(cells):
        sub = _select(bins, cell)
        for c, method in enumerate(methods):
            rows = sub[sub["method"] == method].sort_values("bin")
            if rows.empty:
                continue
            ax = fig.add_subplot(len(cells), len(methods), r * len(methods) + c + 1)
            widths = rows["upper"] - rows["lower"]
            heights = rows["accuracy"].fillna(0.0)
            ax.bar(
                rows["lower"],
                heights,
                width=widths,
                align="edge",
                color=colors[method],
                edgecolor="black",
                linewidth=0.5,
            )
            ax.plot([0, 1], [0, 1], linestyle="--", color="gray", linewidth=1)
            ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence")
            ax.set_title(f"{method}\nECE {ece.get((*cell, method), math.nan):.4f}", fontsize=9)
            ax.set_ylabel(f"{_title(cell)}\naccuracy" if c == 0 else "accuracy", fontsize=8)
    return fig


def diversity_vs_accuracy(df: pd.DataFrame, split: str = "test") -> Figure:
    """Scatter of ``disagreement`` vs ``accuracy``, one point per run, colour per method, one
    panel per cell. Only ensembles (num_members > 1) are shown: single-member runs have
    disagreement 0 by definition and are left out."""
    require_columns(df, [*CELL_KEYS, "method", "num_members", "disagreement", "accuracy"])
    rows = split_rows(df, split)
    rows = rows[(rows["num_members"] > 1) & rows["disagreement"].notna() & rows["accuracy"].notna()]
    cells = _cells(rows)
    colors = method_colors(rows["method"].unique())
    fig, nrows, ncols = _grid(len(cells))
    for i, cell in enumerate(cells):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        sub = _select(rows, cell)
        for method in order_methods(sub["method"].unique()):
            pts = sub[sub["method"] == method]
            ax.scatter(
                pts["disagreement"], pts["accuracy"], s=18, color=colors[method], label=method
            )
        ax.set(title=_title(cell), xlabel="disagreement", ylabel=f"{split} accuracy")
        _legend(ax)
    return fig


def cost_vs_nll(df: pd.DataFrame, split: str = "test") -> Figure:
    """Per cell (one row of panels each) two panels: ``param_count`` vs NLL and the training
    budget vs NLL, one point per method (means over seeds), log-x. The budget is
    ``budget_train_s`` (training seconds of every network the method used, cached search trials
    included) where recorded, else ``wall_time_s``. Non-positive costs are left out."""
    require_columns(df, [*CELL_KEYS, "method", "param_count", "wall_time_s", "nll"])
    rows = split_rows(df, split).copy()
    budget = rows["budget_train_s"] if "budget_train_s" in rows else np.nan
    rows["cost_s"] = pd.to_numeric(budget, errors="coerce")
    rows["cost_s"] = rows["cost_s"].fillna(rows["wall_time_s"])
    cells = _cells(rows)
    colors = method_colors(rows["method"].unique())
    fig = Figure(figsize=(8.4, 3.4 * len(cells)), layout="constrained")
    costs = (("param_count", "parameters"), ("cost_s", "training budget (s)"))
    for r, cell in enumerate(cells):
        means = _select(rows, cell).groupby("method")[["param_count", "cost_s", "nll"]].mean()
        for c, (column, label) in enumerate(costs):
            ax = fig.add_subplot(len(cells), 2, 2 * r + c + 1)
            for method in order_methods(means.index):
                x, y = means.loc[method, column], means.loc[method, "nll"]
                if np.isfinite(x) and x > 0 and np.isfinite(y):
                    ax.scatter([x], [y], s=30, color=colors[method], label=method)
            ax.set_xscale("log")
            ax.set(title=_title(cell), xlabel=label, ylabel=f"{split} NLL")
            if c == 0:
                _legend(ax)
    return fig


def dee_vs_cost(dee: pd.DataFrame, df: pd.DataFrame, split: str = "test") -> Figure:
    """Per cell two panels: the deep ensemble equivalent (``dee_table`` frame) against
    ``param_count`` and against the training budget (as in ``cost_vs_nll``), one point per
    method, log-x. A DEE beyond the curve is drawn at its end: > K at K + 0.5 (triangle up),
    < 1 at 0.5 (triangle down)."""
    require_columns(dee, [*CELL_KEYS, "method", "dee", "de_members"])
    require_columns(df, [*CELL_KEYS, "method", "param_count", "wall_time_s"])
    rows = split_rows(df, split).copy()
    budget = rows["budget_train_s"] if "budget_train_s" in rows else np.nan
    rows["cost_s"] = pd.to_numeric(budget, errors="coerce").fillna(rows["wall_time_s"])
    cells = _cells(dee)
    colors = method_colors(dee["method"].unique())
    fig = Figure(figsize=(8.4, 3.4 * len(cells)), layout="constrained")
    costs = (("param_count", "parameters"), ("cost_s", "training budget (s)"))
    for r, cell in enumerate(cells):
        part = _select(dee, cell).set_index("method")
        means = _select(rows, cell).groupby("method")[["param_count", "cost_s"]].mean()
        k = float(part["de_members"].iloc[0])
        for c, (column, label) in enumerate(costs):
            ax = fig.add_subplot(len(cells), 2, 2 * r + c + 1)
            for method in order_methods(part.index):
                x, y = means[column].get(method, np.nan), float(part.loc[method, "dee"])
                marker = "^" if np.isinf(y) else "v" if y == 0 else "o"
                y = k + 0.5 if np.isinf(y) else 0.5 if y == 0 else y
                if np.isfinite(x) and x > 0:
                    ax.scatter([x], [y], s=30, color=colors[method], marker=marker, label=method)
            ax.axhline(k, color="0.7", lw=0.8, ls="--")
            ax.set_xscale("log")
            ax.set(title=_title(cell), xlabel=label, ylabel="deep ensemble equivalent")
            if c == 0:
                _legend(ax)
    return fig


def save_figure(fig: Figure, out_dir: str | Path, name: str) -> list[Path]:
    """Write ``out_dir/name.png`` (dpi 150) and ``out_dir/name.pdf`` atomically, creating
    ``out_dir``; return the two paths."""
    if not name or Path(name).name != name:
        raise ValueError(f"figure name must be a plain file stem, got {name!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=150)
        path = out / f"{name}.{fmt}"
        write_bytes_atomic(path, buf.getvalue())
        paths.append(path)
    return paths
