"""Efficient ensembles through the runner: stored like every method, K members, blind to test
labels, tuned distributions recorded, bad configuration rejected in one line."""

import dataclasses

import numpy as np
import pytest

import benchmarks.data
import benchmarks.runner
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
    monkeypatch.setattr(benchmarks.runner, "get_dataset", permuted)
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
    from benchmarks.trials import TrainerCache

    trainers = TrainerCache(keep=3)
    run_cell(Cell("digits", "mlp", method, "smoke", 6), tmp_path / "warm", trainers=trainers)
    assert len(trainers) == 2  # filled: the process's trial worker and the method's trainer
    cached = run_cell(Cell("digits", "mlp", method, "smoke", 5), tmp_path / "a", trainers=trainers)
    assert len(trainers) == 2  # the same cell on the same data: reused, not rebuilt
    fresh = run_cell(Cell("digits", "mlp", method, "smoke", 5), tmp_path / "b")
    assert cached.metrics == fresh.metrics


@pytest.mark.parametrize("choice", ["tuned", "default"])
def test_batch_ensemble_hparams_are_the_best_search_trial_or_the_defaults(choice, tmp_path):
    """Tuned: the hyperparameters of `single` (the best random-search trial, read from the
    cached trials) and a budget of the search plus its own network; default: the search space's
    defaults and one network. Which one is recorded in the results."""
    params = [f"BatchEnsemble.hparams = '{choice}'"]
    single = run_cell(Cell("digits", "mlp", "single", "smoke", 0), tmp_path)
    out = run_cell(Cell("digits", "mlp", "batch_ensemble", "smoke", 0), tmp_path, gin_params=params)
    store = RunStore(tmp_path)
    best = store.load(single.run_id).provenance["method_info"]["members"][0]["hparams"]
    prov = store.load(out.run_id).provenance
    rows = gather_results(store).set_index("method")
    if choice == "tuned":
        assert prov["method_info"]["hparams"] == pytest.approx(best)
        assert prov["budget_trainings"] == 3 + 1  # kappa = 3 cached trials + the ensemble
        assert set(rows.loc["batch_ensemble", "hparams_source"]) == {"random search (best trial)"}
    else:
        defaults = {"dropout_0": 0.03, "dropout_1": 0.03, "l2_0": 1.0, "l2_1": 1.0, "l2_2": 1.0}
        assert prov["method_info"]["hparams"] == pytest.approx(
            defaults
        )  # benchmarks/gin/models/mlp.gin
        assert prov["budget_trainings"] == 1
        assert set(rows.loc["batch_ensemble", "hparams_source"]) == {"search-space defaults"}
    assert set(rows.loc["single", "hparams_source"]) == {"random search"}
