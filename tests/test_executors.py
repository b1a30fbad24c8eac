"""The ray executor (a real local Ray with 2 CPUs) agrees with the local one."""

import json

import pytest

from benchmarks.methods import Cell
from benchmarks.runner import run_cell
from benchmarks.store import RunStore
from benchmarks.trials import LocalExecutor, RayExecutor

ray = pytest.importorskip("ray")
# One local Ray cluster at a time: every Ray test runs on one pytest-xdist worker.
pytestmark = pytest.mark.xdist_group("ray")


@pytest.fixture(scope="module")
def ray_executor():
    executor = RayExecutor(num_cpus=2)
    yield executor
    ray.shutdown()


def test_ray_and_local_give_the_same_selection_and_metrics(tmp_path, ray_executor):
    cell = Cell("digits", "mlp", "hyper_deep_ensemble", "smoke", 2)
    params = ["WeightSpace.kappa = 4", "WeightSpace.pack_size = 2"]
    local = run_cell(cell, tmp_path / "local", gin_params=params, executor=LocalExecutor())
    remote = run_cell(cell, tmp_path / "ray", gin_params=params, executor=ray_executor, threads=1)
    info = lambda root, out: RunStore(root).load(out.run_id).provenance["method_info"]  # noqa: E731
    a, b = info(tmp_path / "local", local), info(tmp_path / "ray", remote)
    assert a["first_picks"] == b["first_picks"] and a["picks"] == b["picks"]
    assert a["members"] == b["members"]
    for split in ("val", "test"):
        assert local.metrics[split] == pytest.approx(remote.metrics[split], rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_map_yields_every_task_once(executor, ray_executor):
    ex = ray_executor if executor == "ray" else LocalExecutor()
    # a library function: Ray workers cannot import test modules
    assert dict(ex.map(json.dumps, [1, [2], "a"])) == {0: "1", 1: "[2]", 2: '"a"'}


def test_a_local_worker_and_a_ray_task_run_tensorflow_alike(ray_executor):
    """The settings a result can depend on (threads, oneDNN, XLA, determinism, precision policy,
    devices, TF/oneDNN/OpenMP/XLA environment) are the same in a local matrix worker process, a
    Ray group task and this (conftest-pinned) process: drift shows here on any CPU, where a
    number only differs on CPUs whose kernels split work by thread count."""
    from benchmarks.matrix import worker_pool
    from benchmarks.trials.executors import Resources
    from benchmarks.trials.runtime import tf_settings, tf_settings_task

    with worker_pool(1) as pool:
        local = pool.submit(tf_settings_task).result(timeout=300)
    [(_, remote)] = ray_executor.map_groups(tf_settings_task, [None], Resources(1))
    assert (local["intra_op_threads"], local["inter_op_threads"]) == (1, 1)
    assert local == remote
    assert tf_settings() == local


def test_a_ray_matrix_runs_each_group_as_a_task_with_the_local_numbers(tmp_path, ray_executor):
    """Two groups (seeds) as Ray tasks: the same runs and metrics as the local matrix."""
    import pandas as pd

    from benchmarks.matrix import run_matrix

    kw = {"seeds": 2, "only": "digits/mlp/single/*", "echo": lambda line: None}
    assert run_matrix("smoke", tmp_path / "local", **kw)["done"] == 2
    assert run_matrix("smoke", tmp_path / "ray", ray_executor, **kw)["done"] == 2
    cols = ["run_id", "split", "nll", "accuracy"]
    tables = [
        pd.read_csv(tmp_path / s / "results.csv")[cols].sort_values(cols[:2]).reset_index(drop=True)
        for s in ("local", "ray")
    ]
    pd.testing.assert_frame_equal(tables[0], tables[1], rtol=1e-6)
