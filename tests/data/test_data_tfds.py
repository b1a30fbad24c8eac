"""TFDS datasets: mock data, a tiny really-prepared cifar10, and the offline fail-fast."""

import os
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from benchmarks.data import get_dataset
from benchmarks.data.base import round_half_up
from benchmarks.data.tfds_sets import CIFAR_MEAN, CIFAR_STD
from benchmarks.errors import DatasetUnavailableError, HyperensError

tfds = pytest.importorskip("tensorflow_datasets")
REPO = Path(__file__).resolve().parents[2]
CASES = {  # name: (shape, num_classes, mean, std, augment)
    "cifar10": ((32, 32, 3), 10, CIFAR_MEAN, CIFAR_STD, "cifar"),
}  # fashion_mnist's TFDS path: tests/data/test_data_fashion_mnist.py


def _raw(name: str, split: str, data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    builder = tfds.builder(name, data_dir=data_dir, try_gcs=False)
    ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
    pairs = list(tfds.as_numpy(ds))
    return np.stack([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def _unnormalise(x: np.ndarray, mean, std) -> np.ndarray:
    return x * np.asarray(std, np.float32) + np.asarray(mean, np.float32)


@pytest.mark.parametrize("name", sorted(CASES))
def test_mock_data_tail_carve_and_normalisation(name, tmp_path):
    shape, num_classes, mean, std, augment = CASES[name]
    # mock_data patches DatasetBuilder.as_dataset, which is where the loader checks preparedness,
    # so the (empty) data_dir below is never consulted.
    with tfds.testing.mock_data(num_examples=40):
        splits = get_dataset(name, data_dir=str(tmp_path))
        raw_x, raw_y = _raw(name, "train")  # mock train and test serve the same 40 examples
    assert splits.input_shape == shape
    assert splits.num_classes == num_classes and splits.augment == augment
    assert (len(splits.y_train), len(splits.y_val), len(splits.y_test)) == (38, 2, 40)
    assert splits.x_train.dtype == np.float32 and splits.y_train.dtype == np.int32
    np.testing.assert_allclose(_unnormalise(splits.x_train, mean, std), raw_x[:38] / 255, atol=1e-6)
    np.testing.assert_allclose(_unnormalise(splits.x_val, mean, std), raw_x[38:] / 255, atol=1e-6)
    np.testing.assert_array_equal(splits.y_val, raw_y[38:])  # val = the last 5% of train
    np.testing.assert_array_equal(splits.y_test, raw_y)
    for y in (splits.y_train, splits.y_val, splits.y_test):
        assert y.min() >= 0 and y.max() < num_classes


def test_mock_data_random_carve_is_stratified_and_seeded():
    with tfds.testing.mock_data(num_examples=200):
        a = get_dataset("cifar10", val_from="random", val_fraction=0.2, split_seed=1)
        b = get_dataset("cifar10", val_from="random", val_fraction=0.2, split_seed=1)
        c = get_dataset("cifar10", val_from="random", val_fraction=0.2, split_seed=2)
        _, raw_y = _raw("cifar10", "train")
    expected = [round_half_up(0.2 * n) for n in np.bincount(raw_y, minlength=10)]
    assert np.bincount(a.y_val, minlength=10).tolist() == expected
    assert len(a.y_train) + len(a.y_val) == 200
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.x_val, c.x_val)


@pytest.mark.parametrize(
    "options", [{"val_fraction": 0.0}, {"val_fraction": 1.5}, {"val_from": "head"}]
)
def test_bad_options_fail_before_reading(options, tmp_path):
    with pytest.raises(HyperensError):
        get_dataset("cifar10", data_dir=str(tmp_path), **options)


def test_unprepared_dataset_fails_fast_naming_data_dir(tmp_path):
    start = time.monotonic()
    with pytest.raises(DatasetUnavailableError) as info:
        get_dataset("cifar100", data_dir=str(tmp_path))
    assert time.monotonic() - start < 15
    message = str(info.value)
    assert "\n" not in message
    assert "'cifar100'" in message and str(tmp_path) in message and "data_dir" in message


def test_unprepared_message_lists_other_versions(tmp_path):
    (tmp_path / "cifar10" / "0.9.0").mkdir(parents=True)
    with pytest.raises(DatasetUnavailableError, match="found only 0.9.0"):
        get_dataset("cifar10", data_dir=str(tmp_path))


def test_fail_fast_in_a_fresh_process_imports_no_tensorflow(tmp_path):
    code = (
        "import sys, time; t = time.monotonic()\n"
        "from benchmarks.data import get_dataset\n"
        "from benchmarks.errors import DatasetUnavailableError\n"
        "try:\n"
        f"    get_dataset('cifar10', data_dir={str(tmp_path)!r})\n"
        "except DatasetUnavailableError:\n"
        "    print(round(time.monotonic() - t, 2), 'tensorflow' in sys.modules)\n"
    )
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert time.monotonic() - start < 15
    assert out.stdout.split()[1] == "False", out.stdout + out.stderr


def _write_fake_cifar10(src: Path, n_per_batch: int, n_test: int) -> None:
    """The binary layout of cifar-10-batches-bin: per record 1 label byte + 3072 pixel bytes."""
    folder = src / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    files = [(f"data_batch_{i}.bin", n_per_batch) for i in range(1, 6)]
    for fname, n in [*files, ("test_batch.bin", n_test)]:
        labels = rng.integers(0, 10, (n, 1))
        pixels = rng.integers(0, 256, (n, 3072))
        np.concatenate([labels, pixels], axis=1).astype(np.uint8).tofile(folder / fname)
    (folder / "batches.meta.txt").write_text("".join(f"class{i}\n" for i in range(10)))


@pytest.fixture(scope="module")
def prepared_cifar10(tmp_path_factory) -> str:
    """A real prepared cifar10 (40 train, 10 test) built from fake files; no network."""
    src = tmp_path_factory.mktemp("cifar_src")
    data_dir = tmp_path_factory.mktemp("tfds")
    _write_fake_cifar10(src, n_per_batch=8, n_test=10)
    builder = tfds.builder("cifar10", data_dir=str(data_dir), try_gcs=False)
    fake_download = lambda self, url: os.fspath(src)  # noqa: E731
    with mock.patch.object(tfds.download.DownloadManager, "download_and_extract", fake_download):
        builder.download_and_prepare()
    assert builder.is_prepared()
    return str(data_dir)


def test_prepared_cifar10_tail_matches_tfds_slicing(prepared_cifar10):
    splits = get_dataset("cifar10", data_dir=prepared_cifar10)
    assert (len(splits.y_train), len(splits.y_val), len(splits.y_test)) == (38, 2, 10)
    head_x, head_y = _raw("cifar10", "train[:95%]", prepared_cifar10)
    tail_x, tail_y = _raw("cifar10", "train[95%:]", prepared_cifar10)
    test_x, test_y = _raw("cifar10", "test", prepared_cifar10)
    for x, y, (ref_x, ref_y) in [
        (splits.x_train, splits.y_train, (head_x, head_y)),
        (splits.x_val, splits.y_val, (tail_x, tail_y)),
        (splits.x_test, splits.y_test, (test_x, test_y)),
    ]:
        np.testing.assert_array_equal(y, ref_y)
        np.testing.assert_allclose(_unnormalise(x, CIFAR_MEAN, CIFAR_STD), ref_x / 255, atol=1e-6)
