"""The paper's claims, tested per (dataset, model, tier) cell on NLL paired by seed.

A claim row compares ``method`` with ``baseline`` on the seeds both have (n of them):
d_s = NLL(method, s) − NLL(baseline, s), mean_diff = mean(d), se = std(d, ddof=1) / sqrt(n),
the 95% interval mean_diff ± t_{0.975, n−1}·se and wins = #{s : d_s < 0}. The verdict is
"supported" if the whole interval is below 0, "contradicted" if it is above 0, and "not resolved"
otherwise (also when n < 2, e.g. a method is missing). NLL is measured on the test split
(``test``) or on the corrupted test sets (``corruption``: per run the mean NLL over corruption
types within each severity, then over severities 1..5).

How firm a verdict is: ``stability`` = the share of ``RESAMPLES`` bootstrap resamples of the seeds
(n of the n differences drawn with replacement, numpy seed ``BOOTSTRAP_SEED``) whose own verdict
(the same t-interval test) equals the verdict on all n; NaN when n < 2. A verdict with stability
below ``FRAGILE_BELOW`` is *fragile*: a rounding-level change of the training code, or a few more
seeds, can flip it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmarks.analysis.calibrated import has_calibrated
from benchmarks.analysis.tables import (
    CELL_KEYS,
    mean_se,
    paired_differences,
    require_columns,
    split_rows,
)


@dataclass(frozen=True)
class Claim:
    """One comparison: ``method`` beats ``baseline`` on NLL measured on ``measure``."""

    claim: str
    method: str
    baseline: str
    measure: str = "test"


STATEMENTS = {
    "a": "every ensemble beats the single model",
    "b": "hyper-deep ensembles beat deep ensembles",
    "c": "hyper-batch ensembles beat batch ensembles",
    "d": "the ordering holds under corruption (deep ensemble − single, b and c)",
}
ENSEMBLES = ("random_search_topk", "deep_ensemble", "hyper_ens", "hyper_deep_ensemble",
             "batch_ensemble", "hyper_batch_ensemble")  # fmt: skip
CLAIMS = (
    *(Claim("a", m, "single") for m in ENSEMBLES),
    Claim("b", "hyper_deep_ensemble", "deep_ensemble"),
    Claim("c", "hyper_batch_ensemble", "batch_ensemble"),
    Claim("d", "deep_ensemble", "single", "corruption"),
    Claim("d", "hyper_deep_ensemble", "deep_ensemble", "corruption"),
    Claim("d", "hyper_batch_ensemble", "batch_ensemble", "corruption"),
)
#: The two headline comparisons (claims b and c on the test split).
PAPER_PAIRS = tuple((c.method, c.baseline) for c in CLAIMS if c.claim in ("b", "c"))
MEASURES = ("test", "corruption")
VERDICTS = ("supported", "contradicted", "not resolved")
CLAIM_COLUMNS = (*CELL_KEYS, "claim", "measure", "method", "baseline", "n", "mean_diff", "se",
                 "ci_low", "ci_high", "wins", "verdict", "stability")  # fmt: skip
VALUE_KEYS = [*CELL_KEYS, "method", "seed", "run_id"]
CALIBRATED_CLAIM_COLUMNS = ("mean_diff_calibrated", "se_calibrated", "ci_low_calibrated",
                            "ci_high_calibrated", "verdict_calibrated",
                            "stability_calibrated")  # fmt: skip
RESAMPLES = 2000
BOOTSTRAP_SEED = 0
FRAGILE_BELOW = 0.9


def measure_values(df: pd.DataFrame, measure: str, metric: str = "nll") -> pd.DataFrame:
    """One value of `metric` per run: the test split's (``test``), or (``corruption``) the mean
    over severities 1..5 of its mean over corruption types at that severity. Columns dataset,
    model, tier, method, seed, run_id, `metric`; no rows if the frame has none to use."""
    if measure == "test":
        return split_rows(df, "test")[[*VALUE_KEYS, metric]].reset_index(drop=True)
    if measure != "corruption":
        raise ValueError(f"unknown measure {measure!r}; valid: {', '.join(MEASURES)}")
    if "split" not in df.columns or "severity" not in df.columns:
        return pd.DataFrame(columns=[*VALUE_KEYS, metric])
    rows = df[(df["split"] == "corruption") & df["severity"].between(1, 5)]
    per = rows.groupby([*VALUE_KEYS, "severity"], as_index=False)[metric].mean()
    return per.groupby(VALUE_KEYS, as_index=False)[metric].mean()


def t_interval(mean: float, se: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """mean ± t_{(1 + level) / 2, n − 1}·se; (NaN, NaN) when n < 2 or se is not finite."""
    if n < 2 or not (np.isfinite(mean) and np.isfinite(se)):
        return math.nan, math.nan
    from scipy.stats import t

    half = float(t.ppf(0.5 + level / 2, n - 1)) * se
    return mean - half, mean + half


def verdict(low: float, high: float) -> str:
    """'supported' if high < 0, 'contradicted' if low > 0, else (or if NaN) 'not resolved'."""
    if np.isfinite(high) and high < 0:
        return "supported"
    if np.isfinite(low) and low > 0:
        return "contradicted"
    return "not resolved"


def stability(diff: np.ndarray, resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED) -> float:
    """Share of `resamples` bootstrap resamples of the n paired differences `diff` (indices drawn
    with replacement, numpy seed `seed`) whose verdict (95% t-interval, ``verdict``) equals the
    verdict on all of `diff`; NaN when n < 2."""
    d = np.asarray(diff, dtype=np.float64)
    n = d.size
    if n < 2:
        return math.nan
    from scipy.stats import t

    observed = verdict(*t_interval(*mean_se(d)[:2], n))
    samples = d[np.random.default_rng(seed).integers(0, n, size=(resamples, n))]
    mean = samples.mean(axis=1)
    half = float(t.ppf(0.975, n - 1)) * samples.std(axis=1, ddof=1) / math.sqrt(n)
    code = np.where(mean + half < 0, 0, np.where(mean - half > 0, 1, 2))  # VERDICTS' order
    return float(np.mean(code == VERDICTS.index(observed)))


def _cells(values: pd.DataFrame) -> list[tuple]:
    return sorted(set(values[list(CELL_KEYS)].itertuples(index=False, name=None)))


def claims_table(df: pd.DataFrame) -> pd.DataFrame:
    """Every claim of ``CLAIMS`` in every cell that has rows of its measure (test rows; corruption
    rows for claim d), in ``CLAIMS`` order per cell; a missing method gives n = 0, NaN statistics
    and 'not resolved'. Columns ``CLAIM_COLUMNS`` (see the module docstring); when the frame has
    ``nll_calibrated`` (`benchmarks.analysis.calibrated`), also ``CALIBRATED_CLAIM_COLUMNS``: the
    same test on the temperature-scaled NLL."""
    table = _claims_on(df, "nll")
    if has_calibrated(df):
        cal = _claims_on(df, "nll_calibrated")
        assert len(cal) == len(table)  # the same cells and claims, in the same order
        for col in ("mean_diff", "se", "ci_low", "ci_high", "verdict", "stability"):
            table[f"{col}_calibrated"] = cal[col].to_numpy()
    return table


def _claims_on(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    require_columns(df, [*VALUE_KEYS, metric])
    values = {measure: measure_values(df, measure, metric) for measure in MEASURES}
    out = []
    for order, claim in enumerate(CLAIMS):
        part = values[claim.measure]
        diffs = paired_differences(part, claim.method, claim.baseline, metric=metric)
        for cell in _cells(part):
            d = diffs.get(cell, np.zeros(0))
            mean, se, n = mean_se(d)
            low, high = t_interval(mean, se, n)
            out.append((*cell, claim.claim, claim.measure, claim.method, claim.baseline, n, mean,
                        se, low, high, int(np.sum(d < 0)), verdict(low, high), stability(d),
                        order))  # fmt: skip
    result = pd.DataFrame(out, columns=[*CLAIM_COLUMNS, "_order"])
    result = result.sort_values([*CELL_KEYS, "_order"], kind="stable").drop(columns="_order")
    return result.astype({"n": np.int64, "wins": np.int64}).reset_index(drop=True)


def _signed(x: float) -> str:
    return f"{x:+.4f}".replace("-", "−") if np.isfinite(x) else ""


def _se(x: float) -> str:
    return f"{x:.4f}" if np.isfinite(x) else ""


def _ci(low: float, high: float) -> str:
    return f"[{_signed(low)}, {_signed(high)}]" if np.isfinite(low) else ""


def _shown(verdict: str, stability: float) -> str:
    shown = f"**{verdict}**" if verdict != "not resolved" else verdict
    return f"{shown} (fragile)" if stability < FRAGILE_BELOW else shown


def _stability(x: float) -> str:
    return f"{x:.2f}" if np.isfinite(x) else ""


CAPTION = (
    "NLL paired by seed: mean difference method − baseline over the n seeds both have "
    "(negative = method better) ± its standard error; 95% interval = mean ± t(0.975, n−1)·s.e.; "
    "**supported** if the whole interval is below 0, **contradicted** if above, otherwise not "
    "resolved; wins = seeds where the method's NLL is lower. "
    + "; ".join(f"({k}) {v}" for k, v in STATEMENTS.items())
    + ". `corruption`: per run the mean NLL over corruption types, then over severities 1-5. "
    f"Stability: the share of {RESAMPLES:,} bootstrap resamples of the seeds (seeded) that give "
    f"the same verdict; a verdict below {FRAGILE_BELOW} is marked (fragile): a rounding-level "
    "change of the training code or a few more seeds can flip it."
)
CAPTION_CALIBRATED = (
    " The calibrated columns repeat the test on each run's NLL after temperature scaling on its "
    "validation split (one temperature per run, `benchmarks.analysis.calibrated`)."
)


def claims_markdown(table: pd.DataFrame) -> str:
    """``CAPTION``, then per cell '*dataset, model (tier)*' and a pipe table with one row per claim
    of ``claims_table`` (with the calibrated difference and verdict when the table has them);
    '(no claims to test)' for an empty frame."""
    if table.empty:
        return "(no claims to test)"
    calibrated = "verdict_calibrated" in table.columns
    parts = [CAPTION + (CAPTION_CALIBRATED if calibrated else "")]
    header = ["claim", "method − baseline", "NLL on", "n", "mean diff", "s.e.", "95% interval",
              "wins", "verdict", "stability"]  # fmt: skip
    rule = "|---|---|---|---:|---:|---:|---|---:|---|---:|"
    if calibrated:
        header += ["calibrated diff", "calibrated 95% interval", "after calibration",
                   "stability after calibration"]  # fmt: skip
        rule += "---:|---|---|---:|"
    for cell, rows in table.groupby(list(CELL_KEYS), sort=True):
        lines = ["| " + " | ".join(header) + " |", rule]
        for r in rows.itertuples():
            line = (
                f"| {r.claim} | {r.method} − {r.baseline} | {r.measure} | {r.n} | "
                f"{_signed(r.mean_diff)} | {_se(r.se)} | {_ci(r.ci_low, r.ci_high)} | "
                f"{r.wins}/{r.n} | {_shown(r.verdict, r.stability)} | {_stability(r.stability)} |"
            )
            if calibrated:
                line += (
                    f" {_signed(r.mean_diff_calibrated)} | "
                    f"{_ci(r.ci_low_calibrated, r.ci_high_calibrated)} | "
                    f"{_shown(r.verdict_calibrated, r.stability_calibrated)} | "
                    f"{_stability(r.stability_calibrated)} |"
                )
            lines.append(line)
        parts.append(f"*{cell[0]}, {cell[1]} ({cell[2]})*\n\n" + "\n".join(lines))
    return "\n\n".join(parts)
