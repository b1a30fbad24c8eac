"""`Splits`, the dataset registry and the split / normalisation helpers shared by the loaders.

Pure numpy: importing this module never imports TensorFlow.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.registry import Registry

AUGMENTATIONS = (None, "cifar")


@dataclass(frozen=True, eq=False)
class Splits:
    """Fixed train / validation / test splits of one dataset.

    Images are float32 NHWC, already normalised; labels are int32 in `[0, num_classes)`.
    `augment` names the train-time augmentation (`None` or `"cifar"`: pad + random crop + flip,
    see `benchmarks.data.augment`). `pixel_mean` / `pixel_std` (scalar or per channel) are the
    normalisation: `x = (pixels - pixel_mean) / pixel_std` with pixels in [0, 1], so shifted sets
    can be made from, and normalised like, the clean images. The arrays are made read-only.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    augment: str | None = None
    pixel_mean: tuple[float, ...] = (0.0,)
    pixel_std: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {self.augment!r}")
        for part in ("train", "val", "test"):
            x, y = getattr(self, f"x_{part}"), getattr(self, f"y_{part}")
            if x.dtype != np.float32 or x.ndim != 4:
                raise ValueError(f"x_{part} must be float32 NHWC, got {x.dtype} {x.shape}")
            if y.dtype != np.int32 or y.shape != (len(x),):
                raise ValueError(f"y_{part} must be int32 of shape ({len(x)},), got {y.dtype}")
            if x.shape[1:] != self.x_train.shape[1:]:
                raise ValueError(f"x_{part} has shape {x.shape[1:]}, x_train {self.input_shape}")
            x.setflags(write=False)
            y.setflags(write=False)

    def shapes(self) -> tuple:
        """Every split's shape, the classes and the augmentation: what a traced training step
        fixes (dtypes are fixed by the class), so splits with equal `shapes()` can share one."""
        arrays = (self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test)
        return (*(a.shape for a in arrays), self.num_classes, self.augment)

    def pixels(self, x: np.ndarray) -> np.ndarray:
        """Normalised images back to [0, 1] pixels (float32): `x * pixel_std + pixel_mean`."""
        return x * np.asarray(self.pixel_std, np.float32) + np.asarray(self.pixel_mean, np.float32)

    def normalise(self, pixels: np.ndarray) -> np.ndarray:
        """[0, 1] pixels to model inputs, exactly as the splits were normalised."""
        return standardise(pixels, self.pixel_mean, self.pixel_std)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one image, `(H, W, C)`."""
        return tuple(self.x_train.shape[1:])


# name -> loader(**options) -> Splits. Loaders are registered by `benchmarks.data`'s submodules.
DATASETS: Registry[Callable[..., Splits]] = Registry("dataset")


def round_half_up(x: float) -> int:
    """Round to the nearest integer, halves up (Python's `round` rounds halves to even)."""
    return int(np.floor(x + 0.5))


def stratified_split(labels: np.ndarray, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Seeded stratified split of `range(len(labels))` into `len(fractions)` index arrays.

    Per class with `n_c` examples, every part but the first gets `round_half_up(f * n_c)`
    examples and the first part gets the rest, so the parts always sum to `len(labels)` exactly.
    Examples are assigned after a seeded shuffle within each class, and each returned index
    array is itself shuffled (never class-sorted), all from `np.random.default_rng(seed)`.
    """
    if not np.isclose(sum(fractions), 1.0) or min(fractions) < 0:
        raise ValueError(f"fractions must be >= 0 and sum to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        sizes = [round_half_up(f * len(idx)) for f in fractions[1:]]
        if sum(sizes) > len(idx):
            raise ValueError(f"class {c} has too few examples ({len(idx)}) for {fractions}")
        bounds = np.cumsum([len(idx) - sum(sizes), *sizes])[:-1]
        for part, chunk in zip(parts, np.split(idx, bounds), strict=True):
            part.append(chunk)
    return [rng.permutation(np.concatenate(p)).astype(np.int64) for p in parts]


def standardise(
    images: np.ndarray,
    mean: Sequence[float] | float,
    std: Sequence[float] | float,
    scale: float = 1.0,
) -> np.ndarray:
    """`(images / scale - mean) / std` as a new float32 array.

    `mean` and `std` are scalars or per-channel (broadcast over the last axis).
    """
    x = images.astype(np.float32)  # always a copy, so the in-place steps below are safe
    if scale != 1.0:
        x /= np.float32(scale)
    x -= np.asarray(mean, np.float32)
    x /= np.asarray(std, np.float32)
    return x
