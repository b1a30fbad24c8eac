"""Comparing a results table with a reference: per cell, per method in standard errors, and the
`hyperens compare` command."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.analysis.compare import (
    CELL_COLUMNS,
    compare_aggregate,
    compare_cells,
    compare_markdown,
    identical_cells,
    one_sided,
    provenance_differences,
    verdict,
)
from benchmarks.cli import main
from benchmarks.errors import HyperensError

CELL = {"dataset": "digits", "model": "mlp", "tier": "smoke"}
REF_NLL = (0.30, 0.50, 0.70)
MINE_NLL = (0.30, 0.56, 0.73)  # diffs 0, 0.06, 0.03
ACCURACY = (0.9, 0.8, 0.7)


def _row(method: str, seed: int, nll: float, accuracy: float, split: str = "test", **extra):
    return {"run_id": f"{method}-s{seed}", **CELL, "method": method, "seed": seed,
            "split": split, "corruption": "none", "severity": 0, "ood_set": "none",
            "nll": nll, "accuracy": accuracy, "git_commit": "a" * 40, "tensorflow": "2.21.0",
            **extra}  # fmt: skip


def _table(nlls, extra_rows=(), **extra) -> pd.DataFrame:
    rows = [
        _row("single", s, v, a, **extra)
        for s, (v, a) in enumerate(zip(nlls, ACCURACY[: len(nlls)], strict=True))
    ]
    rows += [_row("single", s, 9.0 + s, 0.0, split="val", **extra) for s in range(len(nlls))]
    return pd.DataFrame([*rows, *extra_rows])


def test_cells_and_aggregate_by_hand():
    # val rows differ in every seed and are not compared: only the test split is
    mine = _table(MINE_NLL, extra_rows=[_row("single", 3, 0.4, 0.5)])
    reference = _table(REF_NLL, extra_rows=[_row("deep_ensemble", 0, 0.2, 0.9)])
    reference.loc[reference["split"] == "val", "nll"] = 1.0
    cells = compare_cells(mine, reference)
    assert list(cells.columns) == list(CELL_COLUMNS)
    assert set(cells["metric"]) == {"nll", "accuracy"}  # only the metrics both tables have
    nll = cells[(cells["metric"] == "nll") & (cells["present"] == "both")]
    assert nll["diff"].tolist() == pytest.approx([0.0, 0.06, 0.03])
    assert nll["identical"].tolist() == [True, False, False]
    assert identical_cells(cells) == (1, 3)  # seed 0: nll and accuracy both equal
    assert one_sided(cells).to_dict("records") == [
        {**CELL, "method": "single", "seed": 3, "present": "mine"},
        {**CELL, "method": "deep_ensemble", "seed": 0, "present": "reference"},
    ]  # methods in METHOD_ORDER

    agg = compare_aggregate(cells).set_index("metric")
    r = agg.loc["nll"]
    se_ref = math.sqrt(((0.2**2 + 0 + 0.2**2) / 2) / 3)  # std(0.3, 0.5, 0.7) = 0.2
    se_mine = math.sqrt(((0.23**2 + 0.03**2 + 0.20**2) / 2) / 3)  # mean 0.53
    se_pooled = math.sqrt((se_mine**2 + se_ref**2) / 2)
    assert (r["n"], r["identical"]) == (3, 1)  # seed 3 of mine only is left out
    assert r["mean_mine"] == pytest.approx(0.53) and r["mean_reference"] == pytest.approx(0.5)
    assert r["mean_diff"] == pytest.approx(0.03)
    assert r["se_reference"] == pytest.approx(se_ref) and r["se_mine"] == pytest.approx(se_mine)
    assert r["se_pooled"] == pytest.approx(se_pooled)
    assert r["diff_in_se"] == pytest.approx(0.03 / se_ref)
    assert r["diff_in_pooled_se"] == pytest.approx(0.03 / se_pooled)
    assert r["max_abs_diff"] == pytest.approx(0.06)
    se_paired = 0.03 / math.sqrt(3)  # diffs 0, 0.06, 0.03: std 0.03
    assert r["se_paired"] == pytest.approx(se_paired)
    assert r["diff_in_paired_se"] == pytest.approx(math.sqrt(3))
    acc = agg.loc["accuracy"]
    assert (acc["identical"], acc["mean_diff"], acc["diff_in_se"], acc["max_abs_diff"]) == (
        3, 0.0, 0.0, 0.0
    )  # fmt: skip
    assert verdict(cells, compare_aggregate(cells)) == (
        "all 2 means within 2 paired s.e. of the reference (the spread of mine − reference over "
        "the shared seeds: a difference such as another CPU's rounding gives; largest 1.7 "
        "paired s.e., digits/mlp/single nll)"
    )
    text = compare_markdown(cells, compare_aggregate(cells))
    assert (
        "| digits | mlp | smoke | single | 1/3 | +0.0300 (+1.7 paired s.e.; max 0.0600) | "
        "identical |" in (text)
    )


def test_identical_tables_are_all_identical_with_zero_differences():
    table = _table(REF_NLL, nll_calibrated=0.25)
    table.loc[1, "nll_calibrated"] = math.nan  # NaN on both sides counts as identical
    cells = compare_cells(table, table.copy())
    assert set(cells["metric"]) == {"nll", "accuracy", "nll_calibrated"}
    assert cells["identical"].all() and (cells["present"] == "both").all()
    assert (cells["diff"].dropna() == 0.0).all()
    assert identical_cells(cells) == (3, 3) and one_sided(cells).empty
    agg = compare_aggregate(cells)
    assert (agg["mean_diff"] == 0).all() and (agg["diff_in_se"] == 0).all()
    assert (
        verdict(cells, agg)
        == "bit-identical: all 3 shared cells equal the reference in every metric"
    )


def test_verdict_counts_means_beyond_two_paired_standard_errors():
    shifted = [v + 0.3 for v in REF_NLL]  # 0.3 / (0.2 / sqrt 3) = 2.6 s.e.
    cells = compare_cells(_table(shifted), _table(REF_NLL))
    agg = compare_aggregate(cells)
    assert agg.set_index("metric").at["nll", "diff_in_se"] == pytest.approx(0.3 * 3**0.5 / 0.2)
    assert verdict(cells, agg) == (
        "1 of 2 means differ by more than 2 paired s.e. (the spread of mine − reference over the "
        "shared seeds), more than rounding alone explains (largest every seed moved alike, "
        "digits/mlp/single nll)"
    )


def test_provenance_differences_name_the_differing_columns():
    prov = provenance_differences(_table(REF_NLL, git_commit="b" * 40), _table(REF_NLL))
    by = prov.set_index("column")
    assert list(by.index) == ["git_commit", "tensorflow"]  # only columns a table has
    assert bool(by.at["git_commit", "differs"]) and not bool(by.at["tensorflow", "differs"])
    assert by.at["git_commit", "mine"] == "b" * 40


@pytest.mark.parametrize(
    "mine, message",
    [
        (pd.DataFrame({"a": [1]}), "is not a results table: it lacks columns"),
        (_table(REF_NLL).assign(model="lenet"), "share no test cell"),
        (pd.concat([_table(REF_NLL)] * 2), "holds several runs of cell digits/mlp/single/smoke/0"),
    ],
)
def test_bad_tables_raise_one_line(mine, message):
    with pytest.raises(HyperensError, match=message):
        compare_cells(mine, _table(REF_NLL))


def _write(df: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def test_cli_prints_summary_verdict_and_writes_cells(tmp_path, capsys):
    mine = _write(_table(MINE_NLL, extra_rows=[_row("single", 3, 0.4, 0.5)]), tmp_path / "m.csv")
    reference = _write(_table(REF_NLL), tmp_path / "ref" / "results.csv")
    out = tmp_path / "cmp" / "cells.csv"
    assert main(["compare", str(mine), str(reference.parent), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1 of 3 cells bit-identical" in text
    assert "only in mine: digits/mlp/single/smoke seeds 3" in text
    assert "verdict: all 2 means within 2 paired s.e. of the reference" in text
    assert "WARNING" not in text  # same commit
    written = pd.read_csv(out)
    expected = compare_cells(_table(MINE_NLL, [_row("single", 3, 0.4, 0.5)]), _table(REF_NLL))
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)


def test_cli_warns_when_commits_differ(tmp_path, capsys):
    mine = _write(_table(REF_NLL, git_commit="b" * 40, tensorflow="2.20.0"), tmp_path / "m.csv")
    reference = _write(_table(REF_NLL), tmp_path / "r.csv")
    assert main(["compare", str(mine), str(reference)]) == 0
    text = capsys.readouterr().out
    assert f"WARNING: different commits (mine: {'b' * 40}; reference: {'a' * 40})" in text
    assert "WARNING: this does NOT compare the same code" in text
    assert "provenance differs: tensorflow 2.20.0 (mine) vs 2.21.0 (reference)" in text
    assert "verdict: bit-identical" in text


def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    reference = _write(_table(REF_NLL), tmp_path / "r.csv")
    other = _write(_table(REF_NLL).assign(dataset="mnist5k"), tmp_path / "o.csv")
    junk = _write(pd.DataFrame({"a": [1]}), tmp_path / "junk.csv")
    before = reference.read_bytes()
    cases = [
        ([str(tmp_path / "missing")], "not found"),
        ([str(junk)], "is not a results table"),
        ([str(other)], "share no test cell"),
        ([str(other), str(reference), "--out", str(reference)], "would overwrite an input"),
    ]
    for args, message in cases:
        assert main(["compare", *args[:1], str(reference), *args[2:]]) == 2
        err = capsys.readouterr().err
        assert err.startswith("hyperens: error: ") and message in err and err.count("\n") == 1
    assert reference.read_bytes() == before


def test_verdict_does_not_claim_standard_errors_it_lacks():
    """One shared seed: a differing mean has no s.e., whatever the identical metrics' zeros say."""
    cells = compare_cells(_table(MINE_NLL[1:2]), _table(REF_NLL[1:2]))
    agg = compare_aggregate(cells).set_index("metric")
    assert math.isnan(agg.at["nll", "diff_in_se"]) and agg.at["accuracy", "diff_in_se"] == 0
    assert verdict(cells, compare_aggregate(cells)) == (
        "1 of 1 cells differ; 1 differing mean(s) without s.e. (fewer than 2 shared seeds)"
    )


def test_cli_notes_different_commits_with_the_same_code(tmp_path, capsys, monkeypatch):
    seen = []
    monkeypatch.setattr(
        "benchmarks.compare.changed_files", lambda a, b, paths: seen.append((a, b)) or []
    )
    mine = _write(_table(REF_NLL, git_commit="b" * 40), tmp_path / "m.csv")
    assert main(["compare", str(mine), str(_write(_table(REF_NLL), tmp_path / "r.csv"))]) == 0
    text = capsys.readouterr().out
    assert seen == [("a" * 40, "b" * 40)]
    assert "note: different commits (mine bbbbbbbbbb, reference aaaaaaaaaa), but" in text
    assert "WARNING" not in text


def test_rounding_noise_passes_and_a_systematic_shift_does_not():
    """Per-seed differences without a direction (as another CPU's rounding gives) stay within 2
    paired s.e. even when they exceed 2 s.e. of the reference's mean; every seed moved by the
    same amount is beyond any number of paired s.e."""
    ref = [_row("single", s, 0.2 + 0.001 * s, 0.9) for s in range(6)]
    noise = [0.004, -0.004, 0.003, -0.003, 0.002, -0.0021]
    mine = [_row("single", s, 0.2 + 0.001 * s + d, 0.9) for s, d in enumerate(noise)]
    cells = compare_cells(pd.DataFrame(mine), pd.DataFrame(ref))
    agg = compare_aggregate(cells).set_index("metric").loc["nll"]
    assert abs(agg["diff_in_paired_se"]) < 0.1
    assert verdict(cells, compare_aggregate(cells)).startswith("all 2 means within 2 paired s.e.")
    shifted = [_row("single", s, 0.2 + 0.001 * s + 0.0005, 0.9) for s in range(6)]
    cells = compare_cells(pd.DataFrame(shifted), pd.DataFrame(ref))
    agg = compare_aggregate(cells).set_index("metric").loc["nll"]
    assert abs(agg["diff_in_se"]) < 1 and abs(agg["diff_in_paired_se"]) > 100
    assert verdict(cells, compare_aggregate(cells)).startswith(
        "1 of 2 means differ by more than 2 paired s.e."
    )
