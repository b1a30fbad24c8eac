"""CIFAR augmentation: stateless, seeded, per-image pad + crop + flip."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from benchmarks.data.augment import augment_cifar, augment_cifar_pack  # noqa: E402


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


def test_each_output_is_a_window_of_the_zero_padded_image():
    x, pad = _images(batch=12, size=6, channels=2), 2
    out = augment_cifar(x, _seed(3), pad=pad).numpy()
    padded = np.pad(x, [(0, 0), (pad, pad), (pad, pad), (0, 0)])
    offsets = set()
    for o, p in zip(out, padded, strict=True):
        windows = [
            (dy, dx, flip)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            for flip in (False, True)
            if np.array_equal(o, (p[:, ::-1] if flip else p)[dy : dy + 6, dx : dx + 6])
        ]
        assert windows, "output is not a (flipped) crop of the padded image"
        offsets.add(windows[0][:2])
    assert len(offsets) > 1  # per-image offsets


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
