"""`hyperens compare MINE REFERENCE`: a regenerated results table against a reference (by default
the committed `results/quick`), cell by cell and per method in standard errors over seeds
(`benchmarks.analysis.compare`), with the provenance that may explain a difference.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmarks.analysis.compare import (
    COMPARE_METRICS,
    compare_aggregate,
    compare_cells,
    compare_markdown,
    compared_metrics,
    identical_cells,
    one_sided,
    provenance_differences,
    verdict,
)
from benchmarks.errors import HyperensError
from benchmarks.store import read_results
from benchmarks.store.atomic import write_text_atomic
from benchmarks.store.provenance import changed_files
from benchmarks.store.results import CSV_NAME

DEFAULT_REFERENCE = "results/quick"
#: What makes the numbers: everything under benchmarks/ and gin/ but the print-only benchmarks.
CODE_PATHS = ("benchmarks", "gin", ":!benchmarks/bench")


def results_csv(path: str | Path) -> Path:
    """``path`` itself, or ``path/results.csv`` for a directory; HyperensError if missing."""
    p = Path(path)
    p = p / CSV_NAME if p.is_dir() else p
    if not p.is_file():
        raise HyperensError(f"{p} not found; give a results directory or its {CSV_NAME}")
    return p


def load_table(path: Path) -> pd.DataFrame:
    """The results table at ``path`` (CSV or Parquet); HyperensError if unreadable."""
    try:
        return read_results(path)
    except (OSError, ValueError, ImportError) as err:
        raise HyperensError(f"{path} is not a results table ({type(err).__name__})") from None


def _commit_lines(prov: pd.DataFrame) -> list[str]:
    by_col = prov.set_index("column")
    if "git_commit" not in by_col.index or not by_col.at["git_commit", "differs"]:
        return []
    mine, ref = by_col.at["git_commit", "mine"], by_col.at["git_commit", "reference"]
    changed = None
    if "," not in mine + ref:
        changed = changed_files(ref, mine, CODE_PATHS)
    dirty = "mine has uncommitted changes (-dirty); " if "dirty" in mine else ""
    if changed == [] and not dirty:
        return [f"note: different commits (mine {mine[:10]}, reference {ref[:10]}), but benchmarks/"
                " and gin/ are the same in both: the same code made the numbers"]  # fmt: skip
    if changed:
        how = (f"{len(changed)} file(s) under benchmarks/ or gin/ differ "
               f"(git diff --stat {ref[:10]} {mine[:10]} -- benchmarks gin)")  # fmt: skip
    elif changed == []:
        how = "benchmarks/ and gin/ are otherwise the same in both commits"
    else:
        how = "this clone cannot tell how the code differs"
    return [
        f"WARNING: different commits (mine: {mine}; reference: {ref}):",
        f"WARNING: this does NOT compare the same code; {dirty}{how}",
    ]


def _one_sided_lines(cells: pd.DataFrame) -> list[str]:
    lines = []
    for side, rows in one_sided(cells).groupby("present"):
        groups = rows.groupby(["dataset", "model", "method", "tier"])["seed"]
        listed = "; ".join(f"{'/'.join(k)} seeds {', '.join(map(str, sorted(s)))}"
                           for k, s in groups)  # fmt: skip
        lines.append(f"only in {side}: {listed}")
    return lines


def compare_results(
    mine: str | Path, reference: str | Path = DEFAULT_REFERENCE, out: str | Path | None = None
) -> str:
    """The printed summary (inputs, provenance differences, 'N of M cells bit-identical', cells
    one table lacks, the per-method Markdown table and a verdict); with ``out`` the per-cell
    table (``benchmarks.analysis.compare.CELL_COLUMNS``) is also written there as CSV."""
    paths = results_csv(mine), results_csv(reference)
    if out is not None and Path(out).resolve() in {p.resolve() for p in paths}:
        raise HyperensError(f"--out {out} would overwrite an input table")
    a, b = (load_table(p) for p in paths)
    cells = compare_cells(a, b)
    metrics = compared_metrics(a, b)
    lines = [f"mine:      {paths[0]}", f"reference: {paths[1]}",
             f"compared:  test split; {', '.join(metrics)}"]  # fmt: skip
    for name, df, other in (("mine", a, b), ("reference", b, a)):
        only = [m for m in COMPARE_METRICS if m in df.columns and m not in other.columns]
        if only:
            lines.append(f"{', '.join(only)} only in {name} (not compared; `hyperens report` "
                         "writes calibrated metrics, `hyperens results` does not)")  # fmt: skip
    prov = provenance_differences(a, b)
    lines += _commit_lines(prov)
    versions = prov[prov["differs"] & (prov["column"] != "git_commit")]
    if len(versions):
        lines.append("provenance differs: " + "; ".join(
            f"{r.column} {r.mine} (mine) vs {r.reference} (reference)"
            for r in versions.itertuples()))  # fmt: skip
    k, n = identical_cells(cells)
    lines.append(f"{k} of {n} cells bit-identical (cell = dataset/model/method/tier/seed)")
    lines += _one_sided_lines(cells)
    aggregate = compare_aggregate(cells)
    lines += ["", "Mean over shared seeds of mine − reference, in reference standard errors "
              "(s.e. = std/sqrt(n)); max = largest |difference| of one seed:", "",
              compare_markdown(cells, aggregate),
              f"verdict: {verdict(cells, aggregate)}"]  # fmt: skip
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(Path(out), cells.to_csv(index=False))
        lines.append(f"wrote {out}")
    return "\n".join(lines)
