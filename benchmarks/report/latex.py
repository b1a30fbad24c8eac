"""The report's LaTeX output: a booktabs `tabular` of every paper table
(`tables/<dataset>_<model>.tex` and `tables/table1.tex`), best cells in bold."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmarks.analysis.tables import is_best, shown_columns

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters (``_`` -> ``\\_`` etc.); '±' becomes ``$\\pm$``."""
    escaped = "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(text))
    return escaped.replace("±", r"$\pm$")


def to_latex(table: pd.DataFrame) -> str:
    """A booktabs ``tabular`` of ``paper_table`` output; best cells in ``\\textbf{}``."""
    shown = shown_columns(table)
    spec = "".join("l" if c == "method" else "r" for c in shown)
    lines = [
        f"\\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_escape(c) for c in shown) + r" \\",
        r"\midrule",
    ]
    for _, row in table.iterrows():
        cells = []
        for c in shown:
            text = latex_escape(row[c])
            cells.append(f"\\textbf{{{text}}}" if is_best(row, c) else text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def write_latex(tables_dir: Path, paper_tables: dict[str, pd.DataFrame]) -> list[Path]:
    """`tables_dir/<name>.tex` for each paper table (``paper_table`` or ``table1`` output)."""
    written = []
    for name, table in paper_tables.items():
        path = tables_dir / f"{name}.tex"
        path.write_text(to_latex(table) + "\n")
        written.append(path)
    return written
