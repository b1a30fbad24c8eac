"""How TensorFlow runs in a training process: one environment, one place
(`benchmarks.trials.runtime`)."""

import os

import pytest

from benchmarks.trials.runtime import (
    ENV_PREFIXES,
    enter_worker,
    tf_settings,
    worker_env,
    worker_environment,
)


def test_worker_env_by_hand(monkeypatch):
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    assert worker_env(3) == {
        "TF_NUM_INTRAOP_THREADS": "3",
        "TF_NUM_INTEROP_THREADS": "3",
        "OMP_NUM_THREADS": "3",
        "TF_ENABLE_ONEDNN_OPTS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    }
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")  # the user's choice carries over
    assert worker_env(1)["TF_ENABLE_ONEDNN_OPTS"] == "0"
    with pytest.raises(ValueError, match="threads must be >= 1"):
        worker_env(0)


def test_worker_environment_restores_what_was_there(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    with worker_environment(2) as env:
        assert all(os.environ[k] == v for k, v in env.items())
        assert os.environ["OMP_NUM_THREADS"] == "2"
    assert os.environ["OMP_NUM_THREADS"] == "7"
    assert "TF_NUM_INTRAOP_THREADS" not in os.environ


def test_the_test_session_is_a_one_thread_training_process():
    """conftest pinned it before any op: what it computes in process is what a matrix worker or
    a Ray task computes (tests/test_executors.py compares the three)."""
    assert enter_worker(1)
    settings = tf_settings()
    assert (settings["intra_op_threads"], settings["inter_op_threads"]) == (1, 1)
    assert set(worker_env(1).items()) <= set(settings["env"].items())
    assert settings["blas_threads"] and all(n == 1 for _, n in settings["blas_threads"])
    assert all(k.startswith(ENV_PREFIXES) for k in settings["env"])
    assert not enter_worker(2)  # TF's pools are fixed from the first op on
    assert tf_settings() == settings  # and a refused entry changes nothing


def test_a_driver_that_cannot_pin_hands_its_cells_to_one_worker(tmp_path, monkeypatch):
    """`run_matrix` with one worker in a process whose TF already runs with other thread counts
    runs its groups in one spawned worker process (whose TF is pinned) and says so."""
    from benchmarks import matrix

    calls, lines = [], []
    monkeypatch.setattr(matrix, "one_thread", lambda: False)

    def fake_parallel(groups, store, gin, executor, workers, *rest):
        calls.append((len(groups), workers))
        return {}

    monkeypatch.setattr(matrix, "_run_parallel", fake_parallel)
    matrix.run_matrix("smoke", tmp_path, seeds=2, only="digits/mlp/single/*", echo=lines.append)
    assert calls == [(2, 1)]
    assert "run in one worker process" in lines[0]
