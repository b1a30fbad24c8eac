"""The gin search path: `--gin_dir` dirs, then $HYPERENS_GIN_DIR's, then the packaged files."""

import os

import pytest

from benchmarks import compose
from benchmarks.errors import HyperensError
from benchmarks.settings import Cell

SMOKE = Cell("digits", "mlp", "single", "smoke", 0)


def _write(root, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_search_order_is_flags_then_environment_then_package(tmp_path, monkeypatch):
    a, b, c = (tmp_path / n for n in "abc")
    for d in (a, b, c):
        d.mkdir()
    monkeypatch.setenv(compose.GIN_DIR_ENV, os.pathsep.join([str(b), str(c)]))
    assert compose.gin_dirs_from([a]) == (a, b, c, compose.PACKAGED_GIN_DIR)
    monkeypatch.delenv(compose.GIN_DIR_ENV)
    assert compose.gin_dirs_from() == (compose.PACKAGED_GIN_DIR,)


@pytest.mark.parametrize("where", ["flag", "environment"])
def test_a_missing_gin_dir_is_one_line(tmp_path, monkeypatch, where):
    missing = tmp_path / "nope"
    if where == "environment":
        monkeypatch.setenv(compose.GIN_DIR_ENV, str(missing))
    with pytest.raises(HyperensError, match=f"^gin directory {missing} does not exist$"):
        compose.use_gin_dirs([missing] if where == "flag" else [])


def test_a_users_file_wins_over_the_packaged_one(tmp_path):
    packaged = (compose.PACKAGED_GIN_DIR / "tiers" / "smoke.gin").read_text()
    _write(tmp_path, "tiers/smoke.gin", packaged + "TrainConfig.max_steps = 7\n")
    assert compose.resolve(SMOKE).train_config.max_steps == 3  # the packaged smoke tier
    compose.use_gin_dirs([tmp_path])
    assert compose.gin_file("tiers", "smoke") == tmp_path / "tiers" / "smoke.gin"
    assert compose.gin_file("tiers", "quick") == compose.PACKAGED_GIN_DIR / "tiers" / "quick.gin"
    assert compose.resolve(SMOKE).train_config.max_steps == 7


def test_a_users_method_recipe_in_a_packaged_tier_is_applied(tmp_path):
    _write(tmp_path, "tiers/smoke/single.gin", "TrainConfig.max_steps = 5\n")
    compose.use_gin_dirs([tmp_path])
    settings = compose.resolve(SMOKE)
    assert settings.train_config.max_steps == 5  # parsed after tiers/smoke.gin's 3
    assert settings.train_config.batch_size == 16  # the rest of the packaged tier


def test_unknown_names_list_the_names_of_every_dir(tmp_path):
    _write(tmp_path, "tiers/mine.gin", "TrainConfig.epochs = 1\n")
    _write(
        tmp_path,
        "matrices/mine.gin",
        "Matrix.tier = 'mine'\nMatrix.groups = [{'datasets': "
        "['digits'], 'models': ['mlp'], 'seeds': 1, 'methods': ['single']}]\n",
    )
    compose.use_gin_dirs([tmp_path])
    with pytest.raises(HyperensError, match="valid names: mine, paper, quick, smoke$"):
        compose.resolve(Cell("digits", "mlp", "single", "nope", 0))
    with pytest.raises(
        HyperensError, match="unknown matrix 'nope'; valid names: fashion, mine, paper"
    ):
        compose.load_matrix("nope")
    (cell,) = compose.load_matrix("mine").cells()
    assert cell == Cell("digits", "mlp", "single", "mine", 0)
