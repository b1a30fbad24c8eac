"""Every trial and run stores its per-epoch history (train loss, val NLL, val accuracy): equal to
what the engine returns, its last validation accuracy that of the stored validation predictions,
and written to TensorBoard on request."""

import json

import numpy as np
import pytest

from benchmarks.methods.base import Cell
from benchmarks.runner import resolve_trial_settings, run_cell
from benchmarks.train.observe import read_scalars
from benchmarks.trials import HISTORY_FIELDS
from benchmarks.trials.worker import TrialWorker

# one trial per pack: a trial trained again alone is then bit-identical to the stored one
TWO_EPOCHS = ["TrainConfig.max_steps = None", "TrainConfig.epochs = 2", "WeightSpace.pack_size = 1"]
TAGS = {"train_loss": "train/loss", "val_nll": "val/nll", "val_accuracy": "val/accuracy"}


def _run_arrays(store, rid) -> dict:
    return dict(np.load(store / "runs" / rid / "predictions.npz"))


def _accuracy(member_probs: np.ndarray, labels: np.ndarray) -> np.float32:
    """Accuracy of the mean of the member probabilities (one network's K members)."""
    return np.float32((np.argmax(member_probs.mean(axis=0), axis=-1) == labels).mean())


def _assert_tensorboard(directory, history: np.ndarray) -> None:
    """`history` (E, 3) is what the event files under `directory` hold."""
    scalars = read_scalars(directory)
    for j, field in enumerate(HISTORY_FIELDS):
        assert scalars[TAGS[field]] == {e + 1: float(v) for e, v in enumerate(history[:, j])}


def test_trials_and_runs_store_the_engines_history(tmp_path):
    store, board = tmp_path / "store", tmp_path / "tb"
    cell = Cell("digits", "mlp", "deep_ensemble", "smoke", 0)
    out = run_cell(cell, store, gin_params=TWO_EPOCHS, tensorboard=board)
    arrays = _run_arrays(store, out.run_id)
    info = json.loads((store / "runs" / out.run_id / "provenance.json").read_text())["method_info"]
    keys = [m["trial"] for m in info["members"]]
    assert arrays["val_nll_curve"].shape == (len(keys), 2)
    settings, data = resolve_trial_settings(cell, gin_params=TWO_EPOCHS)
    for m, key in enumerate(keys):
        record = json.loads((store / "trials" / key / "trial.json").read_text())
        stored = np.stack([record[f"{f}_curve"] for f in HISTORY_FIELDS], axis=-1)
        # the engine's history, trained again from the trial's settings alone
        fresh = TrialWorker()(
            {"settings": settings, "specs": [(record["hparams"], record["seed"])]}
        )
        engine = np.stack([fresh[0][f"{f}_curve"] for f in HISTORY_FIELDS], axis=-1)
        np.testing.assert_array_equal(stored, engine)
        run = np.stack([arrays[f"{f}_curve"][m] for f in HISTORY_FIELDS], axis=-1)
        np.testing.assert_array_equal(run, np.asarray(stored, np.float32))
        acc = _accuracy(arrays["val_probs"][m : m + 1], arrays["val_labels"])
        assert arrays["val_accuracy_curve"][m, -1] == acc  # the last epoch's model predicts
        _assert_tensorboard(board / key, run)  # live, per trial
        _assert_tensorboard(board / out.run_id / f"member_{m}", run)  # per run member
    assert len(data.y_val) == len(arrays["val_labels"])


@pytest.mark.parametrize("method", ["hyper_batch_ensemble"])
def test_an_efficient_run_stores_its_networks_history(tmp_path, method):
    store, board = tmp_path / "store", tmp_path / "tb"
    out = run_cell(Cell("digits", "mlp", method, "smoke", 0), store, gin_params=TWO_EPOCHS,
                   tensorboard=board)  # fmt: skip
    arrays = _run_arrays(store, out.run_id)
    history = np.stack([arrays[f"{f}_curve"][0] for f in HISTORY_FIELDS], axis=-1)
    assert history.shape == (2, 3) and np.isfinite(history).all()
    # the network's K members' stored validation predictions give its last accuracy and NLL
    probs, labels = arrays["val_probs"], arrays["val_labels"]
    assert history[-1, 2] == _accuracy(probs, labels)
    p_true = probs[:, np.arange(len(labels)), labels].mean(axis=0)
    assert history[-1, 1] == pytest.approx(-np.log(np.maximum(p_true, 1e-12)).mean(), rel=1e-6)
    _assert_tensorboard(board / out.run_id / "member_0", history)  # written live
