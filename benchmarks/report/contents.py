"""What a report holds, computed once from its inputs and handed to every writer (Markdown,
LaTeX, CSV, figures): one frame per table."""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from benchmarks.analysis import claims_table, paired_comparison, paper_table, summarize
from benchmarks.analysis.calibrated import has_calibrated
from benchmarks.analysis.claims import PAPER_PAIRS
from benchmarks.analysis.dee import dee_table
from benchmarks.analysis.imported import imported_methods, mark_imported
from benchmarks.analysis.power import power_table
from benchmarks.analysis.reference import load_reference
from benchmarks.analysis.stopping import stopping_table
from benchmarks.analysis.table1 import table1


def cells(df: pd.DataFrame) -> list[tuple[str, str]]:
    """The frame's (dataset, model) pairs, sorted."""
    return sorted({(d, m) for d, m in zip(df["dataset"], df["model"], strict=True)})


def paired(df: pd.DataFrame) -> pd.DataFrame:
    """``paired_comparison`` on test NLL for the paper's two headline claims
    (``claims.PAPER_PAIRS``: hyper-deep vs deep ensembles, hyper-batch vs batch ensembles)."""

    return pd.concat([paired_comparison(df, a, b) for a, b in PAPER_PAIRS], ignore_index=True)


def dee(df: pd.DataFrame, de_curve: pd.DataFrame) -> pd.DataFrame | None:
    """``dee_table`` of the cell's deep-ensemble curve; None without a curve or calibrated NLL."""
    return dee_table(df, de_curve) if len(de_curve) and has_calibrated(df) else None


class ReportTables(NamedTuple):
    """The report's tables. ``paper``: name -> ``paper_table`` of each (dataset, model), keyed
    'dataset_model', and 'table1' (the paper's Table 1 layout) when Fashion-MNIST was run."""

    df: pd.DataFrame
    paper: dict[str, pd.DataFrame]
    paired: pd.DataFrame
    claims: pd.DataFrame
    tuned: pd.DataFrame
    imported: pd.DataFrame
    dee: pd.DataFrame | None
    power: pd.DataFrame
    stopping: pd.DataFrame


def report_tables(
    df: pd.DataFrame,
    history: pd.DataFrame,
    tuned: pd.DataFrame,
    de_curve: pd.DataFrame,
    imported: pd.DataFrame,
) -> ReportTables:
    """Every table of a report from its results frame and the CSVs beside it."""
    reference, summary, marked = load_reference(), summarize(df), imported_methods(df)
    paper = {f"{d}_{m}": mark_imported(paper_table(summary, d, m, reference), d, m, marked)
             for d, m in cells(df)}  # fmt: skip
    if (df["dataset"] == "fashion_mnist").any():  # the paper's Table 1 (§5.1)
        paper["table1"] = table1(summary, reference)
    claims = claims_table(df)
    return ReportTables(
        df=df,
        paper=paper,
        paired=paired(df),
        claims=claims,
        tuned=tuned,
        imported=imported,
        dee=dee(df, de_curve),
        power=power_table(claims),
        stopping=stopping_table(history),
    )
