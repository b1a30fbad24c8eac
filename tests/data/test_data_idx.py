"""The IDX reader on files the tests write: round trips, and one named line for every bad file."""

import gzip

import numpy as np
import pytest

from benchmarks.data.idx import IdxError, read_idx, write_idx


@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_round_trip_plain_and_gzip(tmp_path, name):
    x = np.random.default_rng(0).integers(0, 256, (7, 3, 2), dtype=np.uint8)
    write_idx(tmp_path / name, x)
    got = read_idx(tmp_path / name, (7, 3, 2))
    np.testing.assert_array_equal(got, x)
    assert got.dtype == np.uint8 and not got.flags.writeable


def test_header_bytes_by_hand(tmp_path):
    write_idx(tmp_path / "l", np.array([3, 1, 4], np.uint8))
    assert (tmp_path / "l").read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 3, 1, 4])


def _one_line(info, path) -> str:
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_bad_magic_names_the_file(tmp_path):
    (tmp_path / "f").write_bytes(b"\x1f\x8b\x08\x01rest")
    with pytest.raises(IdxError) as info:
        read_idx(tmp_path / "f")
    assert "magic" in _one_line(info, tmp_path / "f")


def test_wrong_type_byte(tmp_path):
    (tmp_path / "f").write_bytes(bytes([0, 0, 0x0D, 1, 0, 0, 0, 1]) + b"\0\0\0\0")
    with pytest.raises(IdxError, match="data type 0x0d"):
        read_idx(tmp_path / "f")


@pytest.mark.parametrize("cut", [1, 5, 20])
def test_truncated_file(tmp_path, cut):
    write_idx(tmp_path / "f", np.zeros((4, 5), np.uint8))
    raw = (tmp_path / "f").read_bytes()
    (tmp_path / "f").write_bytes(raw[: len(raw) - cut])
    with pytest.raises(IdxError) as info:
        read_idx(tmp_path / "f")
    assert "truncated" in _one_line(info, tmp_path / "f")


def test_trailing_bytes_and_wrong_shape(tmp_path):
    write_idx(tmp_path / "f", np.zeros((4, 5), np.uint8))
    with pytest.raises(IdxError, match=r"holds shape \(4, 5\), expected \(5, 4\)"):
        read_idx(tmp_path / "f", (5, 4))
    (tmp_path / "f").write_bytes((tmp_path / "f").read_bytes() + b"\0")
    with pytest.raises(IdxError, match="trailing bytes"):
        read_idx(tmp_path / "f")


def test_corrupted_and_truncated_gzip(tmp_path):
    write_idx(tmp_path / "f.gz", np.arange(200, dtype=np.uint8).reshape(10, 20))
    raw = bytearray((tmp_path / "f.gz").read_bytes())
    (tmp_path / "cut.gz").write_bytes(bytes(raw[: len(raw) // 2]))
    raw[len(raw) // 2] ^= 0xFF
    (tmp_path / "flip.gz").write_bytes(bytes(raw))
    for name in ("cut.gz", "flip.gz"):
        with pytest.raises(IdxError) as info:
            read_idx(tmp_path / name)
        assert "gzip" in _one_line(info, tmp_path / name)


def test_missing_file(tmp_path):
    with pytest.raises(IdxError) as info:
        read_idx(tmp_path / "nope.gz")
    _one_line(info, tmp_path / "nope.gz")


def test_gzip_of_an_empty_body_is_not_idx(tmp_path):
    with gzip.open(tmp_path / "e.gz", "wb") as f:
        f.write(b"")
    with pytest.raises(IdxError, match="magic number none"):
        read_idx(tmp_path / "e.gz")
