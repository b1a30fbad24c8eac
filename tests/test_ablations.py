"""`hyperens ablate`: a variant of some methods rerun on the same cells and seeds, paired with the
base results; bad input is one line before anything runs."""

import pandas as pd
import pytest

from benchmarks.ablations import run_ablation
from benchmarks.analysis.ablation import ABLATIONS
from benchmarks.cli import main
from benchmarks.matrix import run_matrix
from benchmarks.store import RunStore, write_results


def test_an_ablation_pairs_its_runs_with_the_base_on_seed(tmp_path):
    base = tmp_path / "base"
    run_matrix("smoke", base, seeds=1, only="digits/mlp/batch_ensemble/*", echo=lambda *_: None)
    write_results(RunStore(base))
    md = run_ablation("single_best", tmp_path / "variant", base, tmp_path / "out", seeds=1,
                      matrix="smoke")  # fmt: skip
    diffs = pd.read_csv(tmp_path / "out" / "single_best.csv")
    # the variant ran batch_ensemble and mimo on both models; only batch_ensemble/mlp has a base
    assert set(zip(diffs["model"], diffs["method"], strict=True)) == {("mlp", "batch_ensemble")}
    assert set(diffs["n"]) == {1}
    variant = RunStore(tmp_path / "variant")
    infos = [variant.load(r).provenance for r in variant.run_ids()]
    assert {p["hparams_source"] for p in infos} == {"random search (best trial)"}
    assert "single_best" in md.read_text() and "BatchEnsemble.hparams" in md.read_text()


@pytest.mark.parametrize(
    "argv, message",
    [(["ablate", "nope"], "unknown ablation 'nope'"),
     (["ablate", "last_epoch", "--base", "/nonexistent"], "not found")],
)  # fmt: skip
def test_bad_ablation_input_is_one_line(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "runs").exists()


def test_every_ablation_names_methods_of_the_quick_matrix():
    from benchmarks import compose

    _, cells = compose.plan_matrix("quick", 1)
    methods = {c.method for c in cells}
    for name in ABLATIONS.names():
        assert set(ABLATIONS.get(name).methods) <= methods


def test_a_matrix_run_is_logged_and_the_readme_states_its_time(tmp_path):
    from benchmarks.report import write_report
    from benchmarks.report.readme import matrix_time_lines

    store = tmp_path / "s"
    only = "digits/mlp/single/0"
    run_matrix("smoke", store, seeds=1, only=only, echo=lambda *_: None)
    run_matrix("smoke", store, seeds=1, only=only, echo=lambda *_: None)  # skips: logged, 0 run
    log = pd.read_csv(store / "matrix_log.csv")
    assert log["cells_run"].tolist() == [1, 0] and log["cells_skipped"].tolist() == [0, 1]
    assert log["wall_s"].iloc[0] > 0 and set(log["matrix"]) == {"smoke"}
    write_report(tmp_path / "out", store=store)
    lines = matrix_time_lines(tmp_path / "out")
    assert len(lines) == 1 and lines[0].startswith("`hyperens matrix smoke` ran 1 cells in 0m")
