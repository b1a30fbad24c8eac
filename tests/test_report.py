"""`hyperens report`: from a store, from its own CSVs (identical), and the README's block."""

from pathlib import Path

import pytest

from benchmarks.cli import main
from benchmarks.readme import END, START, readme_block
from benchmarks.report import write_report

REPO = Path(__file__).resolve().parents[1]


def test_report_from_store_then_from_its_csvs_is_identical(smoke_store, tmp_path):
    first = tmp_path / "first"
    write_report(first, store=smoke_store)
    for name in ("tables/digits_mlp.md", "tables/digits_mlp.tex", "tables/paired.md",
                 "figures/nll_vs_ensemble_size.png", "figures/reliability.pdf",
                 "figures/diversity_vs_accuracy.png", "figures/cost_vs_nll.png"):  # fmt: skip
        assert (first / name).stat().st_size > 0, name
    second = tmp_path / "second"
    write_report(second, results=first)
    for name in ("tables/digits_mlp.md", "tables/digits_mlp.tex", "tables/paired.md"):
        assert (first / name).read_text() == (second / name).read_text()
    md = (first / "tables" / "digits_mlp.md").read_text()
    assert md.count("**") >= 6 and "±" in md  # best cells bold, mean ± s.e.
    assert "better on" in (first / "tables" / "paired.md").read_text()


def test_readme_block_is_what_the_report_makes_from_results_quick(monkeypatch):
    monkeypatch.chdir(REPO)
    text = (REPO / "README.md").read_text()
    block = text.split(START, 1)[1].split(END, 1)[0].strip("\n")
    assert block == readme_block(Path("results/quick"))


@pytest.mark.parametrize(
    "argv,message",
    [
        (["report", "--out", "x"], "exactly one of --store"),
        (["report", "--results", "/nonexistent", "--out", "x"], "is missing"),
        (["matrix", "nope", "--store", "x"], "unknown matrix 'nope'"),
    ],
)
def test_bad_report_and_matrix_input_is_one_line(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "x").exists()


def test_results_quick_come_from_the_current_code():
    """results/quick/ was produced by this checkout's training code: nothing under benchmarks/
    (except the report's own analysis code, checked by the README test) or gin/ changed since
    the commit its rows record."""
    import subprocess

    from benchmarks.store import read_results

    commits = set(read_results(REPO / "results" / "quick" / "results.csv")["git_commit"])
    assert len(commits) == 1, commits
    (commit,) = commits
    paths = ["benchmarks", "gin", ":!benchmarks/analysis", ":!benchmarks/report.py",
             ":!benchmarks/readme.py"]  # fmt: skip
    try:
        out = subprocess.run(["git", "diff", "--name-only", commit, "HEAD", "--", *paths],
                             cwd=REPO, capture_output=True, text=True, timeout=30)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("git is not available")
    if out.returncode != 0:
        pytest.skip(f"commit {commit[:10]} is not in this clone's history")
    assert out.stdout == "", f"results/quick is stale; changed since {commit[:10]}: {out.stdout}"
