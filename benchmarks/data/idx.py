"""The IDX file format of MNIST and Fashion-MNIST (LeCun et al.; Xiao et al. 2017), checked.

An IDX file is a 4-byte magic number, 0x00 0x00 <type> <ndim> (type 0x08: unsigned byte), then
`ndim` big-endian uint32 sizes, then the data in C order. Files may be gzip-compressed (`.gz`).
Every failure is an `IdxError`: one line that names the file and what is wrong with it.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from benchmarks.errors import HyperensError

UBYTE = 0x08


class IdxError(HyperensError):
    """An IDX file that is missing, truncated, corrupted or not what it should hold."""


def _raw(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise IdxError(f"{path}: cannot be read as {'gzip' if path.suffix == '.gz' else 'IDX'} "
                       f"({type(e).__name__}: {e})") from None  # fmt: skip


def read_idx(path: str | Path, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """The uint8 array of IDX file `path` (read-only). `shape`, if given, is what the header
    must declare (IdxError otherwise); the data must fill the declared shape exactly."""
    path = Path(path)
    raw = _raw(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise IdxError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'none'})")
    if raw[2] != UBYTE:
        raise IdxError(f"{path}: IDX data type 0x{raw[2]:02x}, expected unsigned bytes (0x08)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise IdxError(f"{path}: truncated IDX header ({len(raw)} bytes, {ndim} dimensions)")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    if shape is not None and dims != tuple(shape):
        raise IdxError(f"{path}: holds shape {dims}, expected {tuple(shape)}")
    size = int(np.prod(dims))
    if len(raw) - header != size:
        what = "truncated" if len(raw) - header < size else "trailing bytes"
        raise IdxError(
            f"{path}: {len(raw) - header} data bytes, the header declares {size} ({what})"
        )
    out = np.frombuffer(raw, np.uint8, count=size, offset=header).reshape(dims)
    out.setflags(write=False)
    return out


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Writes uint8 `array` as an IDX file (gzip-compressed if `path` ends in .gz): the inverse
    of `read_idx`, for tests and for preparing a directory of the files."""
    path, array = Path(path), np.ascontiguousarray(array, np.uint8)
    body = bytes([0, 0, UBYTE, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    body += array.tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(body)
    else:
        path.write_bytes(body)
