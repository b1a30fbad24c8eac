"""Shift evaluation end to end: what methods predict on shifted sets is stored and scored, and
the shifted sets never reach selection or tuning."""

import numpy as np
import pytest

from benchmarks.analysis.calibrated import run_calibrated, stored_calibrated
from benchmarks.data.shift import SHIFTS, ShiftedSet, ShiftFamily
from benchmarks.methods import Cell
from benchmarks.metrics import compute_all
from benchmarks.metrics.ood import ood_metrics
from benchmarks.metrics.temperature import CALIBRATED_KEYS
from benchmarks.report import write_report
from benchmarks.runner import run_cell
from benchmarks.store import RunStore, read_json, read_npz, write_json_atomic, write_npz_atomic

ON = ["shift_options.enabled = True"]


def _family(garbage: bool) -> ShiftFamily:
    """Two sets on digits: a noisy copy of the test split and a constant OOD set. `garbage`
    gives wild inputs and permuted labels instead: nothing trained or selected may change."""

    def build(data, options, corruptions, ood):
        rng = np.random.default_rng(7)
        n = len(data.x_test)
        noisy = (data.x_test + rng.normal(0, 0.5, data.x_test.shape)).astype(np.float32)
        blank = np.full_like(data.x_test, 3.0)
        labels = data.y_test
        if garbage:
            noisy = (rng.normal(0, 100, data.x_test.shape)).astype(np.float32)
            blank = (rng.normal(0, 100, data.x_test.shape)).astype(np.float32)
            labels = rng.permutation(labels)
        sets = [ShiftedSet("corruption", "noise", 2, lambda: (noisy, labels))]
        sets.append(ShiftedSet("ood", "blank", 0, lambda: (blank, np.full(n, -1, np.int32))))
        return sets

    return ShiftFamily(("noise",), ("blank",), build)


def _run(tmp_path, monkeypatch, method, garbage, params=ON):
    monkeypatch.setitem(SHIFTS._items, "digits", _family(garbage))
    root = tmp_path / f"{method}-{garbage}-{len(params)}"
    out = run_cell(Cell("digits", "mlp", method, "smoke", 0), root, gin_params=params)
    return RunStore(root).load(out.run_id), RunStore(root).load_predictions(out.run_id)


@pytest.mark.parametrize("method", ["hyper_deep_ensemble", "hyper_batch_ensemble"])
def test_shifted_sets_never_reach_selection_or_tuning(tmp_path, monkeypatch, method):
    real, real_preds = _run(tmp_path, monkeypatch, method, garbage=False)
    junk, junk_preds = _run(tmp_path, monkeypatch, method, garbage=True)
    off, _ = _run(tmp_path, monkeypatch, method, garbage=False, params=[])

    def info(run):  # trial keys hash the config, which names the shift options
        out = dict(run.provenance["method_info"])
        if isinstance(out.get("members"), list):
            out["members"] = [{k: v for k, v in m.items() if k != "trial"} for m in out["members"]]
        return {k: out.get(k) for k in ("members", "picks", "first_picks", "tuned_point")}

    for other in (junk, off):
        assert other.metrics["val"] == real.metrics["val"]
        assert other.metrics["test"] == real.metrics["test"]
        assert info(other) == info(real)
    np.testing.assert_array_equal(real_preds["test_probs"], junk_preds["test_probs"])
    assert junk.metrics["corruption/noise/2"] != real.metrics["corruption/noise/2"]
    assert "corruption/noise/2" not in off.metrics and "ood/blank" not in off.metrics


def test_shifted_predictions_are_stored_and_rescore_to_the_metrics(tmp_path, monkeypatch):
    run, preds = _run(tmp_path, monkeypatch, "deep_ensemble", garbage=False)
    m = run.metrics["val"]["num_members"]
    probs = preds["shift_probs_noise_2"]
    assert probs.shape == (m, len(preds["test_labels"]), 10)
    np.testing.assert_array_equal(preds["shift_labels_noise_2"], preds["test_labels"])
    w = preds["member_weights"]
    rescored = compute_all(probs, preds["shift_labels_noise_2"], w)
    stored = run.metrics["corruption/noise/2"]
    assert set(stored) - set(rescored) == set(CALIBRATED_KEYS)
    assert rescored == pytest.approx({k: stored[k] for k in rescored})
    ood = ood_metrics(preds["test_probs"], preds["shift_probs_ood_blank"], w)
    assert ood == pytest.approx(run.metrics["ood/blank"])
    assert "auroc_mutual_info" in ood  # an ensemble of 2 in the smoke tier
    assert np.all(preds["shift_labels_ood_blank"] == -1)
    assert run.provenance["shift_eval_s"] > 0
    # noise hurts: the corrupted set scores worse than the clean test split
    assert run.metrics["corruption/noise/2"]["nll"] > run.metrics["test"]["nll"]


def test_only_a_results_members_are_predicted_on_the_shifted_sets(tmp_path, monkeypatch):
    """hyper_ens on the smoke search (kappa = 3): the trials are stored with validation and test
    predictions only, and the shifted sets are predicted once per distinct member."""
    import benchmarks.trials.worker as worker_module

    calls = []

    def counting(sets, predict):
        calls.append(len(sets))
        return predict_shifted(sets, predict)

    predict_shifted = worker_module.predict_shifted
    monkeypatch.setattr(worker_module, "predict_shifted", counting)
    run, preds = _run(tmp_path, monkeypatch, "hyper_ens", garbage=False)
    members = run.provenance["method_info"]["members"]
    trials = sorted((tmp_path / "hyper_ens-False-1" / "trials").glob("*/predictions.npz"))
    assert len(trials) == 3 and len(members) < 3
    assert calls == [2] * len(members)
    for path in trials:
        assert sorted(np.load(path).files) == ["test_probs", "val_probs"]
    assert preds["shift_probs_noise_2"].shape[0] == len(members)


def test_runs_store_calibrated_metrics_and_a_report_reads_no_shifted_set(tmp_path, monkeypatch):
    """The calibrated metrics a run stores equal those computed from its stored predictions. A
    report takes them from the metrics: scrambling the stored shifted sets changes none of its
    numbers, and a run stored without them (an older store) gives the same numbers from its
    predictions."""
    run, preds = _run(tmp_path, monkeypatch, "deep_ensemble", garbage=False)
    stored = stored_calibrated(run.run_id, run.metrics)

    def key(row):
        return row["split"], row["corruption"], row["severity"]

    assert sorted(stored, key=key) == sorted(run_calibrated(run.run_id, preds), key=key)
    assert sorted(map(key, stored)) == [("corruption", "noise", 2), ("test", "none", 0),
                                        ("val", "none", 0)]  # fmt: skip
    assert "temperature" not in run.metrics["ood/blank"]

    root = run.path.parent.parent
    npz, metrics_file = run.path / "predictions.npz", run.path / "metrics.json"
    original = read_npz(npz)

    def report(name):
        write_report(tmp_path / name, store=root)
        return (tmp_path / name / "results.csv").read_text()

    first = report("first")
    assert "nll_calibrated" in first.splitlines()[0]
    scrambled = {k: np.zeros_like(v) if k.startswith("shift_probs_") else v
                 for k, v in original.items()}  # fmt: skip
    write_npz_atomic(npz, **scrambled)
    assert report("scrambled") == first
    write_npz_atomic(npz, **original)
    metrics = read_json(metrics_file)
    for values in metrics.values():
        for k in ("temperature", "nll_calibrated", "ece_15bin_calibrated", "brier_calibrated"):
            values.pop(k, None)
    write_json_atomic(metrics_file, metrics)
    assert stored_calibrated(run.run_id, RunStore(root).load(run.run_id).metrics) is None
    assert report("older") == first
