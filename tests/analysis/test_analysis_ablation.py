"""Ablation differences by hand: paired on seed, mean, standard error and the share lower."""

import numpy as np
import pandas as pd
import pytest

from benchmarks.analysis.ablation import ablation_differences, ablation_markdown


def _table(values: dict[tuple[str, int], float], split="test") -> pd.DataFrame:
    return pd.DataFrame([dict(dataset="d", model="mlp", tier="quick", method=m, seed=s,
                              split=split, nll=v) for (m, s), v in values.items()])  # fmt: skip


def test_paired_differences_by_hand():
    base = _table({("batch_ensemble", 0): 0.30, ("batch_ensemble", 1): 0.20,
                   ("batch_ensemble", 2): 0.25, ("single", 0): 0.1})  # fmt: skip
    # seed 3 has no base run: left out; `single` was not rerun: no row
    variant = _table({("batch_ensemble", 0): 0.32, ("batch_ensemble", 1): 0.18,
                      ("batch_ensemble", 2): 0.29, ("batch_ensemble", 3): 9.0})  # fmt: skip
    out = ablation_differences(base, variant)
    assert len(out) == 1
    row = out.iloc[0]
    d = np.array([0.02, -0.02, 0.04])
    assert row["method"] == "batch_ensemble" and row["n"] == 3
    assert row["mean_diff"] == pytest.approx(d.mean())
    assert row["se"] == pytest.approx(d.std(ddof=1) / np.sqrt(3))
    assert row["lower"] == pytest.approx(1 / 3)
    text = ablation_markdown(out, "x")
    assert f"| d / mlp | batch_ensemble | 3 | {d.mean():+.4f} ± {row['se']:.4f} |" in text


def test_no_common_seed_says_so():
    base = _table({("mimo", 0): 0.3})
    variant = _table({("mimo", 1): 0.3})
    out = ablation_differences(base, variant)
    assert out.empty
    assert "no seed in common" in ablation_markdown(out, "x")
