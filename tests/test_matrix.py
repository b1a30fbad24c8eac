"""Matrices: expansion, validation before anything runs, and kill-then-rerun = uninterrupted."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import compose as config
from benchmarks.compose import load_matrix
from benchmarks.errors import HyperensError
from benchmarks.settings.matrix import Matrix


def _group(seeds, datasets=("digits",), models=("mlp",), methods=("single", "hyper_ens")):
    return {"datasets": list(datasets), "models": list(models), "methods": list(methods),
            "seeds": seeds}  # fmt: skip


def test_cells_are_seed_major_and_capped():
    m = Matrix("smoke", [_group(3), _group(1, models=("lenet",), methods=("single",))])
    names = [(c.seed, c.model, c.method) for c in m.cells()]
    assert names == [(0, "mlp", "single"), (0, "mlp", "hyper_ens"), (0, "lenet", "single"),
                     (1, "mlp", "single"), (1, "mlp", "hyper_ens"),
                     (2, "mlp", "single"), (2, "mlp", "hyper_ens")]  # fmt: skip
    assert len(m.cells(seeds=1)) == 3
    assert [c.method for c in m.cells(only="digits/mlp/hyper_ens/*")] == ["hyper_ens"] * 3
    assert m.cells(only="*/lenet/*/0")[0].model == "lenet"


@pytest.mark.parametrize(
    "groups,match",
    [([], "empty"), ([{"datasets": ["digits"]}], "exactly"), ([_group(0)], "seeds >= 1")],
)
def test_bad_matrix_is_rejected(groups, match):
    with pytest.raises(HyperensError, match=match):
        Matrix("smoke", groups)


def test_shipped_matrices():
    assert config.available("matrices") == ["fashion", "paper", "quick", "smoke"]
    fashion = load_matrix("fashion")
    assert fashion.tier == "quick" and {c.dataset for c in fashion.cells()} == {"fashion_mnist"}
    assert {(c.model, c.seed) for c in fashion.cells() if c.method == "single"} == {
        *(("mlp", s) for s in range(5)), *(("lenet", s) for s in range(2))
    }  # fmt: skip
    quick = load_matrix("quick")
    assert quick.tier == "quick"
    mlp = [c for c in quick.cells() if c.model == "mlp"]
    assert {c.seed for c in mlp} == set(range(18))
    assert {c.seed for c in quick.cells() if c.model == "lenet"} == set(range(5))
    assert "data_options.split_per_seed = True" in quick.gin_params
    shipped = set(config.available("methods"))  # (METHODS may hold a test's example method)
    assert {c.method for c in mlp} == shipped and {c.dataset for c in mlp} == {"mnist5k"}
    smoke = load_matrix("smoke")
    assert {(c.dataset, c.tier) for c in smoke.cells()} == {("digits", "smoke")}
    pairs = {(c.model, c.method) for c in quick.cells()}
    assert {(c.model, c.method) for c in smoke.cells()} == pairs
    paper = {(c.dataset, c.model, c.method) for c in load_matrix("paper").cells(seeds=1)}
    assert ("cifar100", "wrn28_10", "hyper_batch_ensemble") in paper
    assert ("fashion_mnist", "lenet", "self_tuning") in paper
    assert ("cifar10", "resnet20", "deep_ensemble") in paper
    for cell in load_matrix("paper").cells(seeds=1):  # every cell composes
        config.compose(cell.dataset, cell.model, cell.method, cell.tier)


def test_unknown_matrix_is_one_line(tmp_path):
    with pytest.raises(HyperensError, match="unknown matrix 'nope'; valid names: fashion, paper"):
        load_matrix("nope")


def _matrix(store: Path, *extra: str, seeds: int = 1) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, "-m", "benchmarks.cli", "matrix", "smoke", "--store", str(store),
           "--seeds", str(seeds), "--only", "digits/mlp/*", *extra]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _table(store: Path) -> pd.DataFrame:
    df = pd.read_csv(store / "results.csv")
    keep = ["dataset", "model", "method", "tier", "seed", "split", "corruption", "severity",
            "ood_set", "nll", "accuracy", "ece_15bin", "auroc_entropy"]  # fmt: skip
    return df[keep].sort_values(keep[:9]).reset_index(drop=True)


def test_killed_matrix_reruns_to_the_same_table(tmp_path):
    killed = tmp_path / "killed"
    proc = _matrix(killed)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        done = list(killed.glob("runs/*/status.json"))
        if len(done) >= 3:
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the matrix finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "results.csv").exists()
    out, err = _matrix(killed).communicate()
    assert b"skipped" in out, err.decode()[-2000:]
    fresh = tmp_path / "fresh"
    assert _matrix(fresh).wait() == 0
    pd.testing.assert_frame_equal(_table(killed), _table(fresh))
    table = _table(fresh)
    assert (table["split"].isin(["val", "test"])).sum() == 2 * len(config.available("methods"))
    assert set(table["split"]) == {"val", "test", "corruption", "ood"}  # the smoke matrix's shifts


# cifar100/wrn28_10 is left out: the same network as cifar10/wrn28_10 with 100 outputs (its cells
# compose in test_shipped_matrices; its parameter count is checked in tests/models), and each WRN
# group costs minutes on this CPU.
PAPER_GROUPS = sorted(
    {(c.dataset, c.model) for c in load_matrix("paper").cells(seeds=1)} - {("cifar100", "wrn28_10")}
)


# WRN-28-10 runs the cells that build a network of their own: the plain network (`single`),
# its batch-ensemble, hyper-batch-ensemble and MIMO variants. `deep_ensemble` and
# `hyper_deep_ensemble` only train more seeds of `single`'s network through the same code as the
# ResNet-20 group's cells, which run every method.
WRN_METHODS = ("single", "batch_ensemble", "hyper_batch_ensemble", "mimo")


# The fewest mock examples per split that leave a validation example (5% of train, rounded).
MOCK_EXAMPLES = 10


def _fake_cifar100_c(root: Path, n: int = MOCK_EXAMPLES) -> Path:
    """A CIFAR-100-C-shaped release with one corruption: 5 severity blocks of `n` images."""
    root.mkdir()
    rng = np.random.default_rng(0)
    np.save(root / "gaussian_noise.npy", rng.integers(0, 256, (5 * n, 32, 32, 3), dtype=np.uint8))
    np.save(root / "labels.npy", np.tile(np.arange(n) % 100, 5).astype(np.uint8))
    return root


@pytest.mark.parametrize("dataset,model", PAPER_GROUPS)
def test_every_paper_cell_starts(dataset, model, tmp_path):
    """Each cell of the paper matrix builds its network and runs a couple of steps on mock
    tensorflow-datasets data, as a matrix worker runs a group: in one process, the group's cells
    sharing compiled networks. What makes it cheap changes no code path: 10 mock examples per
    split, 4 images per step (MIMO's 4 repetitions need 4), K = 2, 2 steps, one random-search
    trial for WRN-28-10 (its `single` needs no more), and no XLA (as the paper tier runs every
    model but the MLP on a CPU; the MLP's XLA compile of every network is run in
    tests/test_gin_files.py at the quick tier)."""
    import tensorflow_datasets as tfds

    from benchmarks.matrix import KEEP_TRAINERS
    from benchmarks.runner import run_cell
    from benchmarks.trials import TrainerCache

    steps = {"max_steps": 2, "epochs": 1, "batch_size": 4, "jit_compile": False}
    few = [f"{model}/TrainConfig.{k} = {v}" for k, v in steps.items()]
    kappa = 1 if model == "wrn28_10" else 2
    few += [f"{model}/WeightSpace.kappa = {kappa}", f"{model}/WeightSpace.k = 2"]
    corrupted = _fake_cifar100_c(tmp_path / "CIFAR-100-C")
    few += [
        *load_matrix("paper").gin_params,
        "shift_options.corruptions = ['gaussian_noise']",
        "shift_options.severities = [2]",
        f"shift_options.corrupted_dir = '{corrupted}'",
    ]
    cells = [
        c for c in load_matrix("paper").cells(seeds=1) if (c.dataset, c.model) == (dataset, model)
    ]
    assert cells
    if model == "wrn28_10":  # one cell per network the group builds (see WRN_METHODS)
        cells = [c for c in cells if c.method in WRN_METHODS]
        assert {c.method for c in cells} == set(WRN_METHODS)
    trainers = TrainerCache(keep=KEEP_TRAINERS)
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES):  # as test_gin_files (data is cached)
        for cell in cells:
            out = run_cell(cell, tmp_path, gin_params=few, trainers=trainers)
            assert out.status == "done", cell
            assert "corruption/gaussian_noise/2" in out.metrics, cell
            assert any(k.startswith("ood/") for k in out.metrics), cell


def test_groups_are_the_cells_of_one_seed_in_matrix_order():
    from benchmarks.matrix import groups_of

    m = Matrix("smoke", [_group(2), _group(1, models=("lenet",), methods=("single",))])
    groups = [[(c.model, c.seed, c.method) for c in g] for g in groups_of(m.cells())]
    assert groups == [[("mlp", 0, "single"), ("mlp", 0, "hyper_ens")], [("lenet", 0, "single")],
                      [("mlp", 1, "single"), ("mlp", 1, "hyper_ens")]]  # fmt: skip


def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_two_workers_killed_and_rerun_give_the_table_of_one(tmp_path):
    """Groups on two processes compute what one process computes, bit for bit, also when the
    driver is killed mid-way (its workers die with it) and the matrix is run again."""
    one = _matrix(tmp_path / "w1", "--workers", "1", seeds=2)
    out, err = one.communicate()
    assert one.returncode == 0, err.decode()[-2000:]
    assert "on 1 worker(s)" in out.decode() and "time in cells" in out.decode()
    killed = tmp_path / "w2"
    proc = _matrix(killed, "--workers", "2", seeds=2)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(killed.glob("runs/*/status.json"))) < 3:
        time.sleep(0.1)
    workers = _children(proc.pid)
    assert proc.poll() is None and len(workers) >= 2, "no workers to kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(2)
    assert not {w for w in workers if _running(w)}, "orphaned workers"
    rerun = _matrix(killed, "--workers", "2", seeds=2)
    out, err = rerun.communicate()
    assert rerun.returncode == 0 and b"on 2 worker(s)" in out, err.decode()[-2000:]
    pd.testing.assert_frame_equal(_table(tmp_path / "w1"), _table(killed), check_exact=True)


def test_matrix_gin_flags_apply_to_every_cell_and_change_the_run_id(tmp_path, capsys):
    """`matrix --gin_param/--gin_file` bind every cell (after the matrix's own bindings); a
    cell whose settings change gets a new run id, and the same flags again skip it."""
    from benchmarks.cli import main
    from benchmarks.store import RunStore

    store = tmp_path / "s"
    base = ["matrix", "smoke", "--store", str(store), "--seeds", "1", "--only", "*/mlp/single/*"]
    extra = tmp_path / "three.gin"
    extra.write_text("TrainConfig.epochs = 3\n")
    assert main(base) == 0
    assert main([*base, "--gin_file", str(extra)]) == 0
    assert main([*base, "--gin_param", "TrainConfig.epochs = 2"]) == 0
    runs = RunStore(store)
    ids = runs.run_ids()
    assert len(ids) == 3
    epochs = sorted(
        line.split("=")[1].strip()
        for rid in ids
        for line in (runs.run_dir(rid) / "config.gin").read_text().splitlines()
        if line.startswith("TrainConfig.epochs")
    )
    assert epochs == ["1", "2", "3"]  # the smoke tier trains 1 epoch
    capsys.readouterr()
    assert main([*base, "--gin_param", "TrainConfig.epochs = 2"]) == 0
    assert "skipped 1" in capsys.readouterr().out
    assert len(runs.run_ids()) == 3


def test_a_cell_process_uses_one_tensorflow_thread_of_each_kind():
    """What makes a cell's numbers independent of `--workers` and of the core count."""
    code = (
        "import tensorflow as tf; from benchmarks.matrix import one_thread; one_thread(); "
        "tf.constant(1.0) + 1.0; t = tf.config.threading; "
        "print(t.get_intra_op_parallelism_threads(), t.get_inter_op_parallelism_threads())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["1", "1"], out.stderr


def test_two_workers_write_tensorboard_events_of_every_run_and_trial(tmp_path):
    """`--tensorboard DIR` reaches the spawned cell processes: every run's members and every
    trial have event files holding their stored per-epoch numbers."""
    from benchmarks.store import RunStore
    from benchmarks.train.observe import read_scalars

    store, board = tmp_path / "store", tmp_path / "tb"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, "-m", "benchmarks.cli", "matrix", "smoke", "--store", str(store),
           "--seeds", "2", "--only", "digits/mlp/s*", "--workers", "2",
           "--tensorboard", str(board)]  # fmt: skip
    out = subprocess.run(cmd, env=env, capture_output=True, timeout=600)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    runs = RunStore(store)
    assert {runs.load(r).cell["method"] for r in runs.run_ids()} == {"single", "self_tuning"}
    for rid in runs.run_ids():
        arrays = runs.load_predictions(rid)
        for m, curve in enumerate(arrays["val_nll_curve"]):
            scalars = read_scalars(board / rid / f"member_{m}")
            assert scalars["val/nll"] == {e + 1: float(v) for e, v in enumerate(curve)}
            loss = arrays["train_loss_curve"][m]
            assert scalars["train/loss"] == {e + 1: float(v) for e, v in enumerate(loss)}
    trials = sorted(p.name for p in (store / "trials").iterdir())
    assert trials and all(read_scalars(board / key)["val/accuracy"] for key in trials)


def test_pruned_weights_are_those_no_run_uses(tmp_path, monkeypatch):
    """`Matrix.prune_weights`: once a group finished, the weights left are exactly those of the
    trials its runs use (single's and hyper_ens's members, MC dropout's restored trial; greedy
    selection starts from single's pick, so at most K = 2 of the 3 search trials); the other
    trials keep their predictions, a rerun skips every cell, and reading a pruned trial's
    weights is a one-line error naming it."""
    from benchmarks.errors import StoreCorruptError
    from benchmarks.matrix import prune_group, run_matrix, used_trials
    from benchmarks.store import RunStore
    from benchmarks.store.trial_store import TrialStore

    root = tmp_path / "gin"
    (root / "matrices").mkdir(parents=True)
    (root / "matrices" / "pruned.gin").write_text(
        "Matrix.tier = 'smoke'\n"
        "Matrix.groups = [{'datasets': ['digits'], 'models': ['mlp'], 'seeds': 1,\n"
        "                  'methods': ['single', 'hyper_ens', 'mc_dropout']}]\n"
        "Matrix.gin_params = ['shift_options.enabled = True']\n"
        "Matrix.prune_weights = True\n"
    )
    monkeypatch.delenv(config.GIN_DIR_ENV, raising=False)
    monkeypatch.setattr(config, "GIN_DIRS", config.gin_dirs_from([root]))
    store = tmp_path / "store"
    assert run_matrix("pruned", store, echo=lambda line: None)["done"] == 3
    used = used_trials(RunStore(store))
    trials = sorted(p.name for p in (store / "trials").iterdir())
    kept = sorted(p.parent.name for p in (store / "trials").glob("*/weights.npz"))
    assert len(trials) == 3 and kept == sorted(used) and 1 <= len(used) <= 2
    assert all((store / "trials" / t / "predictions.npz").is_file() for t in trials)
    pruned = next(t for t in trials if t not in used)
    with pytest.raises(StoreCorruptError, match=f"trial {pruned} has no stored weights .*pruned"):
        TrialStore(store).load_weights(pruned)
    # another seed's or model's trials are not the group's: nothing to delete
    assert prune_group(store, "digits", "mlp", 1) == (0, 0)
    assert prune_group(store, "digits", "lenet", 0) == (0, 0)
    assert run_matrix("pruned", store, echo=lambda line: None)["skipped"] == 3
