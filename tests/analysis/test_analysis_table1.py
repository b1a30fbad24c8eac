"""Table 1's layout on hand-made summaries: row order, cells, best marks, the paper's column."""

import pandas as pd

from benchmarks.analysis.table1 import NOT_IN_SUITE, ROWS, table1
from benchmarks.analysis.tables import SUMMARY_COLUMNS
from benchmarks.report.latex import to_latex
from benchmarks.report.markdown import to_markdown


def _summary() -> pd.DataFrame:
    rows = [
        ("fashion_mnist", "mlp", "quick", "single", "nll", 0.30, 0.01, 3),
        ("fashion_mnist", "mlp", "quick", "deep_ensemble", "nll", 0.28, 0.02, 3),
        ("fashion_mnist", "mlp", "quick", "deep_ensemble", "accuracy", 0.9, float("nan"), 1),
        ("fashion_mnist", "lenet", "quick", "hyper_batch_ensemble", "ece_15bin", 0.01, 0.001, 2),
        ("mnist5k", "mlp", "quick", "single", "nll", 0.01, 0.0, 3),  # another dataset: unused
    ]
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def test_rows_in_the_papers_order_with_our_cells_and_best_marks():
    t = table1(_summary(), None)
    assert t["method"].tolist() == [label for _, label in ROWS]
    assert t["method"].tolist()[:4] == [
        "random search", "deep ensembles", "hyper-ens", "hyper-deep ensembles"
    ]  # fmt: skip
    assert t["method"].tolist()[4:] == ["batch ensembles", "STN", "hyper-batch ensembles"]
    assert t.loc[0, "MLP NLL"] == "0.3000 ± 0.0100"
    assert t.loc[1, "MLP NLL"] == "0.2800 ± 0.0200"
    assert t.loc[1, "MLP acc"] == "0.9000"  # one seed: no s.e.
    assert t.loc[2, "MLP NLL"] == "not run"
    assert t.loc[6, "LeNet ECE"] == "0.0100 ± 0.0010"
    assert t["best MLP NLL"].tolist() == [False, True, False, False, False, False, False]
    assert (t["MLP paper"] == NOT_IN_SUITE).all() and (t["LeNet paper"] == NOT_IN_SUITE).all()


def test_the_papers_values_where_the_reference_has_them():
    ref = pd.DataFrame(
        [("fashion_mnist", "mlp", "single", "nll", 0.3123), ("fashion_mnist", "mlp", "single",
          "ece_15bin", 0.02)], columns=["dataset", "model", "method", "metric", "value"],
    )  # fmt: skip
    t = table1(_summary(), ref)
    assert t.loc[0, "MLP paper"] == "0.3123 / — / 0.0200"
    assert t.loc[1, "MLP paper"] == NOT_IN_SUITE


def test_markdown_and_latex_render_it():
    t = table1(_summary(), None)
    md = to_markdown(t)
    assert md.splitlines()[0].startswith("| method | MLP NLL | MLP acc | MLP ECE | MLP paper |")
    assert "**0.2800 ± 0.0200**" in md and "best" not in md
    tex = to_latex(t)
    assert r"\textbf{0.2800 $\pm$ 0.0200}" in tex and "not in the suite's reference" in tex
