"""SIGKILL a run mid-training; the same command resumes from its checkpoint and matches."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.store import RunStore

ARGS = [
    "run", "--dataset", "digits", "--model", "mlp", "--tier", "quick", "--seed", "1",
    "--gin_param", "mlp/TrainConfig.epochs = 40", "--gin_param", "MLP.widths = (32,)",
    "--gin_param", "WeightSpace.kappa = 1",
]  # fmt: skip


def _cli(store: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, "-m", "benchmarks.cli", *ARGS, "--store", str(store)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_sigkill_then_resume(tmp_path):
    killed = tmp_path / "killed"
    proc = _cli(killed)
    deadline = time.time() + 120
    ckpt = None
    while time.time() < deadline and proc.poll() is None:
        found = list(killed.glob("checkpoints/*/train_state.npz"))
        if found:
            ckpt = found[0]
            break
        time.sleep(0.05)
    assert ckpt is not None, "no checkpoint appeared before the run ended"
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (run_dir,) = (killed / "runs").iterdir()
    assert json.loads((run_dir / "status.json").read_text())["status"] == "running"
    assert not (run_dir / "predictions.npz").exists()

    assert _cli(killed).wait() == 0
    store = RunStore(killed)
    (rid,) = store.run_ids()
    store.verify(rid)
    record = store.load(rid)
    assert record.status == "done"
    (trial,) = list(killed.glob("trials/*/trial.json"))
    assert json.loads(trial.read_text())["resumed_from_epoch"] > 0
    assert not [p for p in killed.rglob("*") if p.name.startswith(".tmp-")]
    assert not list(killed.glob("checkpoints/*"))  # removed once the trials are stored

    fresh = tmp_path / "fresh"
    assert _cli(fresh).wait() == 0
    other = RunStore(fresh).load(rid)
    (trial,) = list(fresh.glob("trials/*/trial.json"))
    assert json.loads(trial.read_text())["resumed_from_epoch"] == 0
    assert other.metrics == record.metrics


SWEEP = [
    "run", "--dataset", "digits", "--model", "mlp", "--tier", "quick", "--seed", "2",
    "--method", "hyper_deep_ensemble", "--gin_param", "MLP.widths = (32,)",
    "--gin_param", "WeightSpace.kappa = 6", "--gin_param", "WeightSpace.pack_size = 2",
    "--gin_param", "mlp/TrainConfig.epochs = 40",
]  # fmt: skip


def _sweep(store: Path) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, "-m", "benchmarks.cli", *SWEEP, "--store", str(store)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_sweep_killed_after_some_trials_resumes_to_the_same_table(tmp_path):
    killed = tmp_path / "killed"
    proc = _sweep(killed)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if len(list(killed.glob("trials/*/trial.json"))) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 2 <= len(list(killed.glob("trials/*/trial.json"))) < 6

    assert _sweep(killed).wait() == 0
    fresh = tmp_path / "fresh"
    assert _sweep(fresh).wait() == 0
    a, b = RunStore(killed), RunStore(fresh)
    (rid,) = a.run_ids()
    assert b.run_ids() == [rid]
    assert a.load(rid).metrics == b.load(rid).metrics
    assert (
        a.load(rid).provenance["method_info"]["picks"]
        == (b.load(rid).provenance["method_info"]["picks"])
    )
