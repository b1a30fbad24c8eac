"""`hyperens report`: from a store, from its own CSVs (identical), and the README's block."""

import collections
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import benchmarks.store.runs as runs_module
from benchmarks.cli import main
from benchmarks.errors import HyperensError
from benchmarks.report import load_report_inputs, write_report
from benchmarks.report.readme import (
    END,
    START,
    _fill,
    markers,
    readme_block,
    results_readme,
    summary_block,
)
from benchmarks.store import read_results

REPO = Path(__file__).resolve().parents[1]


def test_report_from_store_then_from_its_csvs_is_identical(smoke_store, tmp_path, monkeypatch):
    reads = collections.Counter()
    read_npz = runs_module.read_npz

    def counting(path, *args, **kwargs):
        reads[Path(path)] += 1
        return read_npz(path, *args, **kwargs)

    monkeypatch.setattr(runs_module, "read_npz", counting)
    first = tmp_path / "first"
    write_report(first, store=smoke_store)
    run_files = {p for p in reads if p.parent.parent == Path(smoke_store) / "runs"}
    assert run_files and all(reads[p] == 1 for p in run_files), reads  # one read per run
    for name in ("tables/digits_mlp.md", "tables/digits_mlp.tex", "tables/paired.md",
                 "tables/claims.md", "tables/claims.csv", "tables/tuned.md", "tables/tuned.csv",
                 "history.csv", "figures/nll_vs_ensemble_size.png",
                 "figures/reliability.pdf", "figures/diversity_vs_accuracy.png",
                 "figures/cost_vs_nll.png", "figures/dee_vs_cost.png", "tables/dee.md",
                 "de_curve.csv"):  # fmt: skip
        assert (first / name).stat().st_size > 0, name
    second = tmp_path / "second"
    write_report(second, results=first)
    for name in ("tables/digits_mlp.md", "tables/digits_mlp.tex", "tables/paired.md",
                 "tables/claims.md", "tables/claims.csv", "tables/tuned.md",
                 "tables/digits_mlp_calibrated.md", "tables/dee.md"):  # fmt: skip
        assert (first / name).read_text() == (second / name).read_text()
    results = pd.read_csv(first / "results.csv")
    labelled = results["split"].isin(["val", "test", "corruption"])
    assert results.loc[labelled, "nll_calibrated"].notna().all()
    assert results.loc[~labelled, "nll_calibrated"].isna().all()  # OOD rows have no labels
    per_run = results[labelled].groupby("run_id")["temperature"].nunique()
    assert (per_run == 1).all()  # one temperature per run
    assert "after calibration" in (first / "tables" / "claims.md").read_text()
    md = (first / "tables" / "digits_mlp.md").read_text()
    assert md.count("**") >= 6 and "±" in md  # best cells bold, mean ± s.e.
    assert "better on" in (first / "tables" / "paired.md").read_text()
    claims = pd.read_csv(first / "tables" / "claims.csv")
    assert set(claims["claim"]) == {"a", "b", "c", "d"} and (claims["n"] == 2).all()
    tuned = pd.read_csv(first / "tables" / "tuned.csv")
    assert {"hyper_batch_ensemble", "self_tuning"} <= set(tuned["method"])
    history = pd.read_csv(first / "history.csv")
    assert (first / "figures" / "learning_curves.png").stat().st_size > 0
    # every run's history is its stored curves, one row per (member, epoch)
    for rid, rows in history.groupby("run_id"):
        arrays = np.load(Path(smoke_store) / "runs" / rid / "predictions.npz")
        for metric in ("train_loss", "val_nll", "val_accuracy"):
            curve = arrays[f"{metric}_curve"]
            assert len(rows) == curve.size
            np.testing.assert_array_equal(rows[metric], curve.ravel().astype(np.float64))
    assert set(history["run_id"]) == set(results["run_id"])  # every method records one
    assert history[["train_loss", "val_nll", "val_accuracy"]].notna().all().all()
    assert pd.read_csv(second / "history.csv").equals(history)
    assert "### Claims" in readme_block(first)


def _tiny_store(root: Path) -> Path:
    """One hyper_ens run whose greedy picks were members 2, 0, 2, 1 (three members, labels
    (0, 1); true-label probabilities as in tests/analysis), with a learning curve and q_summary."""
    from benchmarks.metrics import compute_all
    from benchmarks.store import RunStore, run_id

    store = RunStore(root)
    py = np.array([[0.6, 0.4], [0.2, 0.9], [0.9, 0.4]])
    probs = np.stack([np.stack([[p0, 1 - p0], [1 - p1, p1]]) for p0, p1 in py]).astype(np.float32)
    labels = np.array([0, 1], np.int32)
    counts = np.array([1.0, 1.0, 2.0], np.float32)
    preds = {
        "val_probs": probs,
        "test_probs": probs,
        "val_labels": labels,
        "test_labels": labels,
        "member_weights": counts,
        "build_order": np.array([2, 0, 2, 1]),
        "val_nll_curve": np.array([[1.0, 0.5], [0.8, 0.6], [0.9, 0.7]], np.float32),
    }
    cell = {"dataset": "digits", "model": "mlp", "method": "hyper_ens", "tier": "smoke", "seed": 0}
    rid = run_id(cell, "x = 1\n")
    store.begin(rid, cell, "x = 1\n")
    metrics = {s: compute_all(probs, labels, counts) for s in ("val", "test")}
    info = {"q_summary": [{"l2": {"low": 1e-5, "high": 1e-3, "mean": 2e-4}}]}
    provenance = {"wall_time_s": 1.0, "param_count": 10, "git_commit": "abc",
                  "timestamp": "2024-01-01T00:00:00+00:00", "method_info": info}  # fmt: skip
    store.finish(rid, metrics, preds, provenance)
    return root


def test_report_reads_build_order_learning_curves_and_tuned_provenance(tmp_path):
    out = tmp_path / "report"
    write_report(out, store=_tiny_store(tmp_path / "store"))
    curve = pd.read_csv(out / "ensemble_size.csv")
    want = [-(np.log(0.9) + np.log(0.4)) / 2, -(np.log(0.75) + np.log(0.4)) / 2,
            -(np.log(0.65) + np.log(0.525)) / 2]  # fmt: skip
    np.testing.assert_allclose(curve["nll"], want, rtol=1e-6)  # float32 probabilities
    history = pd.read_csv(out / "history.csv")  # a run stored before train loss and accuracy
    assert len(history) == 6 and history["epoch"].max() == 2
    assert history["train_loss"].isna().all() and history["val_accuracy"].isna().all()
    assert (out / "figures" / "learning_curves.png").stat().st_size > 0
    tuned = pd.read_csv(out / "tables" / "tuned.csv")
    assert tuned[["method", "hparam", "source", "mean"]].values.tolist() == [
        ["hyper_ens", "l2", "q", 2e-4]
    ]
    block = readme_block(out)
    assert "figures/learning_curves.png" in block
    assert "### Where the tuned hyperparameters ended" in block
    assert "| hyper_ens | l2 | q |" in block


def test_results_dir_without_learning_curves_or_tuned_table(tmp_path):
    old = tmp_path / "old"
    (old / "tables").mkdir(parents=True)
    for name in ("results.csv", "ensemble_size.csv", "reliability.csv"):
        shutil.copy2(REPO / "results" / "quick" / name, old / name)
    inputs = load_report_inputs(old)
    assert inputs.history.empty and "val_nll" in inputs.history.columns
    assert inputs.tuned.empty and "hparam" in inputs.tuned.columns
    out = tmp_path / "out"
    write_report(out, results=old)
    assert (out / "tables" / "claims.md").read_text().count("| d |") == 6  # 2 cells x 3
    assert not (out / "figures" / "learning_curves.png").exists()
    block = readme_block(out)
    assert "### Claims" in block and "learning_curves" not in block
    assert "Where the tuned hyperparameters ended" not in block


def test_results_dir_with_an_older_learning_curves_csv(tmp_path):
    old = tmp_path / "old"
    (old / "tables").mkdir(parents=True)
    for name in ("results.csv", "ensemble_size.csv", "reliability.csv"):
        shutil.copy2(REPO / "results" / "quick" / name, old / name)
    # what reports wrote before history.csv: the validation NLL only, its member column `row`
    history = pd.read_csv(REPO / "results" / "quick" / "history.csv")
    learning = history.drop(columns=["train_loss", "val_accuracy"])
    learning = learning.rename(columns={"member": "row"})
    learning.to_csv(old / "learning_curves.csv", index=False)
    history = load_report_inputs(old).history
    assert len(history) == len(learning) and history["train_loss"].isna().all()
    np.testing.assert_array_equal(history["val_nll"], learning["val_nll"])
    out = tmp_path / "out"
    write_report(out, results=old)
    assert (out / "figures" / "learning_curves.png").stat().st_size > 0
    assert "figures/learning_curves.png" in readme_block(out)


def test_readme_block_is_what_the_report_makes_from_results_quick(monkeypatch):
    monkeypatch.chdir(REPO)
    text = (REPO / "README.md").read_text()
    block = text.split(START, 1)[1].split(END, 1)[0].strip("\n")
    assert block == summary_block(Path("results/quick"))
    assert (REPO / "results/quick/README.md").read_text() == results_readme(Path("results/quick"))


def test_every_committed_results_dir_has_its_generated_readme_block(monkeypatch):
    """results/NAME (beside quick) fills the README block between its own markers."""
    monkeypatch.chdir(REPO)
    text = (REPO / "README.md").read_text()
    dirs = [d for d in sorted((REPO / "results").iterdir()) if (d / "results.csv").is_file()]
    assert [d.name for d in dirs if d.name == "quick"] == ["quick"]
    for d in dirs:
        start, end = markers(d)
        assert start in text and end in text, d.name
        block = text.split(start, 1)[1].split(end, 1)[0].strip("\n")
        assert block == summary_block(Path("results") / d.name), d.name
        assert (d / "README.md").read_text() == results_readme(Path("results") / d.name)


def test_block_headings_name_every_cell_and_its_seeds(monkeypatch):
    """A dataset named with '_' (fashion_mnist) heads its table as itself, with its seed count."""
    monkeypatch.chdir(REPO)
    for d in sorted((REPO / "results").iterdir()):
        if not (d / "results.csv").is_file():
            continue
        df = read_results(d / "results.csv")
        block = summary_block(Path("results") / d.name)
        for (dataset, model), n in df.groupby(["dataset", "model"])["seed"].nunique().items():
            assert f"**{dataset}, {model}** ({n} seeds)" in block, (d.name, dataset, model)
        assert "(0 seeds)" not in block


def test_a_block_is_filled_between_its_own_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"a\n{START}\nold\n{END}\nb\n<!-- results:x:start -->\nold x\n"
                      "<!-- results:x:end -->\nc\n")  # fmt: skip
    _fill(readme, "new x", *markers(tmp_path / "x"))
    assert readme.read_text() == (f"a\n{START}\nold\n{END}\nb\n<!-- results:x:start -->\n"
                                  "new x\n<!-- results:x:end -->\nc\n")  # fmt: skip
    with pytest.raises(HyperensError, match="results:y:start"):
        _fill(readme, "y", *markers(tmp_path / "y"))


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


def _code(path: str, text: str | None) -> str | None:
    """What of a file can change a result: Python without comments and docstrings (its AST),
    gin bindings without comments; any other file as it is."""
    import ast
    import io
    import tokenize

    if text is None or not (path.endswith(".py") or path.endswith(".gin")):
        return text
    if path.endswith(".gin"):  # gin lexes like Python: drop COMMENT tokens and blank lines
        toks = tokenize.generate_tokens(io.StringIO(text).readline)
        kept = [(t.type, t.string) for t in toks
                if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)]  # fmt: skip
        return repr(kept)
    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def _code_hash(path: str, text: str | None) -> str:
    import hashlib

    return hashlib.sha256(str(_code(path, text)).encode()).hexdigest()[:16]


def test_staleness_ignores_comments_and_docstrings_only():
    gin_a = "# a comment\nTrainConfig.epochs = 40  # why\n"
    assert _code("x.gin", gin_a) == _code("x.gin", "TrainConfig.epochs = 40\n# other\n")
    assert _code("x.gin", gin_a) != _code("x.gin", "TrainConfig.epochs = 41\n")
    py_a = '"""Doc."""\n\n\ndef f(x):\n    """Doc."""\n    return x + 1  # c\n'
    assert _code("m.py", py_a) == _code("m.py", "def f(x):\n    return x + 1\n")
    assert _code("m.py", py_a) != _code("m.py", "def f(x):\n    return x + 2\n")
    assert _code("m.py", py_a) != _code("m.py", None)  # a deleted file changed
    assert _code("r.csv", "a\n") != _code("r.csv", "a \n")


# What a `make quick` result cannot depend on, so changes there leave results/quick current:
# the report's own code (checked by the README test), benchmarks that only print figures, the
# command line's parsing (the quick matrix passes no bindings through it), comparisons and
# ablations of finished stores, uncertainty-baselines imports, the dataset registry's imports and
# the tensorflow-datasets loaders (mnist5k is read by benchmarks/data/offline.py).
NOT_IN_QUICK_RESULTS = (
    "benchmarks/analysis", "benchmarks/report.py", "benchmarks/readme.py", "benchmarks/report",
    "benchmarks/bench", "benchmarks/cli.py", "benchmarks/compare.py", "benchmarks/ablations.py",
    "benchmarks/imports", "benchmarks/data/__init__.py", "benchmarks/data/tfds_sets.py",
    "benchmarks/data/shift_tfds.py", "gin/datasets/fashion_mnist.gin", "gin/datasets/cifar10.gin",
    "gin/datasets/cifar100.gin",
)  # fmt: skip
# Files changed since the results' commit in ways reviewed not to change a quick result, each
# pinned to its reviewed content (`_code` hash), so any further change is checked again.
REVIEWED = {
    # Fashion-MNIST's own OOD list and set (MNIST digits); mnist5k's and digits' sets are
    # pinned by tests/data/test_data_shift_offline.py
    "benchmarks/data/shift_offline.py": "0360c9f2e07a6a7a",
    "benchmarks/data/ood_offline.py": "86787b081f2a0913",
    "benchmarks/runner.py": "d2657be64f4218e9",  # the dataset is read before the store is made
    "benchmarks/__init__.py": "f6db2d7d9e9f13ed",  # TensorFlow's start-up lines hidden (quiet.py)
    "benchmarks/compose.py": "6ead25925ca012e4",  # check_not_shadowed: reads bindings, sets none
    "benchmarks/train/engine.py": "1937e16eef659fac",  # its progress bar moved to train/progress.py
    # which checkout changes mark a run's git_commit -dirty; metrics unchanged
    "benchmarks/store/provenance.py": "a5580c4c13aa6258",
}
# A file added since the results' commit reaches a quick run only through a changed file that
# imports or names it (caught above), except a gin file the quick tier reads by its name.
ADDED_FILES_THAT_COUNT = ("gin/tiers/quick",)


def test_results_quick_come_from_the_current_code():
    """results/quick/ was produced by this checkout's training code: nothing under benchmarks/
    that a quick run reads (all but `NOT_IN_QUICK_RESULTS`) or its gin files changed since the
    commit its rows record, other than comments, docstrings and added files
    (`ADDED_FILES_THAT_COUNT`). The gin files have lived at gin/ and at benchmarks/gin/ (now a
    symlink to gin/): an older commit's benchmarks/gin/X is compared with gin/X, so a move alone
    changes nothing."""
    import subprocess

    from benchmarks.store import read_results

    commits = set(read_results(REPO / "results" / "quick" / "results.csv")["git_commit"])
    assert len(commits) == 1, commits
    (commit,) = commits
    assert not commit.endswith("-dirty"), (
        f"results/quick was made from a checkout with uncommitted changes or untracked files "
        f"({commit}): regenerate it with make quick from a clean clone"
    )
    # the gin files are compared by their place under gin/ (benchmarks/gin/X at `commit` is gin/X)
    paths = ["benchmarks", ":!benchmarks/gin", *(f":!{p}" for p in NOT_IN_QUICK_RESULTS)]
    gin_dir, old_gin = "gin/", "benchmarks/gin/"

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30)

    try:
        out = git("diff", "--name-only", commit, "HEAD", "--", *paths)
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("git is not available")
    if out.returncode != 0:
        pytest.skip(f"commit {commit[:10]} is not in this clone's history")

    def show(rev: str, path: str) -> str | None:
        got = git("show", f"{rev}:{path}")
        return got.stdout if got.returncode == 0 else None

    def before(path: str) -> str | None:  # the file at `commit`, at its old place if it moved
        text = show(commit, path)
        if text is None and path.startswith(gin_dir):
            text = show(commit, old_gin + path.removeprefix(gin_dir))
        return text

    def gin_files(rev: str) -> set[str]:  # under gin/ or benchmarks/gin/, named by gin/ (no link)
        listed = git("ls-tree", "-r", "--name-only", rev, "--", "gin", "benchmarks/gin").stdout
        return {gin_dir + p.removeprefix(old_gin) if p.startswith(old_gin) else p
                for p in listed.split() if p.startswith((gin_dir, old_gin))}  # fmt: skip

    gin_names = (gin_files(commit) | gin_files("HEAD")) - {
        p for p in NOT_IN_QUICK_RESULTS if p.startswith(gin_dir)
    }
    changed = sorted(
        p for p in set(out.stdout.split()) | gin_names
        if _code(p, before(p)) != _code(p, show("HEAD", p))
        and REVIEWED.get(p) != _code_hash(p, show("HEAD", p))
        and not (before(p) is None and not p.startswith(ADDED_FILES_THAT_COUNT))
    )  # fmt: skip
    assert changed == [], f"results/quick is stale; changed since {commit[:10]}: {changed}"


def test_report_holds_no_shifted_arrays_and_calibrates_as_the_whole_store_does(smoke_store):
    """Calibrated rows computed at each run's one read equal `calibrated_metrics` over the
    stored arrays; afterwards only the derived tables' arrays stay in memory."""
    from benchmarks.analysis.calibrated import calibrated_metrics
    from benchmarks.analysis.derived import DERIVED_KEYS
    from benchmarks.report import ReadOnceStore
    from benchmarks.store import RunStore, gather_results

    store = ReadOnceStore(smoke_store)
    df = gather_results(store)
    streamed = store.calibrated(df["run_id"])
    whole = calibrated_metrics(df, RunStore(smoke_store).load_predictions)
    assert len(whole) > len(df["run_id"].unique()) * 2  # the corrupted sets are in it
    pd.testing.assert_frame_equal(streamed, whole)
    held = {k for rid in df["run_id"].unique() for k in store.load_predictions(rid)}
    assert held and held <= set(DERIVED_KEYS)
    assert not any(k.startswith("shift_") for k in held)
