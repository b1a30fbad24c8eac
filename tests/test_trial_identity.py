"""Trial identity: a trial is keyed by every resolved setting that determines its numbers."""

import json

import numpy as np
import pytest

from benchmarks import trials
from benchmarks.errors import StoreCorruptError
from benchmarks.methods import Cell
from benchmarks.runner import resolve_trial_settings, run_cell
from benchmarks.store import RunStore
from benchmarks.store.trial_store import trial_key
from benchmarks.trials import LocalExecutor, TrialSpec
from benchmarks.trials.scheduler import TrialRunner

HP = {"dropout_0": 0.1, "dropout_1": 0.2, "l2_0": 1.0, "l2_1": 0.5, "l2_2": 2.0}


def _key(dataset, model, tier="smoke", params=()):
    settings, _ = resolve_trial_settings(Cell(dataset, model, "single", tier, 0), gin_params=params)
    return trial_key(settings.identity(), HP, 0), settings


def test_datasets_with_identical_gin_files_never_share_a_trial():
    a, sa = _key("digits", "mlp")
    b, sb = _key("mnist5k", "mlp")
    assert a != b
    assert sa.identity()["dataset"]["input_shape"] == [8, 8, 1]
    assert sb.identity()["dataset"]["input_shape"] == [28, 28, 1]


def test_models_with_identical_gin_files_never_share_a_trial():
    a, sa = _key("digits", "resnet20")
    b, sb = _key("digits", "wrn28_10")
    assert a != b and sa.identity()["model"]["name"] == "resnet20"


def test_architecture_training_and_shift_settings_are_part_of_the_identity():
    base, _ = _key("digits", "mlp")
    assert _key("digits", "mlp", params=["MLP.widths = (50,)"])[0] != base
    assert _key("digits", "mlp", params=["TrainConfig.learning_rate = 0.01"])[0] != base
    assert _key("digits", "mlp", params=["shift_options.enabled = True"])[0] != base
    # method and search-space settings are not: every method of a cell shares the cache
    assert _key("digits", "mlp", params=["WeightSpace.kappa = 7"])[0] == base
    assert (
        _key("digits", "mlp", params=["SearchSpace.defaults = {'l2_*': 3.0, 'dropout_*': 0.1}"])[0]
        == base
    )  # noqa: E501


def test_a_changed_code_version_retrains(tmp_path, monkeypatch):
    cell = Cell("digits", "mlp", "single", "smoke", 0)
    params = ["WeightSpace.kappa = 2"]
    first = run_cell(cell, tmp_path, gin_params=params)
    assert not first.skipped
    again = run_cell(cell, tmp_path, gin_params=params)
    assert again.skipped  # same version: the run is reused
    monkeypatch.setattr(trials, "TRAINING_CODE_VERSION", trials.TRAINING_CODE_VERSION + 1)
    bumped = run_cell(cell, tmp_path, gin_params=params)
    assert not bumped.skipped and bumped.run_id != first.run_id
    prov = RunStore(tmp_path).load(bumped.run_id).provenance
    assert prov["method_info"]["trials_trained"] == 2  # nothing of the older version reused
    assert prov["training_code_version"] == trials.TRAINING_CODE_VERSION


def test_one_store_holds_cells_of_two_datasets(tmp_path):
    """digits then mnist5k in one store: each trains its own trials (no shape error)."""
    params = ["WeightSpace.kappa = 2"]
    a = run_cell(Cell("digits", "mlp", "single", "smoke", 0), tmp_path, gin_params=params)
    b = run_cell(Cell("mnist5k", "mlp", "single", "smoke", 0), tmp_path, gin_params=params)
    store = RunStore(tmp_path)
    for out in (a, b):
        assert out.status == "done"
        assert store.load(out.run_id).provenance["method_info"]["trials_trained"] == 2


def test_loading_checks_the_recorded_identity(tmp_path):
    settings, data = resolve_trial_settings(Cell("digits", "mlp", "single", "smoke", 0))
    runner = TrialRunner(tmp_path, settings, data.y_val, LocalExecutor(), progress=False)
    spec = TrialSpec.make(HP, 3)
    (trial,) = runner.run([spec])
    meta_path = tmp_path / "trials" / trial.key / "trial.json"
    meta = json.loads(meta_path.read_text())
    assert meta["identity"] == json.loads(settings.identity_json())
    meta["identity"]["model"]["name"] = "lenet"
    meta_path.write_text(json.dumps(meta))
    fresh = TrialRunner(tmp_path, settings, data.y_val, LocalExecutor(), progress=False)
    with pytest.raises(StoreCorruptError, match="another identity"):
        fresh.run([spec])


@pytest.mark.xdist_group("ray")  # one local Ray cluster at a time (see tests/test_executors.py)
def test_a_multi_line_range_binding_trains_under_ray(tmp_path):
    ray = pytest.importorskip("ray")
    from benchmarks.trials import RayExecutor

    ranges = (
        "SearchSpace.ranges = {'l2_0': (1e-3, 1e3), 'l2_1': (1e-3, 1e3), 'l2_2': (1e-3, 1e3), "
        "'dropout_0': (1e-3, 0.9), 'dropout_1': (1e-3, 0.9)}"
    )
    cell = Cell("digits", "mlp", "single", "smoke", 0)
    try:
        out = run_cell(cell, tmp_path, gin_params=[ranges, "WeightSpace.kappa = 2"],
                       executor=RayExecutor(num_cpus=2), threads=1)  # fmt: skip
    finally:
        ray.shutdown()
    info = RunStore(tmp_path).load(out.run_id).provenance["method_info"]
    assert out.status == "done" and info["trials_trained"] == 2
    assert info["trials_diverged_or_failed"] == 0


def test_pack_size_is_part_of_the_identity_and_every_pack_is_padded_to_it(tmp_path):
    """Trials train in packs of exactly `pack_size` (the last one padded with a copy of its last
    trial), so a trial's numbers never depend on which request trained it: a LeNet pack's
    grouped convolutions give each member what it gets with any other partner, at any place."""
    params = ["WeightSpace.pack_size = 2", "TrainConfig.epochs = 2"]
    settings, data = resolve_trial_settings(
        Cell("digits", "lenet", "single", "smoke", 0), (), params
    )
    assert settings.identity()["pack_size"] == 2
    alone, _ = resolve_trial_settings(
        Cell("digits", "lenet", "single", "smoke", 0),
        (),
        [*params[1:], "WeightSpace.pack_size = 1"],
    )
    assert "pack_size" not in alone.identity()  # the keys of packs of one stay as they were
    assert trial_key(alone.identity(), HP, 0) != trial_key(settings.identity(), HP, 0)

    sizes = []

    class Recording(LocalExecutor):
        def map(self, fn, payloads):
            sizes.extend([s for _, s in p["specs"]] for p in payloads)
            yield from super().map(fn, payloads)

    hp = {**HP, "l2_3": 0.1, "l2_4": 0.2}
    a, b, c = (TrialSpec.make({**hp, "dropout_0": r}, s) for r, s in ((0.1, 1), (0.3, 2), (0.2, 3)))
    first = TrialRunner(tmp_path / "one", settings, data.y_val, Recording(), progress=False)
    got = first.run([a, b, c])
    assert sizes == [[1, 2], [3, 3]] and first.trained == 3
    assert len(list((tmp_path / "one" / "trials").iterdir())) == 3
    other = TrialRunner(tmp_path / "two", settings, data.y_val, Recording(), progress=False)
    c2, a2 = other.run([c, a])  # a at the second place, beside c
    assert np.array_equal(a2.val_probs, got[0].val_probs)
    assert np.array_equal(c2.val_probs, got[2].val_probs)
    assert not np.allclose(got[0].val_probs, got[1].val_probs)
