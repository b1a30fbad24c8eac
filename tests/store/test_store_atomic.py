"""Atomic writes and strict readers of benchmarks.store.atomic."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from benchmarks.errors import StoreCorruptError
from benchmarks.store import atomic
from benchmarks.store.atomic import (
    clean_temp_files,
    is_temp_name,
    read_json,
    read_npz,
    write_bytes_atomic,
    write_json_atomic,
    write_npz_atomic,
    write_text_atomic,
)

REPO = Path(__file__).resolve().parents[2]


def _temps(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if is_temp_name(p.name)]


def test_round_trips(tmp_path: Path) -> None:
    write_bytes_atomic(tmp_path / "b.bin", b"\x00\x01")
    write_text_atomic(tmp_path / "t.txt", "héllo\n")
    write_json_atomic(tmp_path / "sub" / "j.json", {"b": np.float32(1.5), "a": [np.int64(2)]})
    write_npz_atomic(tmp_path / "a.npz", x=np.arange(6, dtype=np.float32).reshape(2, 3))
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "héllo\n"
    text = (tmp_path / "sub" / "j.json").read_text()
    assert text == json.dumps({"a": [2], "b": 1.5}, sort_keys=True, indent=2) + "\n"
    assert read_json(tmp_path / "sub" / "j.json", required=("a", "b")) == {"a": [2], "b": 1.5}
    arrays = read_npz(tmp_path / "a.npz", required=("x",))
    assert arrays["x"].dtype == np.float32 and arrays["x"].shape == (2, 3)
    assert _temps(tmp_path) == [] and _temps(tmp_path / "sub") == []


def test_npz_refuses_object_arrays(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="object"):
        write_npz_atomic(tmp_path / "o.npz", x=np.array([{"a": 1}], dtype=object))
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize("existing", [False, True])
def test_crash_at_replace_leaves_old_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    target = tmp_path / "m.json"
    if existing:
        write_json_atomic(target, {"version": 1})

    def boom(src: str, dst: str) -> None:
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        write_json_atomic(target, {"version": 2, "payload": "x" * 100_000})
    if existing:
        assert read_json(target) == {"version": 1}
    else:
        assert not target.exists()
    assert _temps(tmp_path) == []


def test_exception_while_writing_removes_temp(tmp_path: Path) -> None:
    target = tmp_path / "x.bin"
    write_bytes_atomic(target, b"old")
    with pytest.raises(RuntimeError), atomic.atomic_writer(target) as f:
        f.write(b"new but partial")
        raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old"
    assert _temps(tmp_path) == []


def test_killed_process_mid_write_never_leaves_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "predictions.npz"
    write_npz_atomic(target, x=np.zeros(3, dtype=np.float32))
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from benchmarks.store.atomic import atomic_writer
        with atomic_writer({str(target)!r}) as f:
            f.write(b"PK\\x03\\x04 half an archive")
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # the final name still holds the old complete archive; the orphan temp is recognisable
    np.testing.assert_array_equal(read_npz(target)["x"], np.zeros(3, dtype=np.float32))
    orphans = _temps(tmp_path)
    assert len(orphans) == 1 and orphans[0].startswith(f".tmp-predictions.npz-{proc.pid}-")
    assert [p.name for p in clean_temp_files(tmp_path)] == orphans
    assert _temps(tmp_path) == []


def test_clean_keeps_temps_of_live_processes(tmp_path: Path) -> None:
    mine = tmp_path / f".tmp-a.json-{os.getpid()}-abcdef"
    mine.write_text("in progress")
    (tmp_path / "a.json").write_text("{}")
    assert clean_temp_files(tmp_path) == []
    assert mine.exists() and (tmp_path / "a.json").exists()


def _assert_one_line_naming(err: pytest.ExceptionInfo, path: Path) -> None:
    message = str(err.value)
    assert str(path) in message and "\n" not in message


@pytest.mark.parametrize(
    "content, required",
    [
        ('{"status": "do', ()),
        ("", ()),
        ('{"status": "done"}', ("status", "message")),
        ("[1, 2]", ("status",)),
        (b"\xff\xfe\x00", ()),
    ],
)
def test_read_json_corrupt(tmp_path: Path, content: str | bytes, required: tuple) -> None:
    path = tmp_path / "status.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(StoreCorruptError) as err:
        read_json(path, required)
    _assert_one_line_naming(err, path)


def test_read_missing_files(tmp_path: Path) -> None:
    for reader, name in ((read_json, "m.json"), (read_npz, "p.npz")):
        with pytest.raises(StoreCorruptError, match="missing") as err:
            reader(tmp_path / name)
        _assert_one_line_naming(err, tmp_path / name)


@pytest.mark.parametrize("cut", [0, 5, 40, -30, -1])
def test_read_npz_truncated(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "predictions.npz"
    write_npz_atomic(path, a=np.random.default_rng(0).random((50, 10)), b=np.arange(7))
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(StoreCorruptError) as err:
        read_npz(path)
    _assert_one_line_naming(err, path)
    with pytest.raises(StoreCorruptError):  # the zip directory, at the end, is always read
        read_npz(path, keys=("b",))


def test_read_npz_of_some_arrays(tmp_path: Path) -> None:
    """`keys` reads those arrays and the required ones; a flipped byte in an array left unread
    goes unseen, in one that is read it fails the CRC check."""
    path = tmp_path / "p.npz"
    a = np.arange(4000, dtype=np.float64)
    write_npz_atomic(path, a=a, b=np.arange(7), c=np.ones(3))
    assert set(read_npz(path, required=("c",), keys=("b",))) == {"b", "c"}
    assert set(read_npz(path, keys=())) == set()
    data = bytearray(path.read_bytes())
    data[data.index(a[1000:1002].tobytes())] ^= 0xFF  # inside a's data
    path.write_bytes(bytes(data))
    np.testing.assert_array_equal(read_npz(path, keys=("b",))["b"], np.arange(7))
    with pytest.raises(StoreCorruptError, match="CRC|Bad"):
        read_npz(path, keys=("a",))


def test_read_npz_bad_content(tmp_path: Path) -> None:
    path = tmp_path / "p.npz"
    np.save(tmp_path / "bare.npy", np.arange(3))
    os.replace(tmp_path / "bare.npy", path)  # a .npy is not an archive
    with pytest.raises(StoreCorruptError):
        read_npz(path)
    np.savez(path, x=np.array([{"pickled": True}], dtype=object))
    with pytest.raises(StoreCorruptError):
        read_npz(path)
    write_npz_atomic(path, x=np.arange(3))
    with pytest.raises(StoreCorruptError, match="missing arrays"):
        read_npz(path, required=("x", "y"))
    # flipped bytes inside the member data fail the CRC check
    write_npz_atomic(path, x=np.arange(1000, dtype=np.int64))
    data = bytearray(path.read_bytes())
    data[400:420] = b"\x7f" * 20
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorruptError):
        read_npz(path)
