"""CIFAR shifted sets: CIFAR-10-C / SVHN under TFDS mock data, CIFAR-100-C from a fake release,
and the offline fail-fast."""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import benchmarks.data.shift_tfds  # noqa: F401  (registers the cifar10 / cifar100 families)
from benchmarks.data.base import Splits
from benchmarks.data.shift import SHIFTS, ShiftOptions, get_shifted
from benchmarks.data.shift_tfds import (
    CIFAR10_CORRUPTIONS,
    CIFAR100_CORRUPTIONS,
    CORRUPTIONS,
    release_file,
)
from benchmarks.data.tfds_sets import CIFAR_MEAN, CIFAR_STD
from benchmarks.errors import DatasetUnavailableError, HyperensError

tfds = pytest.importorskip("tensorflow_datasets")
REPO = Path(__file__).resolve().parents[2]
N = 20  # mock examples, as in the other TFDS tests


@pytest.fixture(scope="module")
def cifar() -> Splits:
    """A tiny stand-in for the clean cifar splits: only its normalisation matters here."""
    x = np.zeros((2, 32, 32, 3), np.float32)
    y = np.zeros(2, np.int32)
    return Splits("cifar10", x, y, x.copy(), y.copy(), x.copy(), y.copy(), 10, "cifar",
                  CIFAR_MEAN, CIFAR_STD)  # fmt: skip


def test_families_offer_the_released_code_corruptions_and_svhn():
    # baselines/cifar/utils.py load_corrupted_test_info in google/uncertainty-baselines
    ub_cifar10 = ["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur",
                  "frosted_glass_blur", "motion_blur", "zoom_blur", "snow", "frost", "fog",
                  "brightness", "contrast", "elastic", "pixelate", "jpeg_compression"]  # fmt: skip
    ub_cifar100 = ["brightness", "contrast", "defocus_blur", "elastic_transform", "fog", "frost",
                   "glass_blur", "gaussian_blur", "gaussian_noise", "impulse_noise",
                   "jpeg_compression", "pixelate", "saturate", "shot_noise", "spatter",
                   "speckle_noise", "zoom_blur"]  # fmt: skip
    assert list(SHIFTS.get("cifar10").corruptions) == ub_cifar10 == list(CIFAR10_CORRUPTIONS)
    assert CORRUPTIONS == CIFAR10_CORRUPTIONS
    c100 = SHIFTS.get("cifar100").corruptions
    assert c100 == CIFAR100_CORRUPTIONS and len(c100) == 17
    assert [release_file(c) for c in c100] == [f"{c}.npy" for c in ub_cifar100]
    assert {"motion_blur", "snow"}.isdisjoint(c100)  # in the public release, not read by UB
    assert {"gaussian_blur", "saturate", "spatter", "speckle_noise"} <= set(c100)
    for name in ("cifar10", "cifar100"):
        assert SHIFTS.get(name).ood == ("svhn",)
    assert {"frosted_glass_blur", "elastic"} <= set(CORRUPTIONS)  # TFDS's config names


def test_cifar100_all_corruptions_read_the_17_release_files(cifar, tmp_path):
    root = _fake_release(tmp_path / "c100", corruptions=CIFAR100_CORRUPTIONS, block=2)
    sets = get_shifted("cifar100", cifar, ShiftOptions(severities=(3,), ood=(),
                                                       corrupted_dir=str(root)))  # fmt: skip
    assert [s.name for s in sets] == [f"{c}_3" for c in CIFAR100_CORRUPTIONS]
    x, y = sets[-1].load()
    assert x.shape == (2, 32, 32, 3) and y.tolist() == [0, 30]
    (root / "spatter.npy").unlink()
    with pytest.raises(DatasetUnavailableError, match="spatter.npy is missing"):
        get_shifted("cifar100", cifar, ShiftOptions(ood=(), corrupted_dir=str(root)))


def test_cifar10_mock_corruptions_and_svhn(cifar, tmp_path):
    options = ShiftOptions(("gaussian_noise", "fog"), (5, 1), ("svhn",), data_dir=str(tmp_path))
    with tfds.testing.mock_data(num_examples=N):
        sets = get_shifted("cifar10", cifar, options)
        assert [s.name for s in sets] == [
            "gaussian_noise_1", "gaussian_noise_5", "fog_1", "fog_5", "ood_svhn"
        ]  # fmt: skip
        loaded = {s.name: s.load() for s in sets}
        few = get_shifted("cifar10", cifar, ShiftOptions(("fog",), (3,), (), max_examples=7))
        assert [s.name for s in few] == ["fog_3"]
        few_x, few_y = few[0].load()
    for name, (x, y) in loaded.items():
        assert x.shape == (N, 32, 32, 3) and x.dtype == np.float32 and y.dtype == np.int32
        pixels = cifar.pixels(x)
        assert pixels.min() >= -1e-6 and pixels.max() <= 1 + 1e-6
        np.testing.assert_allclose(pixels * 255, np.round(pixels * 255), atol=1e-3)  # from uint8
        if name == "ood_svhn":
            assert (y == -1).all()
        else:
            assert y.min() >= 0 and y.max() < 10
    assert few_x.shape == (7, 32, 32, 3) and few_y.shape == (7,)


def test_unknown_corruption_is_one_line(cifar):
    with pytest.raises(HyperensError) as info:
        get_shifted("cifar10", cifar, ShiftOptions(corruptions=("glass_blur",)))
    message = str(info.value)
    assert "\n" not in message and "'glass_blur'" in message and "frosted_glass_blur" in message


def test_cifar10_unprepared_fails_fast_naming_the_dataset(cifar, tmp_path):
    start = time.monotonic()
    with pytest.raises(DatasetUnavailableError) as info:
        get_shifted("cifar10", cifar, ShiftOptions(data_dir=str(tmp_path)))  # all 15 x 5 + svhn
    assert time.monotonic() - start < 15
    message = str(info.value)
    assert "\n" not in message and str(tmp_path) in message
    assert "'cifar10_corrupted/gaussian_noise_1'" in message and "75 more" in message
    with pytest.raises(DatasetUnavailableError, match="'svhn_cropped'.*data_options.data_dir"):
        get_shifted("cifar10", cifar, ShiftOptions((), ood=("svhn",), data_dir=str(tmp_path)))


def test_unprepared_in_a_fresh_process_imports_no_tensorflow(tmp_path):
    code = (
        "import sys\n"
        "import benchmarks.data.shift_tfds\n"
        "from benchmarks.data.base import Splits\n"
        "from benchmarks.data.shift import ShiftOptions, get_shifted\n"
        "from benchmarks.errors import DatasetUnavailableError\n"
        "import numpy as np\n"
        "x, y = np.zeros((1, 32, 32, 3), np.float32), np.zeros(1, np.int32)\n"
        "data = Splits('cifar10', x, y, x, y, x, y, 10)\n"
        "try:\n"
        f"    get_shifted('cifar10', data, ShiftOptions(data_dir={str(tmp_path)!r}))\n"
        "except DatasetUnavailableError:\n"
        "    print('tensorflow' in sys.modules)\n"
    )
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert time.monotonic() - start < 15
    assert out.stdout.split() == ["False"], out.stdout + out.stderr


def _fake_release(root: Path, corruptions=("gaussian_noise", "frosted_glass_blur"), block=4):
    """A CIFAR-100-C release with `block` images per severity; severity s's pixels are 50 * s."""
    root.mkdir(exist_ok=True)
    images = np.repeat(np.arange(1, 6, dtype=np.uint8) * 50, block)[:, None, None, None]
    images = np.broadcast_to(images, (5 * block, 32, 32, 3))
    for c in corruptions:
        np.save(root / release_file(c), images)
    np.save(root / "labels.npy", np.tile(np.arange(block) * 30, 5))  # int64, like the release
    return root


def test_cifar100_release_severity_blocks(cifar, tmp_path):
    root = _fake_release(tmp_path / "c100")
    options = ShiftOptions(
        ("frosted_glass_blur", "gaussian_noise"), (4, 2), (), corrupted_dir=str(root)
    )
    sets = get_shifted("cifar100", cifar, options)
    assert [s.name for s in sets] == [
        "frosted_glass_blur_2", "frosted_glass_blur_4", "gaussian_noise_2", "gaussian_noise_4"
    ]  # fmt: skip
    for s in sets:
        x, y = s.load()
        want = (np.full((4, 32, 32, 3), 50 * s.severity, np.float32) / 255 - CIFAR_MEAN) / CIFAR_STD
        assert x.dtype == np.float32 and x.shape == (4, 32, 32, 3)
        np.testing.assert_allclose(x, want, rtol=1e-6)
        assert y.dtype == np.int32 and y.tolist() == [0, 30, 60, 90]
    few = get_shifted(
        "cifar100", cifar, ShiftOptions(("gaussian_noise",), (5,), (), 3, None, str(root))
    )
    x, y = few[0].load()
    assert x.shape == (3, 32, 32, 3) and y.tolist() == [0, 30, 60]
    np.testing.assert_allclose(cifar.pixels(x), 250 / 255, atol=1e-6)


def test_cifar100_missing_release_is_one_line(cifar, tmp_path):
    root = _fake_release(tmp_path / "c100", corruptions=("gaussian_noise",))
    cases = [
        (None, "shift_options.corrupted_dir"),
        (str(tmp_path / "nowhere"), "nowhere does not exist"),
        (str(root), "glass_blur.npy is missing.*'frosted_glass_blur'"),
    ]
    for corrupted_dir, match in cases:
        with pytest.raises(DatasetUnavailableError, match=match) as info:
            options = ShiftOptions(("gaussian_noise", "frosted_glass_blur"), ood=(),
                                   corrupted_dir=corrupted_dir)  # fmt: skip
            get_shifted("cifar100", cifar, options)
        assert "\n" not in str(info.value)
    (root / "labels.npy").unlink()
    with pytest.raises(DatasetUnavailableError, match="labels.npy is missing"):
        get_shifted(
            "cifar100", cifar, ShiftOptions(("gaussian_noise",), ood=(), corrupted_dir=str(root))
        )
    # no corruptions requested: no directory needed
    assert get_shifted("cifar100", cifar, ShiftOptions((), ood=())) == []


def test_cifar100_svhn_under_mock(cifar, tmp_path):
    root = _fake_release(tmp_path / "c100")
    options = ShiftOptions(("gaussian_noise",), (1,), ("svhn",), data_dir=str(tmp_path),
                           corrupted_dir=str(root))  # fmt: skip
    with tfds.testing.mock_data(num_examples=N):
        sets = get_shifted("cifar100", cifar, options)
        assert [s.name for s in sets] == ["gaussian_noise_1", "ood_svhn"]
        x, y = sets[1].load()
    assert x.shape == (N, 32, 32, 3) and (y == -1).all()
