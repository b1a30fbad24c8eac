"""Where the tuned hyperparameters ended: a summary of the runs' recorded ``method_info``.

Methods that tune a distribution while training (``hyper_batch_ensemble``, ``self_tuning``)
record per member either ``q_summary`` ([{name: {"low", "high", "mean"}}] per member) or only
``tuned_point`` ([{name: value}] per member, the test-time value). ``load_method_info`` maps a
run id to that dict (``{}`` when the run recorded none); nothing here reads the store.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from benchmarks.analysis.tables import CELL_KEYS, method_rank, require_columns, split_rows

MethodInfoLoader = Callable[[str], Mapping]
TUNED_COLUMNS = (*CELL_KEYS, "method", "hparam", "source", "seeds", "n", "mean", "low", "high")
_KEYS = [*CELL_KEYS, "method", "seed", "run_id"]


def _member_values(info: Mapping) -> list[tuple[int, str, str, float, float, float]]:
    """(member, name, source, mean, low, high) from one run's method_info."""
    out = []
    if info.get("q_summary"):
        for m, member in enumerate(info["q_summary"]):
            for name, q in member.items():
                out.append((m, name, "q", float(q["mean"]), float(q["low"]), float(q["high"])))
    elif info.get("tuned_point"):
        for m, member in enumerate(info["tuned_point"]):
            for name, value in member.items():
                out.append((m, name, "tuned_point", float(value), math.nan, math.nan))
    return out


def tuned_hyperparameters(df: pd.DataFrame, load_method_info: MethodInfoLoader) -> pd.DataFrame:
    """Per (cell, method, hyperparameter, source): mean over seeds and members of q's mean, low
    and high (source 'q'), or of the tuned point where a run has no q_summary (source
    'tuned_point', low/high NaN); seeds = runs contributing, n = member values averaged. Runs
    without either give no rows. Columns ``TUNED_COLUMNS``, sorted by cell, method, hparam."""
    require_columns(df, _KEYS)
    runs = split_rows(df, "test")[_KEYS].drop_duplicates("run_id")
    rows = []
    for run in runs.itertuples(index=False):
        for member, name, source, mean, low, high in _member_values(load_method_info(run.run_id)):
            rows.append((*run, member, name, source, mean, low, high))
    columns = [*_KEYS, "member", "hparam", "source", "mean", "low", "high"]
    values = pd.DataFrame(rows, columns=columns)
    if values.empty:
        return pd.DataFrame(columns=list(TUNED_COLUMNS))
    keys = [*CELL_KEYS, "method", "hparam", "source"]
    grouped = values.groupby(keys)
    out = grouped[["mean", "low", "high"]].mean()
    out["seeds"] = grouped["run_id"].nunique()
    out["n"] = grouped.size()
    out = out.reset_index()
    out = out.assign(_rank=out["method"].map(method_rank))
    out = out.sort_values([*CELL_KEYS, "_rank", "method", "hparam", "source"])
    return out.drop(columns="_rank")[list(TUNED_COLUMNS)].reset_index(drop=True)


def _number(x: float) -> str:
    return f"{x:.4g}" if np.isfinite(x) else ""


def tuned_markdown(summary: pd.DataFrame) -> str:
    """Per cell '*dataset, model (tier)*' and a pipe table (method, hyperparameter, source, mean,
    low, high, seeds), values to 4 significant digits; '(no tuned runs)' for an empty frame."""
    if summary.empty:
        return "(no tuned runs)"
    parts = []
    header = ("| method | hyperparameter | source | mean | low | high | seeds |\n"
              "|---|---|---|---:|---:|---:|---:|")  # fmt: skip
    for cell, rows in summary.groupby(list(CELL_KEYS), sort=True):
        lines = [header]
        for r in rows.itertuples():
            lines.append(f"| {r.method} | {r.hparam} | {r.source} | {_number(r.mean)} | "
                         f"{_number(r.low)} | {_number(r.high)} | {int(r.seeds)} |")  # fmt: skip
        parts.append(f"*{cell[0]}, {cell[1]} ({cell[2]})*\n\n" + "\n".join(lines))
    return "\n\n".join(parts)
