"""The report's figures (`figures/<name>.png|.pdf`), each drawn by one function of
`benchmarks.analysis.figures` (or `analysis.shift`) from one tidy frame of the report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmarks.analysis import (
    cost_vs_nll,
    dee_vs_cost,
    diversity_vs_accuracy,
    learning_curves,
    nll_vs_ensemble_size,
    reliability_diagram,
    save_figure,
)
from benchmarks.analysis.figures import q_paths
from benchmarks.analysis.shift import shift_boxplots


def write_figures(
    figures_dir: Path,
    df: pd.DataFrame,
    curves: pd.DataFrame,
    history: pd.DataFrame,
    bins: pd.DataFrame,
    q_frame: pd.DataFrame,
    equivalents: pd.DataFrame | None,
) -> list[Path]:
    """Every figure the inputs can draw; one that cannot (e.g. no deep ensembles) is skipped
    with one line saying why."""
    plots = {
        "nll_vs_ensemble_size": lambda: nll_vs_ensemble_size(curves),
        "learning_curves": lambda: learning_curves(history),
        "reliability": lambda: reliability_diagram(bins),
        "diversity_vs_accuracy": lambda: diversity_vs_accuracy(df),
        "cost_vs_nll": lambda: cost_vs_nll(df),
        "shift_boxplots": lambda: shift_boxplots(df),
        "q_paths": lambda: q_paths(q_frame),
    }
    if equivalents is not None:
        plots["dee_vs_cost"] = lambda: dee_vs_cost(equivalents, df)
    written = []
    for name, draw in plots.items():
        try:
            fig = draw()
        except ValueError as err:  # e.g. no deep ensembles (or no stored learning curves)
            print(f"report: figure {name} skipped: {err}")
            continue
        written += save_figure(fig, figures_dir, name)
    return written
