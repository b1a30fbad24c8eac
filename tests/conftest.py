"""Shared fixtures. Tests run on the CPU with tiny offline data; nothing is downloaded."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from benchmarks.trials.runtime import enter_worker  # noqa: E402

# The test session trains as every training process does (one TF thread of each kind, the same
# environment), before any test runs an op: what it computes in process equals what a matrix
# worker or a Ray task computes, on any CPU.
assert enter_worker(1), "TensorFlow ran ops before conftest pinned its threads"


@pytest.fixture(scope="session")
def digits():
    from benchmarks.data import get_dataset

    return get_dataset("digits")


@pytest.fixture(autouse=True)
def _fresh_gin():
    """gin bindings are global: a test that composes a config must not leak it into the next."""
    import gin

    gin.clear_config()
    yield
    gin.clear_config()


@pytest.fixture(autouse=True)
def _gin_dirs(monkeypatch):
    """`--gin_dir` sets the process's gin search path (`compose.GIN_DIRS`): restore it."""
    from benchmarks import compose

    monkeypatch.setattr(compose, "GIN_DIRS", compose.GIN_DIRS)


@pytest.fixture(scope="session")
def smoke_store(tmp_path_factory):
    """The smoke matrix's MLP cells over 2 seeds, run once per session (every method)."""
    from benchmarks.matrix import run_matrix

    store = tmp_path_factory.mktemp("smoke-store")
    counts = run_matrix("smoke", store, seeds=2, only="digits/mlp/*", echo=lambda line: None)
    assert not counts["failed"]
    return store
