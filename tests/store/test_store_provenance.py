"""Provenance: git state, library versions, never raising."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

import benchmarks
from benchmarks.store import provenance
from benchmarks.store.provenance import (
    PROVENANCE_KEYS,
    changed_files,
    collect_provenance,
    git_commit,
    library_version,
    package_root,
)
from benchmarks.store.runs import config_hash

COMMIT = re.compile(r"[0-9a-f]{40}(-dirty)?")


def _check(prov: dict) -> None:
    assert tuple(prov) == PROVENANCE_KEYS
    assert prov["suite_version"] == benchmarks.__version__
    assert prov["config_hash"] == config_hash("x = 1\n")
    assert prov["seed"] == 7 and prov["wall_time_s"] == 1.5 and prov["param_count"] == 42
    assert prov["git_commit"] == "unknown" or COMMIT.fullmatch(prov["git_commit"])
    assert re.fullmatch(r"3\.\d+\.\d+.*", prov["python"])
    assert prov["numpy"] != "absent" and prov["pandas"] != "absent"
    assert all(isinstance(prov[k], str) and prov[k] for k in provenance.LIBRARIES)
    assert prov["timestamp"].endswith("+00:00")
    assert json.loads(json.dumps(prov)) == prov


def test_collect_inside_and_outside_a_git_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(package_root())
    inside = collect_provenance("x = 1\n", 7, 1.5, 42)
    _check(inside)
    monkeypatch.chdir(tmp_path)  # the commit is that of the package's checkout, not of the cwd
    outside = collect_provenance("x = 1\n", 7, 1.5, 42)
    _check(outside)
    assert outside["git_commit"] == inside["git_commit"]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def no_parent_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    return tmp_path


def test_git_commit_clean_dirty_and_unknown(no_parent_repo: Path) -> None:
    repo = no_parent_repo / "repo"
    repo.mkdir()
    assert git_commit(repo) == "unknown"  # not a checkout
    _git(repo, "init", "-q")
    assert git_commit(repo) == "unknown"  # a checkout without any commit
    (repo / "f.txt").write_text("a")
    _git(repo, "add", "f.txt")
    _git(repo, "commit", "-q", "-m", "one")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert git_commit(repo) == head
    # the report's outputs (results/, README.md, docs/report.png) are not code: still clean
    (repo / "results" / "quick").mkdir(parents=True)
    (repo / "results" / "quick" / "results.csv").write_text("x")
    (repo / "README.md").write_text("new block")
    (repo / "docs").mkdir()
    (repo / "docs" / "report.png").write_text("png")
    assert git_commit(repo) == head
    assert git_commit(repo / "docs") == head  # from a subdirectory too
    (repo / "docs" / "USAGE.md").write_text("prose")
    assert git_commit(repo) == f"{head}-dirty"  # anything else is
    (repo / "docs" / "USAGE.md").unlink()
    (repo / "f.txt").write_text("b")
    assert git_commit(repo) == f"{head}-dirty"
    assert git_commit(repo / "docs") == f"{head}-dirty"
    assert git_commit(no_parent_repo / "does-not-exist") == "unknown"


def test_changed_files_between_commits(no_parent_repo: Path) -> None:
    repo = no_parent_repo / "repo"
    (repo / "code").mkdir(parents=True)

    def commit(name: str, text: str) -> str:
        (repo / name).write_text(text)
        _git(repo, "add", name)
        _git(repo, "commit", "-q", "-m", name)
        return git_commit(repo)

    _git(repo, "init", "-q")
    first = commit("code/a.py", "1")
    docs = commit("README.md", "docs")
    code = commit("code/a.py", "2")
    assert changed_files(first, docs, ["code"], repo) == []
    assert changed_files(first, code, ["code"], repo) == ["code/a.py"]
    assert changed_files(first, f"{code}-dirty", ["code"], repo) == ["code/a.py"]
    assert changed_files(first, "unknown", ["code"], repo) is None
    assert changed_files(first, "0" * 40, ["code"], repo) is None  # not in this clone
    assert changed_files(first, "--output=x", ["code"], repo) is None  # never a git option
    assert not (repo / "x").exists()


def test_git_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable anywhere
    assert git_commit() == "unknown"
    prov = collect_provenance("x = 1\n", 7, 1.5, 42)
    _check(prov)
    assert prov["git_commit"] == "unknown"


def test_library_version() -> None:
    assert library_version("definitely-not-a-package-xyz") == "absent"
    assert library_version("definitely-not-a-package-xyz", "numpy") == library_version("numpy")
