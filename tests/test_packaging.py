"""The packaging contract: the gin files (top-level `gin/`, linked as `benchmarks/gin`) and the
paper's reference numbers ship in the package (setup.cfg `package_data`) and are found through
`importlib.resources`; the wheel asks for one TensorFlow distribution, the one the lock pins."""

import configparser
import os
import re
from importlib import resources
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from benchmarks import compose
from benchmarks.analysis.reference import REFERENCE_PATH, load_reference

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "benchmarks"
CFG = configparser.ConfigParser()
CFG.read(REPO / "setup.cfg")
TF = {"tensorflow", "tensorflow-cpu"}


def _lines(section: str, key: str) -> list[str]:
    return [ln.strip() for ln in CFG[section][key].splitlines() if ln.strip()]


def _data_files() -> set[Path]:
    """Every file of the package's source tree that is not Python, through its symlinks."""
    return {(Path(d) / f).relative_to(PACKAGE)
            for d, _, files in os.walk(PACKAGE, followlinks=True) for f in files
            if Path(f).suffix not in (".py", ".pyc")}  # fmt: skip


def test_the_gin_files_live_in_the_top_level_gin_folder():
    """`gin/` (datasets/, models/, methods/, tiers/, matrices/) beside `benchmarks/`; the package
    reaches it through the relative symlink `benchmarks/gin`, which the wheel build follows."""
    link = PACKAGE / "gin"
    assert link.is_symlink() and os.readlink(link) == "../gin"
    assert link.resolve() == (REPO / "gin").resolve()
    assert {p.name for p in (REPO / "gin").iterdir()} == {*compose.KINDS, "matrices"}


def test_package_data_globs_cover_every_data_file():
    covered = set()
    for package, globs in CFG["options.package_data"].items():
        root = REPO.joinpath(*package.split("."))
        for pattern in (g.strip() for g in globs.split(",")):
            covered |= {p.relative_to(PACKAGE) for p in root.glob(pattern) if p.is_file()}
    assert len(covered) > 25 and covered == _data_files()


def _traverse(node, prefix=()) -> set[tuple[str, ...]]:
    out = set()
    for child in node.iterdir():
        if child.is_dir():
            out |= _traverse(child, (*prefix, child.name))
        else:
            out.add((*prefix, child.name))
    return out


def test_every_gin_file_is_reached_through_importlib_resources():
    listed = {p for p in _traverse(resources.files("benchmarks") / "gin") if p[-1].endswith(".gin")}
    on_disk = {p.relative_to(REPO / "gin").parts for p in (REPO / "gin").rglob("*.gin")}
    assert len(listed) > 25 and listed == on_disk
    assert compose.PACKAGED_GIN_DIR == PACKAGE / "gin"
    for kind in (*compose.KINDS, "matrices"):
        assert compose.available(kind) == sorted(p[1][:-4] for p in listed if len(p) == 2
                                                 and p[0] == kind)  # fmt: skip


def test_the_reference_numbers_have_one_source():
    """results/paper/reference.csv (next to its README) is a relative link to the packaged file."""
    shipped = resources.files("benchmarks.analysis") / "reference.csv"
    link = REPO / "results" / "paper" / "reference.csv"
    if not link.is_symlink():
        pytest.skip("this checkout does not keep symlinks")
    assert not os.path.isabs(os.readlink(link))
    assert link.resolve() == REFERENCE_PATH.resolve() == PACKAGE / "analysis" / "reference.csv"
    assert shipped.read_bytes() == link.read_bytes()
    assert len(load_reference()) > 50


def _tf_requirements(extras: str | None) -> list[Requirement]:
    lines = _lines("options", "install_requires")
    if extras:
        lines = [ln for e in extras.split(",") for ln in _lines("options.extras_require", e)]
    reqs = [Requirement(ln) for ln in lines]
    return [r for r in reqs if r.name in TF]


PLATFORMS = {
    "linux-x86_64": {"sys_platform": "linux", "platform_machine": "x86_64"},
    "windows": {"sys_platform": "win32", "platform_machine": "AMD64"},
    "linux-aarch64": {"sys_platform": "linux", "platform_machine": "aarch64"},
    "macos-arm64": {"sys_platform": "darwin", "platform_machine": "arm64"},
}


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_one_tensorflow_distribution_per_install(platform):
    """None by default (the user picks CPU or GPU); [cpu] and [gpu] each ask for exactly one."""
    env = PLATFORMS[platform]
    applies = lambda reqs: [r for r in reqs if r.marker is None or r.marker.evaluate(env)]  # noqa: E731
    assert applies(_tf_requirements(None)) == []
    for extra in ("cpu", "gpu"):
        assert len(applies(_tf_requirements(extra))) == 1, extra
    (gpu,) = _tf_requirements("gpu")
    assert (gpu.name, gpu.extras) == ("tensorflow", {"and-cuda"})


def test_the_lock_pins_the_cpu_extras_tensorflow_on_linux():
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    assert [n for n in pins if n in TF] == ["tensorflow-cpu"]
    (cpu,) = [r for r in _tf_requirements("cpu") if r.marker.evaluate(PLATFORMS["linux-x86_64"])]
    assert cpu.name == "tensorflow-cpu" and pins["tensorflow-cpu"] in cpu.specifier
    assert "jupyterlab" in pins  # `make notebook` / the README's notebook command
