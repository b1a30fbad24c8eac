"""Seeds a claim needs, by hand: sd = se·sqrt(n), n* = ceil((sd / target)²)."""

import math

import pandas as pd
import pytest

from benchmarks.analysis.power import power_markdown, power_table, seeds_needed


def test_seeds_needed_by_hand():
    assert seeds_needed(0.0071, 0.0017) == 18  # (0.0071 / 0.0017)² = 17.44
    assert seeds_needed(0.0034, 0.0017) == 4  # exactly 4, not 5
    assert seeds_needed(0.0001, 0.0017) == 2
    assert seeds_needed(math.nan, 0.0017) is None


def test_power_table_sizes_the_headline_claims_only():
    claims = pd.DataFrame([
        dict(dataset="d", model="mlp", tier="quick", claim="b", measure="test",
             method="hyper_deep_ensemble", baseline="deep_ensemble", n=12, se=0.002),
        dict(dataset="d", model="mlp", tier="quick", claim="d", measure="corruption",
             method="hyper_deep_ensemble", baseline="deep_ensemble", n=12, se=0.01),
        dict(dataset="d", model="mlp", tier="quick", claim="a", measure="test",
             method="deep_ensemble", baseline="single", n=12, se=0.01),
    ])  # fmt: skip
    table = power_table(claims)
    assert len(table) == 1
    row = table.iloc[0]
    assert row["sd"] == pytest.approx(0.002 * math.sqrt(12))
    assert row["seeds_needed"] == math.ceil((0.002 * math.sqrt(12) / 0.0017) ** 2)
    assert "| d / mlp | hyper_deep_ensemble − deep_ensemble | 12 |" in power_markdown(table)
