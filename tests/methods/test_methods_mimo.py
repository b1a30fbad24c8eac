"""The `mimo` method: K = 1 against the plain model, a cell's K heads, bad settings."""

import dataclasses
import json

import numpy as np
import pytest

from benchmarks import compose
from benchmarks.errors import HyperensError
from benchmarks.methods import Cell
from benchmarks.models import MimoOptions, build_model
from benchmarks.runner import run_cell
from benchmarks.store import RunStore
from benchmarks.train.engine import Trainer


def test_k_one_trains_like_the_plain_model(digits):
    """K = 1, r = 1: the same rows, weights and loss as the plain MLP, so the same predictions."""
    settings = compose.resolve(Cell("digits", "mlp", "single", "smoke", 0))
    config = dataclasses.replace(settings.train_config, progress=False, epochs=3)
    out = []
    for options in (None, MimoOptions(1, 1, 0.0)):
        model = build_model("mlp", digits.input_shape, digits.num_classes, mimo=options)
        hp = {k: [0.2 if k.startswith("dropout") else 1e-3] for k in model.hparam_names}
        trainer = Trainer(model, digits, config)
        result = trainer.fit(hp, [5])
        out.append((result.loss_history, trainer.predict(digits.x_val, hp)))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])


def test_mimo_cell_trains_k_heads_and_stores_them(tmp_path):
    store = tmp_path / "store"
    result = run_cell(Cell("digits", "mlp", "mimo", "smoke", 0), store,
                      gin_params=["MIMO.batch_repetitions = 2"])  # fmt: skip
    runs = RunStore(store)
    prov = json.loads((runs.run_dir(result.run_id) / "provenance.json").read_text())
    info = prov["method_info"]
    k = compose.resolve(Cell("digits", "mlp", "mimo", "smoke", 0)).methods.weight_space.k
    assert info["members"] == k and info["batch_repetitions"] == 2
    assert info["rows_per_step"] == k * 2 * info["images_per_step"]
    arrays = np.load(runs.run_dir(result.run_id) / "predictions.npz")
    assert arrays["test_probs"].shape[0] == k
    assert not np.array_equal(arrays["test_probs"][0], arrays["test_probs"][1])  # distinct heads


@pytest.mark.parametrize("param", ["MIMO.batch_repetitions = 0", "MIMO.input_repetition = 1.5",
                                   "MIMO.heads = -1", "MIMO.hparams = 'best'"])  # fmt: skip
def test_bad_settings_are_one_line_errors(param):
    with pytest.raises(HyperensError, match="MIMO"):
        compose.resolve(Cell("digits", "mlp", "mimo", "smoke", 0), gin_params=[param])
