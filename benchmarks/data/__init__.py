"""Datasets by name: `get_dataset(name, **options) -> Splits`.

Offline: `mnist5k` (default), `digits`, `fashion_mnist` (its IDX files, e.g. from Debian's
`dataset-fashion-mnist`; else TFDS). TFDS (prepared `data_dir` only): `cifar10`, `cifar100`.
Importing this package never imports TensorFlow; the CIFAR augmentation lives in
`benchmarks.data.augment`, which does.
"""

import inspect

# register the loaders and the shifted-set families
from benchmarks.data import (  # noqa: F401
    fashion_mnist,
    offline,
    shift_offline,
    shift_tfds,
    tfds_sets,
)
from benchmarks.data.base import DATASETS, Splits
from benchmarks.errors import HyperensError

__all__ = ["DATASETS", "Splits", "dataset_options", "get_dataset"]


def dataset_options(name: str) -> dict[str, object]:
    """The options dataset `name` accepts, with their defaults (UnknownNameError if unknown)."""
    params = inspect.signature(DATASETS.get(name)).parameters.values()
    return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


def get_dataset(name: str, **options: object) -> Splits:
    """Load dataset `name` with keyword `options` (see `dataset_options(name)`).

    Unknown names raise `UnknownNameError` listing the valid names; unknown options raise
    `HyperensError` listing the valid ones; an unprepared TFDS set raises
    `DatasetUnavailableError`.
    """
    valid = dataset_options(name)
    bad = sorted(set(options) - set(valid))
    if bad:
        raise HyperensError(
            f"dataset {name!r} has no option {', '.join(bad)}; valid options: "
            f"{', '.join(valid) or '(none)'}"
        )
    return DATASETS.get(name)(**options)
