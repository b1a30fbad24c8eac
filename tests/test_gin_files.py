"""Every shipped gin file is parsed, and run for a few steps on tiny data."""

import itertools

import gin
import pytest

from benchmarks import config
from benchmarks.hparams import SearchSpace
from benchmarks.matrix import load_matrix
from benchmarks.methods import Cell
from benchmarks.runner import run_cell
from benchmarks.train import TrainConfig

NAMES = {kind: config.available(kind) for kind in config.KINDS}
FEW_STEPS = {"max_steps": 2, "epochs": 1, "batch_size": 8}
TFDS = ("fashion_mnist", "cifar10", "cifar100")
EFFICIENT = ("batch_ensemble", "hyper_batch_ensemble", "self_tuning")


def test_the_shipped_names():
    assert NAMES["datasets"] == ["cifar10", "cifar100", "digits", "fashion_mnist", "mnist5k"]
    assert NAMES["models"] == ["lenet", "mlp", "resnet20", "wrn28_10"]
    assert NAMES["tiers"] == ["paper", "quick", "smoke"]
    assert "single" in NAMES["methods"]


@pytest.mark.parametrize(
    "dataset,model,method,tier",
    list(itertools.product(*(NAMES[k] for k in config.KINDS))),
)
def test_every_combination_parses_and_resolves(dataset, model, method, tier):
    text = config.compose(dataset, model, method, tier)
    assert text
    with gin.config_scope(model):
        TrainConfig()
        SearchSpace()


# Each shipped file appears in at least one run below or in a paper-matrix cell that
# tests/test_matrix.py runs (checked by test_every_file_is_run); the paper tier's CIFAR cells are
# run there, not repeated here.
RUNS = [
    *[("digits", "mlp", "single", tier) for tier in NAMES["tiers"]],
    *[(d, "mlp", "single", "smoke") for d in NAMES["datasets"]],
    ("digits", "lenet", "single", "smoke"),
    ("cifar10", "resnet20", "single", "smoke"),
    *[("digits", "mlp", m, "smoke") for m in NAMES["methods"]],
    *[("digits", "lenet", m, "smoke") for m in EFFICIENT],
    *[("mnist5k", "mlp", m, "quick") for m in ("hyper_batch_ensemble", "self_tuning")],
]


@pytest.mark.parametrize("dataset,model,method,tier", RUNS)
def test_runs_a_few_steps(dataset, model, method, tier, tmp_path):
    cell = Cell(dataset, model, method, tier, 0)
    # Scoped like the tier files' own per-model bindings, so they override those too.
    few = [f"{model}/TrainConfig.{k} = {v}" for k, v in FEW_STEPS.items()]
    few += [f"{model}/WeightSpace.kappa = 2", f"{model}/WeightSpace.k = 2"]
    if dataset in TFDS:
        import tensorflow_datasets as tfds

        with tfds.testing.mock_data(num_examples=20):
            out = run_cell(cell, tmp_path, gin_params=few)
    else:
        out = run_cell(cell, tmp_path, gin_params=few)
    assert out.status == "done"
    assert 0.0 <= out.metrics["test"]["accuracy"] <= 1.0


def test_every_file_is_run():
    # tests/test_matrix.py runs the paper matrix's cells (all groups but cifar100 x wrn28_10,
    # whose files the other groups use too)
    paper = [(c.dataset, c.model, c.method, c.tier) for c in load_matrix("paper").cells(seeds=1)]
    runs = RUNS + paper
    used = {(k, c[i]) for c in runs for i, k in enumerate(config.KINDS)}
    shipped = {(k, n) for k in config.KINDS for n in NAMES[k]}
    assert shipped <= used
    recipes = {(p.parent.name, p.stem) for p in (config.GIN_DIR / "tiers").glob("*/*.gin")}
    assert recipes and recipes <= {(c[3], c[2]) for c in runs}


def test_a_tier_recipe_overrides_the_tier():
    text = config.compose("cifar10", "resnet20", "batch_ensemble", "paper")
    with gin.config_scope("resnet20"):
        cfg = TrainConfig()
    assert "tiers/paper/batch_ensemble" not in text  # the config text holds bindings only
    assert cfg.epochs == 250 and cfg.fast_weight_lr_multiplier == 0.5
    config.compose("cifar10", "resnet20", "single", "paper")
    with gin.config_scope("resnet20"):
        assert TrainConfig().epochs == 200
