"""`hyperens report`: from a store (or an earlier report's CSVs) to paper-style tables, figures
and paired comparisons.

This module reads the inputs and writes the CSVs; the tables are computed once
(`report.contents`) and each output is one module beside it: `markdown` (tables/*.md), `latex`
(tables/*.tex), `figures` (figures/*), `html` (index.html) and `readme` (the README blocks and
results/<name>/README.md). A new output is one new module taking `contents.ReportTables`.

Output directory layout:
  results.csv, results.parquet   the tidy results table (one row per run and split)
  ensemble_size.csv              NLL/accuracy of the ensemble each run builds at size k
  reliability.csv                15-bin reliability table per method (from predictions)
  history.csv                    per run, member and epoch: train loss, val NLL, val accuracy
  q_path.csv                     per tuning run, member, epoch and hyperparameter: q's ends, mean
  tables/stopping.md|.csv        per method: epochs, the kept epoch, the val NLL rise after it
  tables/power.md|.csv           seeds the headline claims need for their target s.e.
  matrix_log.csv                 the store's `hyperens matrix` runs: wall and CPU time, machine
  tables/<dataset>_<model>.md|.tex, tables/paired.md|.csv
  tables/table1.md|.tex          Fashion-MNIST in the paper's Table 1 layout (if it was run)
  tables/<dataset>_<model>_calibrated.md         test metrics after temperature scaling (val)
  de_curve.csv, tables/dee.md|.csv               deep-ensemble size curve (calibrated), DEE
  figures/dee_vs_cost.png|.pdf                   DEE against parameters and training budget
  tables/claims.md|.csv                          the paper's claims per cell, with verdicts
  tables/tuned.md|.csv                           where tuned hyperparameters ended (provenance)
  tables/imported.md|.csv                        imported runs' provenance, what they lack
  tables/shift_<dataset>_<model>_<metric>.md     metric per severity (mean over corruption types)
  tables/ood_<dataset>_<model>_<metric>.md       AUROC / AUPR / FPR@95%TPR per OOD set and score
  tables/shift.csv, tables/ood.csv               the summaries behind them
  figures/<name>.png|.pdf  (shift_boxplots = the paper's Fig. 3)
  index.html               one self-contained page of all of it (`benchmarks.report.html`)

`--results DIR` rebuilds tables and figures from DIR's CSVs alone, so the committed
`results/quick/` regenerates the README without the store (a directory written before
tables/tuned.csv existed reads it as empty; one written before history.csv reads its
learning_curves.csv instead, with NaN train loss and accuracy).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from benchmarks.analysis import (
    ensemble_size_curve,
    reliability_bins,
    training_history,
    tuned_hyperparameters,
)
from benchmarks.analysis.calibrated import (
    CALIBRATED_COLUMNS,
    run_calibrated,
    stored_calibrated,
    with_calibrated,
)
from benchmarks.analysis.dee import DE_CURVE_COLUMNS, deep_ensemble_curve
from benchmarks.analysis.derived import (
    DERIVED_KEYS,
    HISTORY_COLUMNS,
    Q_PATH_COLUMNS,
    history_from_learning_curves,
    q_path,
)
from benchmarks.analysis.imported import IMPORTED_COLUMNS, imported_runs
from benchmarks.analysis.shift import ood_summary, shift_summary
from benchmarks.analysis.tuned import TUNED_COLUMNS
from benchmarks.errors import HyperensError
from benchmarks.report.contents import report_tables
from benchmarks.report.figures import write_figures
from benchmarks.report.html import write_html
from benchmarks.report.latex import write_latex
from benchmarks.report.markdown import write_markdown
from benchmarks.store import RunStore, gather_results, read_json, read_results, write_results
from benchmarks.store.runs import PROVENANCE_FILE

CURVES, BINS, HISTORY = "ensemble_size.csv", "reliability.csv", "history.csv"
LEARNING = "learning_curves.csv"  # what reports wrote before history.csv (val NLL only)
TUNED = "tables/tuned.csv"
REQUIRED = ("results.csv", CURVES, BINS)
DE_CURVE = "de_curve.csv"
IMPORTED = "tables/imported.csv"
Q_PATH = "q_path.csv"
MATRIX_LOG = "matrix_log.csv"  # the store's `hyperens matrix` runs (benchmarks.matrix)
OPTIONAL = (HISTORY, LEARNING, TUNED, DE_CURVE, IMPORTED, Q_PATH, MATRIX_LOG)


class ReadOnceStore(RunStore):
    """A ``RunStore`` whose ``load_predictions`` reads each run's predictions.npz once (also
    when verifying the run) and keeps only the arrays the derived tables read
    (``benchmarks.analysis.derived.DERIVED_KEYS``). A run's calibrated metrics come from its
    metrics.json, where the runner stores them; then only those arrays are read, never its
    shifted sets (the archive's zip directory is still checked). A run stored without them has
    them computed at that one read (``run_calibrated``), so a report holds the shifted sets of at
    most one run at a time, whatever the size of the store."""

    def __init__(self, root: str | Path) -> None:
        super().__init__(root)
        self._predictions: dict[str, dict[str, np.ndarray]] = {}
        self._calibrated: dict[str, list[dict]] = {}

    def load_predictions(self, run_id: str, keys=None) -> dict[str, np.ndarray]:
        # `keys` is taken for RunStore's signature; the cache holds DERIVED_KEYS whatever it asks
        if run_id not in self._predictions:
            stored = stored_calibrated(run_id, self._read_metrics(run_id))
            if stored is None:
                arrays = super().load_predictions(run_id)
                self._calibrated[run_id] = run_calibrated(run_id, arrays)
            else:
                arrays = super().load_predictions(run_id, DERIVED_KEYS)
                self._calibrated[run_id] = stored
            self._predictions[run_id] = {k: arrays[k] for k in arrays if k in DERIVED_KEYS}
        return self._predictions[run_id]

    def calibrated(self, run_ids) -> pd.DataFrame:
        """The calibrated rows (``CALIBRATED_COLUMNS``) of `run_ids`."""
        for rid in run_ids:
            self.load_predictions(rid)
        rows = [row for rid in dict.fromkeys(run_ids) for row in self._calibrated[rid]]
        return pd.DataFrame(rows, columns=list(CALIBRATED_COLUMNS))


def provenance_loader(store: RunStore):
    """run_id -> the run's provenance.json as a dict ({} if it is not one); reads only that
    file."""

    def load(run_id: str) -> dict:
        provenance = read_json(store.run_dir(run_id) / PROVENANCE_FILE)
        return provenance if isinstance(provenance, dict) else {}

    return load


def method_info_loader(store: RunStore):
    """run_id -> the ``method_info`` dict of the run's provenance.json ({} if it has none); reads
    only that file."""
    provenance = provenance_loader(store)

    def load(run_id: str) -> dict:
        info = provenance(run_id).get("method_info")
        return info if isinstance(info, dict) else {}

    return load


def _from_store(store_dir: str | Path, out: Path) -> None:
    store = ReadOnceStore(store_dir)
    write_results(store)  # the store's own complete table
    df = latest_runs(gather_results(store))
    if df.empty:
        raise HyperensError(f"store {store_dir} has no finished runs to report on")
    load = store.load_predictions
    df = with_calibrated(df, store.calibrated(df["run_id"]))  # temperature-scaled on validation
    df.to_csv(out / "results.csv", index=False)
    df.to_parquet(out / "results.parquet", index=False)
    ensemble_size_curve(df, load).to_csv(out / CURVES, index=False)
    reliability_bins(df, load).to_csv(out / BINS, index=False)
    training_history(df, load).to_csv(out / HISTORY, index=False)
    q_path(df, load, method_info_loader(store)).to_csv(out / Q_PATH, index=False)
    if (Path(store_dir) / MATRIX_LOG).is_file():
        shutil.copy2(Path(store_dir) / MATRIX_LOG, out / MATRIX_LOG)
    deep_ensemble_curve(df, load).to_csv(out / DE_CURVE, index=False)
    (out / "tables").mkdir(exist_ok=True)
    tuned_hyperparameters(df, method_info_loader(store)).to_csv(out / TUNED, index=False)
    imported = imported_runs(df, provenance_loader(store))
    if len(imported):
        imported.to_csv(out / IMPORTED, index=False)
        print(f"report: {len(imported)} imported run(s) have no validation split: no calibrated "
              "metrics, temperature, claims or DEE for them (tables/imported.md)")  # fmt: skip


def latest_runs(df: pd.DataFrame) -> pd.DataFrame:
    """One run per (dataset, model, method, tier, seed): the latest by timestamp. A store can
    hold older runs of a cell under another configuration; they are left out of the report."""
    keys = ["dataset", "model", "method", "tier", "seed"]
    latest = df.sort_values("timestamp").groupby(keys)["run_id"].last()
    keep = df["run_id"].isin(set(latest))
    dropped = df.loc[~keep, "run_id"].nunique()
    if dropped:
        print(f"report: {dropped} superseded run(s) of the same cells left out")
    return df[keep].reset_index(drop=True)


class ReportInputs(NamedTuple):
    """The CSVs a report is drawn from."""

    results: pd.DataFrame
    curves: pd.DataFrame
    bins: pd.DataFrame
    history: pd.DataFrame
    tuned: pd.DataFrame
    de_curve: pd.DataFrame
    imported: pd.DataFrame
    q_path: pd.DataFrame


def load_report_inputs(results_dir: str | Path) -> ReportInputs:
    """The report directory's CSVs; ``history`` and ``tuned`` are empty frames (with their
    columns) when the directory predates them (``history`` from an older directory's
    learning_curves.csv when it has one)."""

    d = Path(results_dir)
    for name in REQUIRED:
        if not (d / name).is_file():
            raise HyperensError(f"{d / name} is missing; run `hyperens report --store` first")

    def optional(name: str, columns: tuple[str, ...]) -> pd.DataFrame:
        path = d / name
        return pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=list(columns))

    return ReportInputs(
        read_results(d / "results.csv"),
        pd.read_csv(d / CURVES),
        pd.read_csv(d / BINS),
        history_input(d),
        optional(TUNED, TUNED_COLUMNS),
        optional(DE_CURVE, DE_CURVE_COLUMNS),
        optional(IMPORTED, IMPORTED_COLUMNS),
        optional(Q_PATH, Q_PATH_COLUMNS),
    )


def history_input(d: Path) -> pd.DataFrame:
    """``history.csv`` of report directory `d`, else its older learning_curves.csv as a history
    table, else an empty frame with ``HISTORY_COLUMNS``."""
    if (d / HISTORY).is_file():
        return pd.read_csv(d / HISTORY)
    if (d / LEARNING).is_file():
        return history_from_learning_curves(pd.read_csv(d / LEARNING))
    return pd.DataFrame(columns=list(HISTORY_COLUMNS))


def shift_overhead(df: pd.DataFrame) -> tuple[float, float] | None:
    """(seconds predicting shifted sets, seconds of everything else) summed over the runs of the
    frame, from each run's `shift_eval_s` and `wall_time_s`; None without shift evaluation."""
    if "shift_eval_s" not in df.columns:
        return None
    runs = df.drop_duplicates("run_id")
    runs = runs[runs["shift_eval_s"].notna()]
    if runs.empty:
        return None
    shift = float(runs["shift_eval_s"].sum())
    return shift, float(runs["wall_time_s"].sum()) - shift


def write_report(
    out: str | Path,
    store: str | Path | None = None,
    results: str | Path | None = None,
) -> list[Path]:
    """Writes everything listed in the module docstring; returns the paths written."""

    out = Path(out)
    if store is not None and not (Path(store) / "runs").is_dir():
        raise HyperensError(f"{store} is not a store (no runs/ directory)")
    if store is None:
        load_report_inputs(results)  # fails before anything is written
    out.mkdir(parents=True, exist_ok=True)
    if store is not None:
        _from_store(store, out)
        results = out
    elif Path(results).resolve() != out.resolve():
        (out / "tables").mkdir(exist_ok=True)
        for name in (*REQUIRED, *OPTIONAL):
            if (Path(results) / name).is_file():
                shutil.copy2(Path(results) / name, out / name)
    df, curves, bins, history, tuned, de_curve, imported, q_frame = load_report_inputs(results)
    written = [out / name for name in (*REQUIRED, *OPTIONAL) if (out / name).is_file()]

    tables = out / "tables"
    tables.mkdir(exist_ok=True)
    t = report_tables(df, history, tuned, de_curve, imported)
    frames = {"paired": t.paired, "claims": t.claims, "power": t.power, "stopping": t.stopping}
    if t.dee is not None:
        frames["dee"] = t.dee
    if (df["split"] == "corruption").any() or (df["split"] == "ood").any():
        frames.update(shift=shift_summary(df), ood=ood_summary(df))
    for name, frame in frames.items():
        frame.to_csv(tables / f"{name}.csv", index=False)
        written.append(tables / f"{name}.csv")
    written += write_markdown(tables, t)
    written += write_latex(tables, t.paper)
    written += write_figures(out / "figures", df, curves, bins=bins, history=history,
                             q_frame=q_frame, equivalents=t.dee)  # fmt: skip
    written.append(write_html(out, f"hyperens report: {out.name}"))  # reads the files above
    return written
