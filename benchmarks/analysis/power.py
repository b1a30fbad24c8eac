"""How many seeds a paired claim needs: from the claims table's standard error.

For a claim with n seeds and paired standard error se, the differences' standard deviation is
sd = se·sqrt(n), and the seeds for a target standard error s* are n* = ceil((sd / s*)²). The
targets (`TARGET_SE`) are the suite's resolution goals for the paper's two headline claims, of
the size of the differences the paper reports for MLP / LeNet (Table 1).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from benchmarks.analysis.tables import CELL_KEYS

TARGET_SE = {("hyper_deep_ensemble", "deep_ensemble"): 0.0017,
             ("hyper_batch_ensemble", "batch_ensemble"): 0.003}  # fmt: skip
POWER_COLUMNS = (*CELL_KEYS, "method", "baseline", "n", "sd", "se", "target_se", "seeds_needed")


def seeds_needed(sd: float, target_se: float) -> int | None:
    """ceil((sd / target_se)²), at least 2; None if sd is not finite."""
    if not np.isfinite(sd):
        return None
    return max(2, math.ceil((sd / target_se) ** 2 - 1e-9))


def power_table(claims: pd.DataFrame) -> pd.DataFrame:
    """Per cell and headline claim (test NLL, ``TARGET_SE``): n, sd, se, the target and the seeds
    it needs. Columns ``POWER_COLUMNS``."""
    rows = []
    test = claims[claims["measure"] == "test"]
    for r in test.itertuples(index=False):
        target = TARGET_SE.get((r.method, r.baseline))
        if target is None:
            continue
        sd = r.se * math.sqrt(r.n) if r.n >= 2 else math.nan
        rows.append((*(getattr(r, k) for k in CELL_KEYS), r.method, r.baseline, r.n, sd, r.se,
                     target, seeds_needed(sd, target)))  # fmt: skip
    return pd.DataFrame(rows, columns=list(POWER_COLUMNS))


def power_markdown(table: pd.DataFrame) -> str:
    """The power table as Markdown: one row per cell and claim."""
    if table.empty:
        return "(no headline claim to size)"
    lines = ["| dataset / model | method − baseline | seeds | sd of the differences | s.e. | "
             "target s.e. | seeds for the target |",
             "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in table.itertuples(index=False):
        need = "" if r.seeds_needed is None or pd.isna(r.seeds_needed) else int(r.seeds_needed)
        lines.append(f"| {r.dataset} / {r.model} | {r.method} − {r.baseline} | {r.n} | "
                     f"{r.sd:.4f} | {r.se:.4f} | {r.target_se} | {need} |")  # fmt: skip
    return "\n".join(lines)
