"""TensorFlow-datasets sets: `cifar10`, `cifar100` (and `fashion_mnist`'s last resort,
`benchmarks.data.fashion_mnist`).

They are read from an already prepared `data_dir` and never downloaded: a dataset that is not
prepared raises `DatasetUnavailableError` at once (no network access, no retries). TensorFlow and
tensorflow_datasets are imported only when one of these loaders runs.
"""

import functools

import numpy as np

from benchmarks.data.base import DATASETS, Splits, round_half_up, standardise, stratified_split
from benchmarks.errors import DatasetUnavailableError, HyperensError

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # CIFAR-10 statistics, used for CIFAR-100 too
CIFAR_STD = (0.2470, 0.2435, 0.2616)
FASHION_MEAN, FASHION_STD = (0.2860,), (0.3530,)

# name -> (num_classes, mean, std, augment); the TFDS name equals ours.
_SPECS: dict[str, tuple[int, tuple[float, ...], tuple[float, ...], str | None]] = {
    "fashion_mnist": (10, FASHION_MEAN, FASHION_STD, None),
    "cifar10": (10, CIFAR_MEAN, CIFAR_STD, "cifar"),
    "cifar100": (100, CIFAR_MEAN, CIFAR_STD, "cifar"),
}
VAL_FROM = ("tail", "random")
_READ_BATCH = 4096
DATA_DIR_OPTION = "data_options.data_dir"  # the gin option naming the TFDS data_dir


def load_tfds(
    name: str,
    *,
    data_dir: str | None = None,
    val_fraction: float = 0.05,
    val_from: str = "tail",
    split_seed: int = 0,
) -> Splits:
    """Load TFDS dataset `name`; validation is carved out of the TFDS "train" split.

    `val_from="tail"`: the last `round_half_up(val_fraction * n_train)` examples of "train" in
    TFDS order (what TFDS's `train[95%:]` slicing gives for the default 0.05; the paper's code
    does this for CIFAR). `val_from="random"`: a stratified random carve seeded by `split_seed`
    (per-class rounding as in `stratified_split`). Test = TFDS "test". Pixels are scaled to
    [0, 1] and standardised with fixed per-channel constants. `data_dir=None` means TFDS's
    default (`$TFDS_DATA_DIR` or `~/tensorflow_datasets`).
    """
    num_classes, mean, std, augment = _SPECS[name]
    if not 0.0 < val_fraction < 1.0:
        raise HyperensError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    if val_from not in VAL_FROM:
        raise HyperensError(f"val_from must be one of {', '.join(VAL_FROM)}, got {val_from!r}")

    import tensorflow_datasets as tfds

    # try_gcs=False: never look for the dataset on GCS. Building the builder only reads local
    # metadata (GCS is disabled in tfds by default, so no retries); nothing is downloaded here.
    builder = tfds.builder(name, data_dir=data_dir, try_gcs=False)
    x, y = _read_split(builder, "train", mean, std)
    x_test, y_test = _read_split(builder, "test", mean, std)

    n_val = round_half_up(val_fraction * len(y))
    if not 0 < n_val < len(y):
        raise HyperensError(f"val_fraction={val_fraction} leaves an empty split of {len(y)}")
    if val_from == "tail":
        train, val = slice(0, len(y) - n_val), slice(len(y) - n_val, len(y))  # views, no copy
    else:
        train, val = stratified_split(y, (1.0 - val_fraction, val_fraction), seed=split_seed)
    return Splits(
        name=name,
        x_train=x[train],
        y_train=y[train],
        x_val=x[val],
        y_val=y[val],
        x_test=x_test,
        y_test=y_test,
        num_classes=num_classes,
        augment=augment,
        pixel_mean=mean,
        pixel_std=std,
    )


def _read_split(
    builder, split: str, mean: tuple[float, ...], std: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Read a whole TFDS split once, in TFDS order, into normalised float32 / int32 arrays."""
    images, labels = read_uint8(builder, split)
    return standardise(images, mean, std, scale=255.0), labels.astype(np.int32)


def open_split(builder, split: str, option: str = DATA_DIR_OPTION):
    """`builder.as_dataset(split)` as (image, label) pairs in TFDS order, or, if the dataset is
    not prepared, a one-line `DatasetUnavailableError` (naming gin `option`) at once."""
    # Preparedness is checked through `builder.as_dataset`, not `builder.is_prepared()`:
    # `tfds.testing.mock_data` patches `as_dataset` (it serves synthetic examples) but not the
    # files on disk, so `is_prepared()` is False under mock data while `as_dataset` works. On a
    # real builder, `as_dataset` fails at once with an AssertionError when the version directory
    # is missing (a local `exists()`; no download, no network retries).
    try:
        return builder.as_dataset(
            split=split,
            as_supervised=True,
            shuffle_files=False,  # the canonical TFDS order, so "tail" is reproducible
            # No read_config: building a `tfds.ReadConfig` imports TensorFlow (5-12 s here)
            # before the check. We read once, so no `.cache()`; tfds may auto-cache small sets
            # in memory while we read, which is freed with `ds`.
        )
    except AssertionError:
        if builder.data_path.exists():  # prepared but broken: let tfds's own error through
            raise
        raise DatasetUnavailableError(_unavailable_message(builder, option)) from None


def check_prepared(builder, split: str, option: str = DATA_DIR_OPTION) -> None:
    """`DatasetUnavailableError` (one line) unless `builder` is prepared (or mocked), cheaply:
    no data is read, and TensorFlow is not imported when the dataset is missing."""
    if not builder.data_path.exists():  # else prepared: a broken one fails when it is read
        open_split(builder, split, option)  # works without files under tfds.testing.mock_data


def read_uint8(
    builder, split: str, option: str = DATA_DIR_OPTION, take: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The raw (uint8 images, labels) of a TFDS split in TFDS order; only the first `take`
    examples if given. Unprepared: `DatasetUnavailableError` before TensorFlow is imported."""
    ds = open_split(builder, split, option)

    import tensorflow as tf  # only now: a failed check above costs no TensorFlow import (~5 s)

    if take is not None:
        ds = ds.take(take)
    images, labels = [], []
    for img, lab in ds.batch(_READ_BATCH).prefetch(tf.data.AUTOTUNE).as_numpy_iterator():
        images.append(img)  # uint8: 4x smaller than float32 until the caller converts it
        labels.append(lab)
    return np.concatenate(images), np.concatenate(labels)


def _unavailable_message(builder, option: str = DATA_DIR_OPTION) -> str:
    """One line: which dataset, which directory was searched, and how to point at another."""
    version_dir = builder.data_path  # <data_dir>/<name>[/<config>]/<version>
    config = builder.builder_config.name if builder.builder_config else None
    full = f"{builder.name}/{config}" if config else builder.name
    root = version_dir.parents[2 if config else 1]
    found = ""
    if version_dir.parent.exists():
        others = sorted(p.name for p in version_dir.parent.iterdir() if p.is_dir())
        if others:
            found = f", found only {', '.join(others)}"
    return (
        f"dataset {full!r} is not prepared under {root} (no {full}/"
        f"{version_dir.name} there{found}); hyperens never downloads datasets: prepare it "
        f"on a machine with internet (tfds build {full}), copy it here and pass "
        f"data_dir=DIR (gin: {option})"
    )


for _name in ("cifar10", "cifar100"):  # fashion_mnist: benchmarks.data.fashion_mnist
    DATASETS.register(_name)(functools.partial(load_tfds, _name))
