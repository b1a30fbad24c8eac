"""The single method and the runner's contract with methods."""

import numpy as np
import pytest

from benchmarks.methods import METHODS, Cell, MethodResult
from benchmarks.runner import run_cell
from benchmarks.store import RunStore


def test_methods_never_see_test_labels(tmp_path, digits):
    seen = {}

    def spy(ctx):
        seen["y_test"] = np.array(ctx.data.y_test)
        seen["x_test"] = len(ctx.data.x_test)
        n_val, n_test = len(ctx.data.x_val), len(ctx.data.x_test)
        uniform = lambda n: np.full((1, n, 10), 0.1, np.float32)  # noqa: E731
        return MethodResult("done", uniform(n_val), uniform(n_test), np.ones(1), 0)

    METHODS._items["spy"] = spy
    try:
        (tmp_path / "methods").mkdir()
        (tmp_path / "methods" / "spy.gin").write_text("# test method\n")
        from benchmarks import compose as config

        old = config.GIN_DIRS
        config.GIN_DIRS = (tmp_path, *old)  # as `--gin_dir tmp_path`
        try:
            out = run_cell(Cell("digits", "mlp", "spy", "smoke", 0), tmp_path / "store")
        finally:
            config.GIN_DIRS = old
    finally:
        del METHODS._items["spy"]
    assert seen["x_test"] == len(digits.y_test)
    assert (seen["y_test"] == -1).all()
    # The runner scores with the true labels: uniform probabilities give NLL log(10).
    assert out.metrics["test"]["nll"] == pytest.approx(np.log(10), rel=1e-6)
    labels = RunStore(tmp_path / "store").load_predictions(out.run_id)["test_labels"]
    np.testing.assert_array_equal(labels, digits.y_test)


def test_single_is_the_best_search_trial_by_validation_nll(tmp_path):
    from benchmarks.metrics import nll
    from benchmarks.store.trial_store import TrialStore

    out = run_cell(Cell("digits", "mlp", "single", "smoke", 3), tmp_path)
    store = RunStore(tmp_path)
    preds = store.load_predictions(out.run_id)
    assert preds["val_probs"].shape == (1, 359, 10) and preds["test_probs"].shape == (1, 359, 10)
    np.testing.assert_array_equal(preds["member_weights"], [1.0])
    trials = TrialStore(tmp_path)
    keys = sorted(p.name for p in trials.dir.iterdir())
    assert len(keys) == 3  # smoke tier: kappa = 3
    val_nll = {k: nll(trials.load(k)[1]["val_probs"], preds["val_labels"]) for k in keys}
    info = store.load(out.run_id).provenance["method_info"]
    assert info["members"][0]["trial"] == min(val_nll, key=val_nll.get)
    assert info["members"][0]["seed"] == 3
    assert (
        store.load(out.run_id).provenance["param_count"] == 64 * 200 + 200 + 200 * 200 + 200 + 2010
    )


def test_a_method_that_crashes_marks_the_run_failed(tmp_path, monkeypatch):
    import json

    from benchmarks.errors import HyperensError

    def broken(ctx):
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(METHODS._items, "single", broken)
    with pytest.raises(HyperensError, match=r"failed: ZeroDivisionError: boom \(traceback in "):
        run_cell(Cell("digits", "mlp", "single", "smoke", 0), tmp_path)
    (status,) = tmp_path.glob("runs/*/status.json")
    record = json.loads(status.read_text())
    assert record["status"] == "failed" and "Traceback" in record["message"]
