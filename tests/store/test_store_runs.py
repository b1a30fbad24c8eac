"""Run ids and the RunStore lifecycle, corruption detection and writability check."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from benchmarks.errors import HyperensError, StoreCorruptError
from benchmarks.store import runs as runs_module
from benchmarks.store.runs import RunRecord, RunStore, config_hash, run_id

CELL = {
    "dataset": "mnist5k",
    "model": "mlp",
    "method": "hyper_deep_ens",
    "tier": "smoke",
    "seed": 3,
}
CONFIG = "train.epochs = 2\nmodel.width = 64\n"


def _predictions(m: int = 2, nval: int = 4, ntest: int = 5, c: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    val = rng.dirichlet(np.ones(c), size=(m, nval))
    test = rng.dirichlet(np.ones(c), size=(m, ntest))
    return {
        "val_probs": val,  # float64 on purpose: the store casts to float32
        "test_probs": test,
        "val_labels": np.arange(nval) % c,
        "test_labels": np.arange(ntest) % c,
        "member_weights": np.full(m, 1.0 / m),
        "member_hparams": np.array([[0.1, 0.2], [0.3, 0.4]]),
    }


METRICS = {"test": {"nll": 0.5, "accuracy": 0.9}, "val": {"nll": 0.6, "accuracy": 0.8}}
PROVENANCE = {"suite_version": "0.1.0", "config_hash": config_hash(CONFIG), "seed": 3}


def _done_run(store: RunStore, cell: dict = CELL, config: str = CONFIG) -> str:
    rid = run_id(cell, config)
    store.begin(rid, cell, config)
    store.finish(rid, METRICS, _predictions(), PROVENANCE)
    return rid


# -- run ids ----------------------------------------------------------------------


def test_run_id_is_readable_and_deterministic() -> None:
    rid = run_id(CELL, CONFIG)
    assert re.fullmatch(r"mnist5k-mlp-hyper_deep_ens-smoke-s3-[0-9a-f]{10}", rid)
    assert run_id(dict(reversed(list(CELL.items()))), CONFIG) == rid  # key order irrelevant
    assert run_id({**CELL, "seed": np.int64(3)}, CONFIG) == rid


def test_run_id_changes_with_config_text() -> None:
    rid = run_id(CELL, CONFIG)
    assert run_id(CELL, CONFIG + " ") != rid
    assert run_id(CELL, CONFIG.replace("64", "65")) != rid
    assert run_id(CELL, "") != rid


@pytest.mark.parametrize(
    "key, value",
    [("dataset", "cifar10"), ("model", "wrn28_10"), ("method", "deep_ens"), ("tier", "quick")]
    + [("seed", 4), ("ensemble_size", 4)],
)
def test_run_id_changes_with_each_cell_field(key: str, value: object) -> None:
    other = run_id({**CELL, key: value}, CONFIG)
    assert other != run_id(CELL, CONFIG)
    assert other.rsplit("-", 1)[1] != run_id(CELL, CONFIG).rsplit("-", 1)[1]  # the hash itself


def test_run_id_sanitises_and_validates() -> None:
    rid = run_id({**CELL, "dataset": "a/b c"}, CONFIG)
    assert "/" not in rid and " " not in rid
    with pytest.raises(HyperensError, match="seed"):
        run_id({k: v for k, v in CELL.items() if k != "seed"}, CONFIG)
    with pytest.raises(HyperensError, match="integer"):
        run_id({**CELL, "seed": "3"}, CONFIG)


def test_config_hash() -> None:
    assert config_hash(CONFIG) == config_hash(CONFIG)
    assert config_hash(CONFIG) != config_hash(CONFIG + "\n")
    assert re.fullmatch(r"[0-9a-f]{64}", config_hash(CONFIG))


# -- lifecycle ----------------------------------------------------------------------


def test_lifecycle(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "store")
    rid = run_id(CELL, CONFIG)
    assert store.status(rid) is None and store.run_ids() == []
    directory = store.begin(rid, CELL, CONFIG)
    assert directory == tmp_path / "store" / "runs" / rid
    assert store.status(rid) == "running"
    assert (directory / "config.gin").read_text() == CONFIG
    assert json.loads((directory / "cell.json").read_text()) == CELL
    status = json.loads((directory / "status.json").read_text())
    assert status["status"] == "running" and status["message"] == "" and "T" in status["updated"]
    ckpt = store.checkpoint_dir(rid)
    assert ckpt == directory / "checkpoints" and ckpt.is_dir()
    store.verify(rid)  # a running run is consistent too

    store.finish(rid, METRICS, _predictions(), PROVENANCE)
    assert store.status(rid) == "done" and store.run_ids() == [rid]
    record = store.load(rid)
    assert record == RunRecord(
        run_id=rid,
        cell=CELL,
        status="done",
        metrics=METRICS,
        provenance=PROVENANCE,
        config_text=CONFIG,
        message="",
        updated=record.updated,
    )
    preds = store.load_predictions(rid)
    assert preds["val_probs"].dtype == np.float32 and preds["val_probs"].shape == (2, 4, 3)
    assert preds["test_probs"].dtype == np.float32 and preds["test_probs"].shape == (2, 5, 3)
    assert preds["val_labels"].dtype == np.int32 and preds["test_labels"].dtype == np.int32
    assert preds["member_weights"].dtype == np.float32
    np.testing.assert_allclose(preds["val_probs"], _predictions()["val_probs"], rtol=1e-6)
    np.testing.assert_array_equal(preds["member_hparams"], _predictions()["member_hparams"])
    assert not [p for p in directory.iterdir() if p.name.startswith(".tmp-")]


def test_begin_never_clobbers_a_done_run(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    rid = _done_run(store)
    before = {p.name: p.read_bytes() for p in store.run_dir(rid).iterdir() if p.is_file()}
    with pytest.raises(HyperensError, match="already done"):
        store.begin(rid, CELL, CONFIG)
    with pytest.raises(HyperensError, match="already done"):
        store.mark(rid, "failed", "late failure")
    with pytest.raises(HyperensError, match="already done"):
        store.finish(rid, METRICS, _predictions(), PROVENANCE)
    after = {p.name: p.read_bytes() for p in store.run_dir(rid).iterdir() if p.is_file()}
    assert after == before


@pytest.mark.parametrize("status", ["failed", "diverged"])
def test_failed_or_diverged_run_can_be_begun_again(tmp_path: Path, status: str) -> None:
    store = RunStore(tmp_path)
    rid = run_id(CELL, CONFIG)
    store.begin(rid, CELL, CONFIG)
    (store.checkpoint_dir(rid) / "epoch_1.npz").write_bytes(b"ckpt")
    store.mark(rid, status, "loss became NaN at step 12")
    assert store.status(rid) == status
    assert store.load(rid).message == "loss became NaN at step 12"
    store.begin(rid, CELL, CONFIG)
    assert store.status(rid) == "running"
    assert (store.checkpoint_dir(rid) / "epoch_1.npz").read_bytes() == b"ckpt"
    store.finish(rid, METRICS, _predictions(), PROVENANCE)
    assert store.status(rid) == "done"
    assert not (store.run_dir(rid) / "checkpoints").exists()  # a done run never resumes


def test_rebegin_removes_stale_results(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    rid = run_id(CELL, CONFIG)
    store.begin(rid, CELL, CONFIG)
    store.finish(rid, METRICS, _predictions(), PROVENANCE, status="diverged", message="member 1")
    assert store.load(rid).metrics == METRICS
    store.begin(rid, CELL, CONFIG)
    assert not (store.run_dir(rid) / "predictions.npz").exists()
    assert store.load(rid).metrics == {}


def test_invalid_calls(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    rid = run_id(CELL, CONFIG)
    with pytest.raises(HyperensError, match="does not match"):
        store.begin(rid, {**CELL, "seed": 4}, CONFIG)
    with pytest.raises(HyperensError, match="never started"):
        store.finish(rid, METRICS, _predictions(), PROVENANCE)
    with pytest.raises(HyperensError, match="never started"):
        store.mark(rid, "failed", "x")
    with pytest.raises(HyperensError, match="never started"):
        store.load(rid)
    with pytest.raises(HyperensError, match="invalid run id"):
        store.status("../escape")
    store.begin(rid, CELL, CONFIG)
    with pytest.raises(ValueError, match="status"):
        store.mark(rid, "done", "x")
    with pytest.raises(ValueError, match="status"):
        store.finish(rid, METRICS, _predictions(), PROVENANCE, status="running")
    bad = _predictions()
    bad["member_weights"] = np.ones(3)
    with pytest.raises(ValueError, match="member_weights"):
        store.finish(rid, METRICS, bad, PROVENANCE)
    bad = _predictions()
    del bad["test_labels"]
    with pytest.raises(ValueError, match="test_labels"):
        store.finish(rid, METRICS, bad, PROVENANCE)
    bad = _predictions()
    bad["val_labels"] = bad["val_labels"][:-1]
    with pytest.raises(ValueError, match="labels"):
        store.finish(rid, METRICS, bad, PROVENANCE)
    assert store.status(rid) == "running"


def test_finish_writes_status_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RunStore(tmp_path)
    rid = run_id(CELL, CONFIG)
    store.begin(rid, CELL, CONFIG)
    order: list[str] = []
    real_json, real_npz = runs_module.write_json_atomic, runs_module.write_npz_atomic

    def spy_json(path: Path, obj: object) -> None:
        order.append(Path(path).name)
        real_json(path, obj)

    def spy_npz(path: Path, **arrays: np.ndarray) -> None:
        order.append(Path(path).name)
        real_npz(path, **arrays)

    monkeypatch.setattr(runs_module, "write_json_atomic", spy_json)
    monkeypatch.setattr(runs_module, "write_npz_atomic", spy_npz)
    store.finish(rid, METRICS, _predictions(), PROVENANCE)
    assert order[-1] == "status.json"
    assert set(order[:-1]) == {"predictions.npz", "metrics.json", "provenance.json"}

    # a crash before the status write leaves the run "running", never a half "done"
    rid2 = run_id({**CELL, "seed": 5}, CONFIG)
    store.begin(rid2, {**CELL, "seed": 5}, CONFIG)

    def crash(path: Path, obj: object) -> None:
        if Path(path).name == "provenance.json":
            raise OSError("killed")
        real_json(path, obj)

    monkeypatch.setattr(runs_module, "write_json_atomic", crash)
    with pytest.raises(OSError, match="killed"):
        store.finish(rid2, METRICS, _predictions(), PROVENANCE)
    assert store.status(rid2) == "running"


# -- corruption ----------------------------------------------------------------------


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "name",
    [
        "predictions.npz",
        "metrics.json",
        "status.json",
        "provenance.json",
        "cell.json",
        "config.gin",
    ],
)
@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_corrupt_file_is_named(tmp_path: Path, name: str, damage: str) -> None:
    store = RunStore(tmp_path)
    rid = _done_run(store)
    path = store.run_dir(rid) / name
    if damage == "truncate":
        _truncate(path)
    else:
        path.unlink()
    expected = (
        f"run {rid}: file {path} is truncated or corrupt; remove the run directory to recompute it"
    )
    if name == "status.json" and damage == "delete":
        assert store.status(rid) is None  # looks never started: it will simply be recomputed
        return
    for call in (store.verify, store.load):
        with pytest.raises(StoreCorruptError) as err:
            call(rid)
        assert str(err.value) == expected
    if name == "status.json":
        with pytest.raises(StoreCorruptError, match=re.escape(str(path))):
            store.status(rid)


def test_unknown_status_value_is_corrupt(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    rid = _done_run(store)
    path = store.run_dir(rid) / "status.json"
    path.write_text(json.dumps({"status": "finished", "message": "", "updated": "x"}))
    with pytest.raises(StoreCorruptError, match="status.json"):
        store.status(rid)


def test_load_predictions_corrupt(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    rid = _done_run(store)
    _truncate(store.run_dir(rid) / "predictions.npz")
    with pytest.raises(StoreCorruptError, match=f"run {rid}: file .*predictions.npz"):
        store.load_predictions(rid)


def test_run_ids_ignore_temp_and_loose_files(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    rid = _done_run(store)
    (store.runs_dir / ".tmp-x-1-abc").mkdir()
    (store.runs_dir / "README").write_text("x")
    assert store.run_ids() == [rid]


# -- writability ----------------------------------------------------------------------


def test_store_under_a_regular_file_is_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    root = blocker / "store"
    with pytest.raises(HyperensError, match=f"store directory {re.escape(str(root))} is not"):
        RunStore(root)
    with pytest.raises(HyperensError, match="is not writable"):
        RunStore(blocker)  # the root itself is a file


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_read_only_store_is_not_writable(tmp_path: Path) -> None:
    root = tmp_path / "ro"
    root.mkdir()
    (root / "runs").mkdir()
    root.chmod(0o500)
    try:
        with pytest.raises(HyperensError, match="is not writable"):
            RunStore(root)
    finally:
        root.chmod(0o700)


def test_store_creates_root(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "a" / "b")
    assert store.runs_dir.is_dir()
    assert [p.name for p in store.root.iterdir()] == ["runs"]  # the probe is gone
