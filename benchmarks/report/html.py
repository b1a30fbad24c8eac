"""`index.html`: one page of a report directory that works offline (no scripts, no CDN; the
figures are the PNG files beside it, `figures/*.png`), built from the files the report wrote:

* the headline table of every dataset/model (`tables/<dataset>_<model>.md`), and the paper's
  Table 1 layout where the report wrote it (`tables/table1.md`);
* the claims (`tables/claims.csv`) with their verdict and stability as coloured badges;
* every figure (`figures/*.png`, the learning curves and q's paths among them);
* links to every full table (`tables/*.md`, `*.csv`).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd

from benchmarks.analysis.claims import FRAGILE_BELOW

VERDICT_COLOURS = {"supported": "#1a7f37", "contradicted": "#cf222e", "not resolved": "#6e7781"}
CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1f2328}
table{border-collapse:collapse;margin:0.6em 0 1.4em}td,th{border:1px solid #d0d7de;padding:3px 8px}
td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f6f8fa}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:0.85em}
.fragile{background:#bf8700}.firm{background:#0969da}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #d0d7de}
nav a{margin-right:1em}
"""


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _inline(text: str) -> str:
    """Escaped text with **bold** and `code` rendered."""
    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def markdown_table(text: str) -> str:
    """A GitHub pipe table (as `report.markdown.to_markdown` writes it) as an HTML table; text
    around the table is dropped."""
    lines = [ln for ln in text.splitlines() if ln.strip().startswith("|")]
    if len(lines) < 2:
        return ""
    head, body = _cells(lines[0]), [_cells(ln) for ln in lines[2:]]
    right = ["---:" in c for c in _cells(lines[1])]
    rows = ["<tr>" + "".join(f"<th>{_inline(h)}</th>" for h in head) + "</tr>"]
    for cells in body:
        tds = (f'<td class="num">{_inline(c)}</td>' if r else f"<td>{_inline(c)}</td>"
               for c, r in zip(cells, right, strict=False))  # fmt: skip
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _badge(verdict: str, stability: float) -> str:
    colour = VERDICT_COLOURS.get(verdict, "#6e7781")
    firm = "firm" if stability >= FRAGILE_BELOW else "fragile"
    return (f'<span class="badge" style="background:{colour}">{html.escape(verdict)}</span> '
            f'<span class="badge {firm}">{firm} {stability:.2f}</span>')  # fmt: skip


def claims_html(claims: pd.DataFrame) -> str:
    """The claims table: cell, claim, methods, mean difference ± s.e., 95% interval, wins,
    verdict and stability badges (raw, and calibrated where present)."""
    calibrated = "verdict_calibrated" in claims.columns
    head = ["dataset / model", "claim", "method − baseline", "test NLL diff", "95% interval",
            "wins", "verdict (raw)"] + (["verdict (calibrated)"] if calibrated else [])  # fmt: skip
    rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for r in claims.itertuples(index=False):
        cells = [f"{r.dataset} / {r.model}", str(r.claim), f"{r.method} − {r.baseline}",
                 f"{r.mean_diff:+.4f} ± {r.se:.4f}", f"[{r.ci_low:+.4f}, {r.ci_high:+.4f}]",
                 f"{r.wins}/{r.n}"]  # fmt: skip
        tds = [f"<td>{html.escape(c)}</td>" for c in cells]
        tds.append(f'<td class="claim">{_badge(r.verdict, r.stability)}</td>')
        if calibrated:
            tds.append(
                f'<td class="claim">{_badge(r.verdict_calibrated, r.stability_calibrated)}</td>'
            )
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return '<table id="claims">' + "".join(rows) + "</table>"


def _figure(path: Path) -> str:
    name, pdf = path.stem.replace("_", " "), path.with_suffix(".pdf").name
    return (f'<figure id="fig-{path.stem}"><img alt="{html.escape(name)}" '
            f'src="figures/{path.name}"><figcaption>{html.escape(name)} (<a '
            f'href="figures/{pdf}">pdf</a>)</figcaption></figure>')  # fmt: skip


def page(out: str | Path, title: str = "hyperens report") -> str:
    """The page of report directory `out` (module docstring)."""
    out = Path(out)
    tables, figures = out / "tables", out / "figures"
    parts = [f"<h1>{html.escape(title)}</h1>",
             '<nav><a href="#headline">Headline tables</a><a href="#claims-section">Claims</a>'
             '<a href="#figures">Figures</a><a href="#tables">All tables</a></nav>']  # fmt: skip
    parts.append('<h2 id="headline">Headline tables</h2><p>Test split, mean ± standard error '
                 "over seeds; best in bold.</p>")  # fmt: skip
    if (tables / "table1.md").is_file():
        parts.append("<h3>The paper's Table 1 layout (Fashion-MNIST)</h3>")
        parts.append(markdown_table((tables / "table1.md").read_text()))
    results = pd.read_csv(out / "results.csv") if (out / "results.csv").is_file() else None
    cells = [] if results is None else sorted(set(zip(results.dataset, results.model, strict=True)))
    for dataset, model in cells:
        path = tables / f"{dataset}_{model}.md"
        if path.is_file():
            seeds = results[(results.dataset == dataset) & (results.model == model)].seed.nunique()
            parts.append(f'<h3 class="headline">{html.escape(dataset)}, {html.escape(model)} '
                         f"({seeds} seeds)</h3>{markdown_table(path.read_text())}")  # fmt: skip
    parts.append('<h2 id="claims-section">Claims</h2><p>Paired differences over seeds; a '
                 "verdict is supported or contradicted when its 95% interval excludes 0; "
                 f"stability is the share of bootstrap resamples of the seeds giving the same "
                 f"verdict, fragile below {FRAGILE_BELOW}.</p>")  # fmt: skip
    if (tables / "claims.csv").is_file():
        parts.append(claims_html(pd.read_csv(tables / "claims.csv")))
    parts.append('<h2 id="figures">Figures</h2>')
    parts += [_figure(p) for p in sorted(figures.glob("*.png"))]
    parts.append('<h2 id="tables">All tables</h2><ul>')
    parts += [f'<li><a href="tables/{p.name}">{p.name}</a></li>'
              for p in sorted(tables.glob("*")) if p.suffix in (".md", ".csv", ".tex")]  # fmt: skip
    parts.append("</ul>")
    body = "\n".join(parts)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
            f"<body>\n{body}\n</body></html>\n")  # fmt: skip


def write_html(out: str | Path, title: str = "hyperens report") -> Path:
    """Writes `out/index.html` (`page`) and returns its path."""
    path = Path(out) / "index.html"
    path.write_text(page(out, title))
    return path
