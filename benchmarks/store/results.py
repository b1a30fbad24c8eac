"""The tidy results table: one row per (finished run, eval set), metric and provenance columns.

Eval sets: `split` = `val`, `test`, `corruption` (one row per corruption type and severity) or
`ood` (one row per OOD set, detection metrics against the clean test split). `corruption`,
`severity` and `ood_set` say which; `none` / 0 where they do not apply. A run without a
validation split (an imported one) has no `val` row; `source` says where a run's predictions
were made (`hyperens` for the suite's own).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.store.atomic import write_bytes_atomic, write_text_atomic
from benchmarks.store.runs import STATUSES, RunStore

ID_COLUMNS = ("run_id", "dataset", "model", "method", "tier", "seed")
SPLIT_COLUMN = "split"
SHIFT_COLUMNS = ("corruption", "severity", "ood_set")
NONE = "none"
PROVENANCE_COLUMNS = (
    "suite_version",
    "git_commit",
    "config_hash",
    "python",
    "tensorflow",
    "keras",
    "numpy",
    "tensorflow_datasets",
    "gin_config",
    "wall_time_s",
    "shift_eval_s",
    "param_count",
    "budget_trainings",
    "budget_train_s",
    "training_code_version",
    "kept_epoch",
    "hparams_source",
    "source",
    "timestamp",
)
# provenance a run may lack: suite runs record no `source` (imported runs do, e.g.
# "uncertainty-baselines", `benchmarks.imports`)
PROVENANCE_DEFAULTS = {"source": "hyperens"}
NUMERIC_PROVENANCE = (
    "wall_time_s", "shift_eval_s", "param_count", "budget_trainings", "budget_train_s",
    "training_code_version", "kept_epoch",
)  # fmt: skip
# metrics shown first (in this order) when present; the rest follow alphabetically
HEADLINE_METRICS = ("nll", "accuracy", "ece_15bin", "brier")
STRING_COLUMNS = (
    "run_id",
    "dataset",
    "model",
    "method",
    "tier",
    SPLIT_COLUMN,
    "corruption",
    "ood_set",
    *(c for c in PROVENANCE_COLUMNS if c not in NUMERIC_PROVENANCE),
)
PARQUET_NAME = "results.parquet"
CSV_NAME = "results.csv"
NOT_STARTED = "not_started"


def _metric_order(names: set[str]) -> list[str]:
    head = [m for m in HEADLINE_METRICS if m in names]
    return head + sorted(names - set(head))


def parse_split(key: str) -> dict:
    """A metrics key -> the row's split columns: `test` -> (test, none, 0, none);
    `corruption/fog/3` -> (corruption, fog, 3, none); `ood/svhn` -> (ood, none, 0, svhn)."""
    parts = key.split("/")
    row = {SPLIT_COLUMN: parts[0], "corruption": NONE, "severity": 0, "ood_set": NONE}
    if parts[0] == "corruption" and len(parts) == 3:
        row.update(corruption=parts[1], severity=int(parts[2]))
    elif parts[0] == "ood" and len(parts) == 2:
        row.update(ood_set=parts[1])
    return row


def gather_results(store: RunStore) -> pd.DataFrame:
    """Rows for every ``done`` run (each verified; a corrupt one raises StoreCorruptError naming
    it), one per eval split in its metrics. Columns: ``ID_COLUMNS``, ``split``, one column per
    metric (union over runs, NaN where a run lacks it), then ``PROVENANCE_COLUMNS``. Rows are
    sorted by dataset, model, method, tier, seed, run_id, split."""
    rows: list[dict] = []
    metric_names: set[str] = set()
    for rid in store.run_ids():
        if store.status(rid) != "done":
            continue
        record = store.load(rid)  # verifies every file of a done run
        prov = record.provenance
        for split, values in record.metrics.items():
            metric_names.update(values)
            row = {
                "run_id": rid,
                **{k: record.cell[k] for k in ID_COLUMNS[1:]},
                **parse_split(split),
                **values,
            }
            row.update({c: prov.get(c, PROVENANCE_DEFAULTS.get(c)) for c in PROVENANCE_COLUMNS})
            rows.append(row)
    metrics = _metric_order(metric_names)
    columns = [*ID_COLUMNS, SPLIT_COLUMN, *SHIFT_COLUMNS, *metrics, *PROVENANCE_COLUMNS]
    df = pd.DataFrame(rows, columns=columns)
    return (
        _normalise(df, metrics)
        .sort_values(
            ["dataset", "model", "method", "tier", "seed", "run_id", SPLIT_COLUMN, *SHIFT_COLUMNS],
            kind="stable",
        )
        .reset_index(drop=True)
    )


def _normalise(df: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Fixed dtypes so that Parquet and CSV round trips give back an equal frame."""
    df = df.copy()
    for col in STRING_COLUMNS:
        if col in df.columns:
            df[col] = df[col].astype("str")
    for col in [*metrics, "wall_time_s", "shift_eval_s", "budget_train_s", "kept_epoch"]:
        df[col] = df[col].astype(np.float64)
    for col in ("seed", "param_count", "severity", "budget_trainings", "training_code_version"):
        if df[col].notna().all():
            df[col] = df[col].astype(np.int64)
        else:
            df[col] = df[col].astype(np.float64)
    return df


def read_results(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_results` (``.parquet`` or ``.csv``) with its dtypes.

    In the CSV only an empty field is missing; strings such as ``NA`` stay strings."""
    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(
        path,
        dtype={c: "str" for c in STRING_COLUMNS},
        keep_default_na=False,
        na_values=[""],
    )


def write_results(store: RunStore) -> tuple[Path, Path]:
    """Write ``root/results.parquet`` and ``root/results.csv`` atomically; return their paths."""
    df = gather_results(store)
    parquet_path = store.root / PARQUET_NAME
    csv_path = store.root / CSV_NAME
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    write_bytes_atomic(parquet_path, buf.getvalue())
    write_text_atomic(csv_path, df.to_csv(index=False))
    return parquet_path, csv_path


def status_counts(store: RunStore) -> dict[str, int]:
    """Number of runs per status: every key of ``STATUSES`` (zeros included), plus
    ``not_started`` when some run directory has no status file."""
    counts = dict.fromkeys(STATUSES, 0)
    for rid in store.run_ids():
        status = store.status(rid)
        key = NOT_STARTED if status is None else status
        counts[key] = counts.get(key, 0) + 1
    return counts


def format_results(df: pd.DataFrame) -> str:
    """A compact text table of the val/test rows (cell, split, nll, accuracy, ece_15bin, brier
    where present); shifted-set rows are only counted."""
    if df.empty:
        return "(no finished runs)"
    shifted = int((~df[SPLIT_COLUMN].isin(["val", "test"])).sum())
    df = df[df[SPLIT_COLUMN].isin(["val", "test"])]
    cols = [
        c
        for c in ("dataset", "model", "method", "tier", "seed", SPLIT_COLUMN, *HEADLINE_METRICS)
        if c in df.columns
    ]
    text = df[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}")
    return text + (f"\n(+ {shifted} shifted-set rows in the table)" if shifted else "")
