"""CIFAR augmentation: stateless, seeded, per-image pad + crop + flip, as the released code."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from benchmarks.data.augment import (  # noqa: E402
    CIFAR_FILL,
    CIFAR_PAD,
    augment_cifar,
    augment_cifar_pack,
)
from benchmarks.data.base import standardise  # noqa: E402
from benchmarks.data.tfds_sets import CIFAR_MEAN, CIFAR_STD  # noqa: E402


def _images(batch: int = 16, size: int = 8, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(size=(batch, size, size, channels)).astype(np.float32)


def _seed(a: int, b: int = 0) -> tf.Tensor:
    return tf.constant([a, b], tf.int32)


def test_same_seed_same_output_different_seed_different():
    x = _images()
    a = augment_cifar(x, _seed(1)).numpy()
    b = augment_cifar(x, _seed(1)).numpy()
    c = augment_cifar(x, _seed(2)).numpy()
    assert a.shape == x.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_flip_only_with_no_padding():
    x = _images(batch=64)
    out = augment_cifar(x, _seed(5), pad=0).numpy()
    same = [np.array_equal(o, i) for o, i in zip(out, x, strict=True)]
    mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x, strict=True)]
    assert all(s != m for s, m in zip(same, mirrored, strict=True))  # exactly one of the two
    assert 10 < sum(mirrored) < 54  # per-image coin flips, not one flip for the batch


def test_known_image_flip():
    row = np.arange(4, dtype=np.float32)
    x = np.broadcast_to(row[None, None, :, None], (32, 4, 4, 1))
    out = augment_cifar(x, _seed(9), pad=0).numpy()[..., 0]
    for o in out:
        assert (o == row).all() or (o == row[::-1]).all()


def _windows(out: np.ndarray, padded: np.ndarray, size: int, pad: int) -> set:
    """The (dy, dx) offsets at which each output is a (flipped) crop of its padded image."""
    offsets = set()
    for o, p in zip(out, padded, strict=True):
        windows = [
            (dy, dx, flip)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            for flip in (False, True)
            if np.array_equal(o, (p[:, ::-1] if flip else p)[dy : dy + size, dx : dx + size])
        ]
        assert windows, "output is not a (flipped) crop of the padded image"
        offsets.add(windows[0][:2])
    return offsets


def test_released_code_defaults_pad_2_per_side_with_black():
    # uncertainty_baselines/datasets/cifar.py: resize_with_crop_or_pad(image, 32 + 4, 32 + 4) on
    # the uint8 image, i.e. 2 black pixels per side, then random_crop to 32 x 32 and a flip.
    assert CIFAR_PAD == 2
    black = standardise(np.zeros((1, 1, 1, 3), np.uint8), CIFAR_MEAN, CIFAR_STD, scale=255.0)
    np.testing.assert_array_equal(np.asarray(CIFAR_FILL, np.float32), black.reshape(3))
    assert all(v < 0 for v in CIFAR_FILL)  # black, not the mean colour (0 after normalising)
    x = _images(batch=64, size=32)
    out = augment_cifar(x, _seed(11)).numpy()
    padded = np.empty((64, 36, 36, 3), np.float32)
    padded[...] = np.asarray(CIFAR_FILL, np.float32)
    padded[:, 2:34, 2:34] = x
    offsets = _windows(out, padded, 32, 2)
    assert {o for pair in offsets for o in pair} <= set(range(5))  # 5 x 5 offsets, no more
    assert len(offsets) > 5


def test_border_pixels_are_the_fill_value():
    x = np.full((40, 8, 8, 3), 5.0, np.float32)
    out = augment_cifar(x, _seed(12), pad=2, fill=(-1.0, -2.0, -3.0)).numpy()
    inside = (out == 5.0).all(axis=-1)
    border = (out == np.array([-1.0, -2.0, -3.0], np.float32)).all(axis=-1)
    assert (inside | border).all() and border.any() and inside.mean() > 0.5
    scalar = augment_cifar(x, _seed(12), pad=2, fill=0.0).numpy()
    np.testing.assert_array_equal(scalar == 0.0, np.broadcast_to(border[..., None], x.shape))
    with pytest.raises(ValueError, match="one per channel"):
        augment_cifar(x, _seed(12), pad=2, fill=(1.0, 2.0))


def test_each_output_is_a_window_of_the_zero_padded_image():
    x, pad = _images(batch=12, size=6, channels=2), 2
    out = augment_cifar(x, _seed(3), pad=pad, fill=0.0).numpy()
    padded = np.pad(x, [(0, 0), (pad, pad), (pad, pad), (0, 0)])
    assert len(_windows(out, padded, 6, pad)) > 1  # per-image offsets


def test_inside_tf_function_matches_eager():
    x = tf.constant(_images())
    compiled = tf.function(lambda images, seed: augment_cifar(images, seed))
    np.testing.assert_array_equal(compiled(x, _seed(4)).numpy(), augment_cifar(x, _seed(4)).numpy())
    # a new seed value is a new tensor, not a retrace, and changes the result
    assert not np.array_equal(compiled(x, _seed(5)).numpy(), compiled(x, _seed(4)).numpy())


def test_pack_members_depend_only_on_their_seed():
    x = np.stack([_images(batch=5), _images(batch=5)[::-1]])  # (P=2, B=5, 8, 8, 3)
    seeds = tf.constant([[1, 2], [7, 8]], tf.int32)
    packed = tf.function(augment_cifar_pack)(tf.constant(x), seeds).numpy()
    assert packed.shape == x.shape
    for p in range(2):
        np.testing.assert_array_equal(packed[p], augment_cifar(x[p], seeds[p]).numpy())
