"""Summary, paper tables (and their Markdown / LaTeX renderings, `benchmarks.report`) and paired
comparisons of the tidy results frame."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchmarks.analysis.tables import (
    order_methods,
    paired_comparison,
    paired_markdown,
    paper_table,
    summarize,
)
from benchmarks.report.latex import to_latex
from benchmarks.report.markdown import to_markdown

CELL = {"dataset": "mnist5k", "model": "mlp", "tier": "quick"}


def _row(method: str, seed: int, split: str = "test", **metrics: float) -> dict:
    return {
        "run_id": f"{method}-s{seed}",
        **CELL,
        "method": method,
        "seed": seed,
        "split": split,
        **metrics,
    }


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def test_order_methods_known_first_then_alphabetical():
    got = order_methods(["zeta", "deep_ensemble", "alpha", "single", "deep_ensemble"])
    assert got == ["single", "deep_ensemble", "alpha", "zeta"]


def test_summarize_mean_se_by_hand_and_single_seed_nan():
    rows = [
        _row("deep_ensemble", s, nll=v, accuracy=a)
        for s, v, a in [(0, 0.3, 0.9), (1, 0.5, 0.8), (2, 0.7, 0.7)]
    ]
    rows += [_row("deep_ensemble", s, split="val", nll=9.0, accuracy=0.0) for s in range(3)]
    rows += [_row("single", 0, nll=0.9, accuracy=0.6)]
    summary = summarize(_frame(rows), metrics=("nll", "accuracy"))
    assert list(summary.columns) == [
        "dataset",
        "model",
        "tier",
        "method",
        "metric",
        "mean",
        "se",
        "n",
    ]
    # METHOD_ORDER: single before deep_ensemble; metrics in the requested order
    assert list(zip(summary.method, summary.metric, strict=True)) == [
        ("single", "nll"),
        ("single", "accuracy"),
        ("deep_ensemble", "nll"),
        ("deep_ensemble", "accuracy"),
    ]
    de = summary[(summary.method == "deep_ensemble") & (summary.metric == "nll")].iloc[0]
    assert de["mean"] == pytest.approx(0.5)
    # sample std of (0.3, 0.5, 0.7) is 0.2, so se = 0.2 / sqrt(3)
    assert de["se"] == pytest.approx(0.2 / math.sqrt(3))
    assert de["n"] == 3
    single = summary[(summary.method == "single") & (summary.metric == "nll")].iloc[0]
    assert single["mean"] == pytest.approx(0.9) and single["n"] == 1 and math.isnan(single["se"])


def test_summarize_skips_nan_values():
    rows = [_row("deep_ensemble", 0, nll=0.2), _row("deep_ensemble", 1, nll=float("nan"))]
    summary = summarize(_frame(rows), metrics=("nll",))
    assert summary["n"].tolist() == [1] and summary["mean"].tolist() == [0.2]


def _summary() -> pd.DataFrame:
    rows = []
    for s, (de_nll, hde_nll, de_acc, hde_acc) in enumerate(
        [(0.30, 0.20, 0.95, 0.90), (0.32, 0.22, 0.97, 0.92)]
    ):
        rows.append(_row("deep_ensemble", s, nll=de_nll, accuracy=de_acc, ece_15bin=0.05))
        rows.append(_row("hyper_deep_ensemble", s, nll=hde_nll, accuracy=hde_acc, ece_15bin=0.05))
    return summarize(_frame(rows))


def test_paper_table_flags_best_and_formats_cells():
    table = paper_table(_summary(), "mnist5k", "mlp")
    assert table["method"].tolist() == ["deep_ensemble", "hyper_deep_ensemble"]
    assert table["nll"].tolist() == ["0.3100 ± 0.0100", "0.2100 ± 0.0100"]
    assert table["best nll"].tolist() == [False, True]  # lower NLL is better
    assert table["best accuracy"].tolist() == [True, False]  # higher accuracy is better
    assert table["best ece_15bin"].tolist() == [True, True]  # a tie bolds both


def test_to_markdown_bolds_only_the_best_cells():
    md = to_markdown(paper_table(_summary(), "mnist5k", "mlp"))
    lines = md.strip().splitlines()
    assert lines[0] == "| method | nll | accuracy | ece_15bin |"
    assert lines[1] == "| --- | ---: | ---: | ---: |"
    assert (
        lines[2]
        == "| deep_ensemble | 0.3100 ± 0.0100 | **0.9600 ± 0.0100** | **0.0500 ± 0.0000** |"
    )
    assert lines[3] == (
        "| hyper_deep_ensemble | **0.2100 ± 0.0100** | 0.9100 ± 0.0100 | **0.0500 ± 0.0000** |"
    )
    assert md.count("**") == 2 * 4


def test_paper_table_cell_without_se_and_reference_column():
    rows = [
        _row("single", 0, nll=0.5, accuracy=0.8, ece_15bin=0.1),
        _row("deep_ensemble", 0, nll=0.4, accuracy=0.85, ece_15bin=0.05),
    ]
    reference = pd.DataFrame(
        {
            "dataset": ["mnist5k", "mnist5k", "mnist5k", "cifar10", "mnist5k", "mnist5k"],
            "model": ["mlp", "mlp", "mlp", "mlp", "mlp", None],  # None: model not stated
            "method": ["deep_ensemble", "hyper_ens", "deep_ensemble", "deep_ensemble"]
            + ["deep_ensemble", "single"],
            "metric": ["nll", "nll", "accuracy", "nll", "nll", "nll"],
            "value": [0.0612, 0.07, 0.981, 9.9, 0.5555, 0.3333],
            "source": ["Table 1"] * 4 + ["README", "Table 9"],
        }
    ).astype({c: "string" for c in ("dataset", "model", "method", "metric", "source")})
    table = paper_table(summarize(_frame(rows)), "mnist5k", "mlp", reference=reference)
    assert table["method"].tolist() == ["single", "deep_ensemble", "hyper_ens"]
    assert table["nll"].tolist() == ["0.5000", "0.4000", ""]
    # the first of two sources wins; a row without a model matches no model
    assert table["paper nll"].tolist() == ["", "0.0612", "0.0700"]
    assert table["paper accuracy"].tolist() == ["", "0.9810", ""]
    assert table["paper ece_15bin"].tolist() == ["", "", ""]
    md = to_markdown(table)
    assert "| method | nll | accuracy | ece_15bin | paper nll | paper accuracy |" in md
    assert "**0.0612**" not in md  # paper values are never bolded
    # no reference rows for this (dataset, model): no paper columns at all
    plain = paper_table(summarize(_frame(rows)), "mnist5k", "mlp", reference=reference.iloc[3:4])
    assert not any(c.startswith("paper ") for c in plain.columns)


def test_paper_table_needs_tier_when_several():
    rows = [_row("single", 0, nll=0.5), {**_row("single", 0, nll=0.4), "tier": "full"}]
    summary = summarize(_frame(rows), metrics=("nll",))
    with pytest.raises(ValueError, match="tiers"):
        paper_table(summary, "mnist5k", "mlp", metrics=("nll",))
    table = paper_table(summary, "mnist5k", "mlp", metrics=("nll",), tier="full")
    assert table["nll"].tolist() == ["0.4000"]


def test_to_latex_escapes_and_bolds():
    tex = to_latex(paper_table(_summary(), "mnist5k", "mlp"))
    lines = tex.strip().splitlines()
    assert lines[0] == r"\begin{tabular}{lrrr}" and lines[-1] == r"\end{tabular}"
    assert r"method & nll & accuracy & ece\_15bin \\" in lines
    assert (
        r"hyper\_deep\_ensemble & \textbf{0.2100 $\pm$ 0.0100} & 0.9100 $\pm$ 0.0100 & "
        r"\textbf{0.0500 $\pm$ 0.0000} \\"
    ) in lines
    assert tex.count(r"\textbf{") == 4
    assert "hyper_deep" not in tex and "±" not in tex


def test_paired_comparison_matches_seeds_by_hand():
    a_vals = {0: 0.20, 1: 0.31, 2: 0.25, 3: 0.10}  # seed 3 has no partner
    b_vals = {0: 0.22, 1: 0.30, 2: 0.29, 5: 0.50}  # seed 5 has no partner
    rows = [_row("hyper_deep_ensemble", s, nll=v, accuracy=1 - v) for s, v in a_vals.items()]
    rows += [_row("deep_ensemble", s, nll=v, accuracy=1 - v) for s, v in b_vals.items()]
    rows += [_row("deep_ensemble", s, split="val", nll=0.0, accuracy=1.0) for s in (0, 1, 2, 3)]
    df = _frame(rows)
    paired = paired_comparison(df, "hyper_deep_ensemble", "deep_ensemble")
    assert len(paired) == 1
    r = paired.iloc[0]
    diffs = np.array([0.20 - 0.22, 0.31 - 0.30, 0.25 - 0.29])
    assert r["n"] == 3
    assert r["mean_diff"] == pytest.approx(diffs.mean())  # a − b, so negative = a better
    assert r["mean_diff"] < 0
    assert r["se"] == pytest.approx(np.std(diffs, ddof=1) / np.sqrt(3))
    assert r["wins"] == 2  # lower NLL wins on seeds 0 and 2
    acc = paired_comparison(df, "hyper_deep_ensemble", "deep_ensemble", metric="accuracy").iloc[0]
    assert acc["mean_diff"] == pytest.approx(-diffs.mean()) and acc["wins"] == 2
    swapped = paired_comparison(df, "deep_ensemble", "hyper_deep_ensemble").iloc[0]
    assert swapped["mean_diff"] == pytest.approx(-diffs.mean()) and swapped["wins"] == 1


def test_paired_comparison_skips_cells_without_both_and_rejects_duplicates():
    rows = [_row("deep_ensemble", 0, nll=0.1), {**_row("single", 0, nll=0.2), "dataset": "x"}]
    assert paired_comparison(_frame(rows), "deep_ensemble", "single").empty
    dup = [
        _row("deep_ensemble", 0, nll=0.1),
        _row("single", 0, nll=0.2),
        {**_row("single", 0, nll=0.3), "run_id": "other"},
    ]
    with pytest.raises(ValueError, match="ambiguous"):
        paired_comparison(_frame(dup), "deep_ensemble", "single")


def test_paired_markdown_line():
    paired = pd.DataFrame(
        [
            {
                **CELL,
                "a": "hyper_deep_ensemble",
                "b": "deep_ensemble",
                "metric": "nll",
                "mean_diff": -0.0028,
                "se": 0.0019,
                "wins": 6,
                "n": 10,
            }
        ]
    )
    assert paired_markdown(paired) == (
        "hyper_deep_ensemble − deep_ensemble (mnist5k, mlp, quick): NLL −0.0028 ± 0.0019, "
        "better on 6 of 10 seeds"
    )
    one = paired.assign(se=float("nan"), n=1, wins=1, mean_diff=0.01)
    assert paired_markdown(one).endswith("NLL +0.0100, better on 1 of 1 seed")
