"""Runs imported from other code bases (``benchmarks.imports``): which rows they are, their
provenance, and what the report cannot compute for them.

The results frame's ``source`` column is ``hyperens`` for the suite's own runs and names the code
base otherwise (e.g. ``uncertainty-baselines``). Imported runs hold test and corrupted-set
predictions only: no validation split, hence no temperature, no calibrated metrics and no learning
curve; claims and the deep-ensemble equivalent compare the suite's own methods by name, so
imported methods take no part in them.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

SUITE_SOURCE = "hyperens"
MARK = " (imported)"
IMPORTED_COLUMNS = ("dataset", "model", "tier", "method", "seed", "run_id", "source", "ub_method",
                    "source_dir", "files", "members", "picks", "examples", "labels",
                    "skipped_files")  # fmt: skip
NOTE = (
    "Rows marked *(imported)* were made elsewhere and read into the store (`hyperens import-ub`): "
    "test and corrupted sets only. Without a validation split they have no temperature and no "
    "calibrated metrics (left out of the calibrated tables), no learning curve, and no part in "
    "the claims or the deep-ensemble equivalent."
)


def imported_methods(df: pd.DataFrame) -> set[tuple[str, str, str]]:
    """(dataset, model, method) of every imported run of the frame (none without ``source``)."""
    if "source" not in df.columns:
        return set()
    rows = df[df["source"].fillna(SUITE_SOURCE) != SUITE_SOURCE]
    return set(zip(rows["dataset"], rows["model"], rows["method"], strict=True))


def mark_imported(
    table: pd.DataFrame, dataset: str, model: str, imported: set[tuple[str, str, str]]
) -> pd.DataFrame:
    """A ``paper_table`` with ``MARK`` after the name of every imported method of the cell."""
    names = [f"{m}{MARK}" if (dataset, model, m) in imported else m for m in table["method"]]
    return table.assign(method=names)


def imported_runs(df: pd.DataFrame, load_provenance: Callable[[str], dict]) -> pd.DataFrame:
    """One row per imported run of the frame with its import provenance: ``IMPORTED_COLUMNS``
    (lists joined by spaces)."""
    if "source" not in df.columns:
        return pd.DataFrame(columns=list(IMPORTED_COLUMNS))
    runs = df[df["source"].fillna(SUITE_SOURCE) != SUITE_SOURCE].drop_duplicates("run_id")
    out = []
    for run in runs.itertuples(index=False):
        info = load_provenance(run.run_id).get("imported", {})

        def text(key: str, info: dict = info) -> str:
            value = info.get(key, "")
            return " ".join(map(str, value)) if isinstance(value, list) else str(value)

        out.append((run.dataset, run.model, run.tier, run.method, run.seed, run.run_id,
                    run.source, *(text(k) for k in IMPORTED_COLUMNS[7:])))  # fmt: skip
    return pd.DataFrame(out, columns=list(IMPORTED_COLUMNS))


def imported_markdown(runs: pd.DataFrame) -> str:
    """``NOTE``, then one line per imported run: cell, source, directory, members, files."""
    if runs.empty:
        return "(no imported runs)"
    lines = [NOTE, ""]
    for r in runs.itertuples(index=False):
        lines.append(
            f"* {r.method} ({r.dataset}, {r.model}, {r.tier}, seed {r.seed}): {r.source} "
            f"method `{r.ub_method}` from `{r.source_dir}`, members {r.members} (picks {r.picks}), "
            f"{r.examples} test examples, labels from {r.labels}; {len(str(r.files).split())} files"
            + (f"; skipped: {r.skipped_files}" if str(r.skipped_files) not in ("", "nan") else "")
        )
    return "\n".join(lines)
