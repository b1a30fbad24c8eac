"""`hyperens report`: from a store (or an earlier report's CSVs) to paper-style tables, figures
and paired comparisons.

Output directory layout:
  results.csv, results.parquet   the tidy results table (one row per run and split)
  ensemble_size.csv              NLL/accuracy of the first m members, per run (from predictions)
  reliability.csv                15-bin reliability table per method (from predictions)
  tables/<dataset>_<model>.md|.tex, tables/paired.md|.csv
  tables/shift_<dataset>_<model>_<metric>.md     metric per severity (mean over corruption types)
  tables/ood_<dataset>_<model>_<metric>.md       AUROC / AUPR / FPR@95%TPR per OOD set and score
  tables/shift.csv, tables/ood.csv               the summaries behind them
  figures/<name>.png|.pdf  (shift_boxplots = the paper's Fig. 3)

`--results DIR` rebuilds tables and figures from DIR's CSVs alone, so the committed
`results/quick/` regenerates the README without the store.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from benchmarks.errors import HyperensError

CLAIMS = (("hyper_deep_ensemble", "deep_ensemble"), ("hyper_batch_ensemble", "batch_ensemble"))
CURVES, BINS = "ensemble_size.csv", "reliability.csv"


def _from_store(store_dir: str | Path, out: Path) -> None:
    from benchmarks.analysis import ensemble_size_curve, reliability_bins
    from benchmarks.store import RunStore, gather_results, write_results

    store = RunStore(store_dir)
    write_results(store)  # the store's own complete table
    df = latest_runs(gather_results(store))
    if df.empty:
        raise HyperensError(f"store {store_dir} has no finished runs to report on")
    df.to_csv(out / "results.csv", index=False)
    df.to_parquet(out / "results.parquet", index=False)
    ensemble_size_curve(df, store.load_predictions).to_csv(out / CURVES, index=False)
    reliability_bins(df, store.load_predictions).to_csv(out / BINS, index=False)


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


def load_report_inputs(results_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(results, ensemble-size curves, reliability bins) from a report directory."""
    from benchmarks.store import read_results

    d = Path(results_dir)
    for name in ("results.csv", CURVES, BINS):
        if not (d / name).is_file():
            raise HyperensError(f"{d / name} is missing; run `hyperens report --store` first")
    return read_results(d / "results.csv"), pd.read_csv(d / CURVES), pd.read_csv(d / BINS)


def cells(df: pd.DataFrame) -> list[tuple[str, str]]:
    return sorted({(d, m) for d, m in zip(df["dataset"], df["model"], strict=True)})


def tables_markdown(df: pd.DataFrame) -> dict[str, str]:
    """One Markdown table per (dataset, model), keyed 'dataset_model', plus 'paired'."""
    from benchmarks.analysis import (
        paired_comparison,
        paired_markdown,
        paper_table,
        summarize,
        to_markdown,
    )
    from benchmarks.analysis.reference import load_reference

    reference, summary = load_reference(), summarize(df)
    out = {f"{d}_{m}": to_markdown(paper_table(summary, d, m, reference)) for d, m in cells(df)}
    paired = pd.concat([paired_comparison(df, a, b) for a, b in CLAIMS], ignore_index=True)
    out["paired"] = paired_markdown(paired) if len(paired) else "(no matched seeds)"
    return out


def shift_tables(df: pd.DataFrame) -> dict[str, str]:
    """Markdown robustness tables keyed `shift_<d>_<m>_<metric>` / `ood_<d>_<m>_<metric>` (none
    when the frame has no shifted-set rows)."""
    from benchmarks.analysis.shift import (
        OOD_METRICS,
        SHIFT_METRICS,
        ood_markdown,
        ood_summary,
        shift_markdown,
        shift_summary,
    )

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
    readme: str | Path | None = None,
) -> list[Path]:
    """Writes everything listed in the module docstring; returns the paths written."""
    from benchmarks.analysis import (
        cost_vs_nll,
        diversity_vs_accuracy,
        nll_vs_ensemble_size,
        paired_comparison,
        paper_table,
        reliability_diagram,
        save_figure,
        summarize,
        to_latex,
        to_markdown,
    )
    from benchmarks.analysis.reference import load_reference
    from benchmarks.analysis.shift import shift_boxplots

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
        for name in ("results.csv", CURVES, BINS):
            shutil.copy2(Path(results) / name, out / name)
    df, curves, bins = load_report_inputs(results)
    written = [out / "results.csv", out / CURVES, out / BINS]

    tables = out / "tables"
    tables.mkdir(exist_ok=True)
    reference, summary = load_reference(), summarize(df)
    for d, m in cells(df):
        table = paper_table(summary, d, m, reference)
        for suffix, text in ((".md", to_markdown(table)), (".tex", to_latex(table))):
            path = tables / f"{d}_{m}{suffix}"
            path.write_text(text + "\n")
            written.append(path)
    paired = pd.concat([paired_comparison(df, a, b) for a, b in CLAIMS], ignore_index=True)
    paired.to_csv(tables / "paired.csv", index=False)
    (tables / "paired.md").write_text(tables_markdown(df)["paired"] + "\n")
    written += [tables / "paired.csv", tables / "paired.md"]
    for name, text in shift_tables(df).items():
        (tables / f"{name}.md").write_text(text + "\n")
        written.append(tables / f"{name}.md")
    if (df["split"] == "corruption").any() or (df["split"] == "ood").any():
        from benchmarks.analysis.shift import ood_summary, shift_summary

        shift_summary(df).to_csv(tables / "shift.csv", index=False)
        ood_summary(df).to_csv(tables / "ood.csv", index=False)
        written += [tables / "shift.csv", tables / "ood.csv"]

    figures = out / "figures"
    plots = {
        "nll_vs_ensemble_size": lambda: nll_vs_ensemble_size(curves),
        "reliability": lambda: reliability_diagram(bins),
        "diversity_vs_accuracy": lambda: diversity_vs_accuracy(df),
        "cost_vs_nll": lambda: cost_vs_nll(df),
        "shift_boxplots": lambda: shift_boxplots(df),
    }
    for name, draw in plots.items():
        try:
            fig = draw()
        except ValueError as err:  # e.g. no deep ensembles in this store for the curve figure
            print(f"report: figure {name} skipped: {err}")
            continue
        written += save_figure(fig, figures, name)
    if readme is not None:
        from benchmarks.readme import update_readme_report

        update_readme_report(readme, out)
        written.append(Path(readme))
    return written
