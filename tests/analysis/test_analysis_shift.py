import math

import numpy as np
import pandas as pd
import pytest

from benchmarks.analysis.shift import (
    ood_markdown,
    ood_summary,
    per_severity,
    shift_boxplots,
    shift_markdown,
    shift_summary,
)

CELL = {"dataset": "mnist5k", "model": "mlp", "tier": "quick"}


def _rows():
    """Two methods x two seeds; corruptions a, b at severities 1, 2; one OOD set."""
    rows = []
    for method, base in (("single", 1.0), ("deep_ensemble", 0.5)):
        for seed in (0, 1):
            s = 0.1 * seed
            rows.append({**CELL, "method": method, "seed": seed, "split": "test",
                         "corruption": "none", "severity": 0, "ood_set": "none",
                         "nll": base + s, "accuracy": 0.9})  # fmt: skip
            for corruption, extra in (("a", 0.0), ("b", 1.0)):
                for severity in (1, 2):
                    rows.append({**CELL, "method": method, "seed": seed, "split": "corruption",
                                 "corruption": corruption, "severity": severity, "ood_set": "none",
                                 "nll": base + s + extra + severity, "accuracy": 0.5})  # fmt: skip
            rows.append({**CELL, "method": method, "seed": seed, "split": "ood",
                         "corruption": "none", "severity": 0, "ood_set": "noise",
                         "auroc_entropy": base + s, "fpr95_entropy": 1 - base})  # fmt: skip
    return pd.DataFrame(rows)


def test_per_severity_averages_over_corruption_types():
    per = per_severity(_rows(), "nll")
    got = per.set_index(["method", "seed", "severity"])["value"]
    # single, seed 1: clean 1.1; severity 2: mean(1.1 + 0 + 2, 1.1 + 1 + 2) = 3.6
    assert got[("single", 1, 0)] == pytest.approx(1.1)
    assert got[("single", 1, 2)] == pytest.approx(3.6)


def test_shift_summary_mean_over_severities_then_seeds():
    summary = shift_summary(_rows(), metrics=["nll"])
    row = summary[(summary["method"] == "deep_ensemble") & (summary["severity"] == "mean")].iloc[0]
    # seed 0: severities 1, 2 -> 2.0, 3.0 -> 2.5; seed 1: 2.6 -> mean 2.55, se 0.05
    assert row["mean"] == pytest.approx(2.55)
    assert row["se"] == pytest.approx(0.05)
    assert row["n"] == 2
    text = shift_markdown(summary, "mnist5k", "mlp", "nll")
    assert text.splitlines()[0] == "| method | clean | severity 1 | severity 2 | mean 1-5 |"
    assert "**2.5500 ± 0.0500**" in text  # lower NLL is better: deep ensemble is bold


def test_ood_summary_and_table():
    summary = ood_summary(_rows())
    assert set(summary["metric"]) == {"auroc", "fpr95"} and set(summary["score"]) == {"entropy"}
    auroc = summary[(summary["metric"] == "auroc") & (summary["method"] == "single")].iloc[0]
    assert auroc["mean"] == pytest.approx(1.05) and auroc["se"] == pytest.approx(0.05)
    text = ood_markdown(summary, "mnist5k", "mlp", "auroc")
    assert "noise (entropy)" in text.splitlines()[0]
    assert "**1.0500 ± 0.0500**" in text  # higher AUROC is better
    fpr = ood_markdown(summary, "mnist5k", "mlp", "fpr95")
    assert "| single | **0.0000 ± 0.0000** |" in fpr  # lower FPR is better (single: 1 - 1.0)
    assert ood_markdown(summary, "cifar10", "mlp") == "(no OOD results)"


def test_boxplot_figure_has_a_panel_per_metric():
    fig = shift_boxplots(_rows(), metrics=["nll", "accuracy"])
    assert len(fig.axes) == 2
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["clean", "1", "2", "3", "4", "5"]
    with pytest.raises(ValueError):
        shift_boxplots(_rows()[lambda d: d["split"] != "corruption"])
    assert not math.isnan(np.nanmax(per_severity(_rows(), "accuracy")["value"]))
