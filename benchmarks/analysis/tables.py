"""Summary tables of the tidy results frame: mean ± s.e. over seeds, paper tables, paired deltas.
Their Markdown and LaTeX renderings are `benchmarks.report.markdown` and `benchmarks.report.latex`.

Input is the frame of ``benchmarks.store.gather_results`` / ``read_results`` (one row per run and
split). Nothing here reads the store or imports TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

#: Display order of the known methods; other methods follow alphabetically.
METHOD_ORDER = (
    "single",
    "random_search_topk",
    "deep_ensemble",
    "hyper_ens",
    "hyper_deep_ensemble",
    "batch_ensemble",
    "hyper_batch_ensemble",
    "self_tuning",
    "mc_dropout",
    "mimo",
)
LOWER_IS_BETTER = frozenset(
    {"nll", "ece_15bin", "brier", "gibbs_nll", "member_nll_mean", "nll_calibrated",
     "ece_15bin_calibrated", "brier_calibrated"}
)  # fmt: skip
HIGHER_IS_BETTER = frozenset({"accuracy", "member_accuracy_mean"})
DEFAULT_METRICS = ("nll", "accuracy", "ece_15bin")
METRIC_LABELS = {"nll": "NLL", "ece_15bin": "ECE", "brier": "Brier", "gibbs_nll": "Gibbs NLL"}
CELL_KEYS = ("dataset", "model", "tier")
SUMMARY_COLUMNS = ("dataset", "model", "tier", "method", "metric", "mean", "se", "n")
PAIRED_COLUMNS = ("dataset", "model", "tier", "a", "b", "metric", "mean_diff", "se", "wins", "n")
BEST_PREFIX = "best "
PAPER_PREFIX = "paper "


def order_methods(methods: Iterable[str]) -> list[str]:
    """Unique methods in ``METHOD_ORDER``, unknown ones after it, alphabetically."""
    unique = set(methods)
    known = [m for m in METHOD_ORDER if m in unique]
    return known + sorted(unique - set(known))


def method_rank(method: str) -> int:
    """Position of ``method`` in ``METHOD_ORDER`` (``len(METHOD_ORDER)`` for unknown methods)."""
    return METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)


def mean_se(values: Iterable[float]) -> tuple[float, float, int]:
    """(mean, std(ddof=1) / sqrt(n), n) of the finite values; se is NaN if n == 1, all NaN if 0."""
    v = np.asarray(list(values), dtype=np.float64)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return math.nan, math.nan, 0
    se = float(v.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return float(v.mean()), se, n


def require_columns(df: pd.DataFrame, columns: Iterable[str]) -> None:
    """ValueError naming the columns of ``columns`` that ``df`` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"results frame lacks columns {missing}")


def split_rows(df: pd.DataFrame, split: str) -> pd.DataFrame:
    """Rows of ``split`` (all rows if the frame has no ``split`` column)."""
    return df[df["split"] == split] if "split" in df.columns else df


def summarize(
    df: pd.DataFrame, split: str = "test", metrics: Sequence[str] = DEFAULT_METRICS
) -> pd.DataFrame:
    """Per (dataset, model, tier, method) and metric: mean, se = std(ddof=1)/sqrt(n), n seeds.

    NaN metric values are left out (n counts the finite ones); a metric with n == 0 gives no row,
    n == 1 gives se NaN. Columns ``SUMMARY_COLUMNS``, sorted by cell, ``METHOD_ORDER``, ``metrics``.
    """
    require_columns(df, [*CELL_KEYS, "method", *metrics])
    rows = split_rows(df, split)
    out = []
    for (dataset, model, tier, method), group in rows.groupby([*CELL_KEYS, "method"]):
        for metric in metrics:
            mean, se, n = mean_se(group[metric])
            if n:
                out.append((dataset, model, tier, method, metric, mean, se, n))
    result = pd.DataFrame(out, columns=list(SUMMARY_COLUMNS)).astype({"n": np.int64})
    rank, metric_rank = result["method"].map(method_rank), result["metric"].map(list(metrics).index)
    result = result.assign(_rank=rank, _metric=metric_rank)
    keys = [*CELL_KEYS, "_rank", "method", "_metric"]
    return result.sort_values(keys).drop(columns=["_rank", "_metric"]).reset_index(drop=True)


def format_cell(mean: float, se: float) -> str:
    """'0.1834 ± 0.0021' (4 decimals); '0.1834' if se is NaN; '' if mean is NaN."""
    if not np.isfinite(mean):
        return ""
    return f"{mean:.4f}" if not np.isfinite(se) else f"{mean:.4f} ± {se:.4f}"


def _best_flags(means: list[float], metric: str) -> list[bool]:
    """True for the best mean (min if lower is better, max if higher); ties at the displayed 4
    decimals all count; all False for a metric of unknown direction."""
    finite = [m for m in means if np.isfinite(m)]
    if not finite or metric not in LOWER_IS_BETTER | HIGHER_IS_BETTER:
        return [False] * len(means)
    best = min(finite) if metric in LOWER_IS_BETTER else max(finite)
    return [bool(np.isfinite(m)) and f"{m:.4f}" == f"{best:.4f}" for m in means]


def _reference_values(
    reference: pd.DataFrame, dataset: str, model: str, metrics: Sequence[str]
) -> dict[tuple[str, str], float]:
    """{(method, metric): value} of one (dataset, model); the first row wins on duplicates."""
    require_columns(reference, ("dataset", "model", "method", "metric", "value"))
    mask = (reference["dataset"] == dataset) & (reference["model"] == model)
    mask &= reference["metric"].isin(list(metrics)) & reference["value"].notna()
    sel = reference[mask.fillna(False).astype(bool)]  # a missing model (NA) never matches
    first = sel.drop_duplicates(["method", "metric"], keep="first")
    return {(r.method, r.metric): float(r.value) for r in first.itertuples()}


def paper_table(
    summary: pd.DataFrame,
    dataset: str,
    model: str,
    reference: pd.DataFrame | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    tier: str | None = None,
) -> pd.DataFrame:
    """One row per method (``METHOD_ORDER``) of a (dataset, model[, tier]) of ``summarize``.

    Columns: ``method``; per metric the cell '0.1834 ± 0.0021' ('' if missing); per metric
    ``paper <metric>`` with the reference value (4 decimals, '' if missing) when ``reference``
    (columns dataset, model, method, metric, value) has rows for (dataset, model), the first row
    winning where it has several (filter ``reference`` by its ``source`` to choose); and per metric
    the bool ``best <metric>`` (best mean, ties at 4 decimals included) read by the renderers.
    Methods that only the reference has get a row with blank own cells. ``tier`` is required when
    the summary holds several tiers for (dataset, model).
    """
    sel = summary[(summary["dataset"] == dataset) & (summary["model"] == model)]
    tiers = sorted(sel["tier"].unique())
    if tier is not None:
        sel = sel[sel["tier"] == tier]
    elif len(tiers) > 1:
        raise ValueError(f"{dataset}/{model} has tiers {tiers}; pass tier=")
    sel = sel[sel["metric"].isin(list(metrics))]
    ref = {} if reference is None else _reference_values(reference, dataset, model, metrics)
    methods = order_methods([*sel["method"], *(m for m, _ in ref)])
    if not methods:
        raise ValueError(f"no summary or reference rows for {dataset}/{model}")
    stats = {(r.method, r.metric): (r.mean, r.se) for r in sel.itertuples()}
    table: dict[str, list] = {"method": methods}
    flags: dict[str, list[bool]] = {}
    for metric in metrics:
        pairs = [stats.get((m, metric), (math.nan, math.nan)) for m in methods]
        table[metric] = [format_cell(mean, se) for mean, se in pairs]
        flags[BEST_PREFIX + metric] = _best_flags([mean for mean, _ in pairs], metric)
    if ref:
        for metric in metrics:
            values = [ref.get((m, metric)) for m in methods]
            table[PAPER_PREFIX + metric] = ["" if v is None else f"{v:.4f}" for v in values]
    return pd.DataFrame({**table, **flags})


def shown_columns(table: pd.DataFrame) -> list[str]:
    """The columns of a ``paper_table`` a renderer shows: all but its ``best <column>`` flags."""
    return [c for c in table.columns if not str(c).startswith(BEST_PREFIX)]


def is_best(row: pd.Series, column: str) -> bool:
    """Whether a ``paper_table`` row's `column` is marked best (a shown, non-empty cell)."""
    flag = BEST_PREFIX + column
    return bool(row[flag]) if flag in row.index and row[column] != "" else False


def _by_seed(group: pd.DataFrame, method: str, metric: str, cell: tuple) -> pd.Series:
    rows = group[group["method"] == method]
    duplicated = sorted(rows.loc[rows["seed"].duplicated(), "seed"].unique())
    if duplicated:
        raise ValueError(
            f"{method} has several runs for seeds {duplicated} in {cell}; pairing is ambiguous"
        )
    return rows.set_index("seed")[metric].astype(np.float64)


def paired_differences(
    df: pd.DataFrame, a: str, b: str, metric: str = "nll", split: str = "test"
) -> dict[tuple, np.ndarray]:
    """Per (dataset, model, tier) with both methods: the differences a − b on the seeds both
    have (seeds missing or NaN for either method are ignored), in seed order."""
    if a == b:
        raise ValueError(f"paired comparison needs two different methods, got {a!r} twice")
    require_columns(df, [*CELL_KEYS, "method", "seed", metric])
    rows = split_rows(df, split)
    rows = rows[rows["method"].isin([a, b])]
    out = {}
    for cell, group in rows.groupby(list(CELL_KEYS)):
        joined = pd.concat(
            [
                _by_seed(group, a, metric, cell).rename("a"),
                _by_seed(group, b, metric, cell).rename("b"),
            ],
            axis=1,
            join="inner",
        ).dropna()
        if not joined.empty:
            out[cell] = (joined.iloc[:, 0] - joined.iloc[:, 1]).to_numpy()
    return out


def paired_comparison(
    df: pd.DataFrame, a: str, b: str, metric: str = "nll", split: str = "test"
) -> pd.DataFrame:
    """Per (dataset, model, tier) with both methods: a − b matched on seed.

    Seeds missing (or NaN) for either method are ignored. mean_diff = mean(a − b),
    se = std(ddof=1)/sqrt(n) (NaN if n == 1), wins = #seeds where a is better (a < b if
    ``metric`` is in ``LOWER_IS_BETTER``, a > b otherwise). Columns ``PAIRED_COLUMNS``.
    """
    out = []
    for cell, diff in paired_differences(df, a, b, metric, split).items():
        mean, se, n = mean_se(diff)
        wins = int(np.sum(diff < 0) if metric in LOWER_IS_BETTER else np.sum(diff > 0))
        out.append((*cell, a, b, metric, mean, se, wins, n))
    result = pd.DataFrame(out, columns=list(PAIRED_COLUMNS))
    return result.astype({"wins": np.int64, "n": np.int64})


def _signed(x: float) -> str:
    return f"{x:+.4f}".replace("-", "−")


def paired_markdown(paired: pd.DataFrame) -> str:
    """One line per row: 'a − b (dataset, model, tier): NLL −0.0028 ± 0.0019, better on 6 of 10
    seeds' (± part omitted when se is NaN); '' for an empty frame."""
    lines = []
    for r in paired.itertuples():
        label = METRIC_LABELS.get(r.metric, r.metric)
        se = f" ± {r.se:.4f}" if np.isfinite(r.se) else ""
        seeds = "seed" if r.n == 1 else "seeds"
        lines.append(
            f"{r.a} − {r.b} ({r.dataset}, {r.model}, {r.tier}): {label} {_signed(r.mean_diff)}"
            f"{se}, better on {r.wins} of {r.n} {seeds}"
        )
    return "\n".join(lines)
