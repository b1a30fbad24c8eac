"""The report's Markdown output (`tables/*.md`): the paper tables as GitHub pipe tables (best cells
in bold) and every other table in the form its analysis module renders it. The README block
(`benchmarks.report.readme`) and the page (`benchmarks.report.html`) take their tables from here."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmarks.analysis import (
    claims_markdown,
    claims_table,
    paired_markdown,
    paper_table,
    summarize,
    tuned_markdown,
)
from benchmarks.analysis.calibrated import CALIBRATED_METRICS, has_calibrated
from benchmarks.analysis.dee import dee_markdown
from benchmarks.analysis.imported import imported_markdown, imported_methods, mark_imported
from benchmarks.analysis.power import power_markdown
from benchmarks.analysis.reference import load_reference
from benchmarks.analysis.shift import (
    OOD_METRICS,
    SHIFT_METRICS,
    ood_markdown,
    ood_summary,
    shift_markdown,
    shift_summary,
)
from benchmarks.analysis.stopping import stopping_markdown
from benchmarks.analysis.tables import is_best, shown_columns
from benchmarks.report.contents import ReportTables, cells, paired

CALIBRATED_VIEW = (*CALIBRATED_METRICS, "temperature")


def to_markdown(table: pd.DataFrame) -> str:
    """GitHub pipe table of ``paper_table`` output; best cells in ``**bold**``."""
    shown = shown_columns(table)
    lines = [
        "| " + " | ".join(shown) + " |",
        "| " + " | ".join("---" if c == "method" else "---:" for c in shown) + " |",
    ]
    for _, row in table.iterrows():
        cells_ = []
        for c in shown:
            text = str(row[c]).replace("|", "\\|")
            cells_.append(f"**{text}**" if is_best(row, c) else text)
        lines.append("| " + " | ".join(cells_) + " |")
    return "\n".join(lines) + "\n"


def calibrated_tables(df: pd.DataFrame) -> dict[tuple[str, str], str]:
    """Per (dataset, model): test metrics after temperature scaling on validation, and the
    fitted temperature (mean ± s.e. over seeds); empty for a frame without them."""
    if not has_calibrated(df):
        return {}
    summary = summarize(df, metrics=CALIBRATED_VIEW)
    return {(d, m): to_markdown(paper_table(summary, d, m, metrics=CALIBRATED_VIEW))
            for d, m in cells(df)}  # fmt: skip


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


def write_markdown(tables_dir: Path, t: ReportTables) -> list[Path]:
    """`tables_dir/<name>.md` for every table of the report; returns the paths written."""
    texts = {name: to_markdown(table) for name, table in t.paper.items()}
    texts.update({f"{d}_{m}_calibrated": text for (d, m), text in calibrated_tables(t.df).items()})
    texts["paired"] = paired_markdown(t.paired) if len(t.paired) else "(no matched seeds)"
    texts["claims"] = claims_markdown(t.claims)
    texts["tuned"] = tuned_markdown(t.tuned)
    if len(t.imported):
        texts["imported"] = imported_markdown(t.imported)
    if t.dee is not None:
        texts["dee"] = dee_markdown(t.dee)
    texts["power"] = power_markdown(t.power)
    texts["stopping"] = stopping_markdown(t.stopping)
    texts.update(shift_tables(t.df))
    written = []
    for name, text in texts.items():
        path = tables_dir / f"{name}.md"
        path.write_text(text + "\n")
        written.append(path)
    return written
