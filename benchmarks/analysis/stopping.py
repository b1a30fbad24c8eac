"""Where each method's networks stopped: the stopping rule read back from the learning curves.

Every network keeps the weights of its lowest-validation-NLL epoch (`TrainConfig.stopping`,
ties to the earlier epoch), so from a ``training_history`` frame (one row per run, network and
epoch) the kept epoch is argmin_e val_nll[e] + 1 and the rise after it is
val_nll[E] - min_e val_nll[e], E the last epoch trained.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.analysis.tables import CELL_KEYS, method_rank, require_columns

STOPPING_COLUMNS = (*CELL_KEYS, "method", "networks", "epochs", "kept_epoch", "kept_at_last",
                    "rise_after_min")  # fmt: skip


def kept_epochs(history: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, network): ``epochs`` trained, ``kept_epoch`` (first epoch of the lowest
    validation NLL) and ``rise_after_min`` (last minus lowest validation NLL)."""
    require_columns(history, [*CELL_KEYS, "method", "run_id", "member", "epoch", "val_nll"])
    rows = []
    keys = [*CELL_KEYS, "method", "run_id", "member"]
    for key, net in history[history["val_nll"].notna()].groupby(keys, sort=False):
        net = net.sort_values("epoch")
        nll = net["val_nll"].to_numpy(np.float64)
        best = int(np.argmin(nll))
        epochs = int(net["epoch"].iloc[-1])
        rows.append((*key, epochs, int(net["epoch"].iloc[best]), float(nll[-1] - nll[best])))
    return pd.DataFrame(rows, columns=[*keys, "epochs", "kept_epoch", "rise_after_min"])


def stopping_table(history: pd.DataFrame) -> pd.DataFrame:
    """Per (cell, method): networks, epochs trained (max), mean kept epoch, the share of networks
    that kept their last epoch (the budget may be too short for them) and the mean rise of
    validation NLL after the kept epoch. Columns ``STOPPING_COLUMNS``."""
    nets = kept_epochs(history)
    if nets.empty:
        return pd.DataFrame(columns=list(STOPPING_COLUMNS))
    nets["kept_at_last"] = (nets["kept_epoch"] == nets["epochs"]).astype(float)
    grouped = nets.groupby([*CELL_KEYS, "method"])
    out = grouped.agg(networks=("run_id", "size"), epochs=("epochs", "max"),
                      kept_epoch=("kept_epoch", "mean"), kept_at_last=("kept_at_last", "mean"),
                      rise_after_min=("rise_after_min", "mean")).reset_index()  # fmt: skip
    out = out.assign(_rank=out["method"].map(method_rank))
    out = out.sort_values([*CELL_KEYS, "_rank", "method"]).drop(columns="_rank")
    return out[list(STOPPING_COLUMNS)].reset_index(drop=True)


def stopping_markdown(table: pd.DataFrame) -> str:
    """The stopping table as a Markdown pipe table (one section per cell)."""
    if table.empty:
        return "(no learning curves stored)"
    lines = []
    for cell, sub in table.groupby(list(CELL_KEYS), sort=False):
        lines += [f"**{' / '.join(map(str, cell))}**", "",
                  "| method | networks | epochs | kept epoch (mean) | kept the last epoch | "
                  "val NLL rise after the kept epoch |",
                  "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for r in sub.itertuples(index=False):
            lines.append(f"| {r.method} | {r.networks} | {r.epochs} | {r.kept_epoch:.1f} | "
                         f"{r.kept_at_last:.0%} | {r.rise_after_min:.4f} |")  # fmt: skip
        lines.append("")
    return "\n".join(lines).rstrip()
