"""Weight-space methods on one shared random search: reuse, test-label blindness, divergence."""

import dataclasses

import numpy as np
import pytest

import benchmarks.data
import benchmarks.runner
from benchmarks.methods import Cell
from benchmarks.runner import run_cell
from benchmarks.store import RunStore
from benchmarks.store.trial_store import TrialStore

METHODS = ["single", "random_search_topk", "deep_ensemble", "hyper_ens", "hyper_deep_ensemble"]


def _info(root, out):
    return RunStore(root).load(out.run_id).provenance["method_info"]


def test_the_random_search_trains_once_for_every_method(tmp_path):
    trained = {}
    for method in METHODS:
        out = run_cell(Cell("digits", "mlp", method, "smoke", 0), tmp_path)
        assert out.status == "done"
        trained[method] = _info(tmp_path, out)["trials_trained"]
    assert trained["single"] == 3  # kappa = 3 in the smoke tier
    assert trained["random_search_topk"] == 0 and trained["hyper_ens"] == 0
    assert trained["deep_ensemble"] == 1  # K = 2: the best trial (cached) + one new seed
    # stratification: each selected setting x 2 seeds; the best setting's seeds are cached
    first = _info(tmp_path, run_cell(Cell("digits", "mlp", "hyper_deep_ensemble", "smoke", 0),
                                     tmp_path))  # fmt: skip
    assert trained["hyper_deep_ensemble"] == 2 * first["settings"] - 2
    # 3 search trials, the deep ensemble's second seed and its third (the size curve's only)
    assert len(list(TrialStore(tmp_path).dir.iterdir())) == 5 + trained["hyper_deep_ensemble"]


def test_curve_members_are_stored_beside_the_deep_ensemble_and_left_out_of_its_budget(tmp_path):
    out = run_cell(Cell("digits", "mlp", "deep_ensemble", "smoke", 0), tmp_path)
    runs = RunStore(tmp_path)
    arrays = runs.load_predictions(out.run_id)
    assert arrays["curve_val_probs"].shape[0] == 3  # WeightSpace.curve_members in the smoke tier
    for split in ("val", "test"):  # the K members first, then the curve's extra seed
        np.testing.assert_array_equal(arrays[f"curve_{split}_probs"][:2], arrays[f"{split}_probs"])
    assert runs.load(out.run_id).provenance["budget_trainings"] == 3 + 1  # kappa + a new seed


def test_permuting_test_labels_changes_no_selection(tmp_path, monkeypatch):
    real = benchmarks.data.get_dataset

    def permuted(name, **options):
        data = real(name, **options)
        y = np.random.default_rng(0).permutation(data.y_test)
        return dataclasses.replace(data, y_test=y)

    cell = Cell("digits", "mlp", "hyper_deep_ensemble", "smoke", 1)
    params = ["WeightSpace.kappa = 5"]
    plain = run_cell(cell, tmp_path / "a", gin_params=params)
    monkeypatch.setattr(benchmarks.runner, "get_dataset", permuted)
    shuffled = run_cell(cell, tmp_path / "b", gin_params=params)
    a, b = _info(tmp_path / "a", plain), _info(tmp_path / "b", shuffled)
    assert a["first_picks"] == b["first_picks"] and a["picks"] == b["picks"]
    # the same settings and seeds (the trial keys differ: the data fingerprint covers test labels)
    strip = lambda info: [{k: m[k] for k in ("hparams", "seed")} for m in info["members"]]  # noqa: E731
    assert strip(a) == strip(b)
    assert plain.metrics["val"] == shuffled.metrics["val"]
    assert plain.metrics["test"]["accuracy"] != shuffled.metrics["test"]["accuracy"]


def test_a_diverged_trial_is_recorded_and_skipped(tmp_path):
    params = [
        "SearchSpace.ranges = {'l2_*': (1e-3, 1e3), 'dropout_*': (1e-3, 0.9), "
        "'learning_rate': (1e-4, 1e-3)}",
        "SearchSpace.defaults = {'l2_*': 1.0, 'dropout_*': 0.03, 'learning_rate': 1e30}",
    ]
    out = run_cell(Cell("digits", "mlp", "hyper_ens", "smoke", 0), tmp_path, gin_params=params)
    assert out.status == "done"
    info = _info(tmp_path, out)
    assert info["trials_diverged_or_failed"] == 1
    assert all(m["hparams"]["learning_rate"] < 1e-2 for m in info["members"])
    trials = TrialStore(tmp_path)
    statuses = sorted(trials.status(p.name) for p in trials.dir.iterdir())
    assert statuses == ["diverged", "done", "done"]


def test_weight_space_config_is_validated(tmp_path):
    from benchmarks.errors import HyperensError

    with pytest.raises(HyperensError, match="unknown greedy objective"):
        run_cell(Cell("digits", "mlp", "hyper_ens", "smoke", 0), tmp_path,
                 gin_params=["WeightSpace.objective = 'loss'"])  # fmt: skip


def test_unknown_executor():
    from benchmarks.errors import HyperensError
    from benchmarks.trials import get_executor

    with pytest.raises(HyperensError, match="valid names: local, ray"):
        get_executor("slurm")
