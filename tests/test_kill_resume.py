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
    "--gin_param", "TrainConfig.epochs = 150", "--gin_param", "MLP.widths = (32,)",
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
        found = list(killed.glob("runs/*/checkpoints/train_state.npz"))
        if found:
            ckpt = found[0]
            break
        time.sleep(0.05)
    assert ckpt is not None, "no checkpoint appeared before the run ended"
    time.sleep(0.3)
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
    assert record.provenance["method_info"]["resumed_from_epoch"] > 0
    assert not [p for p in run_dir.rglob("*") if p.name.startswith(".tmp-")]

    fresh = tmp_path / "fresh"
    assert _cli(fresh).wait() == 0
    other = RunStore(fresh).load(rid)
    assert other.provenance["method_info"]["resumed_from_epoch"] == 0
    assert other.metrics == record.metrics
