"""Offline OOD sets and the mnist5k / digits shifted-set families."""

import numpy as np
import pytest

import benchmarks.data.shift_offline as so
from benchmarks.data import get_dataset
from benchmarks.data import ood_offline as ood
from benchmarks.data.base import Splits
from benchmarks.data.corruptions import CORRUPTIONS, _area_matrix, corrupt
from benchmarks.data.shift import SHIFTS, ShiftOptions, get_shifted
from benchmarks.errors import HyperensError

OOD = ("natural_patches", "uniform_noise", "inverted")


@pytest.fixture(scope="module")
def mnist() -> Splits:
    return get_dataset("mnist5k")


@pytest.fixture(scope="module")
def small(mnist) -> Splits:
    """mnist5k with its first 120 test images: the same family, generated quickly."""
    return Splits(
        name="mnist5k",
        x_train=mnist.x_train[:10],
        y_train=mnist.y_train[:10],
        x_val=mnist.x_val[:10],
        y_val=mnist.y_val[:10],
        x_test=mnist.x_test[:120],
        y_test=mnist.y_test[:120],
        num_classes=10,
        pixel_mean=mnist.pixel_mean,
        pixel_std=mnist.pixel_std,
    )


def _clean(data: Splits) -> np.ndarray:
    return np.clip(data.pixels(data.x_test), 0, 1)


# --- OOD generators ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["natural_patches", "uniform_noise"])
@pytest.mark.parametrize("size", [(28, 28), (8, 8), (12, 20)])
def test_generated_ood_shape_range_determinism(name, size):
    make = getattr(ood, name)
    x = make(40, *size, seed=1)
    assert x.shape == (40, *size, 1) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    np.testing.assert_array_equal(x, make(40, *size, seed=1))
    assert not np.array_equal(x, make(40, *size, seed=2))
    per_image_std = x.reshape(40, -1).std(axis=1)
    assert (per_image_std > 0).all()  # no constant image
    assert (per_image_std > 0.01).mean() > 0.5  # (smooth sky / petal patches are allowed)
    assert not np.allclose(x[0], x[1])


def test_uniform_noise_statistics():
    x = ood.uniform_noise(200, 28, 28, seed=0)
    assert abs(x.mean() - 0.5) < 0.01 and abs(x.std() - np.sqrt(1 / 12)) < 0.01


def test_natural_patches_look_like_photos_not_digits():
    x = ood.natural_patches(200, 28, 28, seed=0)
    assert 0.2 < x.mean() < 0.8  # mid-grey, not a black background
    assert (x < 0.05).mean() < 0.3
    # neighbouring pixels are strongly correlated (natural images), unlike noise
    a, b = x[:, :, :-1].ravel(), x[:, :, 1:].ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.8


def test_sample_photos_equal_sklearn_loader():
    from sklearn.datasets import load_sample_images

    ours = ood._sample_images()
    ref = load_sample_images().images
    assert len(ours) == len(ref) == 2
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_array_equal(a, b)


def test_box_resample_is_exact_area_averaging():
    rng = np.random.default_rng(0)
    photo = rng.random((40, 50))
    top, left = np.array([0, 3, 7]), np.array([0, 11, 2])
    ph, pw = np.array([40, 17, 9]), np.array([50, 23, 8])
    out = ood.box_resample(photo, top, left, ph, pw, 6, 7)
    for i in range(3):
        patch = photo[top[i] : top[i] + ph[i], left[i] : left[i] + pw[i]]
        ref = _area_matrix(6, ph[i]) @ patch @ _area_matrix(7, pw[i]).T
        np.testing.assert_allclose(out[i], ref, atol=1e-10)
    # whole-block case by hand: a 4x4 window to 2x2 = block means
    block = ood.box_resample(
        photo, np.array([0]), np.array([0]), np.array([4]), np.array([4]), 2, 2
    )
    np.testing.assert_allclose(block[0, 0, 1], photo[:2, 2:4].mean(), atol=1e-12)


def test_inverted_is_one_minus_clean(mnist):
    clean = _clean(mnist)[:50]
    inv = ood.inverted(clean)
    assert inv.dtype == np.float32
    np.testing.assert_array_equal(inv, 1 - clean)


# --- the families -----------------------------------------------------------------------------


def test_families_registered():
    for name in ("mnist5k", "digits"):
        family = SHIFTS.get(name)
        assert family.corruptions == CORRUPTIONS and family.ood == OOD


def test_default_sets_names_order_counts(small):
    sets = get_shifted("mnist5k", small, ShiftOptions())
    expected = [f"{c}_{s}" for c in CORRUPTIONS for s in range(1, 6)]
    expected += ["ood_natural_patches", "ood_uniform_noise", "ood_inverted"]
    assert [s.name for s in sets] == expected
    assert len(sets) == 9 * 5 + 3 == 48
    assert [s.kind for s in sets] == ["corruption"] * 45 + ["ood"] * 3
    assert [s.severity for s in sets[-3:]] == [0, 0, 0]


def test_chosen_subset_severities_ascending(small):
    options = ShiftOptions(corruptions=("shear", "contrast"), severities=(4, 2), ood=("inverted",))
    sets = get_shifted("mnist5k", small, options)
    names = ["shear_2", "shear_4", "contrast_2", "contrast_4", "ood_inverted"]
    assert [s.name for s in sets] == names
    assert get_shifted("mnist5k", small, ShiftOptions(corruptions=(), ood=())) == []


@pytest.mark.parametrize(
    "options, bad",
    [(ShiftOptions(corruptions=("fog",)), "'fog'"), (ShiftOptions(ood=("svhn",)), "'svhn'")],
)
def test_unknown_names_one_line_error(small, options, bad):
    with pytest.raises(HyperensError) as err:
        get_shifted("mnist5k", small, options)
    message = str(err.value)
    assert "\n" not in message and bad in message and "valid:" in message


def test_corruption_sets_are_corrupted_normalised_test_images(small):
    sets = get_shifted("mnist5k", small, ShiftOptions(ood=()))
    for s in sets:
        x, y = s.load()
        assert x.shape == small.x_test.shape and x.dtype == np.float32
        assert y.dtype == np.int32
        np.testing.assert_array_equal(y, small.y_test)
        assert not x.flags.writeable and not y.flags.writeable
        pixels = small.pixels(x)
        assert pixels.min() >= -1e-6 and pixels.max() <= 1 + 1e-6
        expected = corrupt(_clean(small), s.source, s.severity, seed=so.CORRUPTION_SEED)
        np.testing.assert_array_equal(x, small.normalise(expected))


def test_ood_sets(small):
    sets = get_shifted("mnist5k", small, ShiftOptions(corruptions=()))
    loaded = {s.source: s.load() for s in sets}
    assert list(loaded) == list(OOD)
    for x, y in loaded.values():
        assert x.shape == small.x_test.shape and x.dtype == np.float32
        assert y.dtype == np.int32 and (y == -1).all() and len(y) == len(small.x_test)
        assert not x.flags.writeable
        pixels = small.pixels(x)
        assert pixels.min() >= -1e-6 and pixels.max() <= 1 + 1e-6
    np.testing.assert_array_equal(loaded["inverted"][0], small.normalise(1 - _clean(small)))
    n, h, w = small.x_test.shape[:3]
    patches = ood.natural_patches(n, h, w, seed=so.OOD_SEED)
    np.testing.assert_array_equal(loaded["natural_patches"][0], small.normalise(patches))


def test_max_examples_prefix_of_full_sets(small):
    names = ("rotation", "gaussian_noise")
    full = get_shifted("mnist5k", small, ShiftOptions(corruptions=names, severities=(2,)))
    cut = get_shifted(
        "mnist5k", small, ShiftOptions(corruptions=names, severities=(2,), max_examples=7)
    )
    huge = get_shifted(
        "mnist5k", small, ShiftOptions(corruptions=names, severities=(2,), max_examples=10**6)
    )
    for a, b, c in zip(full, cut, huge, strict=True):
        (xa, ya), (xb, yb), (xc, _) = a.load(), b.load(), c.load()
        assert len(xb) == len(yb) == 7 and len(xc) == len(xa) == 120
        np.testing.assert_array_equal(xb, xa[:7])
        np.testing.assert_array_equal(yb, ya[:7])


def test_cached_and_independent_of_the_splits_object(small, mnist):
    options = ShiftOptions(corruptions=("shot_noise",), severities=(3,), ood=())
    a = get_shifted("mnist5k", small, options)[0].load()[0]
    b = get_shifted("mnist5k", small, ShiftOptions(corruptions=("shot_noise",), ood=()))[2]
    assert b.load()[0] is a  # same cached array, whatever the other options
    copy = Splits(**{f: getattr(small, f) for f in small.__dataclass_fields__})
    assert get_shifted("mnist5k", copy, options)[0].load()[0] is a
    other = get_dataset("mnist5k", split_seed=1)  # different test images: not the cache entry
    c = get_shifted("mnist5k", other, options)[0].load()[0]
    assert c.shape == (1000, 28, 28, 1) and not np.array_equal(c[:120], a)


def test_digits_family(mnist):
    digits = get_dataset("digits")
    sets = get_shifted(
        "digits", digits, ShiftOptions(corruptions=("pixelation",), severities=(5,), max_examples=9)
    )
    assert [s.name for s in sets] == ["pixelation_5", *(f"ood_{o}" for o in OOD)]
    for s in sets:
        x, y = s.load()
        assert x.shape == (9, 8, 8, 1) and y.shape == (9,)
        pixels = digits.pixels(x)
        assert pixels.min() >= -1e-6 and pixels.max() <= 1 + 1e-6
    np.testing.assert_array_equal(sets[0].load()[1], digits.y_test[:9])


def test_mnist5k_and_digits_sets_are_those_results_quick_was_made_with():
    """The offline shifted sets of mnist5k and digits, pinned: this digest was computed with
    the code of commit 2aa2547 (results/quick's family of sets); Fashion-MNIST's own OOD set
    (MNIST digits) was added beside them without changing them."""
    import hashlib

    from benchmarks.data import get_dataset
    from benchmarks.data.shift import ShiftOptions, get_shifted

    h = hashlib.sha256()
    for name in ("mnist5k", "digits"):
        data = get_dataset(name, split_seed=3)
        for s in get_shifted(name, data, ShiftOptions(max_examples=200)):
            x, y = s.load()
            h.update(s.name.encode())
            h.update(np.ascontiguousarray(x).tobytes())
            h.update(y.tobytes())
    assert h.hexdigest() == "d3be41edc96079452037bb8da4caf52286034c5689f2fa67a8c731ec685b1af8"
