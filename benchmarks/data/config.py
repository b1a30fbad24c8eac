"""Gin-bound dataset options (the `data_dir` of tensorflow-datasets, validation carving)."""

from __future__ import annotations

import gin


@gin.configurable
def data_options(
    name: str,
    data_dir: str | None = None,
    val_fraction: float = 0.05,
    val_from: str = "tail",
    split_seed: int = 0,
) -> dict:
    """Keyword options for `get_dataset(name, ...)`, restricted to those the dataset takes."""
    from benchmarks.data import dataset_options

    bound = {
        "data_dir": data_dir,
        "val_fraction": val_fraction,
        "val_from": val_from,
        "split_seed": split_seed,
    }
    return {k: v for k, v in bound.items() if k in dataset_options(name)}
