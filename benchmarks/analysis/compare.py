"""Two results tables of the same matrix compared cell by cell and per method (mean over seeds).

A cell is (dataset, model, method, tier, seed) on the test split. Per cell and metric:
diff = mine − reference and whether the two values are bit-identical (NaN equals NaN). Per
(dataset, model, tier, method) and metric, over the seeds both tables have:

    mean_diff = mean(mine − reference) = mean(mine) − mean(reference)
    se_x = std(ddof=1) / sqrt(n) of table x's values        (``tables.mean_se``)
    se_pooled = sqrt((se_mine² + se_reference²) / 2)          (both tables' variance pooled)
    se_paired = std(mine − reference, ddof=1) / sqrt(n)       (the paired differences' spread)
    diff_in_se = mean_diff / se_reference,  diff_in_pooled_se = mean_diff / se_pooled,
    diff_in_paired_se = mean_diff / se_paired

(0 where mean_diff is exactly 0; infinite where the seeds all moved by the same non-zero
amount). The verdict reads `diff_in_paired_se`: two runs of the same seeds on two CPUs differ
per seed by rounding that training amplifies, a spread with no direction, so a mean difference
beyond 2 paired s.e. is more than that machine-to-machine spread explains. (The reference's s.e.
measures the spread between seeds, far wider, and the wrong scale for a paired question.)
Nothing here reads files or imports TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from benchmarks.analysis.tables import CELL_KEYS, mean_se, method_rank, split_rows
from benchmarks.errors import HyperensError

#: Headline metrics compared when both tables have them (calibrated NLL only in report outputs).
COMPARE_METRICS = ("nll", "accuracy", "ece_15bin", "nll_calibrated")
RUN_KEYS = ("dataset", "model", "method", "tier", "seed")
#: Provenance columns of the results table that say which code and libraries made the numbers.
VERSION_COLUMNS = ("git_commit", "suite_version", "training_code_version", "python",
                   "tensorflow", "keras", "numpy", "tensorflow_datasets", "gin_config")  # fmt: skip
PRESENT = ("both", "mine", "reference")
CELL_COLUMNS = (*RUN_KEYS, "metric", "present", "mine", "reference", "diff", "identical")
AGGREGATE_COLUMNS = (
    *CELL_KEYS, "method", "metric", "n", "identical", "mean_mine", "mean_reference", "mean_diff",
    "se_mine", "se_reference", "se_pooled", "diff_in_se", "diff_in_pooled_se", "se_paired",
    "diff_in_paired_se", "max_abs_diff",
)  # fmt: skip
#: The verdict's bound on |diff_in_se|.
SE_BOUND = 2.0


def compared_metrics(mine: pd.DataFrame, reference: pd.DataFrame) -> list[str]:
    """``COMPARE_METRICS`` that both tables have, in that order."""
    return [m for m in COMPARE_METRICS if m in mine.columns and m in reference.columns]


def _test_rows(df: pd.DataFrame, name: str, metrics: Sequence[str], split: str) -> pd.DataFrame:
    missing = [c for c in (*RUN_KEYS, "split", *metrics) if c not in df.columns]
    if missing:
        raise HyperensError(f"{name} is not a results table: it lacks columns {missing}")
    rows = split_rows(df, split)
    dup = rows[rows.duplicated(list(RUN_KEYS), keep=False)]
    if len(dup):
        first = "/".join(str(v) for v in dup.iloc[0][list(RUN_KEYS)])
        raise HyperensError(
            f"{name} holds several runs of cell {first}; compare `hyperens report` outputs, "
            "which keep the latest run of each cell"
        )
    rows = rows[[*RUN_KEYS, *metrics]]
    try:
        return rows.astype({m: np.float64 for m in metrics})
    except (TypeError, ValueError):
        raise HyperensError(f"{name} is not a results table: non-numeric {metrics}") from None


def compare_cells(
    mine: pd.DataFrame,
    reference: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    split: str = "test",
) -> pd.DataFrame:
    """One row per cell and metric (``CELL_COLUMNS``): both values, diff = mine − reference,
    identical (bit-equal, or both NaN). ``present`` is 'both', or 'mine' / 'reference' for a
    cell only that table has (its other value, diff NaN; identical False). Metrics default to
    ``compared_metrics``. HyperensError when a table is not a results table, holds a cell
    twice, or the tables share no cell."""
    for df, name in ((mine, "mine"), (reference, "reference")):
        _test_rows(df, name, [], split)  # the cell columns first: the error names the table
    metrics = list(compared_metrics(mine, reference) if metrics is None else metrics)
    if not metrics:
        raise HyperensError(f"the tables share none of the metrics {list(COMPARE_METRICS)}")
    keys = [*RUN_KEYS, "metric"]
    a, b = (
        _test_rows(df, name, metrics, split).melt(
            id_vars=list(RUN_KEYS), value_vars=metrics, var_name="metric", value_name=name
        )
        for df, name in ((mine, "mine"), (reference, "reference"))
    )
    out = a.merge(b, on=keys, how="outer", indicator="present")
    out["present"] = out["present"].map({"both": "both", "left_only": "mine",
                                         "right_only": "reference"}).astype(str)  # fmt: skip
    if not (out["present"] == "both").any():
        raise HyperensError(f"the tables share no {split} cell (dataset/model/method/tier/seed)")
    x, y = out["mine"].astype(np.float64), out["reference"].astype(np.float64)
    out["diff"] = x - y
    both = out["present"] == "both"
    out["identical"] = both & ((x == y) | (x.isna() & y.isna()))
    out = out.assign(_rank=out["method"].map(method_rank), _metric=out["metric"].map(metrics.index))
    order = ["dataset", "model", "tier", "_rank", "method", "seed", "_metric"]
    out = out.sort_values(order).drop(columns=["_rank", "_metric"]).reset_index(drop=True)
    return out[list(CELL_COLUMNS)]


def identical_cells(cells: pd.DataFrame) -> tuple[int, int]:
    """(cells bit-identical in every metric, cells both tables have)."""
    both = cells[cells["present"] == "both"]
    per_cell = both.groupby(list(RUN_KEYS))["identical"].all()
    return int(per_cell.sum()), int(len(per_cell))


def one_sided(cells: pd.DataFrame) -> pd.DataFrame:
    """The cells only one table has: ``RUN_KEYS`` and ``present`` ('mine' / 'reference')."""
    rows = cells[cells["present"] != "both"]
    return rows[[*RUN_KEYS, "present"]].drop_duplicates().reset_index(drop=True)


def _ratio(diff: float, se: float) -> float:
    if diff == 0.0:
        return 0.0
    return diff / se if np.isfinite(se) and se > 0 else math.nan


def _paired_ratio(diff: float, se: float) -> float:
    """`_ratio`, but a non-zero difference with zero spread (every seed moved alike) is
    infinitely many paired s.e."""
    if np.isfinite(diff) and diff != 0.0 and se <= 1e-9 * abs(diff):  # zero but for rounding
        return math.copysign(math.inf, diff)
    return _ratio(diff, se)


def compare_aggregate(cells: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, model, tier, method) and metric (``AGGREGATE_COLUMNS``, module docstring),
    over the seeds both tables have with finite values: n, identical (of all shared seeds),
    means, mean_diff, standard errors, diff in s.e., max |diff|. s.e. are NaN for n < 2."""
    both = cells[cells["present"] == "both"]
    rows = []
    for (dataset, model, tier, method, metric), g in both.groupby([*CELL_KEYS, "method", "metric"]):
        finite = g[np.isfinite(g["mine"]) & np.isfinite(g["reference"])]
        m_mine, se_mine, n = mean_se(finite["mine"])
        m_ref, se_ref, _ = mean_se(finite["reference"])
        mean_diff, se_paired, _ = mean_se(finite["diff"]) if n else (math.nan,) * 3
        se_pooled = math.sqrt((se_mine**2 + se_ref**2) / 2.0)
        max_abs = float(finite["diff"].abs().max()) if n else math.nan
        rows.append((dataset, model, tier, method, metric, n, int(g["identical"].sum()), m_mine,
                     m_ref, mean_diff, se_mine, se_ref, se_pooled, _ratio(mean_diff, se_ref),
                     _ratio(mean_diff, se_pooled), se_paired,
                     _paired_ratio(mean_diff, se_paired), max_abs))  # fmt: skip
    out = pd.DataFrame(rows, columns=list(AGGREGATE_COLUMNS))
    metric_rank = {m: i for i, m in enumerate(dict.fromkeys(cells["metric"]))}
    out = out.assign(_rank=out["method"].map(method_rank), _metric=out["metric"].map(metric_rank))
    keys = [*CELL_KEYS, "_rank", "method", "_metric"]
    out = out.sort_values(keys).drop(columns=["_rank", "_metric"]).reset_index(drop=True)
    return out.astype({"n": np.int64, "identical": np.int64})


def _signed(x: float, digits: int) -> str:
    return "" if not np.isfinite(x) else f"{x:+.{digits}f}".replace("-", "−")


def compare_markdown(cells: pd.DataFrame, aggregate: pd.DataFrame) -> str:
    """Pipe table, one row per (dataset, model, tier, method): seeds bit-identical in every
    metric, then per metric 'identical' (every seed) or 'mean_diff (diff_in_paired_se paired
    s.e.; max max_abs_diff)'."""
    metrics = list(dict.fromkeys(aggregate["metric"]))
    both = cells[cells["present"] == "both"]
    same = both.groupby(list(RUN_KEYS))["identical"].all().reset_index()
    same = same.groupby([*CELL_KEYS, "method"])["identical"].agg(["sum", "size"])
    head = ["dataset", "model", "tier", "method", "identical seeds", *(f"Δ {m}" for m in metrics)]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "---|" * 4 + "---:|" * (1 + len(metrics))]  # fmt: skip
    for key, g in aggregate.groupby([*CELL_KEYS, "method"], sort=False):
        stats = g.set_index("metric")
        k, size = same.loc[key]
        row = [*key, f"{k}/{size}"]
        for m in metrics:
            if m not in stats.index or not stats.at[m, "n"]:
                row.append("")
                continue
            r = stats.loc[m]
            if r.identical == size:
                row.append("identical")
                continue
            ratio = r.diff_in_paired_se
            se = f"{_signed(ratio, 1)} paired s.e.; " if not np.isnan(ratio) else ""
            row.append(f"{_signed(r.mean_diff, 4)} ({se}max {r.max_abs_diff:.4f})")
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def verdict(cells: pd.DataFrame, aggregate: pd.DataFrame, bound: float = SE_BOUND) -> str:
    """One line: every shared cell bit-identical, or how many means lie beyond ``bound`` paired
    standard errors (module docstring) and the largest |diff_in_paired_se|."""
    k, n = identical_cells(cells)
    if k == n:
        return f"bit-identical: all {n} shared cells equal the reference in every metric"
    has_se = ~np.isnan(aggregate["diff_in_paired_se"])
    ratios = aggregate[has_se]
    moved = np.isfinite(aggregate["mean_diff"]) & (aggregate["mean_diff"] != 0)
    no_se = int((moved & ~has_se).sum())
    tail = f"; {no_se} differing mean(s) without s.e. (fewer than 2 shared seeds)" if no_se else ""
    if not (moved & has_se).any():
        return f"{n - k} of {n} cells differ{tail}"
    worst = ratios.loc[ratios["diff_in_paired_se"].abs().idxmax()]
    where = f"{worst.dataset}/{worst.model}/{worst.method} {worst.metric}"
    size = abs(worst.diff_in_paired_se)
    size = "every seed moved alike" if np.isinf(size) else f"{size:.1f} paired s.e."
    largest = f"largest {size}, {where}"
    beyond = int((ratios["diff_in_paired_se"].abs() > bound).sum())
    scale = "the spread of mine − reference over the shared seeds"
    if beyond == 0:
        return (f"all {len(ratios)} means within {bound:g} paired s.e. of the reference ({scale}: "
                f"a difference such as another CPU's rounding gives; {largest}){tail}")  # fmt: skip
    return (f"{beyond} of {len(ratios)} means differ by more than {bound:g} paired s.e. "
            f"({scale}), more than rounding alone explains ({largest}){tail}")  # fmt: skip


def provenance_differences(
    mine: pd.DataFrame, reference: pd.DataFrame, columns: Sequence[str] = VERSION_COLUMNS
) -> pd.DataFrame:
    """Per provenance column either table has: each table's distinct values joined by ', '
    ('(absent)' without the column) and whether they differ. Columns column, mine, reference,
    differs."""

    def values(df: pd.DataFrame, col: str) -> str:
        if col not in df.columns:
            return "(absent)"
        return ", ".join(sorted({str(v) for v in df[col].dropna()}))

    rows = [(c, values(mine, c), values(reference, c)) for c in columns
            if c in mine.columns or c in reference.columns]  # fmt: skip
    out = pd.DataFrame(rows, columns=["column", "mine", "reference"])
    return out.assign(differs=out["mine"] != out["reference"])
