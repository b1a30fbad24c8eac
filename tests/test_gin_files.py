"""Every shipped gin file is parsed, and run for a few steps on tiny data."""

import itertools
from pathlib import Path

import pytest

from benchmarks import compose as config
from benchmarks.compose import load_matrix
from benchmarks.hparams import SearchSpace
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
    settings = config.resolve(Cell(dataset, model, method, tier, 0))
    assert settings.text and isinstance(settings.train_config, TrainConfig)
    assert isinstance(settings.space, SearchSpace)


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
    # the MLP's networks under XLA (the paper-cell tests run them without)
    *[("mnist5k", "mlp", m, "quick") for m in (*EFFICIENT, "mimo")],
]


@pytest.mark.parametrize("dataset,model,method,tier", RUNS)
def test_runs_a_few_steps(dataset, model, method, tier, tmp_path):
    cell = Cell(dataset, model, method, tier, 0)
    # Scoped like the tier files' own per-model bindings, so they override those too.
    few = [f"{model}/TrainConfig.{k} = {v}" for k, v in FEW_STEPS.items()]
    few += [f"{model}/WeightSpace.kappa = 2", f"{model}/WeightSpace.k = 2"]
    if dataset in TFDS:
        import tensorflow_datasets as tfds

        with tfds.testing.mock_data(num_examples=10):
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
    recipes = {(p.parent.name, p.stem) for p in (config.PACKAGED_GIN_DIR / "tiers").glob("*/*.gin")}
    assert recipes and recipes <= {(c[3], c[2]) for c in runs}


def test_a_tier_recipe_overrides_the_tier():
    settings = _resolved("cifar10", "resnet20", "batch_ensemble")
    cfg = settings.train_config
    assert "tiers/paper/batch_ensemble" not in settings.text  # the config holds bindings only
    assert cfg.epochs == 250 and cfg.fast_weight_lr_multiplier == 0.5
    assert _resolved("cifar10", "resnet20", "single").train_config.epochs == 200


# --- The paper tier's ResNet/WRN recipes = the released code (google/uncertainty-baselines) ----
# N = 50,000 x --train_proportion 0.95 (baselines/cifar/hyperdeepensemble_configs/*_sweep.py).
N_TRAIN = 50_000 * 0.95
SWEEP = {  # cifar{10,100}_rand_search_sweep.py: DEFAULT_L2 (run 0 and bn_l2), LS_RANGE
    "cifar10": {"default_l2": 2e-4, "ls_range": (1e-5, 0.2)},
    "cifar100": {"default_l2": 1e-4, "ls_range": (1e-5, 2e-5)},
}
L2_RANGE = (1e-2 / N_TRAIN, 1e2 / N_TRAIN)  # the sweeps' L2_RANGE
HYPER_L2_RANGE = (0.1 / N_TRAIN, 100 / N_TRAIN)  # hyperbatchensemble.py --min/max_l2_range
DETERMINISTIC = {  # deterministic.py flag defaults: 64 per core x 8 cores, lr 0.1 x 512 / 128
    "optimizer": "sgd", "momentum": 0.9, "nesterov": True, "batch_size": 512,
    "learning_rate": 0.4, "epochs": 200, "warmup_epochs": 1, "decay_epochs": (60, 120, 160),
    "decay_ratio": 0.2, "fast_weight_lr_multiplier": 1.0, "label_smoothing": 0.0,
}  # fmt: skip
EFFICIENT_BUDGET = {  # batchensemble.py / hyperbatchensemble.py: 16 images x 8 cores x 4 members
    **DETERMINISTIC, "batch_size": 128, "learning_rate": 0.1, "epochs": 250,
    "decay_epochs": (100, 200, 225), "fast_weight_lr_multiplier": 0.5,
}  # fmt: skip
RESNETS = [(d, m) for d in ("cifar10", "cifar100") for m in ("resnet20", "wrn28_10")]


def _resolved(dataset, model, method):
    return config.resolve(Cell(dataset, model, method, "paper", 0))


def _paper(dataset, model, method):
    """TrainConfig, SearchSpace, model settings and WeightSpace of a resolved paper-tier cell."""
    s = _resolved(dataset, model, method)
    return s.train_config, s.space, dict(s.model_settings), s.methods.weight_space


def _assert_budget(cfg: TrainConfig, want: dict):
    assert {k: getattr(cfg, k) for k in want} == want  # values as the gin files write them


def test_paper_cifar100_resnet20_single_is_the_released_cifar100_sweep():
    cfg, space, settings, ws = _paper("cifar100", "resnet20", "single")
    assert settings["bn_l2"] == 1e-4  # cifar100_rand_search_sweep.py bn_l2 = DEFAULT_L2
    names = ["l2_input_conv", "l2_group_0", "l2_dense_bias", "label_smoothing"]
    assert space.default_values(names) == {**dict.fromkeys(names[:3], 1e-4), names[3]: 0.0}
    assert space.range_of("label_smoothing") == (1e-5, 2e-5)  # the sweep's LS_RANGE, as released
    assert space.range_of("l2_group_2") == pytest.approx(L2_RANGE, rel=1e-12)
    assert (ws.kappa, ws.k) == (100, 4)
    _assert_budget(cfg, DETERMINISTIC)


@pytest.mark.parametrize("dataset,model", RESNETS)
@pytest.mark.parametrize("method", ["single", "deep_ensemble", "hyper_deep_ensemble"])
def test_paper_random_search_trials(dataset, model, method):
    cfg, space, settings, ws = _paper(dataset, model, method)
    sweep = SWEEP[dataset]
    assert settings["bn_l2"] == sweep["default_l2"]  # fixed for every trial of the sweep
    assert space.defaults == {"l2_*": sweep["default_l2"], "label_smoothing": 0.0}  # run 0
    assert space.ranges["l2_*"] == pytest.approx(L2_RANGE, rel=1e-12)
    assert space.ranges["label_smoothing"] == sweep["ls_range"]
    assert (ws.kappa, ws.k) == (100, 4)  # NUM_RUNS = 100; --ensemble_size=4
    assert cfg.l2_units == "raw"
    _assert_budget(cfg, DETERMINISTIC)


@pytest.mark.parametrize("dataset,model", RESNETS)
def test_paper_batch_ensemble_is_batchensemble_py(dataset, model):
    cfg, space, settings, _ = _paper(dataset, model, "batch_ensemble")
    _assert_budget(cfg, EFFICIENT_BUDGET)  # batch_size = 128 new images (512 rows at K = 4)
    assert settings["bn_l2"] == 3e-4  # --l2 also on BatchNorm beta/gamma
    assert space.defaults == {"l2_*": 3e-4, "label_smoothing": 0.0}  # --l2, on every group
    be = _resolved(dataset, model, "batch_ensemble").methods.batch_ensemble
    assert be.fast_init == -0.5  # --random_sign_init
    assert be.hparams == "default"  # the released flag values, not a tuned setting


@pytest.mark.parametrize("dataset,model", RESNETS)
def test_paper_hyper_batch_ensemble_is_hyperbatchensemble_py(dataset, model):
    cfg, _, settings, _ = _paper(dataset, model, "hyper_batch_ensemble")
    _assert_budget(cfg, EFFICIENT_BUDGET)  # batch_size = 128 new images (512 rows at K = 4)
    assert settings["bn_l2"] == pytest.approx(15 / N_TRAIN, rel=1e-12)  # --l2_batchnorm 15 / N
    tuning = _resolved(dataset, model, "hyper_batch_ensemble").methods.hyper_tuning
    assert tuning.ranges["l2_*"] == pytest.approx(HYPER_L2_RANGE, rel=1e-12)
    assert (tuning.init, tuning.every, tuning.tau) == ("narrow", 3, 1e-3)
    assert tuning.learning_rate == 1e-3  # --lr_tuning
    assert tuning.sample_and_tune and tuning.fast_init == -0.75 and tuning.embed_hidden == ()


@pytest.mark.parametrize("dataset,model", RESNETS)
def test_paper_mimo_is_mimo_py(dataset, model):
    """baselines/cifar/mimo.py: 64 x 8 / 4 = 128 new images per step, each shown 4 times to each
    of 3 heads, lr 0.1 x 128 / 128, 250 epochs, --l2 3e-4 everywhere, the flag values."""
    cfg, space, settings, _ = _paper(dataset, model, "mimo")
    _assert_budget(cfg, {**EFFICIENT_BUDGET, "batch_size": 512, "fast_weight_lr_multiplier": 1.0})
    assert settings["bn_l2"] == 3e-4
    assert space.defaults == {"l2_*": 3e-4, "label_smoothing": 0.0}
    mimo = _resolved(dataset, model, "mimo").methods.mimo
    assert (mimo.heads, mimo.batch_repetitions, mimo.input_repetition) == (3, 4, 0.0)
    assert mimo.hparams == "default"


@pytest.mark.parametrize("model", ["resnet20", "wrn28_10"])
def test_paper_self_tuning_shares_the_hyper_batch_budget(model):
    cfg, _, settings, _ = _paper("cifar10", model, "self_tuning")
    _assert_budget(cfg, {**EFFICIENT_BUDGET, "fast_weight_lr_multiplier": 1.0})
    assert settings["bn_l2"] == pytest.approx(15 / N_TRAIN, rel=1e-12)
    tuning = _resolved("cifar10", model, "self_tuning").methods.hyper_tuning
    assert tuning.ranges["l2_*"] == pytest.approx(HYPER_L2_RANGE, rel=1e-12)


def test_paper_validation_split_gives_the_released_n():
    for dataset in ("cifar10", "cifar100"):
        opts = dict(_resolved(dataset, "resnet20", "single").data_options)
        assert (opts["val_fraction"], opts["val_from"]) == (0.05, "tail")  # 'train[-5%:]'
        assert round(50_000 * (1 - opts["val_fraction"])) == N_TRAIN


@pytest.mark.parametrize("model", ["mlp", "lenet"])
def test_paper_mlp_lenet_recipe_says_it_is_not_the_papers(model):
    text = (config.PACKAGED_GIN_DIR / "tiers" / "paper.gin").read_text()
    assert "MLP / LeNet" in text and "NOT known" in text and "not the\n# paper's" in text
    cfg, _, settings, ws = _paper("cifar100", model, "single")
    assert (cfg.optimizer, cfg.learning_rate) == ("adam", 1e-3)  # ours, not the paper's
    assert (cfg.batch_size, cfg.epochs) == (128, 100)
    assert (ws.kappa, ws.k) == (50, 3)
    assert "bn_l2" not in settings  # the per-dataset BatchNorm L2 is scoped to the ResNets


def test_epoch_lines_on_in_the_paper_tier_only():
    for tier, on in (("paper", True), ("quick", False), ("smoke", False)):
        cell = Cell("mnist5k", "mlp", "hyper_batch_ensemble", tier, 0)
        assert config.resolve(cell).monitor.epoch_lines is on
    cell = Cell("mnist5k", "mlp", "single", "quick", 0)
    board = config.resolve(cell, tensorboard="tb")
    assert board.monitor.tensorboard_dir == "tb" and board.text == config.resolve(cell).text


PAPER_FILES = [
    "datasets/cifar10.gin", "datasets/cifar100.gin", "datasets/fashion_mnist.gin",
    "models/resnet20.gin", "models/wrn28_10.gin", "methods/hyper_batch_ensemble.gin",
    "tiers/paper.gin", "tiers/paper/batch_ensemble.gin", "tiers/paper/hyper_batch_ensemble.gin",
    "tiers/paper/self_tuning.gin", "matrices/paper.gin",
]  # fmt: skip


@pytest.mark.parametrize("name", PAPER_FILES)
def test_paper_files_cite_public_sources_only(name):
    import re

    text = (config.PACKAGED_GIN_DIR / name).read_text()
    assert not re.search(r"reference notes|notes §|notes \d|#\d{2,}|/work/|paper-notes", text)


def test_repository_text_cites_no_notes_outside_it():
    """Comments, docstrings, gin files and docs state a fact and its public source (paper section,
    released file); an outside reader cannot follow a pointer to notes or issues elsewhere."""
    import re

    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"reference notes|notes §|paper-notes|peers\.md|\.\./shared|DESIGN\.md"
                         r"|\bissue \d")  # fmt: skip
    files = [root / "README.md", *root.glob("docs/*.md"), *root.glob("benchmarks/**/*.gin"),
             *root.glob("benchmarks/**/*.py"), *root.glob("results/paper/*.md")]  # fmt: skip
    hits = [
        f"{p.relative_to(root)}:{i}"
        for p in files
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert len(files) > 50 and hits == []


def test_a_cell_takes_unscoped_then_family_then_model_bindings():
    params = [
        "TrainConfig.epochs = 3",
        "resnet/TrainConfig.epochs = 5",
        "resnet/TrainConfig.batch_size = 7",
        "wrn28_10/TrainConfig.batch_size = 9",
        "resnet/TrainConfig.batch_size = 8",  # the family's last binding wins in its scope
    ]

    def cfg(model):
        return config.resolve(Cell("digits", model, "single", "smoke", 0), (), params).train_config

    assert (cfg("mlp").epochs, cfg("mlp").batch_size) == (3, 16)  # smoke tier's batch size
    assert (cfg("resnet20").epochs, cfg("resnet20").batch_size) == (5, 8)
    assert (cfg("wrn28_10").epochs, cfg("wrn28_10").batch_size) == (5, 9)
