"""Shifted sets of `cifar10` and `cifar100`: CIFAR-10-C / CIFAR-100-C corruptions and SVHN (OOD).

CIFAR-10-C is TFDS `cifar10_corrupted` (one config per `<corruption>_<severity>`, split "test");
CIFAR-100-C is not in TFDS and is read from a directory of the public release (Hendrycks &
Dietterich 2019: `<file>.npy` of 5 stacked severity blocks, `labels.npy`), set by gin
`shift_options.corrupted_dir`. The OOD set `svhn` is TFDS `svhn_cropped` "test", labels -1.

Corruption names are TFDS's for both datasets (so `frosted_glass_blur` and `elastic`, stored in
the release as `glass_blur.npy` and `elastic_transform.npy`). Each family offers, and by default
evaluates ("all corruptions"), exactly the types the paper's released code averages over
(google/uncertainty-baselines, baselines/cifar/utils.py `load_corrupted_test_info`):
* cifar10: the 15 benchmark corruptions of TFDS `cifar10_corrupted` (`CIFAR10_CORRUPTIONS`);
* cifar100: the released code's 17 CIFAR-100-C types (`CIFAR100_CORRUPTIONS`): the 15 less
  `motion_blur` and `snow`, plus `gaussian_blur`, `saturate`, `spatter` and `speckle_noise`. The
  public release has all 19 files (so all 17 are here); the released code reads neither
  `motion_blur` nor `snow`, so they are not offered, and a CIFAR-100-C mean is over the same 17
  types as the released numbers. The released code reads its own TFRecords
  (`load_cifar100_c`: `<type>-<intensity>.tfrecords` under `--cifar100_c_path`; its README:
  "we apply the same corruptions to produce a CIFAR-100-C"), which are not public: whether their
  images equal the public release's is not known.
`build` checks every requested set is available before anything is read (an
unprepared TFDS set costs no TensorFlow import); `ShiftedSet.load()` reads it. Importing this
module imports neither TensorFlow nor tensorflow_datasets.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.data.base import Splits
from benchmarks.data.shift import SEVERITIES, SHIFTS, ShiftedSet, ShiftFamily, ShiftOptions, limit
from benchmarks.data.tfds_sets import DATA_DIR_OPTION, check_prepared, read_uint8
from benchmarks.errors import DatasetUnavailableError

# TFDS `cifar10_corrupted`'s BENCHMARK_CORRUPTIONS, in its order; the released code's CIFAR-10-C
# list (baselines/cifar/utils.py `load_corrupted_test_info('cifar10')`) is the same, in that order.
CIFAR10_CORRUPTIONS = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "frosted_glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic",
    "pixelate",
    "jpeg_compression",
)
CORRUPTIONS = CIFAR10_CORRUPTIONS  # the name the rest of the suite has always used
# baselines/cifar/utils.py `load_corrupted_test_info('cifar100')`, in its order, with our names
# for its `glass_blur` and `elastic_transform` (the 17 types its CIFAR-100-C numbers average).
CIFAR100_CORRUPTIONS = (
    "brightness",
    "contrast",
    "defocus_blur",
    "elastic",
    "fog",
    "frost",
    "frosted_glass_blur",
    "gaussian_blur",
    "gaussian_noise",
    "impulse_noise",
    "jpeg_compression",
    "pixelate",
    "saturate",
    "shot_noise",
    "spatter",
    "speckle_noise",
    "zoom_blur",
)
# The file names of the public CIFAR-10-C / CIFAR-100-C releases where they differ from ours.
_RELEASE_FILES = {"frosted_glass_blur": "glass_blur.npy", "elastic": "elastic_transform.npy"}
LABELS_FILE = "labels.npy"
OOD_SETS = {"svhn": ("svhn_cropped", "test")}  # our name -> (TFDS name, split)
CORRUPTED_DIR_OPTION = "shift_options.corrupted_dir"
_IMAGE_SHAPE = (32, 32, 3)


def release_file(corruption: str) -> str:
    """The `.npy` file holding `corruption` in the CIFAR-10-C / CIFAR-100-C release."""
    return _RELEASE_FILES.get(corruption, f"{corruption}.npy")


def to_inputs(data: Splits, images: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 model inputs, normalised exactly as `data`'s clean splits
    (the same float32 steps as `tfds_sets`: `(images / 255 - mean) / std`)."""
    pixels = np.asarray(images).astype(np.float32)
    pixels /= np.float32(255.0)
    return data.normalise(pixels)


def _severities(options: ShiftOptions) -> list[int]:
    return sorted(set(options.severities))


# --- TFDS-backed sets -------------------------------------------------------------------------


def _tfds_sets(
    data: Splits, options: ShiftOptions, wanted: list[tuple[str, str, int, str, str]]
) -> list[ShiftedSet]:
    """`wanted`: (kind, corruption, severity, TFDS name[/config], split). Every one is checked
    before returning (one line naming the first missing one and how many more are missing)."""
    if not wanted:
        return []
    import tensorflow_datasets as tfds  # no TensorFlow import (~1 s)

    builders, missing = [], []
    for _, _, _, name, split in wanted:
        builder = tfds.builder(name, data_dir=options.data_dir, try_gcs=False)
        try:
            check_prepared(builder, split, DATA_DIR_OPTION)
        except DatasetUnavailableError as error:
            missing.append(str(error))
        builders.append(builder)
    if missing:
        more = f" ({len(missing) - 1} more requested sets are missing too)" if missing[1:] else ""
        raise DatasetUnavailableError(missing[0] + more)
    return [
        ShiftedSet(w[0], w[1], w[2], functools.partial(_load_tfds, data, options, b, w))
        for b, w in zip(builders, wanted, strict=True)
    ]


def _load_tfds(data: Splits, options: ShiftOptions, builder, wanted) -> tuple:
    kind, _, _, _, split = wanted
    images, labels = read_uint8(builder, split, DATA_DIR_OPTION, take=options.max_examples)
    x = to_inputs(data, images)
    y = np.full(len(x), -1, np.int32) if kind == "ood" else labels.astype(np.int32)
    return limit(x, y, options.max_examples)


def _ood_wanted(ood: Sequence[str]) -> list[tuple[str, str, int, str, str]]:
    return [("ood", name, 0, *OOD_SETS[name]) for name in ood]


def build_cifar10(
    data: Splits, options: ShiftOptions, corruptions: Sequence[str], ood: Sequence[str]
) -> list[ShiftedSet]:
    """CIFAR-10-C from TFDS `cifar10_corrupted/<corruption>_<severity>` "test", then OOD sets."""
    wanted = [
        ("corruption", c, s, f"cifar10_corrupted/{c}_{s}", "test")
        for c in corruptions
        for s in _severities(options)
    ]
    return _tfds_sets(data, options, wanted + _ood_wanted(ood))


# --- CIFAR-100-C from the public release ------------------------------------------------------


def _release_arrays(root: Path, corruption: str) -> tuple[np.ndarray, np.ndarray]:
    """Memory-mapped (images, labels) of one corruption; one-line errors if missing/malformed."""
    arrays = []
    for fname in (release_file(corruption), LABELS_FILE):
        path = root / fname
        if not path.is_file():
            raise DatasetUnavailableError(
                f"CIFAR-100-C file {path} is missing (needed for corruption {corruption!r}); "
                f"{CORRUPTED_DIR_OPTION} must name a directory of the public CIFAR-100-C "
                f"release (<corruption>.npy, {LABELS_FILE})"
            )
        try:
            arrays.append(np.load(path, mmap_mode="r"))  # reads the header only
        except (OSError, ValueError) as error:
            raise DatasetUnavailableError(
                f"CIFAR-100-C file {path} is unreadable: {error}".replace("\n", " ")
            ) from None
    images, labels = arrays
    n = len(images)
    if (
        images.dtype != np.uint8
        or images.shape[1:] != _IMAGE_SHAPE
        or n == 0
        or n % len(SEVERITIES)
        or labels.shape != (n,)
    ):
        raise DatasetUnavailableError(
            f"CIFAR-100-C files in {root} are malformed: {release_file(corruption)} is "
            f"{images.dtype} {images.shape} (want uint8 (5*n, 32, 32, 3)), {LABELS_FILE} is "
            f"{labels.shape} (want ({n},))"
        )
    return images, labels


def _load_release(
    data: Splits, options: ShiftOptions, root: Path, corruption: str, severity: int
) -> tuple[np.ndarray, np.ndarray]:
    images, labels = _release_arrays(root, corruption)
    block = len(images) // len(SEVERITIES)  # 10,000 in the real release
    part = slice((severity - 1) * block, severity * block)
    if options.max_examples is not None:  # slice before converting: only these are read
        part = slice(part.start, part.start + min(block, options.max_examples))
    x = to_inputs(data, images[part])
    return limit(x, np.asarray(labels[part]).astype(np.int32), options.max_examples)


def build_cifar100(
    data: Splits, options: ShiftOptions, corruptions: Sequence[str], ood: Sequence[str]
) -> list[ShiftedSet]:
    """CIFAR-100-C from `options.corrupted_dir` (checked file by file first), then OOD sets."""
    sets = []
    if corruptions:
        if options.corrupted_dir is None:
            raise DatasetUnavailableError(
                "cifar100 corruptions need the public CIFAR-100-C release, which is not in TFDS: "
                f"set gin {CORRUPTED_DIR_OPTION} to its directory (<corruption>.npy, "
                f"{LABELS_FILE}), or request none (shift_options.corruptions = ())"
            )
        root = Path(options.corrupted_dir)
        if not root.is_dir():
            raise DatasetUnavailableError(
                f"CIFAR-100-C directory {root} does not exist; set gin {CORRUPTED_DIR_OPTION} "
                f"to a directory of the public CIFAR-100-C release (<corruption>.npy, "
                f"{LABELS_FILE})"
            )
        for c in corruptions:
            _release_arrays(root, c)  # fail fast: every file present, shapes right
            for s in _severities(options):
                load = functools.partial(_load_release, data, options, root, c, s)
                sets.append(ShiftedSet("corruption", c, s, load))
    return sets + _tfds_sets(data, options, _ood_wanted(ood))


SHIFTS.register("cifar10")(ShiftFamily(CIFAR10_CORRUPTIONS, tuple(OOD_SETS), build_cifar10))
SHIFTS.register("cifar100")(ShiftFamily(CIFAR100_CORRUPTIONS, tuple(OOD_SETS), build_cifar100))
