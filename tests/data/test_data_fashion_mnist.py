"""Fashion-MNIST: the loader on IDX files the tests write (every machine), then on the real files
where they are installed (Debian's dataset-fashion-mnist; `.ci/run` installs it)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import benchmarks.data.fashion_mnist as fm
from benchmarks.data import get_dataset
from benchmarks.data.idx import IdxError, write_idx
from benchmarks.errors import DatasetUnavailableError

REPO = Path(__file__).resolve().parents[2]
N_TRAIN, N_TEST = 400, 100  # 40 and 10 per class


def _fake(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "y_train": rng.permutation(np.repeat(np.arange(10, dtype=np.uint8), N_TRAIN // 10)),
        "x_test": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "y_test": rng.permutation(np.repeat(np.arange(10, dtype=np.uint8), N_TEST // 10)),
    }


def _write(folder: Path, arrays: dict[str, np.ndarray], gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for part, (stem, _) in fm.FILES.items():
        write_idx(folder / (stem + (".gz" if gz else "")), arrays[part])
    return folder


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """Small files in the release's layout; the release's shapes and digests become theirs, and
    neither the environment variable nor the system directory is looked at."""
    arrays = _fake()
    files = {p: (stem, arrays[p].shape) for p, (stem, _) in fm.FILES.items()}
    monkeypatch.setattr(fm, "FILES", files)
    monkeypatch.setattr(fm, "SHA256", {p: fm.digest(a) for p, a in arrays.items()})
    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "system")
    monkeypatch.delenv(fm.ENV_DIR, raising=False)
    return arrays


def test_splits_sizes_stratified_seeded_and_in_file_order(fake, tmp_path):
    folder = _write(tmp_path / "d", fake)
    a = get_dataset("fashion_mnist", data_dir=str(folder), split_seed=1)
    b = get_dataset("fashion_mnist", data_dir=str(folder), split_seed=1)
    c = get_dataset("fashion_mnist", data_dir=str(folder), split_seed=2)
    assert (len(a.y_train), len(a.y_val), len(a.y_test)) == (380, 20, 100)
    assert np.bincount(a.y_val).tolist() == [2] * 10  # round(5% of 40) per class
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.y_val, c.y_val) or not np.array_equal(a.x_val, c.x_val)
    # test = the test file in its order; train + val = the train file, nothing lost or repeated
    np.testing.assert_array_equal(a.y_test, fake["y_test"])
    pixels = np.round(a.pixels(a.x_test)[..., 0] * 255).astype(np.uint8)
    np.testing.assert_array_equal(pixels, fake["x_test"])
    both = np.concatenate([a.pixels(a.x_train), a.pixels(a.x_val)])[..., 0]
    got = sorted(map(bytes, np.round(both * 255).astype(np.uint8)))
    assert got == sorted(map(bytes, fake["x_train"]))
    assert a.input_shape == (28, 28, 1) and a.num_classes == 10
    assert a.pixel_mean == fm.FASHION_MEAN and a.pixel_std == fm.FASHION_STD


def test_search_order_data_dir_then_environment_then_system(fake, tmp_path, monkeypatch):
    other = {k: v.copy() for k, v in fake.items()}
    other["x_test"][0, 0, 0] ^= 1  # a different file: the digest tells which folder was read
    _write(tmp_path / "system", fake, gz=False)
    _write(tmp_path / "env", fake)
    _write(tmp_path / "arg", fake)
    assert fm.idx_dir(None) == tmp_path / "system"
    monkeypatch.setenv(fm.ENV_DIR, str(tmp_path / "env"))
    assert fm.idx_dir(None) == tmp_path / "env"
    assert fm.idx_dir(str(tmp_path / "arg")) == tmp_path / "arg"
    assert fm.idx_dir(str(tmp_path / "empty")) == tmp_path / "env"  # a TFDS dir: not IDX
    _write(tmp_path / "env", other)
    with pytest.raises(IdxError, match="differs from the Fashion-MNIST release"):
        get_dataset("fashion_mnist")


@pytest.mark.parametrize("damage", ["missing", "truncated", "labels", "content"])
def test_a_bad_file_is_one_line_naming_it(fake, tmp_path, damage):
    folder = _write(tmp_path / "d", fake)
    stem = fm.FILES["y_train"][0]
    path = folder / (stem + ".gz")
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) - 8])
    elif damage == "labels":
        bad = fake["y_train"].copy()
        bad[5] = 10
        write_idx(path, bad)
    else:
        bad = fake["y_train"].copy()
        bad[:2] = bad[1::-1] if bad[0] != bad[1] else (bad[0] + 1) % 10
        write_idx(path, bad)
    with pytest.raises(IdxError) as info:
        get_dataset("fashion_mnist", data_dir=str(folder))
    message = str(info.value)
    assert "\n" not in message and str(folder / stem) in message


def test_no_files_anywhere_falls_back_to_tfds_and_says_where_it_looked(fake, tmp_path):
    with pytest.raises(DatasetUnavailableError) as info:
        get_dataset("fashion_mnist", data_dir=str(tmp_path / "tfds"))
    message = str(info.value)
    assert "\n" not in message
    assert "apt-get install dataset-fashion-mnist" in message and fm.ENV_DIR in message


def test_tfds_path_under_mock_data_carves_a_stratified_validation(fake, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=200):
        a = get_dataset("fashion_mnist", data_dir=str(tmp_path / "tfds"), val_fraction=0.2)
    assert len(a.y_train) + len(a.y_val) == 200 and a.input_shape == (28, 28, 1)
    counts = np.bincount(np.concatenate([a.y_train, a.y_val]), minlength=10)
    expected = [int(np.floor(0.2 * n + 0.5)) for n in counts]
    assert np.bincount(a.y_val, minlength=10).tolist() == expected


def test_cli_run_on_a_corrupted_file_writes_nothing(fake, tmp_path):
    """One line on stderr, a non-zero exit, and no store, for a file the release does not hold."""
    folder = _write(tmp_path / "d", fake)
    path = folder / (fm.FILES["x_train"][0] + ".gz")  # the first file read
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    store = tmp_path / "store"
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.cli", "run", "--dataset", "fashion_mnist",
         "--model", "mlp", "--method", "single", "--tier", "smoke", "--store", str(store),
         "--gin_param", f"data_options.data_dir = '{folder}'"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    assert out.returncode != 0
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("hyperens")]
    assert len(lines) == 1 and str(path) in lines[0] and "gzip" in lines[0], out.stderr
    assert not store.exists()


# -- the real files ----------------------------------------------------------------------------
REQUIRE = "HYPERENS_REQUIRE_FASHION_MNIST"  # set by .ci/run, which installs the Debian package


@pytest.fixture(scope="module")
def real_dir() -> Path:
    folder = fm.idx_dir(None)
    if folder is None:
        message = (f"Fashion-MNIST's IDX files are not installed (apt-get install "
                   f"dataset-fashion-mnist, or ${fm.ENV_DIR})")  # fmt: skip
        if os.environ.get(REQUIRE):
            pytest.fail(f"{message}, and ${REQUIRE} asks for them")
        pytest.skip(message)
    return folder


def test_real_files_counts_balance_and_content(real_dir):
    arrays = fm.read_arrays(real_dir)  # checks magic numbers, shapes, label range
    assert {p: a.shape for p, a in arrays.items()} == {p: s for p, (_, s) in fm.FILES.items()}
    assert np.bincount(arrays["y_train"]).tolist() == [6000] * 10
    assert np.bincount(arrays["y_test"]).tolist() == [1000] * 10
    assert {p: fm.digest(a) for p, a in arrays.items()} == fm.SHA256


def test_real_splits(real_dir):
    data = get_dataset("fashion_mnist")
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (57_000, 3_000, 10_000)
    assert np.bincount(data.y_val).tolist() == [300] * 10
    assert np.bincount(data.y_train).tolist() == [5700] * 10
    # the normalisation constants are the training images' own statistics (to 4 decimals)
    pixels = data.pixels(data.x_train)
    assert abs(pixels.mean() - fm.FASHION_MEAN[0]) < 5e-4
    assert abs(pixels.std() - fm.FASHION_STD[0]) < 5e-4
