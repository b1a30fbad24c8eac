"""Imported runs in the report: which rows they are, the mark, and their provenance table."""

import pandas as pd

from benchmarks.analysis.imported import (
    IMPORTED_COLUMNS,
    imported_markdown,
    imported_methods,
    imported_runs,
    mark_imported,
)


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "run_id": ["r1", "r1", "r2", "r3"], "dataset": "cifar10", "model": "wrn28_10",
        "tier": "paper", "method": ["ub_de", "ub_de", "single", "ub_de"], "seed": [0, 0, 0, 1],
        "split": ["test", "corruption", "test", "test"],
        "source": ["uncertainty-baselines", "uncertainty-baselines", "hyperens",
                   "uncertainty-baselines"],
    })  # fmt: skip


def test_imported_methods_and_the_mark():
    df = _frame()
    assert imported_methods(df) == {("cifar10", "wrn28_10", "ub_de")}
    assert imported_methods(df.drop(columns="source")) == set()  # a results.csv before `source`
    table = pd.DataFrame({"method": ["single", "ub_de"], "nll": ["0.1", "0.2"]})
    marked = mark_imported(table, "cifar10", "wrn28_10", imported_methods(df))
    assert marked["method"].tolist() == ["single", "ub_de (imported)"]
    other = mark_imported(table, "cifar100", "wrn28_10", imported_methods(df))
    assert other["method"].tolist() == ["single", "ub_de"]  # another cell's method is not marked


def test_one_provenance_row_per_imported_run():
    prov = {"r1": {"imported": {"ub_method": "ub_de", "files": ["clean_0.npy", "clean_1.npy"],
                                "members": [0, 1], "source_dir": "/x"}},
            "r3": {"imported": {"ub_method": "ub_de", "files": ["clean_0.npy"]}}}  # fmt: skip
    runs = imported_runs(_frame(), prov.__getitem__)
    assert list(runs.columns) == list(IMPORTED_COLUMNS)
    assert runs["run_id"].tolist() == ["r1", "r3"]
    assert runs["files"].tolist() == ["clean_0.npy clean_1.npy", "clean_0.npy"]
    text = imported_markdown(runs)
    assert text.count("\n* ") == 2 and "from `/x`, members 0 1" in text and "2 files" in text
    assert imported_markdown(runs.iloc[:0]) == "(no imported runs)"
