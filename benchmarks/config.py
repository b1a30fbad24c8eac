"""Composing a cell's gin configuration: datasets/D + models/M + methods/X + tiers/T
(+ tiers/T/X, a method's recipe in that tier, if the file exists) + extras.

The tier file may scope bindings by model name (`lenet/TrainConfig.epochs = 5`): the runner
builds TrainConfig and SearchSpace inside `gin.config_scope(model)`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import gin

from benchmarks.errors import HyperensError, UnknownNameError

GIN_DIR = Path(os.environ.get("HYPERENS_GIN_DIR", Path(__file__).resolve().parent.parent / "gin"))
KINDS = ("datasets", "models", "methods", "tiers")


def available(kind: str) -> list[str]:
    """Names that have a gin file under gin/<kind>/."""
    return sorted(p.stem for p in (GIN_DIR / kind).glob("*.gin"))


def gin_file(kind: str, name: str) -> Path:
    path = GIN_DIR / kind / f"{name}.gin"
    if not path.is_file():
        singular = kind.rstrip("s")
        raise UnknownNameError(
            f"unknown {singular} {name!r}; valid names: {', '.join(available(kind))}"
        )
    return path


def register_configurables() -> None:
    """Imports every module that defines gin configurables, so bindings can be validated."""
    import benchmarks.data.config  # noqa: F401
    import benchmarks.hparams  # noqa: F401
    import benchmarks.methods  # noqa: F401
    import benchmarks.models  # noqa: F401
    import benchmarks.train  # noqa: F401


def _one_line(err: Exception) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


def parse(files: Sequence[str | Path], params: Sequence[str] = ()) -> str:
    """Clears gin, parses files then params in order; returns the resolved config text."""
    register_configurables()
    gin.clear_config()
    for f in files:
        path = Path(f)
        if not path.is_file():
            raise HyperensError(f"gin file {path} does not exist")
        try:
            gin.parse_config_file(str(path))
        except Exception as err:  # gin raises ValueError/SyntaxError/KeyError/...
            raise HyperensError(f"gin file {path}: {_one_line(err)}") from None
    for p in params:
        try:
            gin.parse_config(p)
        except Exception as err:
            raise HyperensError(f"gin param {p!r}: {_one_line(err)}") from None
    return gin.config_str()


def compose(
    dataset: str,
    model: str,
    method: str,
    tier: str,
    gin_files: Sequence[str | Path] = (),
    gin_params: Sequence[str] = (),
) -> str:
    """Checks the four names, parses their gin files plus extras; returns the config text."""
    from benchmarks.data import DATASETS
    from benchmarks.methods import METHODS
    from benchmarks.models import MODELS

    DATASETS.get(dataset)
    MODELS.get(model)
    METHODS.get(method)
    files = [
        gin_file("datasets", dataset),
        gin_file("models", model),
        gin_file("methods", method),
        gin_file("tiers", tier),
    ]
    recipe = GIN_DIR / "tiers" / tier / f"{method}.gin"
    if recipe.is_file():  # a method's own budget in this tier (e.g. batch ensembles' 250 epochs)
        files.append(recipe)
    return parse([*files, *gin_files], gin_params)
