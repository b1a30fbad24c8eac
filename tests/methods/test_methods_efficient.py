"""Efficient ensembles through the runner: stored like every method, K members, blind to test
labels, tuned distributions recorded, bad configuration rejected in one line."""

import dataclasses

import numpy as np
import pytest

import benchmarks.data
from benchmarks.errors import HyperensError
from benchmarks.methods import Cell
from benchmarks.runner import run_cell
from benchmarks.store import RunStore, gather_results

EFFICIENT = ["batch_ensemble", "hyper_batch_ensemble", "self_tuning"]
MEMBERS = {"batch_ensemble": 2, "hyper_batch_ensemble": 2, "self_tuning": 1}  # smoke: K = 2


@pytest.mark.parametrize("method", EFFICIENT)
@pytest.mark.parametrize("model", ["mlp", "lenet"])
def test_runs_and_stores_members_like_every_method(method, model, tmp_path):
    out = run_cell(Cell("digits", model, method, "smoke", 0), tmp_path)
    assert out.status == "done"
    run = RunStore(tmp_path).load(out.run_id)
    probs = RunStore(tmp_path).load_predictions(out.run_id)["test_probs"]
    k = MEMBERS[method]
    assert probs.shape[0] == k
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    assert run.metrics["test"]["num_members"] == k
    info = run.provenance["method_info"]
    assert info["members"] == k and info["steps"] == 3
    if method != "batch_ensemble":
        assert len(info["tuned_point"]) == k
        assert set(info["tuned_point"][0]) == set(info["tuned"])
    row = gather_results(RunStore(tmp_path))
    assert list(row["method"].unique()) == [method]


def test_rerun_is_skipped_and_identical(tmp_path):
    cell = Cell("digits", "mlp", "hyper_batch_ensemble", "smoke", 1)
    first = run_cell(cell, tmp_path)
    again = run_cell(cell, tmp_path)
    assert again.skipped and again.metrics == first.metrics


def test_test_labels_do_not_change_what_is_trained(tmp_path, monkeypatch):
    real = benchmarks.data.get_dataset

    def permuted(name, **options):
        data = real(name, **options)
        return dataclasses.replace(data, y_test=np.random.default_rng(0).permutation(data.y_test))

    cell = Cell("digits", "mlp", "hyper_batch_ensemble", "smoke", 2)
    a = run_cell(cell, tmp_path / "a")
    monkeypatch.setattr(benchmarks.data, "get_dataset", permuted)
    b = run_cell(cell, tmp_path / "b")
    assert a.metrics["val"] == b.metrics["val"]
    pa = RunStore(tmp_path / "a").load_predictions(a.run_id)["test_probs"]
    pb = RunStore(tmp_path / "b").load_predictions(b.run_id)["test_probs"]
    np.testing.assert_array_equal(pa, pb)


@pytest.mark.parametrize(
    "param,match",
    [
        ("HyperTuning.init = 'wide'", "init"),
        ("HyperTuning.every = 0", "every"),
        ("HyperTuning.ranges = {'l2_*': (10.0, 1.0), 'dropout_*': (1e-3, 0.5)}", "inverted"),
    ],
)
def test_bad_tuning_configuration_is_one_clear_error(param, match, tmp_path):
    cell = Cell("digits", "mlp", "hyper_batch_ensemble", "smoke", 0)
    with pytest.raises(HyperensError, match=match):
        run_cell(cell, tmp_path, gin_params=[param])


@pytest.mark.parametrize("method", EFFICIENT)
def test_a_cached_trainer_gives_what_a_fresh_one_gives(method, tmp_path):
    """The next seed of a cell reuses the compiled trainer; fit re-initialises everything."""
    from benchmarks.methods import efficient

    run_cell(Cell("digits", "mlp", method, "smoke", 6), tmp_path / "warm")  # fills the cache
    cached = run_cell(Cell("digits", "mlp", method, "smoke", 5), tmp_path / "a")
    efficient._TRAINERS.clear()
    fresh = run_cell(Cell("digits", "mlp", method, "smoke", 5), tmp_path / "b")
    assert cached.metrics == fresh.metrics
