"""Shifted sets of the offline datasets `mnist5k` and `digits` (and of Fashion-MNIST, which has no
published corrupted version), generated on the fly.

Corruptions (`benchmarks.data.corruptions`, severities 1..5) of the clean test split, and three
OOD sets (`benchmarks.data.ood_offline`) with as many images as the test split; Fashion-MNIST
also gets MNIST digits (`FASHION_OOD_SETS`, at most 5,000 images). Importing this
module registers the family in `benchmarks.data.shift.SHIFTS`. No TensorFlow.

The sets never depend on a run's seed: every method and seed sees the same images. Corruptions
use `corrupt(..., seed=CORRUPTION_SEED)`; their random streams already differ per corruption
(`corruptions._rng` mixes in the corruption name) and deliberately not per severity, so an image
gets the same noise draw / direction at every severity and only the strength changes. The OOD
generators use `OOD_SEED` (mixed with their own name likewise).

Generated arrays are cached per process (LRU, `CACHE_SIZE` sets), keyed by the dataset name, a
fingerprint of its test images and normalisation, and the set (so `max_examples` and other
options share one entry); they are read-only.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from benchmarks.data import ood_offline
from benchmarks.data.base import Splits
from benchmarks.data.corruptions import CORRUPTIONS, corrupt
from benchmarks.data.shift import SHIFTS, ShiftedSet, ShiftFamily, ShiftOptions, limit

OOD_SETS = ("natural_patches", "uniform_noise", "inverted")
# Fashion-MNIST's OOD sets: MNIST digits first (the field's standard pair), then the same three.
FASHION_OOD_SETS = ("mnist_digits", *OOD_SETS)
CORRUPTION_SEED = 0
OOD_SEED = 0
CACHE_SIZE = 64  # sets; a mnist5k set is 1000 x 28 x 28 float32 = 3.1 MB


@dataclass(frozen=True)
class _Source:
    """A hashable handle on a dataset's test split: equal iff name and fingerprint are."""

    name: str
    fingerprint: str
    data: Splits = field(compare=False, hash=False, repr=False)


def _source(data: Splits) -> _Source:
    digest = hashlib.blake2b(digest_size=16)
    for arr in (data.x_test, data.y_test, data.pixel_mean, data.pixel_std):
        arr = np.ascontiguousarray(arr)
        digest.update(f"{arr.dtype}{arr.shape}".encode())
        digest.update(arr.tobytes())
    return _Source(data.name, digest.hexdigest(), data)


def _clean_pixels(data: Splits) -> np.ndarray:
    return np.clip(data.pixels(data.x_test), 0.0, 1.0)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _generate(source: _Source, kind: str, name: str, severity: int):
    """The full (unlimited) set as read-only (x normalised float32, y int32)."""
    data = source.data
    if kind == "corruption":
        x = corrupt(_clean_pixels(data), name, severity, seed=CORRUPTION_SEED)
        y = np.array(data.y_test, np.int32)
    else:
        n, h, w = data.x_test.shape[:3]
        if name == "inverted":
            pixels = ood_offline.inverted(_clean_pixels(data))
        else:  # mnist_digits has at most 5,000 images
            pixels = getattr(ood_offline, name)(n, h, w, seed=OOD_SEED)
        x = pixels
        y = np.full(len(pixels), -1, np.int32)
    x = data.normalise(x)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _loader(source: _Source, kind: str, name: str, severity: int, max_examples: int | None):
    def load() -> tuple[np.ndarray, np.ndarray]:
        return limit(*_generate(source, kind, name, severity), max_examples)

    return load


def build(
    data: Splits, options: ShiftOptions, corruptions: Sequence[str], ood: Sequence[str]
) -> list[ShiftedSet]:
    """The sets, corruption-major with severities ascending, then the OOD sets; lazy."""
    source = _source(data)
    severities = sorted(set(options.severities))
    sets = [
        ShiftedSet("corruption", c, s, _loader(source, "corruption", c, s, options.max_examples))
        for c in corruptions
        for s in severities
    ]
    sets += [
        ShiftedSet("ood", o, 0, _loader(source, "ood", o, 0, options.max_examples)) for o in ood
    ]
    return sets


FAMILY = ShiftFamily(corruptions=CORRUPTIONS, ood=OOD_SETS, build=build)
for _dataset in ("mnist5k", "digits"):
    SHIFTS.register(_dataset)(FAMILY)
SHIFTS.register("fashion_mnist")(ShiftFamily(CORRUPTIONS, FASHION_OOD_SETS, build))
