"""The stopping table, by hand: kept epoch = first argmin of the validation curve, the share kept
at the last epoch and the rise after the minimum."""

import numpy as np
import pandas as pd
import pytest

from benchmarks.analysis.stopping import kept_epochs, stopping_markdown, stopping_table


def _history(curves: dict[tuple[str, str, int], list[float]]) -> pd.DataFrame:
    rows = []
    for (method, run, member), curve in curves.items():
        for e, v in enumerate(curve, start=1):
            rows.append(dict(dataset="d", model="mlp", tier="quick", method=method, seed=0,
                             run_id=run, member=member, epoch=e, train_loss=np.nan,
                             val_nll=v, val_accuracy=np.nan))  # fmt: skip
    return pd.DataFrame(rows)


def test_kept_epoch_and_rise_by_hand():
    history = _history({
        ("single", "r1", 0): [0.5, 0.3, 0.3, 0.4],  # min at 2 (tie with 3 keeps 2), rise 0.1
        ("single", "r2", 0): [0.5, 0.4, 0.35, 0.2],  # min at the last epoch, rise 0
        ("batch_ensemble", "r3", 0): [0.6, 0.2, 0.5, 0.7],  # min at 2, rise 0.5
    })  # fmt: skip
    nets = kept_epochs(history).set_index("run_id")
    assert nets["kept_epoch"].to_dict() == {"r1": 2, "r2": 4, "r3": 2}
    assert nets["rise_after_min"].to_dict() == pytest.approx({"r1": 0.1, "r2": 0.0, "r3": 0.5})
    table = stopping_table(history).set_index("method")
    assert list(table.index) == ["single", "batch_ensemble"]  # the paper's order
    assert table.at["single", "kept_epoch"] == 3.0
    assert table.at["single", "kept_at_last"] == 0.5
    assert table.at["single", "rise_after_min"] == pytest.approx(0.05)
    assert table.at["single", "networks"] == 2 and table.at["single", "epochs"] == 4
    text = stopping_markdown(stopping_table(history))
    assert "| single | 2 | 4 | 3.0 | 50% | 0.0500 |" in text


def test_no_curves_give_an_empty_table():
    empty = _history({}).reindex(columns=["dataset", "model", "tier", "method", "seed", "run_id",
                                          "member", "epoch", "val_nll"])  # fmt: skip
    assert stopping_table(empty).empty
    assert stopping_markdown(stopping_table(empty)) == "(no learning curves stored)"
