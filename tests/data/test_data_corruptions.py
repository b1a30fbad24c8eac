"""MNIST-C-style corruptions: determinism, severity ordering, hand-checked values, errors."""

import zlib

import numpy as np
import pytest
from scipy import ndimage

from benchmarks.data import corruptions as C
from benchmarks.data import get_dataset
from benchmarks.data.corruptions import CORRUPTIONS, PARAMS, corrupt
from benchmarks.errors import HyperensError, UnknownNameError

RANDOM = ("gaussian_noise", "shot_noise", "impulse_noise", "rotation", "shear", "translation")


@pytest.fixture(scope="module")
def digits():
    return get_dataset("digits")


@pytest.fixture(scope="module")
def digit_pixels(digits):
    return np.clip(digits.pixels(digits.x_test), 0, 1)


@pytest.fixture(scope="module")
def mnist_pixels():
    mnist = get_dataset("mnist5k")
    return np.clip(mnist.pixels(mnist.x_test[:64]), 0, 1)


def test_params_table_is_pinned_and_monotone():
    assert CORRUPTIONS == tuple(PARAMS)
    assert PARAMS == {
        "gaussian_noise": (0.1, 0.2, 0.3, 0.4, 0.5),
        "shot_noise": (60.0, 25.0, 12.0, 5.0, 3.0),
        "impulse_noise": (0.03, 0.06, 0.09, 0.17, 0.27),
        "gaussian_blur": (0.6, 1.0, 1.5, 2.0, 2.5),
        "rotation": (15.0, 30.0, 45.0, 60.0, 75.0),
        "shear": (0.15, 0.3, 0.45, 0.6, 0.75),
        "translation": (0.04, 0.08, 0.12, 0.16, 0.2),
        "contrast": (0.4, 0.3, 0.2, 0.1, 0.05),
        "pixelation": (0.75, 0.6, 0.5, 0.4, 0.3),
    }
    harder_when_smaller = {"shot_noise", "contrast", "pixelation"}
    for name, values in PARAMS.items():
        steps = np.diff(values)
        assert (steps < 0).all() if name in harder_when_smaller else (steps > 0).all(), name


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_shape_range_determinism_and_severities_differ(name, mnist_pixels):
    before = mnist_pixels.copy()
    outs = [corrupt(mnist_pixels, name, s, seed=3) for s in range(1, 6)]
    np.testing.assert_array_equal(mnist_pixels, before)  # input untouched
    for s, out in enumerate(outs, start=1):
        assert out.shape == mnist_pixels.shape and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
        np.testing.assert_array_equal(out, corrupt(mnist_pixels, name, s, seed=3))
        assert not np.array_equal(out, mnist_pixels)
    for a, b in zip(outs, outs[1:], strict=False):
        assert not np.array_equal(a, b)
    other_seed = corrupt(mnist_pixels, name, 3, seed=4)
    assert np.array_equal(other_seed, outs[2]) == (name not in RANDOM)


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_8x8_digits_work_and_severities_differ(name, digit_pixels):
    x = digit_pixels[:64]
    outs = [corrupt(x, name, s) for s in range(1, 6)]
    assert all(o.shape == x.shape and o.dtype == np.float32 for o in outs)
    for a, b in zip(outs, outs[1:], strict=False):
        assert not np.array_equal(a, b)


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_mean_change_non_decreasing_in_severity(name, digit_pixels, mnist_pixels):
    for x in (digit_pixels, mnist_pixels):
        diffs = [np.abs(corrupt(x, name, s) - x).mean() for s in range(1, 6)]
        assert np.all(np.diff(diffs) >= 0), (name, x.shape, diffs)
        assert diffs[-1] > diffs[0]


@pytest.fixture(scope="module")
def digits_model(digits):
    from sklearn.linear_model import LogisticRegression

    x = np.clip(digits.pixels(digits.x_train), 0, 1).reshape(len(digits.x_train), -1)
    return LogisticRegression(max_iter=1000).fit(x, digits.y_train)


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_accuracy_falls_with_severity(name, digits, digit_pixels, digits_model):
    def accuracy(x):
        return (digits_model.predict(x.reshape(len(x), -1)) == digits.y_test).mean()

    clean = accuracy(digit_pixels)
    accs = [accuracy(corrupt(digit_pixels, name, s)) for s in range(1, 6)]
    assert clean > 0.9
    assert accs[0] <= clean + 0.02
    assert accs[-1] < accs[0] - 0.05, accs
    assert np.all(np.diff(accs) <= 0.02), accs


def test_contrast_by_hand():
    const = np.full((2, 5, 5, 1), 0.3, np.float32)
    np.testing.assert_allclose(corrupt(const, "contrast", 5), const, atol=1e-7)
    half = np.zeros((1, 4, 4, 1), np.float32)
    half[0, :2] = 1.0  # mean 0.5
    out = corrupt(half, "contrast", 1)  # c = 0.4: 0.5 +- 0.2
    np.testing.assert_allclose(out[0, :2], 0.7, atol=1e-7)
    np.testing.assert_allclose(out[0, 2:], 0.3, atol=1e-7)


def test_pixelation_by_hand():
    x = np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1], [0.5, 0.5, 1, 1]], np.float32).reshape(
        1, 4, 4, 1
    )
    out = corrupt(x, "pixelation", 3)[0, :, :, 0]  # f = 0.5: 2x2 blocks -> their mean
    expected = np.array(
        [[0.25, 0.25, 0, 0], [0.25, 0.25, 0, 0], [0.25, 0.25, 1, 1], [0.25, 0.25, 1, 1]]
    )
    np.testing.assert_allclose(out, expected, atol=1e-7)


def test_translation_moves_a_single_pixel_by_whole_pixels():
    x = np.zeros((6, 25, 25, 1), np.float32)
    x[:, 12, 12] = 1.0
    signs = C._signs("translation", 7, (6, 2))
    assert {tuple(s) for s in signs} <= {(-1, -1), (-1, 1), (1, -1), (1, 1)}
    for severity in range(1, 6):  # f * 25 = 1, 2, 3, 4, 5 pixels per axis
        out = corrupt(x, "translation", severity, seed=7)
        for i, (sy, sx) in enumerate(signs):
            expected = np.zeros((25, 25), np.float32)
            expected[12 + sy * severity, 12 + sx * severity] = 1.0
            np.testing.assert_array_equal(out[i, :, :, 0], expected)


def test_gaussian_noise_formula_and_stream():
    x = np.full((3, 6, 6, 1), 0.5, np.float32)
    z = np.random.default_rng([5, zlib.crc32(b"gaussian_noise")]).standard_normal(
        x.shape, dtype=np.float32
    )
    for severity, std in enumerate(PARAMS["gaussian_noise"], start=1):
        expected = np.clip(x + np.float32(std) * z, 0, 1)
        np.testing.assert_array_equal(corrupt(x, "gaussian_noise", severity, seed=5), expected)


def test_impulse_noise_hits_are_nested_salt_or_pepper_at_rate_p():
    grey = np.full((50, 28, 28, 1), 0.5, np.float32)  # every hit changes the pixel
    prev = np.zeros(grey.shape, bool)
    for severity, p in enumerate(PARAMS["impulse_noise"], start=1):
        out = corrupt(grey, "impulse_noise", severity)
        hit = out != 0.5
        assert np.isin(out[hit], (0.0, 1.0)).all()
        assert hit[prev].all()  # the pixels hit at a lower severity are hit again
        assert abs(hit.mean() - p) < 0.005  # 39,200 pixels
        assert abs((out[hit] == 1.0).mean() - 0.5) < 0.05
        prev = hit


def test_shot_noise_keeps_black_black_and_is_a_photon_count(mnist_pixels):
    lam = PARAMS["shot_noise"][4]
    out = corrupt(mnist_pixels, "shot_noise", 5)
    assert (out[mnist_pixels == 0] == 0).all()
    counts = out * lam
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-5)


def test_warp_matches_scipy_bilinear_with_zero_border():
    rng = np.random.default_rng(0)
    x = rng.random((3, 11, 9, 1))
    t = np.deg2rad(33)
    m = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    off = np.array([1.3, -0.7])
    ours = C._warp(x, m, off)
    for i in range(3):
        ref = ndimage.affine_transform(x[i, :, :, 0], m, off, order=1, mode="grid-constant")
        np.testing.assert_allclose(ours[i, :, :, 0], ref, atol=1e-12)


def test_rotation_direction_and_angle():
    x = np.zeros((16, 21, 21, 1), np.float32)
    x[:, 0:3, 9:12] = 1.0  # a blob straight above the centre (10, 10), at radius 9
    signs = C._signs("rotation", 0, (16,))
    assert 0 < (signs > 0).sum() < 16  # a seeded sign per image, not one for the batch
    out = corrupt(x, "rotation", 1)  # 15 degrees
    rows, cols = np.mgrid[0:21, 0:21]
    for img, sign in zip(out[:, :, :, 0], signs, strict=True):
        cy, cx = (img * rows).sum() / img.sum(), (img * cols).sum() / img.sum()
        t = np.deg2rad(15 * sign)  # counter-clockwise (leftwards from the top) if positive
        np.testing.assert_allclose([cy, cx], [10 - 9 * np.cos(t), 10 - 9 * np.sin(t)], atol=0.1)


def test_shear_keeps_the_centre_row_and_moves_others_opposite_ways():
    x = np.zeros((8, 9, 9, 1), np.float32)
    x[:, :, 4] = 1.0  # a vertical line through the centre column
    signs = C._signs("shear", 0, (8,))
    out = corrupt(x, "shear", 5)  # k = 0.75: row r moves by s * 0.75 * (r - 4)
    cols = np.arange(9)
    for img, s in zip(out[:, :, :, 0], signs, strict=True):
        np.testing.assert_array_equal(img[4], x[0, 4, :, 0])
        for r in (0, 2, 6, 8):
            centre = (img[r] * cols).sum() / img[r].sum()
            assert centre == pytest.approx(4 + s * 0.75 * (r - 4), abs=1e-6)


def test_blur_sigma_scales_with_image_size():
    big = np.zeros((1, 28, 28, 1), np.float32)
    big[0, 14, 14] = 1.0
    out = corrupt(big, "gaussian_blur", 3)[0, :, :, 0]  # sigma 1.5 pixels
    ref = ndimage.gaussian_filter(big[0, :, :, 0], 1.5, mode="constant")
    np.testing.assert_allclose(out, ref, atol=1e-7)
    small = np.zeros((1, 8, 8, 1), np.float32)
    small[0, 4, 4] = 1.0
    out = corrupt(small, "gaussian_blur", 3)[0, :, :, 0]
    ref = ndimage.gaussian_filter(small[0, :, :, 0], 1.5 * 8 / 28, mode="constant")
    np.testing.assert_allclose(out, ref, atol=1e-7)


def test_errors():
    x = np.zeros((1, 8, 8, 1), np.float32)
    with pytest.raises(UnknownNameError) as err:
        corrupt(x, "fog", 1)
    assert "\n" not in str(err.value) and "gaussian_noise" in str(err.value)
    assert str(err.value).startswith("unknown corruption 'fog'")
    for bad in (0, 6, 2.5, True):
        with pytest.raises(HyperensError, match="severity"):
            corrupt(x, "contrast", bad)
    with pytest.raises(HyperensError, match="N, H, W, C"):
        corrupt(x[0], "contrast", 1)
