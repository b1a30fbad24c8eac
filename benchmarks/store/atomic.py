"""Atomic file writes (temp file + fsync + ``os.replace``) and strict readers.

A writer first writes ``.tmp-<name>-<pid>-<token>`` in the target's directory, flushes and fsyncs
it, then renames it over the final name, so a killed process leaves either the old complete file or
the new complete file under the final name, never a partial one. Readers only open final names;
:func:`clean_temp_files` removes temp files left behind by dead processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from benchmarks.errors import StoreCorruptError

TMP_PREFIX = ".tmp-"


def is_temp_name(name: str) -> bool:
    """True if ``name`` is a temp file written by this module (or the store's write probe)."""
    return name.startswith(TMP_PREFIX)


def temp_path(path: str | Path) -> Path:
    """A fresh temp path next to ``path``: ``.tmp-<name>-<pid>-<token>``."""
    path = Path(path)
    return path.parent / f"{TMP_PREFIX}{path.name}-{os.getpid()}-{secrets.token_hex(3)}"


def _fsync_dir(directory: Path) -> None:
    """Best effort: make the rename durable (not supported on every platform/filesystem)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | Path) -> Iterator[IO[bytes]]:
    """Yield a binary file; on clean exit it is fsynced and renamed to ``path``, else removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "xb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``."""
    with atomic_writer(path) as f:
        f.write(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Atomically replace ``path`` with ``text`` encoded as UTF-8."""
    write_bytes_atomic(path, text.encode("utf-8"))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def dumps_json(obj: Any) -> str:
    """The store's JSON text: sorted keys, indent 2, numpy scalars/arrays converted."""
    return json.dumps(obj, sort_keys=True, indent=2, default=_json_default) + "\n"


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Atomically write ``obj`` as JSON (sorted keys, indented)."""
    write_text_atomic(path, dumps_json(obj))


def write_npz_atomic(path: str | Path, **arrays: np.ndarray) -> None:
    """Atomically write an uncompressed ``.npz`` holding ``arrays`` (no pickled objects)."""
    for key, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise ValueError(f"array {key!r} has dtype object; the store does not pickle")
    with atomic_writer(path) as f:
        np.savez(f, **arrays)


def _corrupt(path: Path, detail: str) -> StoreCorruptError:
    detail = " ".join(str(detail).split())  # one line
    return StoreCorruptError(f"file {path} is truncated or corrupt ({detail})")


def read_json(path: str | Path, required: Iterable[str] = ()) -> Any:
    """Parse the JSON file at ``path``.

    Raises StoreCorruptError (one line naming the file) if it is missing, unreadable, not valid
    JSON, or (when ``required`` is given) not an object holding every required key.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StoreCorruptError(f"file {path} is missing") from None
    except (OSError, UnicodeDecodeError) as err:
        raise _corrupt(path, str(err)) from err
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise _corrupt(path, f"invalid JSON: {err}") from err
    required = list(required)
    if required:
        if not isinstance(obj, dict):
            raise _corrupt(path, f"expected a JSON object, got {type(obj).__name__}")
        missing = [k for k in required if k not in obj]
        if missing:
            raise _corrupt(path, f"missing keys {missing}")
    return obj


def read_npz(
    path: str | Path, required: Iterable[str] = (), keys: Iterable[str] | None = None
) -> dict[str, np.ndarray]:
    """Load every array of the ``.npz`` at ``path`` into memory (``allow_pickle=False``), or only
    those named in ``keys`` (and ``required``): the others are neither read nor CRC-checked.

    Raises StoreCorruptError (one line naming the file) if it is missing, truncated (its zip
    directory, at the end of the file, is unreadable), an array read fails its CRC check or needs
    pickling, or it lacks a key of ``required``.
    """
    path = Path(path)
    if not path.exists():
        raise StoreCorruptError(f"file {path} is missing")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("not an npz archive")
        with loaded:
            wanted = None if keys is None else {*keys, *required}
            names = [k for k in loaded.files if wanted is None or k in wanted]
            arrays = {key: np.array(loaded[key]) for key in names}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        raise _corrupt(path, f"{type(err).__name__}: {err}") from err
    missing = [k for k in required if k not in arrays]
    if missing:
        raise _corrupt(path, f"missing arrays {missing}")
    return arrays


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # pragma: no cover - unusual platforms
        return True
    return True


def clean_temp_files(directory: str | Path) -> list[Path]:
    """Remove temp files in ``directory`` (not recursive) left by processes that no longer exist.

    Temp files of this process and of live processes are kept (they may be mid-write).
    Returns the removed paths.
    """
    directory = Path(directory)
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for entry in directory.iterdir():
        if not is_temp_name(entry.name) or not entry.is_file():
            continue
        parts = entry.name.rsplit("-", 2)
        try:
            pid = int(parts[1])
        except (IndexError, ValueError):
            pid = -1
        if pid == os.getpid() or _pid_alive(pid):
            continue
        with contextlib.suppress(OSError):
            entry.unlink()
            removed.append(entry)
    return removed
