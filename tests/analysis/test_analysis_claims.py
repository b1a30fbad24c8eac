"""The paper's claims per cell: paired differences, t-intervals and verdicts, by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchmarks.analysis.claims import (
    CLAIMS,
    FRAGILE_BELOW,
    RESAMPLES,
    claims_markdown,
    claims_table,
    measure_values,
    stability,
    t_interval,
    verdict,
)

CELL = {"dataset": "mnist5k", "model": "mlp", "tier": "quick"}
T_975_2 = 4.302652729749464  # t_{0.975} with 2 degrees of freedom (tables: 4.303)
TEST_NLL = {
    "single": [0.30, 0.31, 0.32, 0.50],  # seed 3 has no partner anywhere
    "random_search_topk": [0.29],  # one seed only: n = 1
    "deep_ensemble": [0.27, 0.29, 0.295],  # single + (-0.03, -0.02, -0.025)
    "hyper_deep_ensemble": [0.24, 0.28, 0.275],  # deep + (-0.03, -0.01, -0.02)
    "batch_ensemble": [0.28, 0.29, 0.30],
    "hyper_batch_ensemble": [0.31, 0.31, 0.325],  # batch + (0.03, 0.02, 0.025)
}  # hyper_ens is missing: n = 0


def _frame() -> pd.DataFrame:
    """Test rows as TEST_NLL; corruption rows per run: types fog / noise at severities 1..5 with
    nll = 2 * test + 0.1 * severity ± 0.05, so the per-run mean is 2 * test + 0.3; single seed 0
    also has a third type at severity 5 (nll 2 * 0.30 + 0.5 + 0.3), which moves its severity-5
    mean by +0.1 and its corrupted NLL to 0.6 + 0.3 + 0.1 / 5 = 0.92."""
    rows = []
    for method, values in TEST_NLL.items():
        for seed, value in enumerate(values):
            base = {**CELL, "run_id": f"{method}-s{seed}", "method": method, "seed": seed}
            rows.append({**base, "split": "test", "corruption": "none", "severity": 0,
                         "nll": value})  # fmt: skip
            for severity in range(1, 6):
                for corruption, shift in (("fog", 0.05), ("noise", -0.05)):
                    nll = 2 * value + 0.1 * severity + shift
                    rows.append({**base, "split": "corruption", "corruption": corruption,
                                 "severity": severity, "nll": nll})  # fmt: skip
            if (method, seed) == ("single", 0):
                rows.append({**base, "split": "corruption", "corruption": "blur", "severity": 5,
                             "nll": 2 * value + 0.5 + 0.3})  # fmt: skip
            rows.append({**base, "split": "val", "corruption": "none", "severity": 0, "nll": 9.0})
    return pd.DataFrame(rows)


def _row(table: pd.DataFrame, claim: str, method: str, measure: str = "test") -> pd.Series:
    sel = table[(table.claim == claim) & (table.method == method) & (table.measure == measure)]
    assert len(sel) == 1
    return sel.iloc[0]


def test_claims_by_hand_each_verdict():
    table = claims_table(_frame())
    assert len(table) == len(CLAIMS)  # one cell, every claim
    # supported: deep_ensemble − single = (-0.03, -0.02, -0.025): mean -0.025, sd 0.005
    r = _row(table, "a", "deep_ensemble")
    se = 0.005 / math.sqrt(3)
    assert (r.baseline, r.n, r.wins) == ("single", 3, 3)
    assert r.mean_diff == pytest.approx(-0.025) and r.se == pytest.approx(se)
    assert r.ci_low == pytest.approx(-0.025 - T_975_2 * se)  # -0.03742
    assert r.ci_high == pytest.approx(-0.025 + T_975_2 * se)  # -0.01258
    assert r.verdict == "supported"
    # not resolved: hyper_deep − deep = (-0.03, -0.01, -0.02): mean -0.02, sd 0.01, interval
    # -0.02 ± 4.3027 * 0.005774 = [-0.04484, +0.00484] straddles 0 although it wins 3 of 3
    r = _row(table, "b", "hyper_deep_ensemble")
    se = 0.01 / math.sqrt(3)
    assert r.mean_diff == pytest.approx(-0.02) and r.se == pytest.approx(se)
    assert (r.ci_low, r.ci_high) == pytest.approx((-0.02 - T_975_2 * se, -0.02 + T_975_2 * se))
    assert r.ci_high > 0 and r.wins == 3 and r.verdict == "not resolved"
    # contradicted: hyper_batch − batch = (0.03, 0.02, 0.025): interval [+0.01258, +0.03742]
    r = _row(table, "c", "hyper_batch_ensemble")
    se = 0.005 / math.sqrt(3)
    assert r.ci_low == pytest.approx(0.025 - T_975_2 * se) and r.ci_low > 0
    assert (r.wins, r.verdict) == (0, "contradicted")
    # n = 1 and a missing method: not resolved, no interval
    r = _row(table, "a", "random_search_topk")
    assert (r.n, r.wins, r.verdict) == (1, 1, "not resolved")
    assert r.mean_diff == pytest.approx(-0.01) and np.isnan(r.se) and np.isnan(r.ci_low)
    r = _row(table, "a", "hyper_ens")
    assert (r.n, r.wins, r.verdict) == (0, 0, "not resolved") and np.isnan(r.mean_diff)
    # the rest of claim a: hyper_deep − single (-0.06, -0.03, -0.045) is supported;
    # batch − single (-0.02 each, se 0) is supported; hyper_batch − single (0.01, 0, 0.005) not
    assert _row(table, "a", "hyper_deep_ensemble").verdict == "supported"
    assert _row(table, "a", "batch_ensemble").verdict == "supported"
    assert _row(table, "a", "hyper_batch_ensemble").verdict == "not resolved"


def test_claims_under_corruption_by_hand():
    table = claims_table(_frame())
    # deep − single on corrupted NLL: seed 0 is 2 * 0.27 + 0.3 - 0.92 = -0.08 (the extra blur
    # row counts within severity 5 only), seeds 1, 2 are 2 * (-0.02), 2 * (-0.025)
    diffs = np.array([-0.08, -0.04, -0.05])
    r = _row(table, "d", "deep_ensemble", "corruption")
    se = diffs.std(ddof=1) / math.sqrt(3)
    assert r.mean_diff == pytest.approx(-0.17 / 3) and r.se == pytest.approx(se)
    assert r.ci_high == pytest.approx(-0.17 / 3 + T_975_2 * se)  # -0.00496 < 0
    assert (r.n, r.wins, r.verdict) == (3, 3, "supported")
    # hyper_deep − deep: 2 * (-0.03, -0.01, -0.02): mean -0.04, sd 0.02 -> [-0.0897, +0.0097]
    r = _row(table, "d", "hyper_deep_ensemble", "corruption")
    assert r.mean_diff == pytest.approx(-0.04) and r.se == pytest.approx(0.02 / math.sqrt(3))
    assert r.verdict == "not resolved"
    assert _row(table, "d", "hyper_batch_ensemble", "corruption").verdict == "contradicted"
    values = measure_values(_frame(), "corruption").set_index("run_id")["nll"]
    assert values["single-s0"] == pytest.approx(0.92)
    assert values["deep_ensemble-s1"] == pytest.approx(2 * 0.29 + 0.3)


def test_claims_cells_and_frames_without_corruption():
    df = _frame()
    other = df[df.method.isin(["single", "deep_ensemble"])].assign(model="lenet")
    table = claims_table(pd.concat([df, other]))
    assert len(table) == 2 * len(CLAIMS)
    assert table.groupby("model").size().to_dict() == {"lenet": len(CLAIMS), "mlp": len(CLAIMS)}
    lenet = table[table.model == "lenet"]
    assert lenet.groupby("verdict").size().to_dict() == {"not resolved": 9, "supported": 2}
    no_shift = claims_table(df[df.split != "corruption"])
    assert "corruption" not in set(no_shift["measure"])  # claim d only where it was measured
    assert len(no_shift) == sum(c.measure == "test" for c in CLAIMS)
    dup = pd.concat([df, df[df.run_id == "single-s0"].assign(run_id="other")])
    with pytest.raises(ValueError, match="ambiguous"):
        claims_table(dup)


def test_t_interval_and_verdict():
    assert t_interval(-0.025, 0.005 / math.sqrt(3), 3) == pytest.approx(
        (-0.025 - T_975_2 * 0.005 / math.sqrt(3), -0.025 + T_975_2 * 0.005 / math.sqrt(3))
    )
    assert all(math.isnan(x) for x in t_interval(-0.1, 0.01, 1))
    assert verdict(-0.2, -0.1) == "supported"
    assert verdict(0.1, 0.2) == "contradicted"
    assert verdict(-0.1, 0.1) == verdict(math.nan, math.nan) == "not resolved"
    assert verdict(-0.1, 0.0) == "not resolved"  # the whole interval must be below 0


def test_claims_markdown_rows():
    text = claims_markdown(claims_table(_frame()))
    assert "*mnist5k, mlp (quick)*" in text
    lines = text.splitlines()
    assert (
        "| a | deep_ensemble − single | test | 3 | −0.0250 | 0.0029 | [−0.0374, −0.0126] | 3/3 "
        "| **supported** | 1.00 |"
    ) in lines
    assert "| a | hyper_ens − single | test | 0 |  |  |  | 0/0 | not resolved |  |" in lines
    assert any(line.startswith("| c |") and "**contradicted**" in line for line in lines)
    assert claims_markdown(claims_table(_frame().iloc[:0])) == "(no claims to test)"


def test_stability_of_verdicts_known_by_hand():
    """Differences whose resamples all give the observed verdict; two seeds of opposite sign,
    whose resamples give 'supported' ([a, a], a < 0), 'contradicted' ([b, b]) or 'not resolved'
    (one of each: mean 0) with probabilities 1/4, 1/4, 1/2; fewer than two seeds: NaN."""
    tight = np.array([-0.03, -0.02, -0.025])  # every resample's interval stays below 0
    assert stability(tight) == 1.0
    assert stability(-tight) == 1.0  # contradicted, as firmly
    half = stability(np.array([-0.01, 0.01]))  # observed: not resolved
    assert abs(half - 0.5) < 4 * math.sqrt(0.25 / RESAMPLES) and half < FRAGILE_BELOW
    assert math.isnan(stability(np.array([-0.01]))) and math.isnan(stability(np.zeros(0)))
    assert stability(np.array([-0.01, 0.01])) == half  # seeded


def test_stability_equals_a_loop_over_the_same_resamples():
    """The vectorised bootstrap against one resample at a time through t_interval and verdict."""
    rng = np.random.default_rng(3)
    for n in (3, 6, 12):
        d = rng.normal(-0.004, 0.007, n)
        observed = verdict(*t_interval(d.mean(), d.std(ddof=1) / math.sqrt(n), n))
        idx = np.random.default_rng(0).integers(0, n, size=(500, n))
        same = []
        for row in idx:
            s = d[row]
            se = s.std(ddof=1) / math.sqrt(n)
            same.append(verdict(*t_interval(s.mean(), se, n)) == observed)
        assert stability(d, resamples=500, seed=0) == pytest.approx(np.mean(same), abs=1e-12)


def test_claims_table_carries_stability_raw_and_marks_fragile_verdicts():
    table = claims_table(_frame())
    assert _row(table, "a", "deep_ensemble")["stability"] == 1.0
    assert math.isnan(_row(table, "a", "random_search_topk")["stability"])  # n = 1
    fragile = pd.DataFrame(
        [
            {**CELL, "run_id": f"{m}-{s}", "method": m, "seed": s, "split": "test", "nll": v}
            for m, values in (("single", [0.30, 0.30]), ("deep_ensemble", [0.29, 0.31]))
            for s, v in enumerate(values)
        ]  # fmt: skip
    )
    text = claims_markdown(claims_table(fragile))
    assert "| a | deep_ensemble − single | test | 2 |" in text and "not resolved (fragile)" in text
