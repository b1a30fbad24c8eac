"""Where the tuned hyperparameters ended, from the runs' recorded method_info, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.analysis.tuned import TUNED_COLUMNS, tuned_hyperparameters, tuned_markdown

CELL = {"dataset": "mnist5k", "model": "mlp", "tier": "quick"}


def _frame(runs: dict[str, tuple[str, int]]) -> pd.DataFrame:
    rows = []
    for rid, (method, seed) in runs.items():
        for split in ("val", "test"):
            rows.append({**CELL, "run_id": rid, "method": method, "seed": seed, "split": split})
    return pd.DataFrame(rows)


def _q(mean: float, low: float, high: float) -> dict:
    return {"mean": mean, "low": low, "high": high}


INFO = {
    "hbe0": {  # two members with q_summary
        "q_summary": [
            {"l2": _q(1e-4, 1e-5, 1e-3), "dropout": _q(0.1, 0.05, 0.2)},
            {"l2": _q(3e-4, 3e-5, 3e-3), "dropout": _q(0.3, 0.15, 0.4)},
        ],
        "tuned_point": [{"l2": 9.0, "dropout": 9.0}, {"l2": 9.0, "dropout": 9.0}],  # ignored
    },
    "hbe1": {"q_summary": [{"l2": _q(2e-4, 2e-5, 2e-3), "dropout": _q(0.2, 0.1, 0.3)}] * 2},
    "stn0": {"tuned_point": [{"l2": 1e-3}]},  # no q_summary: the point
    "stn1": {"tuned_point": [{"l2": 3e-3}]},
    "de0": {"selection": "best x K seeds"},  # nothing tuned: no rows
}


def test_tuned_means_over_seeds_and_members_by_hand():
    runs = {
        "hbe0": ("hyper_batch_ensemble", 0),
        "hbe1": ("hyper_batch_ensemble", 1),
        "stn0": ("self_tuning", 0),
        "stn1": ("self_tuning", 1),
        "de0": ("deep_ensemble", 0),
    }
    table = tuned_hyperparameters(_frame(runs), INFO.__getitem__)
    assert list(table.columns) == list(TUNED_COLUMNS)
    keys = list(zip(table["method"], table["hparam"], table["source"], strict=True))
    assert keys == [
        ("hyper_batch_ensemble", "dropout", "q"),
        ("hyper_batch_ensemble", "l2", "q"),
        ("self_tuning", "l2", "tuned_point"),
    ]
    l2 = table.iloc[1]
    # members (1e-4, 3e-4) of seed 0 and (2e-4, 2e-4) of seed 1: mean 2e-4
    assert l2["mean"] == pytest.approx((1e-4 + 3e-4 + 2e-4 + 2e-4) / 4)
    assert l2["low"] == pytest.approx((1e-5 + 3e-5 + 2e-5 + 2e-5) / 4)
    assert l2["high"] == pytest.approx((1e-3 + 3e-3 + 2e-3 + 2e-3) / 4)
    assert (l2["seeds"], l2["n"]) == (2, 4)
    assert table.iloc[0]["mean"] == pytest.approx((0.1 + 0.3 + 0.2 + 0.2) / 4)
    stn = table.iloc[2]
    assert stn["mean"] == pytest.approx(2e-3) and np.isnan(stn["low"]) and np.isnan(stn["high"])
    assert (stn["seeds"], stn["n"]) == (2, 2)


def test_tuned_markdown_and_empty():
    table = tuned_hyperparameters(
        _frame({"hbe0": ("hyper_batch_ensemble", 0), "stn0": ("self_tuning", 0)}),
        INFO.__getitem__,
    )
    text = tuned_markdown(table)
    assert text.startswith("*mnist5k, mlp (quick)*")
    lines = text.splitlines()
    assert "| hyper_batch_ensemble | l2 | q | 0.0002 | 2e-05 | 0.002 | 1 |" in lines
    assert "| self_tuning | l2 | tuned_point | 0.001 |  |  | 1 |" in lines
    empty = tuned_hyperparameters(_frame({"de0": ("deep_ensemble", 0)}), INFO.__getitem__)
    assert empty.empty and list(empty.columns) == list(TUNED_COLUMNS)
    assert tuned_markdown(empty) == "(no tuned runs)"
