"""The one place that reads gin: a cell's configuration composed, validated and resolved into
plain setting objects, once per cell.

A cell's gin files: datasets/D + models/M + methods/X + tiers/T (+ tiers/T/X, a method's recipe
in that tier, if the file exists) + extras. A binding may be scoped by model name
(`lenet/TrainConfig.epochs = 5`) or by model family (`resnet/...`, ResNet-20 and WRN-28-10): a
cell's settings take the unscoped bindings, then its family's, then its model's (`build`).
`resolve` hands back a `CellSettings`; everything below (runner, methods, trials, engine) takes
its values from there and never calls a configurable. This module imports no TensorFlow: a bad
name, binding or value is rejected before any training code loads.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import gin

from benchmarks import trials
from benchmarks.data import DATASETS, Splits
from benchmarks.data.options import data_options, shift_options
from benchmarks.data.shift import ShiftedSet, ShiftOptions
from benchmarks.errors import HyperensError, UnknownNameError
from benchmarks.hparams import SearchSpace
from benchmarks.settings import (
    MIMO,
    MODEL_SETTINGS,
    BatchEnsemble,
    Cell,
    HyperTuning,
    MCDropout,
    MethodSettings,
    Monitor,
    SelfTuning,
    TrainConfig,
    WeightSpace,
)
from benchmarks.settings.matrix import Matrix

# Every configurable, by the name gin files bind: registered here (the classes stay plain), built
# here with the bindings in effect; nothing else calls gin.
CONFIGURABLES: dict[str, Any] = {
    "TrainConfig": TrainConfig,
    "SearchSpace": SearchSpace,
    "WeightSpace": WeightSpace,
    "BatchEnsemble": BatchEnsemble,
    "HyperTuning": HyperTuning,
    "SelfTuning": SelfTuning,
    "MCDropout": MCDropout,
    "MIMO": MIMO,
    "data_options": data_options,
    "shift_options": shift_options,
    "Matrix": Matrix,
    "Monitor": Monitor,
    **dict(MODEL_SETTINGS.values()),
}
for _name, _fn in CONFIGURABLES.items():
    gin.external_configurable(_fn, name=_name)


# A model's family: `resnet/X.y = v` binds X.y for ResNet-20 and WRN-28-10 alike (one line where
# the released code uses the same value for both), `wrn28_10/X.y` for one model.
FAMILIES = {"resnet20": "resnet", "wrn28_10": "resnet"}


def build(name: str, *args: Any, model: str | None = None) -> Any:
    """`CONFIGURABLES[name](*args, **bindings)`: the unscoped bindings of `name`, overridden by
    those in the scope of `model`'s family, overridden by those in the scope of `model` (within a
    scope, the binding parsed last wins). Call outside any `gin.config_scope`."""
    bindings = dict(gin.get_bindings(name))
    for scope in (FAMILIES.get(model or ""), model):
        if scope:
            bindings.update(gin.get_bindings(f"{scope}/{name}", inherit_scopes=False))
    return CONFIGURABLES[name](*args, **bindings)


_BINDING = re.compile(r"^\s*(?:([\w.]+)/)?([\w.]+)\.(\w+)\s*=")


def check_not_shadowed(cell: Cell, gin_params: Sequence[str]) -> None:
    """One-line `HyperensError` if an unscoped command-line binding `X.y = v` would lose to a
    binding of X.y in the cell's model (or model family) scope, which `build` applies after the
    unscoped ones. Call right after `resolve(cell, ...)` (it reads the bindings that parsed)."""
    for param in gin_params:
        match = _BINDING.match(param)
        if match is None or match.group(1):  # gin reports malformed bindings; scoped ones win
            continue
        name, arg = match.group(2), match.group(3)
        for scope in (FAMILIES.get(cell.model), cell.model):
            bound = gin.get_bindings(f"{scope}/{name}", inherit_scopes=False) if scope else {}
            if arg in bound:
                raise HyperensError(
                    f"--gin_param {param.strip()!r} would be shadowed by the suite's "
                    f"'{scope}/{name}.{arg} = {bound[arg]!r}' ({cell.model} cells take their "
                    f"model's scoped bindings last); bind '{scope}/{name}.{arg} = ...' instead"
                )


# The suite's own gin files live in the top-level `gin/`; `benchmarks/gin` is a symlink to it, so
# a wheel ships them inside the package (the build copies the files) and a checkout (editable
# install) reads them in place: found the same way, through `importlib.resources`, in both.
PACKAGED_GIN_DIR = Path(str(resources.files("benchmarks") / "gin"))
GIN_DIR_ENV = "HYPERENS_GIN_DIR"  # os.pathsep-separated user dirs, searched after --gin_dir's
KINDS = ("datasets", "models", "methods", "tiers")


def _env_dirs() -> list[Path]:
    return [Path(d) for d in os.environ.get(GIN_DIR_ENV, "").split(os.pathsep) if d]


def gin_dirs_from(user_dirs: Sequence[str | Path] = ()) -> tuple[Path, ...]:
    """The gin search path: `user_dirs` in order, then those of $HYPERENS_GIN_DIR, then the
    packaged files. A user dir that is not a directory is a one-line `HyperensError`."""
    dirs = [*(Path(d) for d in user_dirs), *_env_dirs()]
    for d in dirs:
        if not d.is_dir():
            raise HyperensError(f"gin directory {d} does not exist")
    return (*dirs, PACKAGED_GIN_DIR)


# Searched in order; the first dir holding <kind>/<name>.gin wins. The CLI sets it (checked) from
# --gin_dir; a matrix hands it to its worker processes.
GIN_DIRS: tuple[Path, ...] = (*_env_dirs(), PACKAGED_GIN_DIR)


def use_gin_dirs(user_dirs: Sequence[str | Path] = ()) -> tuple[Path, ...]:
    """Sets `GIN_DIRS` to `gin_dirs_from(user_dirs)` and returns it."""
    global GIN_DIRS
    GIN_DIRS = gin_dirs_from(user_dirs)
    return GIN_DIRS


def available(kind: str) -> list[str]:
    """Names that have a gin file under <dir>/<kind>/ in any dir of `GIN_DIRS`."""
    return sorted({p.stem for d in GIN_DIRS for p in (d / kind).glob("*.gin")})


def find_gin(relative: str | Path) -> Path | None:
    """The first `GIN_DIRS` entry's file at `relative` (e.g. 'tiers/quick.gin'), or None."""
    for d in GIN_DIRS:
        if (d / relative).is_file():
            return d / relative
    return None


def gin_file(kind: str, name: str) -> Path:
    path = find_gin(Path(kind) / f"{name}.gin")
    if path is None:
        singular = kind.rstrip("s")
        raise UnknownNameError(
            f"unknown {singular} {name!r}; valid names: {', '.join(available(kind))}"
        )
    return path


def _one_line(err: Exception) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


def parse(files: Sequence[str | Path], params: Sequence[str] = ()) -> str:
    """Clears gin, parses files then params in order; returns the resolved config text."""
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
    """Checks the four names (each has a gin file; datasets are also registered), parses their
    gin files plus extras; returns the config text. The runner checks that the method is
    registered."""
    DATASETS.get(dataset)
    if model not in MODEL_SETTINGS:
        valid = ", ".join(sorted(MODEL_SETTINGS))
        raise UnknownNameError(f"unknown model {model!r}; valid names: {valid}")
    files = [
        gin_file("datasets", dataset),
        gin_file("models", model),
        gin_file("methods", method),
        gin_file("tiers", tier),
    ]
    recipe = find_gin(Path("tiers") / tier / f"{method}.gin")
    if recipe:  # a method's own budget in this tier (e.g. batch ensembles' 250 epochs)
        files.append(recipe)
    return parse([*files, *gin_files], gin_params)


METHOD_SETTINGS = (
    "WeightSpace", "BatchEnsemble", "HyperTuning", "SelfTuning", "MCDropout", "MIMO",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class CellSettings:
    """Everything a cell's run needs from its configuration, resolved once."""

    cell: Cell
    text: str  # the composed gin config (stored with the run; hashed into its id)
    train_config: TrainConfig
    space: SearchSpace
    methods: MethodSettings
    data_options: tuple[tuple[str, Any], ...]  # get_dataset(dataset, **dict(data_options))
    shift_options: ShiftOptions | None
    model_settings: tuple[tuple[str, Any], ...]  # every architecture argument of the model
    monitor: Monitor = Monitor()  # watching training (not in the run id: see `resolve`)


def resolve(
    cell: Cell,
    gin_files: Sequence[str | Path] = (),
    gin_params: Sequence[str] = (),
    tensorboard: str | Path | None = None,
) -> CellSettings:
    """Composes `cell`'s configuration and builds every setting object from it; any bad name,
    binding or value is a one-line `HyperensError` (nothing is loaded or written here).
    `tensorboard` (the CLI's `--tensorboard DIR`) sets `Monitor.tensorboard_dir` outside the
    configuration text, so it changes no run id."""
    if int(cell.seed) < 0:
        raise HyperensError(f"seed must be >= 0, got {cell.seed}")
    text = compose(cell.dataset, cell.model, cell.method, cell.tier, gin_files, gin_params)
    # the run id (and the stored config) carry the training-code version: runs of another
    # version are never reused
    text += f"\n# hyperens training code version {trials.TRAINING_CODE_VERSION}\n"
    model = cell.model
    try:
        methods = MethodSettings(*(build(n, model=model) for n in METHOD_SETTINGS))
        data = build("data_options", cell.dataset, cell.seed, model=model)
        arch = dataclasses.asdict(build(MODEL_SETTINGS[model][0], model=model))
        monitor = build("Monitor", model=model)
        if tensorboard is not None:
            monitor = dataclasses.replace(monitor, tensorboard_dir=str(tensorboard))
        return CellSettings(
            cell=cell,
            text=text,
            train_config=build("TrainConfig", model=model),
            space=build("SearchSpace", model=model),
            methods=methods,
            data_options=tuple(sorted(data.items())),
            shift_options=build("shift_options", cell.dataset, data, model=model),
            model_settings=tuple(sorted(arch.items())),
            monitor=monitor,
        )
    except HyperensError:
        raise
    except (ValueError, TypeError) as err:  # a configurable rejected its value or its type
        raise HyperensError(f"invalid setting: {_one_line(err)}") from None


def trial_settings(
    settings: CellSettings, data: Splits, shifted: Sequence[ShiftedSet]
) -> trials.TrialSettings:
    """The resolved settings that identify the cell's trials. Method and search-space settings
    are not part of them, so every method of a cell shares one trial cache."""
    facts = (
        ("input_shape", tuple(int(d) for d in data.input_shape)),
        ("num_classes", int(data.num_classes)),
        ("sizes", (len(data.y_train), len(data.y_val), len(data.y_test))),
        ("pixel_mean", tuple(float(v) for v in data.pixel_mean)),
        ("pixel_std", tuple(float(v) for v in data.pixel_std)),
        ("augment", data.augment),
        ("fingerprint", trials.data_fingerprint(data)),
    )
    return trials.TrialSettings(
        dataset=settings.cell.dataset,
        data_options=settings.data_options,
        data_facts=facts,
        model=settings.cell.model,
        model_settings=settings.model_settings,
        train_config=settings.train_config,
        shift_options=settings.shift_options,
        shift_sets=tuple(s.name for s in shifted),
        code_version=trials.TRAINING_CODE_VERSION,
        pack_size=settings.methods.weight_space.pack_size,
    )


def load_matrix(name: str) -> Matrix:
    """Parses matrices/NAME.gin (alone) into a Matrix; unknown names fail in one line."""
    path = find_gin(Path("matrices") / f"{name}.gin")
    if path is None:
        raise HyperensError(
            f"unknown matrix {name!r}; valid names: {', '.join(available('matrices'))}"
        )
    parse([path])
    try:
        return build("Matrix")
    finally:
        gin.clear_config()


def plan_matrix(
    name: str,
    seeds: int | None = None,
    only: str | None = None,
    gin_files: Sequence[str | Path] = (),
    gin_params: Sequence[str] = (),
) -> tuple[Matrix, list[Cell]]:
    """Matrix `name` and its cells (capped by `seeds`, filtered by `only`), every cell resolved
    once with the extra `gin_files` and, after the matrix's own, `gin_params`, so any bad name,
    binding or value fails here, before anything is loaded or written."""
    matrix = load_matrix(name)
    cells = matrix.cells(seeds, only)
    if not cells:
        raise HyperensError(f"matrix {name!r} has no cells matching --only {only!r}")
    for cell in cells:
        resolve(cell, gin_files, (*matrix.gin_params, *gin_params))
    return matrix, cells
