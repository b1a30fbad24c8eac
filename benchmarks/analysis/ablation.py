"""Ablations: a variant of some methods (other settings, the same cells and seeds) against the
base results, as paired differences.

For every (dataset, model, tier, method) and metric, d_s = variant_s − base_s on each seed s both
tables hold; the table gives n, mean(d) and its standard error sd(d) / sqrt(n) (ddof 1), and
`lower` = the share of seeds on which the variant's value is below the base's.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from benchmarks.analysis.tables import CELL_KEYS, method_rank, require_columns, split_rows
from benchmarks.registry import Registry

# (split, metric) pairs an ablation reports, the ones that exist in both tables
ABLATION_METRICS = (("val", "nll"), ("test", "nll"), ("test", "nll_calibrated"),
                    ("test", "accuracy"), ("test", "member_nll_mean"))  # fmt: skip
ABLATION_COLUMNS = (*CELL_KEYS, "method", "split", "metric", "n", "mean_diff", "se", "lower")
_KEYS = [*CELL_KEYS, "method", "seed"]


def ablation_differences(base: pd.DataFrame, variant: pd.DataFrame) -> pd.DataFrame:
    """Paired variant − base per cell, method, split and metric (module docstring). Columns
    ``ABLATION_COLUMNS``; only methods the variant ran."""
    require_columns(base, _KEYS)
    require_columns(variant, _KEYS)
    rows = []
    for split, metric in ABLATION_METRICS:
        if metric not in base.columns or metric not in variant.columns:
            continue
        a = split_rows(variant, split).groupby(_KEYS)[metric].mean().rename("variant")
        b = split_rows(base, split).groupby(_KEYS)[metric].mean().rename("base")
        joined = pd.concat([a, b], axis=1, join="inner").dropna()
        for key, group in joined.groupby(level=list(range(len(_KEYS) - 1))):
            d = (group["variant"] - group["base"]).to_numpy(np.float64)
            se = float(np.std(d, ddof=1) / np.sqrt(len(d))) if len(d) > 1 else np.nan
            rows.append((*key, split, metric, len(d), float(d.mean()), se, float(np.mean(d < 0))))
    out = pd.DataFrame(rows, columns=list(ABLATION_COLUMNS))
    out = out.assign(_rank=out["method"].map(method_rank))
    return out.sort_values([*CELL_KEYS, "_rank", "method"], kind="stable").drop(columns="_rank")


def ablation_markdown(diffs: pd.DataFrame, title: str) -> str:
    """One row per (model, method): mean ± s.e. of every metric's paired difference, and n."""
    if diffs.empty:
        return f"**{title}**: no seed in common with the base results"
    diffs = diffs.assign(col=diffs["split"] + " " + diffs["metric"])
    cols = list(dict.fromkeys(diffs["col"]))
    lines = [f"**{title}** (variant − base, paired on seed; mean ± s.e.)", "",
             "| dataset / model | method | seeds | " + " | ".join(cols) + " |",
             "|---|---|---:|" + "---:|" * len(cols)]  # fmt: skip
    for (d, m, _, method), group in diffs.groupby([*CELL_KEYS, "method"], sort=False):
        by = group.set_index("col")
        cells = [f"{by.at[c, 'mean_diff']:+.4f} ± {by.at[c, 'se']:.4f}" if c in by.index else ""
                 for c in cols]  # fmt: skip
        lines.append(f"| {d} / {m} | {method} | {int(group['n'].max())} | " + " | ".join(cells)
                     + " |")  # fmt: skip
    return "\n".join(lines)


EFFICIENT = ("batch_ensemble", "hyper_batch_ensemble", "self_tuning", "mimo")


@dataclasses.dataclass(frozen=True)
class Ablation:
    """What a variant changes (`gin_params`) for which methods, and what it tests."""

    methods: tuple[str, ...]
    gin_params: tuple[str, ...]
    question: str


ABLATIONS: Registry[Ablation] = Registry("ablation")
ABLATIONS.register("single_best")(Ablation(
    ("batch_ensemble", "mimo"),
    ("BatchEnsemble.hparams = 'single-best'", "MIMO.hparams = 'single-best'"),
    "the single model's best setting instead of an own random search",
))  # fmt: skip
ABLATIONS.register("last_epoch")(Ablation(
    EFFICIENT, ("TrainConfig.stopping = 'last_epoch'",),
    "the last epoch's weights instead of the lowest-validation-NLL epoch's",
))  # fmt: skip
ABLATIONS.register("stop_holdout")(Ablation(
    ("hyper_batch_ensemble", "self_tuning"), ("HyperTuning.stop_holdout = 0.5",),
    "tuning on one half of validation and stopping on the other, instead of both on all of it",
))  # fmt: skip
for _rate, _why in (("1e-3", "the released 1e-3 (--lr_tuning)"), ("1e-2", "1e-2")):
    ABLATIONS.register(f"tuning_lr_{_rate}")(Ablation(
        ("hyper_batch_ensemble", "self_tuning"), (f"HyperTuning.learning_rate = {_rate}",),
        f"q's Adam learning rate at {_why} for both tuned methods",
    ))  # fmt: skip
