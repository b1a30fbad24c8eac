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


@pytest.mark.parametrize("choice", ["search", "single-best", "default"])
def test_batch_ensemble_hparams_come_from_its_own_search_the_best_trial_or_the_defaults(
    choice, tmp_path
):
    """search: the candidate (a batch ensemble on each of the first search_trials settings of the
    cell's random search) with the lowest validation NLL, a budget of those networks;
    single-best: the hyperparameters of `single` (the best random-search trial, read from the
    cached trials) and a budget of the search plus its own network; default: the search space's
    defaults and one network. Which one is recorded in the results."""
    params = [f"BatchEnsemble.hparams = '{choice}'"]
    single = run_cell(Cell("digits", "mlp", "single", "smoke", 0), tmp_path)
    out = run_cell(Cell("digits", "mlp", "batch_ensemble", "smoke", 0), tmp_path, gin_params=params)
    store = RunStore(tmp_path)
    single_info = store.load(single.run_id).provenance["method_info"]
    best = single_info["members"][0]["hparams"]
    prov = store.load(out.run_id).provenance
    rows = gather_results(store).set_index("method")
    be = rows.loc["batch_ensemble"]
    if choice == "search":
        candidates = prov["method_info"]["search"]
        assert len(candidates) == 2  # BatchEnsemble.search_trials in tiers/smoke.gin
        scores = [c["val_nll"] for c in candidates]
        chosen = candidates[int(np.argmin(scores))]
        assert prov["method_info"]["hparams"] == pytest.approx(chosen["hparams"])
        # the run's validation NLL is the chosen candidate's
        val_nll = be[be["split"] == "val"]["nll"].iloc[0]
        assert val_nll == pytest.approx(min(scores), rel=1e-5)
        # the candidates are the first settings of the cell's random search (trial 0 = defaults)
        defaults = {"dropout_0": 0.03, "dropout_1": 0.03, "l2_0": 1.0, "l2_1": 1.0, "l2_2": 1.0}
        assert candidates[0]["hparams"] == pytest.approx(defaults)  # gin/models/mlp.gin
        assert candidates[1]["hparams"] != pytest.approx(defaults)
        assert prov["budget_trainings"] == 2  # its own networks, no single-model trial
        assert set(be["hparams_source"]) == {"own random search (2 networks)"}
    elif choice == "single-best":
        assert prov["method_info"]["hparams"] == pytest.approx(best)
        assert prov["budget_trainings"] == 3 + 1  # kappa = 3 cached trials + the ensemble
        assert set(be["hparams_source"]) == {"random search (best trial)"}
    else:
        defaults = {"dropout_0": 0.03, "dropout_1": 0.03, "l2_0": 1.0, "l2_1": 1.0, "l2_2": 1.0}
        assert prov["method_info"]["hparams"] == pytest.approx(defaults)  # gin/models/mlp.gin
        assert prov["budget_trainings"] == 1
        assert set(be["hparams_source"]) == {"search-space defaults"}
    assert set(rows.loc["single", "hparams_source"]) == {"random search"}


def test_a_killed_own_search_resumes_from_its_finished_candidates(tmp_path, monkeypatch):
    """A candidate finished before the kill is read back, not trained again, and the result is
    the uninterrupted run's."""
    from benchmarks.methods import efficient_hparams

    cell = Cell("digits", "mlp", "batch_ensemble", "smoke", 1)
    fresh = run_cell(cell, tmp_path / "fresh")
    real_fit, calls = efficient_hparams.fit, []

    def fit_then_die(ctx, trainer, hp, name="train"):
        calls.append(name)
        if name == "search_1":
            raise RuntimeError("killed")  # while training the second candidate
        return real_fit(ctx, trainer, hp, name)

    monkeypatch.setattr(efficient_hparams, "fit", fit_then_die)
    with pytest.raises(HyperensError, match="killed"):
        run_cell(cell, tmp_path / "killed")
    monkeypatch.setattr(efficient_hparams, "fit", lambda *a: calls.append(a[3]) or real_fit(*a))
    calls.clear()
    resumed = run_cell(cell, tmp_path / "killed")
    assert calls == ["search_1"]  # search_0 came back from its candidate.npz
    assert resumed.metrics == fresh.metrics
