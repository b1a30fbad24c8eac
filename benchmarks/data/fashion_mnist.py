"""Fashion-MNIST (Xiao et al. 2017), the paper's dataset for its MLP and LeNet (§5.1, Table 1).

The four original IDX files are read from the first place that has them:

1. `data_dir` (gin `data_options.data_dir`), if it holds them;
2. the directory in `$HYPERENS_FASHION_MNIST_DIR`;
3. `/usr/share/datasets/fashion-mnist`, where Debian's package `dataset-fashion-mnist` puts them;
4. tensorflow-datasets' prepared `fashion_mnist` (in `data_dir` or TFDS's default directory).

The IDX files' order is the reference order: their decompressed arrays must match the release's
SHA-256 (`SHA256`), so every machine trains on the same images in the same order. TFDS stores
the records in another order, so its path gives other (equally sized and stratified) splits of
the same images: results from the two paths are not paired.

Validation: a seeded, stratified `val_fraction` of train (default 5%, 3,000 images, 300 per
class; the released code's `--train_proportion=0.95`, baselines/cifar/utils.py). Test: the
10,000 test images. Pixels scaled to [0, 1] and standardised with FASHION_MEAN / FASHION_STD.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from benchmarks.data.base import DATASETS, Splits, round_half_up, standardise, stratified_split
from benchmarks.data.idx import IdxError, read_idx
from benchmarks.data.tfds_sets import FASHION_MEAN, FASHION_STD, load_tfds
from benchmarks.errors import DatasetUnavailableError, HyperensError

ENV_DIR = "HYPERENS_FASHION_MNIST_DIR"
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian: dataset-fashion-mnist
NUM_CLASSES = 10
# part -> (file stem, shape); each file may be stored as STEM or STEM.gz
FILES = {
    "x_train": ("train-images-idx3-ubyte", (60_000, 28, 28)),
    "y_train": ("train-labels-idx1-ubyte", (60_000,)),
    "x_test": ("t10k-images-idx3-ubyte", (10_000, 28, 28)),
    "y_test": ("t10k-labels-idx1-ubyte", (10_000,)),
}
# SHA-256 of each decompressed array's bytes (C order), as read from the Debian package
# dataset-fashion-mnist 0.0~git20200523.55506a9-1 (zalandoresearch/fashion-mnist's files).
SHA256 = {
    "x_train": "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
    "y_train": "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
    "x_test": "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
    "y_test": "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
}


def _path(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def idx_dir(data_dir: str | None = None) -> Path | None:
    """The first directory of the search order (module doc, 1-3) holding any of the four files."""
    for folder in (data_dir, os.environ.get(ENV_DIR), SYSTEM_DIR):
        if folder and any(_path(Path(folder), stem) for stem, _ in FILES.values()):
            return Path(folder)
    return None


def digest(array: np.ndarray) -> str:
    """SHA-256 of an array's bytes in C order."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def read_arrays(folder: str | Path) -> dict[str, np.ndarray]:
    """The four uint8 arrays of `folder`, checked: every file present, magic numbers, counts
    and shapes (`read_idx`), labels in [0, 10), and the release's content (`SHA256`). Anything
    else is one `IdxError` line naming the file."""
    folder, out = Path(folder), {}
    for part, (stem, shape) in FILES.items():
        path = _path(folder, stem)
        if path is None:
            raise IdxError(
                f"{folder / stem}[.gz]: missing (Fashion-MNIST needs all four IDX files)"
            )
        array = read_idx(path, shape)
        if part.startswith("y") and array.max(initial=0) >= NUM_CLASSES:
            raise IdxError(f"{path}: label {int(array.max())} is out of range 0..9")
        if digest(array) != SHA256[part]:
            raise IdxError(f"{path}: content differs from the Fashion-MNIST release (SHA-256)")
        out[part] = array
    return out


@DATASETS.register("fashion_mnist")
def load_fashion_mnist(
    *, data_dir: str | None = None, val_fraction: float = 0.05, split_seed: int = 0
) -> Splits:
    """Fashion-MNIST (28, 28, 1), 10 classes: train 57,000 / val 3,000 / test 10,000 by default
    (module doc for where the files come from and how validation is carved)."""
    if not 0.0 < val_fraction < 1.0:
        raise HyperensError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    folder = idx_dir(data_dir)
    if folder is None:
        try:
            return load_tfds("fashion_mnist", data_dir=data_dir, val_fraction=val_fraction,
                               val_from="random", split_seed=split_seed)  # fmt: skip
        except DatasetUnavailableError as e:
            raise DatasetUnavailableError(
                f"Fashion-MNIST: no IDX files in data_dir, ${ENV_DIR} or {SYSTEM_DIR} "
                f"(apt-get install dataset-fashion-mnist), and {e}"
            ) from None
    raw = read_arrays(folder)
    train, val = stratified_split(raw["y_train"], (1.0 - val_fraction, val_fraction), split_seed)
    if min(len(train), len(val)) == 0 or round_half_up(val_fraction * 6000) == 0:
        raise HyperensError(f"val_fraction={val_fraction} leaves an empty split")

    def images(x: np.ndarray) -> np.ndarray:
        return standardise(x[..., None], FASHION_MEAN, FASHION_STD, scale=255.0)

    x_train, y_train = raw["x_train"], raw["y_train"].astype(np.int32)
    return Splits(
        name="fashion_mnist",
        x_train=images(x_train[train]),
        y_train=y_train[train],
        x_val=images(x_train[val]),
        y_val=y_train[val],
        x_test=images(raw["x_test"]),
        y_test=raw["y_test"].astype(np.int32),
        num_classes=NUM_CLASSES,
        augment=None,
        pixel_mean=FASHION_MEAN,
        pixel_std=FASHION_STD,
    )
