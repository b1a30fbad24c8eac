"""Ray resources per trial: validation, what a task requests and gets (a real local Ray with 2 CPUs
and 1 declared GPU; nothing runs on a GPU), threads pinned from the CPUs, checkpoints under the
store, groups as tasks."""

import os
import sys
from pathlib import Path

import pytest

from benchmarks.cli import main
from benchmarks.errors import HyperensError
from benchmarks.runner import resolve_trial_settings
from benchmarks.settings import Cell
from benchmarks.trials import RayExecutor, TrialSpec
from benchmarks.trials.executors import PACKAGE_DIR, Resources, job_runtime_env
from benchmarks.trials.scheduler import TrialRunner

ray = pytest.importorskip("ray")
# One local Ray cluster at a time: every Ray test runs on one pytest-xdist worker.
pytestmark = pytest.mark.xdist_group("ray")


# -- validation (no Ray) --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cpus", "gpus", "message"),
    [
        (0, 0, "--cpus-per-trial must be > 0, got 0"),
        (-1, 0, "--cpus-per-trial must be > 0, got -1"),
        (1, -0.5, "--gpus-per-trial must be >= 0, got -0.5"),
        (1.5, 0, "--cpus-per-trial above 1 must be a whole number, got 1.5"),
        (1, 1.5, "--gpus-per-trial above 1 must be a whole number, got 1.5"),
        (float("nan"), 0, "--cpus-per-trial must be > 0, got nan"),
    ],
)
def test_bad_resources_are_one_line_errors(cpus, gpus, message):
    with pytest.raises(HyperensError) as err:
        Resources(cpus, gpus)
    assert str(err.value) == message


def test_resources_give_ray_options_and_threads():
    assert Resources(2, 0.25).ray_options() == {"num_cpus": 2, "num_gpus": 0.25}
    assert Resources(2, 0.25).threads == 2
    assert Resources(0.5).threads == 1  # half a CPU still runs one thread
    assert Resources(3, 2).threads == 3


def test_a_trial_must_fit_one_node():
    cpu_only = [{"CPU": 8.0}]
    with pytest.raises(HyperensError, match="reports no GPU"):
        Resources(1, 0.5).check_fits(cpu_only)
    Resources(8, 0).check_fits(cpu_only)
    two = [{"CPU": 2.0}, {"CPU": 4.0, "GPU": 1.0}]
    Resources(4, 1).check_fits(two)
    Resources(2, 0.25).check_fits(two)
    with pytest.raises(HyperensError, match="no Ray node has 4 CPUs and 2 GPUs"):
        Resources(4, 2).check_fits(two)  # 6 CPUs and 1 GPU in all, but no node holds one task
    with pytest.raises(HyperensError, match=r"largest node: 4 CPUs, 1 GPUs"):
        Resources(8, 0).check_fits(two)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--executor", "ray", "--cpus-per-trial", "0"], "--cpus-per-trial must be > 0, got 0"),
        (["--executor", "ray", "--gpus-per-trial", "-1"], "--gpus-per-trial must be >= 0, got -1"),
        (["--gpus-per-trial", "0.5"], "--cpus-per-trial and --gpus-per-trial need --executor ray"),
    ],
)
def test_cli_rejects_bad_resources_before_anything_runs(tmp_path, capsys, flags, message):
    store = tmp_path / "store"
    argv = ["run", "--dataset", "digits", "--tier", "smoke", "--store", str(store), *flags]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"hyperens: error: {message}\n"
    assert not store.exists()
    mat = ["matrix", "smoke", "--store", str(store), *flags]
    assert main(mat) == 2
    assert capsys.readouterr().err == f"hyperens: error: {message}\n"
    assert not store.exists()
    assert not ray.is_initialized()  # rejected before Ray starts


# -- a real local Ray cluster: 2 CPUs, 1 declared GPU -----------------------------------------
@pytest.fixture(scope="module")
def cluster():
    # test functions are shipped by value: Ray workers cannot import test modules
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(
        num_cpus=2,
        num_gpus=1,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env=job_runtime_env(),
    )  # as RayExecutor starts it, with a declared GPU
    yield
    ray.shutdown()
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def probe(payload):
    """What the task was given: Ray's assigned resources, its GPU ids, its TF threads."""
    import tensorflow as tf

    return {
        "payload": payload,
        "assigned": ray.get_runtime_context().get_assigned_resources(),
        "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
        "intra": tf.config.threading.get_intra_op_parallelism_threads(),
        "env": os.environ.get("TF_NUM_INTRAOP_THREADS"),
        "shipped": [p for p in sys.path if "_ray_pkg_" in p],
    }


def test_task_options_carry_resources_and_the_shipped_package():
    options = RayExecutor(resources=Resources(2, 0.5)).task_options(Resources(2, 0.5))
    assert options["num_cpus"] == 2 and options["num_gpus"] == 0.5
    assert options["runtime_env"]["env_vars"]["TF_NUM_INTRAOP_THREADS"] == "2"
    assert job_runtime_env()["py_modules"] == [str(PACKAGE_DIR)]
    assert (PACKAGE_DIR / "trials" / "executors.py").is_file()


def test_trial_tasks_get_the_fractional_gpu_they_request(cluster):
    executor = RayExecutor(resources=Resources(1, 0.5))
    executor.check()  # one node with a GPU: fits
    out = dict(executor.map(probe, ["a", "b", "c"]))
    assert sorted(out) == [0, 1, 2] and [out[i]["payload"] for i in range(3)] == ["a", "b", "c"]
    for task in out.values():
        assert task["assigned"] == {"CPU": 1.0, "GPU": 0.5}
        assert task["gpu_ids"] == ["0"]
        assert task["env"] == "1"
        # the package came with the job (runtime_env py_modules) onto the worker's path
        assert len(task["shipped"]) == 1


def test_a_task_larger_than_every_node_fails_in_one_line(cluster):
    with pytest.raises(HyperensError, match="no Ray node has 1 CPUs and 2 GPUs"):
        RayExecutor(resources=Resources(1, 2)).check()
    with pytest.raises(HyperensError, match="no Ray node has 4 CPUs"):
        RayExecutor(resources=Resources(4, 0)).check()


def test_groups_run_as_tasks_with_their_resources_and_pinned_threads(cluster):
    executor = RayExecutor()  # trials: 1 CPU; the groups ask for their own
    groups = [["mnist5k/mlp/single/0", "mnist5k/mlp/hyper_ens/0"], ["mnist5k/lenet/single/0"]]
    out = dict(executor.map_groups(probe, groups, Resources(2, 0)))
    assert sorted(out) == [0, 1]
    for index, task in out.items():
        assert task["payload"] == groups[index]
        assert task["assigned"] == {"CPU": 2.0}
        assert task["intra"] == 2 and task["env"] == "2"


def test_trials_pin_threads_and_checkpoint_under_a_relative_store(cluster, tmp_path, monkeypatch):
    """A relative store is made absolute before it reaches the tasks: a pack's checkpoint (after
    epoch 1 of 2) is written under the driver's store, and the trial records 2 TF threads."""
    seen, payloads = [], []
    store = tmp_path / "store"

    class Watching(RayExecutor):
        def map(self, fn, items):
            payloads.extend(items)
            for index, out in super().map(fn, items):
                # before the driver stores the pack and removes its checkpoint directory
                seen.extend(sorted(store.glob("checkpoints/*/train_state.npz")))
                yield index, out

    params = ["TrainConfig.epochs = 2", "TrainConfig.max_steps = None", "WeightSpace.pack_size = 1"]
    settings, data = resolve_trial_settings(Cell("digits", "mlp", "single", "smoke", 0), (), params)
    monkeypatch.chdir(tmp_path)
    runner = TrialRunner("store", settings, data.y_val, Watching(resources=Resources(2)),
                         progress=False)  # fmt: skip
    hp = {"l2_0": 1.0, "l2_1": 1.0, "l2_2": 1.0, "dropout_0": 0.03, "dropout_1": 0.03}
    trials = runner.run([TrialSpec.make(hp, 0), TrialSpec.make(hp, 1)])
    assert [t.status for t in trials] == ["done", "done"]
    assert [p["threads"] for p in payloads] == [2, 2]
    assert all(Path(p["checkpoint_dir"]).is_absolute() for p in payloads)
    assert {Path(p["checkpoint_dir"]).parent for p in payloads} == {store / "checkpoints"}
    # every pack's checkpoint was seen in the driver's store, under its shipped directory
    assert {p.parent for p in seen} == {Path(p["checkpoint_dir"]) for p in payloads}
    assert not any((store / "checkpoints").iterdir())  # removed once the trials were stored
    for t in trials:
        assert t.info["threads"] == 2
        assert t.info["jit_compile"] is False and t.info["mixed_precision"] is False  # smoke tier
