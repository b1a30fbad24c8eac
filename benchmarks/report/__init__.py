"""`hyperens report`: from a store (or an earlier report's CSVs) to paper-style tables, figures
and paired comparisons.

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
    claims_markdown,
    claims_table,
    cost_vs_nll,
    dee_vs_cost,
    diversity_vs_accuracy,
    ensemble_size_curve,
    learning_curves,
    nll_vs_ensemble_size,
    paired_comparison,
    paired_markdown,
    paper_table,
    reliability_bins,
    reliability_diagram,
    save_figure,
    summarize,
    to_latex,
    to_markdown,
    training_history,
    tuned_hyperparameters,
    tuned_markdown,
)
from benchmarks.analysis.calibrated import (
    CALIBRATED_COLUMNS,
    CALIBRATED_METRICS,
    has_calibrated,
    run_calibrated,
    stored_calibrated,
    with_calibrated,
)
from benchmarks.analysis.claims import PAPER_PAIRS
from benchmarks.analysis.dee import DE_CURVE_COLUMNS, dee_markdown, dee_table, deep_ensemble_curve
from benchmarks.analysis.derived import (
    DERIVED_KEYS,
    HISTORY_COLUMNS,
    Q_PATH_COLUMNS,
    history_from_learning_curves,
    q_path,
)
from benchmarks.analysis.figures import q_paths
from benchmarks.analysis.imported import (
    IMPORTED_COLUMNS,
    imported_markdown,
    imported_methods,
    imported_runs,
    mark_imported,
)
from benchmarks.analysis.power import power_markdown, power_table
from benchmarks.analysis.reference import load_reference
from benchmarks.analysis.shift import (
    OOD_METRICS,
    SHIFT_METRICS,
    ood_markdown,
    ood_summary,
    shift_boxplots,
    shift_markdown,
    shift_summary,
)
from benchmarks.analysis.stopping import stopping_markdown, stopping_table
from benchmarks.analysis.table1 import table1
from benchmarks.analysis.tuned import TUNED_COLUMNS
from benchmarks.errors import HyperensError
from benchmarks.report.html import write_html
from benchmarks.store import RunStore, gather_results, read_json, read_results, write_results
from benchmarks.store.runs import PROVENANCE_FILE

CALIBRATED_VIEW = (*CALIBRATED_METRICS, "temperature")
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


def cells(df: pd.DataFrame) -> list[tuple[str, str]]:
    return sorted({(d, m) for d, m in zip(df["dataset"], df["model"], strict=True)})


def paired(df: pd.DataFrame) -> pd.DataFrame:
    """``paired_comparison`` on test NLL for the paper's two headline claims
    (``claims.PAPER_PAIRS``: hyper-deep vs deep ensembles, hyper-batch vs batch ensembles)."""

    return pd.concat([paired_comparison(df, a, b) for a, b in PAPER_PAIRS], ignore_index=True)


def calibrated_tables(df: pd.DataFrame) -> dict[tuple[str, str], str]:
    """Per (dataset, model): test metrics after temperature scaling on validation, and the
    fitted temperature (mean ± s.e. over seeds); empty for a frame without them."""
    if not has_calibrated(df):
        return {}
    summary = summarize(df, metrics=CALIBRATED_VIEW)
    return {(d, m): to_markdown(paper_table(summary, d, m, metrics=CALIBRATED_VIEW))
            for d, m in cells(df)}  # fmt: skip


def dee(df: pd.DataFrame, de_curve: pd.DataFrame) -> pd.DataFrame | None:
    """``dee_table`` of the cell's deep-ensemble curve; None without a curve or calibrated NLL."""
    return dee_table(df, de_curve) if len(de_curve) and has_calibrated(df) else None


def tables_markdown(df: pd.DataFrame) -> dict[str, str]:
    """One Markdown table per (dataset, model), keyed 'dataset_model', plus 'paired' and
    'claims' (``claims_markdown`` of ``claims_table``)."""

    reference, summary, imported = load_reference(), summarize(df), imported_methods(df)
    out = {f"{d}_{m}": to_markdown(mark_imported(paper_table(summary, d, m, reference), d, m,
                                                 imported)) for d, m in cells(df)}  # fmt: skip
    pairs = paired(df)
    out["paired"] = paired_markdown(pairs) if len(pairs) else "(no matched seeds)"
    out["claims"] = claims_markdown(claims_table(df))
    return out


def shift_tables(df: pd.DataFrame) -> dict[str, str]:
    """Markdown robustness tables keyed `shift_<d>_<m>_<metric>` / `ood_<d>_<m>_<metric>` (none
    when the frame has no shifted-set rows)."""

    out = {}
    if "split" not in df.columns:
        return out
    if (df["split"] == "corruption").any():
        summary = shift_summary(df)
        for d, m in cells(df[df["split"] == "corruption"]):
            for metric in SHIFT_METRICS:
                out[f"shift_{d}_{m}_{metric}"] = shift_markdown(summary, d, m, metric)
    if (df["split"] == "ood").any():
        summary = ood_summary(df)
        for d, m in cells(df[df["split"] == "ood"]):
            for metric in OOD_METRICS:
                out[f"ood_{d}_{m}_{metric}"] = ood_markdown(summary, d, m, metric)
    return out


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
    reference, summary, marked = load_reference(), summarize(df), imported_methods(df)
    for d, m in cells(df):
        table = mark_imported(paper_table(summary, d, m, reference), d, m, marked)
        for suffix, text in ((".md", to_markdown(table)), (".tex", to_latex(table))):
            path = tables / f"{d}_{m}{suffix}"
            path.write_text(text + "\n")
            written.append(path)
    if (df["dataset"] == "fashion_mnist").any():  # the paper's Table 1 (§5.1)
        t1 = table1(summary, reference)
        for suffix, text in ((".md", to_markdown(t1)), (".tex", to_latex(t1))):
            path = tables / f"table1{suffix}"
            path.write_text(text + "\n")
            written.append(path)
    for (d, m), text in calibrated_tables(df).items():
        path = tables / f"{d}_{m}_calibrated.md"
        path.write_text(text + "\n")
        written.append(path)
    markdown = tables_markdown(df)
    paired(df).to_csv(tables / "paired.csv", index=False)
    claims_table(df).to_csv(tables / "claims.csv", index=False)
    (tables / "tuned.md").write_text(tuned_markdown(tuned) + "\n")
    if len(imported):
        (tables / "imported.md").write_text(imported_markdown(imported) + "\n")
        written.append(tables / "imported.md")
    equivalents = dee(df, de_curve)
    if equivalents is not None:
        equivalents.to_csv(tables / "dee.csv", index=False)
        (tables / "dee.md").write_text(dee_markdown(equivalents) + "\n")
        written += [tables / "dee.csv", tables / "dee.md"]
    for name in ("paired", "claims"):
        (tables / f"{name}.md").write_text(markdown[name] + "\n")
    written += [tables / n for n in ("paired.csv", "paired.md", "claims.csv", "claims.md")]
    written.append(tables / "tuned.md")
    power = power_table(claims_table(df))
    power.to_csv(tables / "power.csv", index=False)
    (tables / "power.md").write_text(power_markdown(power) + "\n")
    written += [tables / "power.csv", tables / "power.md"]
    stops = stopping_table(history)
    stops.to_csv(tables / "stopping.csv", index=False)
    (tables / "stopping.md").write_text(stopping_markdown(stops) + "\n")
    written += [tables / "stopping.csv", tables / "stopping.md"]
    for name, text in shift_tables(df).items():
        (tables / f"{name}.md").write_text(text + "\n")
        written.append(tables / f"{name}.md")
    if (df["split"] == "corruption").any() or (df["split"] == "ood").any():
        shift_summary(df).to_csv(tables / "shift.csv", index=False)
        ood_summary(df).to_csv(tables / "ood.csv", index=False)
        written += [tables / "shift.csv", tables / "ood.csv"]

    figures = out / "figures"
    plots = {
        "nll_vs_ensemble_size": lambda: nll_vs_ensemble_size(curves),
        "learning_curves": lambda: learning_curves(history),
        "reliability": lambda: reliability_diagram(bins),
        "diversity_vs_accuracy": lambda: diversity_vs_accuracy(df),
        "cost_vs_nll": lambda: cost_vs_nll(df),
        "shift_boxplots": lambda: shift_boxplots(df),
        "q_paths": lambda: q_paths(q_frame),
    }
    if equivalents is not None:
        plots["dee_vs_cost"] = lambda: dee_vs_cost(equivalents, df)
    for name, draw in plots.items():
        try:
            fig = draw()
        except ValueError as err:  # e.g. no deep ensembles (or no stored learning curves)
            print(f"report: figure {name} skipped: {err}")
            continue
        written += save_figure(fig, figures, name)
    written.append(write_html(out, f"hyperens report: {out.name}"))  # reads the files above
    return written
