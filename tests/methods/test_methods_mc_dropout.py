"""MC dropout: the tuned single model's trial, restored from the cache, sampled with dropout on."""

import dataclasses
import json

import numpy as np
import pytest

from benchmarks import compose
from benchmarks.errors import HyperensError
from benchmarks.methods import Cell
from benchmarks.methods.mc_dropout import restored, sampler
from benchmarks.models import build_model
from benchmarks.runner import run_cell
from benchmarks.store import RunStore
from benchmarks.train.engine import Trainer


@pytest.fixture(scope="module")
def trained(digits):
    """A one-epoch MLP on digits and its hyperparameters (dropout 0.3)."""
    settings = compose.resolve(Cell("digits", "mlp", "single", "smoke", 0))
    model = build_model("mlp", digits.input_shape, digits.num_classes)
    hp = {k: [0.3 if k.startswith("dropout") else 1e-3] for k in model.hparam_names}
    trainer = Trainer(model, digits, dataclasses.replace(settings.train_config, progress=False))
    trainer.fit(hp, [4])
    weights = [v.numpy()[0] for v in model.weights]
    make = lambda pack: build_model("mlp", digits.input_shape, digits.num_classes, pack)  # noqa: E731
    return trainer, hp, weights, make


def test_rate_zero_samples_equal_the_single_model(trained, digits):
    trainer, hp, weights, make = trained
    zero = {k: 0.0 if k.startswith("dropout") else v[0] for k, v in hp.items()}
    predict = sampler(restored(make, weights, 3), zero, seed=0, batch=64)
    samples = predict(digits.x_val)
    single = trainer.predict(digits.x_val, {k: [v] for k, v in zero.items()})
    assert samples.shape == (3, len(digits.x_val), 10)
    for s in samples:  # dropout off at rate 0: every sample is the single model
        np.testing.assert_allclose(s, single[0], rtol=1e-5, atol=1e-7)


def test_samples_differ_and_are_reproducible(trained, digits):
    _, hp, weights, make = trained
    point = {k: v[0] for k, v in hp.items()}
    a = sampler(restored(make, weights, 4), point, seed=7, batch=64)(digits.x_val)
    b = sampler(restored(make, weights, 4), point, seed=7, batch=64)(digits.x_val)
    np.testing.assert_array_equal(a, b)  # stateless masks: the same seed, the same samples
    assert not np.array_equal(a[0], a[1])  # each sample draws its own masks
    np.testing.assert_allclose(a.sum(-1), 1.0, rtol=1e-5)


def test_mc_dropout_cell_uses_the_single_models_trial(tmp_path):
    store = tmp_path / "store"
    single = run_cell(Cell("digits", "mlp", "single", "smoke", 0), store)
    mc = run_cell(Cell("digits", "mlp", "mc_dropout", "smoke", 0), store)
    runs = RunStore(store)
    prov = lambda r: json.loads((runs.run_dir(r) / "provenance.json").read_text())  # noqa: E731
    chosen = prov(single.run_id)["method_info"]["members"][0]["trial"]
    info = prov(mc.run_id)["method_info"]
    assert info["trial"] == chosen and info["members"] == 10  # MCDropout.samples
    # no extra training: the budget is the search's, already cached by `single`
    assert prov(mc.run_id)["budget_trainings"] == prov(single.run_id)["budget_trainings"]
    arrays = runs.load_predictions(mc.run_id)
    assert arrays["val_probs"].shape[0] == 10 and arrays["member_weights"].tolist() == [1.0] * 10


def test_a_model_without_dropout_is_refused_in_one_line(tmp_path):
    with pytest.raises(HyperensError, match="mc_dropout needs a model with dropout; mlp has none"):
        run_cell(
            Cell("digits", "mlp", "mc_dropout", "smoke", 0),
            tmp_path / "s",
            gin_params=["MLP.dropout = False"],
        )
