"""Watching training: the epoch records equal the returned history, validation accuracy is that of
the validation predictions, progress lines and TensorBoard scalars carry the same numbers, and
watching changes nothing."""

import io

import numpy as np
import pytest

from benchmarks.models.layers import LayerFactory
from benchmarks.models.mlp import MLP
from benchmarks.settings import Monitor
from benchmarks.train import TrainConfig, Trainer
from benchmarks.train import checkpoint as ckpt_mod
from benchmarks.train.observe import ProgressLines, read_scalars, watching

CFG = TrainConfig(epochs=2, batch_size=32, optimizer="adam", learning_rate=1e-3, progress=False)
HP = {"l2_0": [1e-4, 1e-3], "l2_1": [1e-4, 1e-3], "dropout_0": [0.2, 0.1]}


def _trainer(data, pack=2):
    return Trainer(MLP(LayerFactory(pack), data.input_shape, 10, widths=(16,)), data, CFG)


def test_records_equal_history_and_accuracy_is_that_of_the_predictions(digits):
    records = []
    trainer = _trainer(digits)
    result = trainer.fit(HP, [3, 4], on_epoch=records.append)
    assert [r.epoch for r in records] == [1, 2] and all(r.epochs == 2 for r in records)
    np.testing.assert_array_equal([r.train_loss for r in records], result.loss_history)
    np.testing.assert_array_equal([r.val_nll for r in records], result.val_nll_history)
    np.testing.assert_array_equal([r.val_accuracy for r in records], result.val_accuracy_history)
    probs = trainer.predict(digits.x_val, HP)  # the model after the last epoch
    by_hand = (np.argmax(probs, axis=-1) == digits.y_val).mean(axis=1)
    np.testing.assert_array_equal(result.val_accuracy_history[-1], by_hand.astype(np.float32))
    floor = np.maximum(probs[:, np.arange(len(digits.y_val)), digits.y_val], 1e-12)
    np.testing.assert_allclose(result.val_nll_history[-1], -np.log(floor).mean(axis=1), rtol=1e-6)


def test_watching_changes_no_number_and_writes_tensorboard(digits, tmp_path):
    plain = _trainer(digits).fit(HP, [3, 4])
    watched_trainer = _trainer(digits)
    monitor = Monitor(epoch_lines=True, tensorboard_dir=str(tmp_path / "tb"))
    with watching(monitor, "test", ["a", "b"]) as observe:
        watched = watched_trainer.fit(HP, [3, 4], on_epoch=observe)
    for name in ("loss_history", "val_nll_history", "val_accuracy_history"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(watched, name))
    for p, member in enumerate(["a", "b"]):
        scalars = read_scalars(tmp_path / "tb" / member)
        assert set(scalars) == {"train/loss", "val/nll", "val/accuracy"}
        for tag, history in (("train/loss", watched.loss_history),
                             ("val/nll", watched.val_nll_history),
                             ("val/accuracy", watched.val_accuracy_history)):  # fmt: skip
            assert scalars[tag] == {1: float(history[0, p]), 2: float(history[1, p])}


def test_progress_lines_on_and_off(digits, capsys):
    stream = io.StringIO()
    result = _trainer(digits).fit(HP, [3, 4], on_epoch=ProgressLines("cell", stream))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    loss = " ".join(f"{v:.4f}" for v in result.loss_history[1])
    nll = " ".join(f"{v:.4f}" for v in result.val_nll_history[1])
    assert lines[1].startswith(f"cell epoch 2/2: train loss {loss}, val NLL {nll}, val acc ")
    assert lines[1].endswith(" s")
    with watching(Monitor(epoch_lines=True), "cell", ["a", "b"]) as observe:
        _trainer(digits).fit(HP, [3, 4], on_epoch=observe)
    assert capsys.readouterr().err.count("cell epoch") == 2  # on: stderr
    with watching(Monitor(), "cell", ["a", "b"]) as observe:
        assert observe is None  # off: nothing observes
        _trainer(digits).fit(HP, [3, 4], on_epoch=observe)
    assert "epoch" not in capsys.readouterr().err


def test_resume_from_a_checkpoint_without_accuracy(digits, tmp_path, monkeypatch):
    """A checkpoint written before validation accuracy was recorded resumes with NaN accuracy
    for its epochs and the same numbers otherwise."""
    full = _trainer(digits).fit(HP, [3, 4])
    real_save = ckpt_mod.save

    def save_old_format_then_crash(path, variables, epoch, history, *rest):
        real_save(path, variables, epoch, [h[:2] for h in history])
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt_mod, "save", save_old_format_then_crash)
    with pytest.raises(KeyboardInterrupt):
        _trainer(digits).fit(HP, [3, 4], checkpoint_dir=tmp_path)
    monkeypatch.setattr(ckpt_mod, "save", real_save)
    resumed = _trainer(digits).fit(HP, [3, 4], checkpoint_dir=tmp_path)
    np.testing.assert_array_equal(resumed.loss_history, full.loss_history)
    np.testing.assert_array_equal(resumed.val_nll_history, full.val_nll_history)
    assert np.isnan(resumed.val_accuracy_history[0]).all()
    np.testing.assert_array_equal(resumed.val_accuracy_history[1], full.val_accuracy_history[1])
