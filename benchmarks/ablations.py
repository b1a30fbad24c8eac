"""`hyperens ablate NAME`: one registered ablation of the quick matrix, run and compared.

An ablation reruns some methods of the quick matrix's cells with other settings (gin bindings)
into a store of its own, then writes the paired differences against the base results
(`benchmarks.analysis.ablation`) as `OUT/NAME.md` and `.csv`. Everything is chosen on validation
data in the variant as in the base; the table reports test metrics too, as the base's do.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.analysis.ablation import ABLATIONS, ablation_differences, ablation_markdown
from benchmarks.compare import load_table, results_csv
from benchmarks.errors import HyperensError
from benchmarks.matrix import run_matrix
from benchmarks.store import RunStore, gather_results
from benchmarks.store.atomic import write_text_atomic


def run_ablation(
    name: str,
    store: str | Path,
    base: str | Path,
    out: str | Path,
    seeds: int | None = None,
    workers: int = 1,
    matrix: str = "quick",
) -> Path:
    """Runs ablation `name` on the first `seeds` seeds of `matrix` into `store` and writes the
    paired differences against the results table at `base`; returns the Markdown path."""
    ablation = ABLATIONS.get(name)
    base_table = load_table(results_csv(base))  # a bad base fails before anything runs
    for method in ablation.methods:
        counts = run_matrix(matrix, store, seeds=seeds, only=f"*/*/{method}/*", workers=workers,
                            gin_params=ablation.gin_params)  # fmt: skip
        if counts.get("failed"):
            raise HyperensError(f"ablation {name}: {counts['failed']} cell(s) of {method} failed")
    diffs = ablation_differences(base_table, gather_results(RunStore(store)))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    title = f"{name}: {ablation.question} ({', '.join(ablation.gin_params)})"
    write_text_atomic(out / f"{name}.csv", diffs.to_csv(index=False))
    write_text_atomic(out / f"{name}.md", ablation_markdown(diffs, title) + "\n")
    return out / f"{name}.md"
