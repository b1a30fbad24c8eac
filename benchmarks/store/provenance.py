"""Provenance recorded with every finished run: code version, environment, cost.

Library versions come from ``importlib.metadata`` (no TensorFlow import). Nothing here raises for
an unusual environment: an unknown git state is ``"unknown"``, a missing library ``"absent"``.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import benchmarks
from benchmarks.store.runs import config_hash

UNKNOWN = "unknown"
ABSENT = "absent"

# provenance key -> distributions tried in order (the first installed one wins)
LIBRARIES: dict[str, tuple[str, ...]] = {
    "tensorflow": ("tensorflow-cpu", "tensorflow"),
    "keras": ("keras",),
    "numpy": ("numpy",),
    "tensorflow_datasets": ("tensorflow-datasets",),
    "gin_config": ("gin-config",),
    "pandas": ("pandas",),
}

PROVENANCE_KEYS = (
    "suite_version",
    "git_commit",
    "config_hash",
    "seed",
    "python",
    *LIBRARIES,
    "tf_onednn",
    "hostname",
    "timestamp",
    "wall_time_s",
    "param_count",
)


def package_root() -> Path:
    """The directory that holds the ``benchmarks`` package (the repo root in a checkout)."""
    return Path(benchmarks.__file__).resolve().parent.parent


def _git(args: list[str], cwd: Path) -> str | None:
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


# What `hyperens report` and `make screenshot` write into a checkout: changes there are results,
# not code, so they never make a later run's commit `-dirty` (a resumed `make quick` or
# `make fashion` runs after its own report rewrote them).
REPORT_OUTPUTS = ("results", "README.md", "docs/report.png")


def git_commit(path: str | Path | None = None) -> str:
    """``git rev-parse HEAD`` of the checkout holding ``path`` (default: the ``benchmarks``
    package), suffixed ``-dirty`` if ``git status --porcelain`` lists a change outside
    ``REPORT_OUTPUTS``; ``"unknown"`` if it is not a git checkout (or has no commit) or git is
    missing. Never raises."""
    try:
        cwd = Path(path) if path is not None else package_root()
        if not cwd.is_dir():
            return UNKNOWN
        head = _git(["rev-parse", "--verify", "HEAD"], cwd)
        if not head:
            return UNKNOWN
        outputs = [f":(top,exclude){p}" for p in REPORT_OUTPUTS]
        porcelain = _git(["status", "--porcelain", "--", ":(top)", *outputs], cwd)
        if porcelain is None:
            return UNKNOWN
        return f"{head}-dirty" if porcelain else head
    except Exception:  # provenance must never break a run
        return UNKNOWN


def library_version(*distributions: str) -> str:
    """Version of the first installed distribution among ``distributions``, else ``"absent"``."""
    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        except Exception:  # broken metadata must not break a run
            continue
    return ABSENT


def library_versions() -> dict[str, str]:
    """``{tensorflow, keras, numpy, tensorflow_datasets, gin_config, pandas}`` -> version."""
    return {key: library_version(*dists) for key, dists in LIBRARIES.items()}


def collect_provenance(
    config_text: str, seed: int, wall_time_s: float, param_count: int
) -> dict[str, Any]:
    """Provenance of one run; keys are ``PROVENANCE_KEYS``. JSON-serialisable, never raises
    for a missing git or library."""
    try:
        hostname = socket.gethostname()
    except OSError:
        hostname = UNKNOWN
    return {
        "suite_version": benchmarks.__version__,
        "git_commit": git_commit(),
        "config_hash": config_hash(config_text),
        "seed": int(seed),
        "python": platform.python_version(),
        **library_versions(),
        "tf_onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", UNKNOWN),
        "hostname": hostname,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_time_s": float(wall_time_s),
        "param_count": int(param_count),
    }


def changed_files(
    a: str, b: str, paths: Sequence[str], cwd: str | Path | None = None
) -> list[str] | None:
    """Files under ``paths`` that differ between commits ``a`` and ``b`` (``git diff
    --name-only``; a ``-dirty`` suffix is dropped); None if git cannot tell (no git, a commit
    not in this clone)."""
    a, b = (c.removesuffix("-dirty") for c in (a, b))
    if not all(re.fullmatch("[0-9a-f]{7,40}", c) for c in (a, b)):
        return None
    out = _git(["diff", "--name-only", a, b, "--", *paths], Path(cwd) if cwd else package_root())
    return None if out is None else out.splitlines()


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else `platform.processor()`)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
