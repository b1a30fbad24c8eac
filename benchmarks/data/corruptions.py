"""MNIST-C-style image corruptions at five severities, as pure numpy / scipy functions.

Inspired by MNIST-C (Mu & Gilmer 2019, "MNIST-C: A Robustness Benchmark for Computer Vision")
and ImageNet-C (Hendrycks & Dietterich 2019, "Benchmarking Neural Network Robustness to Common
Corruptions and Perturbations"); the corruption set, formulas and parameters here are our own.

Every corruption maps [0, 1] pixels of shape (N, H, W, C) (grayscale: C = 1) to float32 pixels
of the same shape, clipped to [0, 1]. `PARAMS[name]` holds its single parameter at severities
1..5 (harder as severity rises). Sizes are defined on a 28-pixel image and scaled by `H / 28`
(or `W / 28`) so the 8x8 `digits` work too.

Randomness (noise values, and the per-image direction of the geometric transforms) comes only
from `np.random.default_rng([seed, zlib.crc32(name)])`: deterministic, independent of the other
corruptions, and *independent of the severity*, so one image gets the same noise draw and the
same direction at every severity and only the strength changes. Geometric transforms use
bilinear interpolation about the image centre `((H - 1) / 2, (W - 1) / 2)` with a black (0)
border, as MNIST digits are white on black.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from benchmarks.errors import HyperensError, UnknownNameError

# One documented parameter per corruption, at severities 1..5.
PARAMS: dict[str, tuple[float, float, float, float, float]] = {
    "gaussian_noise": (0.1, 0.2, 0.3, 0.4, 0.5),  # std of additive N(0, std^2) noise
    "shot_noise": (60.0, 25.0, 12.0, 5.0, 3.0),  # photon count lam: Poisson(lam * x) / lam
    "impulse_noise": (0.03, 0.06, 0.09, 0.17, 0.27),  # fraction of pixels set to 0 or 1
    "gaussian_blur": (0.6, 1.0, 1.5, 2.0, 2.5),  # blur sigma in pixels of a 28-pixel image
    "rotation": (15.0, 30.0, 45.0, 60.0, 75.0),  # rotation angle in degrees
    "shear": (0.15, 0.3, 0.45, 0.6, 0.75),  # horizontal shear factor
    "translation": (0.04, 0.08, 0.12, 0.16, 0.2),  # shift per axis, as a fraction of H / W
    "contrast": (0.4, 0.3, 0.2, 0.1, 0.05),  # factor c: (x - mean) * c + mean
    "pixelation": (0.75, 0.6, 0.5, 0.4, 0.3),  # resolution kept: side round(f * H) pixels
}
CORRUPTIONS: tuple[str, ...] = tuple(PARAMS)


def _rng(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _signs(name: str, seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Seeded per-image signs in {-1, +1} (the direction of a geometric corruption)."""
    return _rng(name, seed).integers(0, 2, size=shape) * 2 - 1


def _finish(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 1.0).astype(np.float32, copy=False)


def _warp(images: np.ndarray, matrix: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Bilinear resampling of (N, H, W, C) images: output pixel (r, c) reads the input at
    `matrix @ (r, c) + offset`, pixels outside the image being 0: `scipy.ndimage.affine_transform`
    with order=1, mode="grid-constant" (tested), vectorised over the batch. Exact (a copy)
    wherever the input position is a whole pixel."""
    h, w = images.shape[1:3]
    rr, cc = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64))
    rr, cc = rr.T, cc.T  # (h, w) output rows and columns
    src_r = matrix[0, 0] * rr + matrix[0, 1] * cc + offset[0]
    src_c = matrix[1, 0] * rr + matrix[1, 1] * cc + offset[1]
    r0, c0 = np.floor(src_r), np.floor(src_c)
    fr, fc = src_r - r0, src_c - c0
    out = np.zeros(images.shape, np.float64)
    for dr, wr in ((0, 1.0 - fr), (1, fr)):
        for dc, wc in ((0, 1.0 - fc), (1, fc)):
            r, c = (r0 + dr).astype(np.int64), (c0 + dc).astype(np.int64)
            weight = wr * wc * ((r >= 0) & (r < h) & (c >= 0) & (c < w))
            if not weight.any():
                continue
            gathered = images[:, np.clip(r, 0, h - 1), np.clip(c, 0, w - 1), :]
            out += weight[None, :, :, None] * gathered
    return out


def _affine_by_group(
    images: np.ndarray, keys: np.ndarray, make: Callable[..., tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Apply, to each group of images sharing a key row, the 2-D affine map `make(*key)`:
    (matrix 2x2, offset 2) mapping *output* (row, col) to *input* (row, col) (`_warp`)."""
    out = np.empty(images.shape, np.float64)
    keys = keys.reshape(len(images), -1)
    for key in np.unique(keys, axis=0):
        idx = np.flatnonzero((keys == key).all(axis=1))
        out[idx] = _warp(images[idx], *make(*key))
    return out


def _centre(images: np.ndarray) -> np.ndarray:
    return np.array([(images.shape[1] - 1) / 2, (images.shape[2] - 1) / 2])


def gaussian_noise(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    """`clip(x + std * z)`, z ~ N(0, 1) iid per pixel; std = PARAMS["gaussian_noise"]."""
    std = PARAMS["gaussian_noise"][severity - 1]
    z = _rng("gaussian_noise", seed).standard_normal(images.shape, dtype=np.float32)
    return _finish(images + np.float32(std) * z)


def shot_noise(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    """Photon noise: `clip(Poisson(lam * x) / lam)` per pixel; lam = PARAMS["shot_noise"]
    (fewer photons = noisier). Black pixels stay black."""
    lam = PARAMS["shot_noise"][severity - 1]
    counts = _rng("shot_noise", seed).poisson(lam * images.astype(np.float64))
    return _finish(counts / lam)


def impulse_noise(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    """Salt and pepper: each pixel is replaced with probability p = PARAMS["impulse_noise"],
    by 1 (salt) or 0 (pepper) with equal odds. Pixel i is hit iff u_i < p for one uniform u_i
    drawn per pixel, so the hit pixels at a severity include those of every lower one."""
    p = PARAMS["impulse_noise"][severity - 1]
    rng = _rng("impulse_noise", seed)
    hit = rng.random(images.shape) < p
    salt = rng.random(images.shape) < 0.5
    return _finish(np.where(hit, salt.astype(np.float32), images))


def gaussian_blur(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    """Gaussian blur over the two spatial axes with sigma = PARAMS["gaussian_blur"] * H / 28
    pixels (`scipy.ndimage.gaussian_filter`, zero border). No randomness."""
    sigma = PARAMS["gaussian_blur"][severity - 1]
    sig = (0.0, sigma * images.shape[1] / 28, sigma * images.shape[2] / 28, 0.0)
    return _finish(ndimage.gaussian_filter(images, sig, mode="constant", cval=0.0))


def rotation(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    """Rotation about the image centre by `s * PARAMS["rotation"]` degrees, where s = +1
    (counter-clockwise as displayed, row 0 at the top) or -1 (clockwise) is a seeded random
    sign per image (`_signs`). Bilinear, black border."""
    deg = PARAMS["rotation"][severity - 1]
    c = _centre(images)

    def make(sign):
        t = np.deg2rad(sign * deg)
        # forward map (row, col) -> (r cos t - c sin t, r sin t + c cos t) about the centre,
        # so the inverse (output -> input) is its transpose.
        m = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
        return m, c - m @ c

    return _finish(_affine_by_group(images, _signs("rotation", seed, (len(images),)), make))


def shear(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    """Horizontal shear: the pixel at (r, c) moves to (r, c + s * k * (r - cy)), with
    k = PARAMS["shear"], cy the centre row and s a seeded random sign per image (`_signs`).
    Bilinear, black border."""
    k = PARAMS["shear"][severity - 1]
    cy = _centre(images)[0]

    def make(sign):
        return np.array([[1.0, 0.0], [-sign * k, 1.0]]), np.array([0.0, sign * k * cy])

    return _finish(_affine_by_group(images, _signs("shear", seed, (len(images),)), make))


def translation(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    """Shift: the pixel at (r, c) moves to (r + sy * f * H, c + sx * f * W), with
    f = PARAMS["translation"] and (sy, sx) two seeded random signs per image (`_signs`, shape
    (N, 2)): a diagonal move. Bilinear (exact for whole-pixel shifts), black border."""
    f = PARAMS["translation"][severity - 1]
    h, w = images.shape[1:3]

    def make(sy, sx):
        return np.eye(2), -np.array([sy * f * h, sx * f * w])

    return _finish(_affine_by_group(images, _signs("translation", seed, (len(images), 2)), make))


def contrast(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    """`(x - m) * c + m` with m the mean of each image and c = PARAMS["contrast"] (lower c =
    less contrast). No randomness; constant images are unchanged."""
    c = np.float32(PARAMS["contrast"][severity - 1])
    m = images.mean(axis=(1, 2, 3), keepdims=True, dtype=np.float64).astype(np.float32)
    return _finish((images - m) * c + m)


def _area_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) box-filter (area) resampling matrix: row i averages the input pixels
    overlapping the interval [i * n_in / n_out, (i + 1) * n_in / n_out), weighted by overlap."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def pixelation(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    """Box down- then box up-sampling (as PIL's `Image.BOX` resize, used by ImageNet-C):
    resample to (round(f * H), round(f * W)) pixels, f = PARAMS["pixelation"] (halves up, at
    least 1), then back to (H, W), each output pixel being the overlap-weighted mean of the
    pixels under its footprint (`_area_matrix`) both ways. When round(f * H) divides H, every
    block of H / round(f * H) pixels becomes its mean. No randomness."""
    f = PARAMS["pixelation"][severity - 1]
    h, w = images.shape[1:3]
    lh, lw = max(1, int(np.floor(f * h + 0.5))), max(1, int(np.floor(f * w + 0.5)))
    rows = _area_matrix(h, lh) @ _area_matrix(lh, h)  # (h, h)
    cols = _area_matrix(w, lw) @ _area_matrix(lw, w)  # (w, w)
    out = np.einsum("ij,njkc,lk->nilc", rows, images.astype(np.float64), cols, optimize=True)
    return _finish(out)


_FUNCTIONS: dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "gaussian_noise": gaussian_noise,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "gaussian_blur": gaussian_blur,
    "rotation": rotation,
    "shear": shear,
    "translation": translation,
    "contrast": contrast,
    "pixelation": pixelation,
}
assert tuple(_FUNCTIONS) == CORRUPTIONS


def corrupt(images: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """Corruption `name` at `severity` (1..5) of [0, 1] pixels (N, H, W, C) -> float32 in [0, 1].

    Unknown names raise `UnknownNameError` listing the valid ones; a bad severity or shape
    raises `HyperensError`. The input is never modified.
    """
    if name not in _FUNCTIONS:
        raise UnknownNameError(f"unknown corruption {name!r}; valid names: {', '.join(PARAMS)}")
    if isinstance(severity, bool) or severity not in (1, 2, 3, 4, 5):
        raise HyperensError(f"severity must be an integer in 1..5, got {severity!r}")
    images = np.asarray(images)
    if images.ndim != 4:
        raise HyperensError(f"images must be (N, H, W, C), got shape {images.shape}")
    return _FUNCTIONS[name](images.astype(np.float32, copy=False), int(severity), seed)
