"""`hyperens import-ub`: uncertainty-baselines' cached member logits read into the store as a run.

Fixtures are written the way google/uncertainty-baselines baselines/cifar/ensemble.py writes them:
`np.save` of float32 (N, classes) logits to `{output_dir}/{name}_{member}.npy`, name `clean` or
`{corruption}_{severity}`, N = (n_test // batch) * batch (here 53 // 16 * 16 = 48).
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.cli import main
from benchmarks.metrics import accuracy, brier, compute_all, ece, nll
from benchmarks.store import RunStore

CLASSES, N_TEST, BATCH = 10, 53, 16
N = N_TEST // BATCH * BATCH
SETS = ("clean", "gaussian_noise_1", "gaussian_noise_3", "frosted_glass_blur_1",
        "frosted_glass_blur_3")  # fmt: skip


def _write_ub(root: Path, members=(0, 1, 2), sets=SETS, seed=0) -> dict[str, dict[int, np.ndarray]]:
    """UB's cache: {name}_{member}.npy of float32 logits; returns {name: {member: logits}}."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, dict[int, np.ndarray]] = {}
    for name in sets:
        for m in members:
            logits = (3.0 * rng.standard_normal((N, CLASSES))).astype(np.float32)
            with open(root / f"{name}_{m}.npy", "wb") as f:  # what tf.io.gfile + np.save write
                np.save(f, logits)
            out.setdefault(name, {})[m] = logits
    return out


def _labels(path: Path, seed=1) -> np.ndarray:
    y = np.random.default_rng(seed).integers(0, CLASSES, N_TEST)
    np.save(path, y)
    return y


def _softmax_mean(members: list[np.ndarray], weights=None) -> np.ndarray:
    z = np.stack(members).astype(np.float64)
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    w = np.ones(len(members)) if weights is None else np.asarray(weights, np.float64)
    return np.tensordot(w / w.sum(), p, axes=1)


def _import(ub: Path, store: Path, *extra: str, method="ub_ensemble", dataset="cifar10") -> int:
    return main(["import-ub", str(ub), "--dataset", dataset, "--method", method,
                 "--store", str(store), *extra])  # fmt: skip


def _only_run(store: Path) -> str:
    (rid,) = RunStore(store).run_ids()
    return rid


def test_metrics_are_the_suites_functions_on_the_softmax_average(tmp_path):
    logits = _write_ub(tmp_path / "ub")
    for m in range(3):  # newer ensemble.py --eval_on_ood: in- and out-of-distribution mixed
        np.save(tmp_path / "ub" / f"ood_cifar100_{m}.npy", np.zeros((2 * N, CLASSES), np.float32))
    y = _labels(tmp_path / "labels.npy")[:N]  # UB scores the first N test examples
    assert (
        _import(tmp_path / "ub", tmp_path / "store", "--labels", str(tmp_path / "labels.npy")) == 0
    )
    store = RunStore(tmp_path / "store")
    record = store.load(_only_run(tmp_path / "store"))
    assert "val" not in record.metrics
    p = _softmax_mean([logits["clean"][m] for m in range(3)])
    test = record.metrics["test"]
    by_hand = -np.mean(np.log(p[np.arange(N), y]))
    assert test["nll"] == pytest.approx(by_hand, rel=1e-6)
    assert test["nll"] == pytest.approx(nll(p, y), rel=1e-6)
    assert test["accuracy"] == accuracy(p, y) == np.mean(p.argmax(1) == y)
    assert test["ece_15bin"] == pytest.approx(ece(p, y), abs=1e-6)
    assert test["brier"] == pytest.approx(brier(p, y), rel=1e-6)
    assert test["num_members"] == 3
    preds = store.load_predictions(record.run_id)
    assert preds["val_probs"].shape == (3, 0, CLASSES) and preds["val_labels"].shape == (0,)
    np.testing.assert_array_equal(preds["test_labels"], y)
    for name in SETS[1:]:
        corruption, _, severity = name.rpartition("_")
        got = record.metrics[f"corruption/{corruption}/{severity}"]
        p = _softmax_mean([logits[name][m] for m in range(3)])
        assert got["nll"] == pytest.approx(nll(p, y), rel=2**-10)  # the store's float16 form
        assert got["accuracy"] == pytest.approx(accuracy(p, y), abs=1.0 / N)
        stored = preds[f"shift_probs_{name}"]  # what a later read of the store gives
        assert got == compute_all(stored, preds[f"shift_labels_{name}"], np.ones(3))
    prov = record.provenance
    assert prov["source"] == "uncertainty-baselines" and record.cell["source"] == prov["source"]
    info = prov["imported"]
    assert info["source_dir"] == str((tmp_path / "ub").resolve())
    assert info["files"] == sorted(f"{s}_{m}.npy" for s in SETS for m in range(3))
    assert info["ub_method"] == "ub_ensemble" and info["members"] == [0, 1, 2]
    assert info["examples"] == N and prov["param_count"] is None
    assert info["skipped_files"] == [f"ood_cifar100_{m}.npy" for m in range(3)]
    assert not [k for k in record.metrics if k.startswith("ood")]


def test_hyperdeep_picks_weight_members_and_other_files_are_unused(tmp_path):
    logits = _write_ub(tmp_path / "ub", members=(2, 5, 7), sets=("clean",))
    y = _labels(tmp_path / "y.npy")[:N]
    args = ("--labels", str(tmp_path / "y.npy"), "--members", "5,2,5")
    assert _import(tmp_path / "ub", tmp_path / "store", *args, method="ub_hyper_deep") == 0
    store = RunStore(tmp_path / "store")
    rid = _only_run(tmp_path / "store")
    p = _softmax_mean([logits["clean"][2], logits["clean"][5]], weights=[1, 2])
    assert store.load(rid).metrics["test"]["nll"] == pytest.approx(nll(p, y), rel=1e-6)
    preds = store.load_predictions(rid)
    np.testing.assert_array_equal(preds["member_weights"], [1, 2])
    np.testing.assert_array_equal(preds["build_order"], [1, 0, 1])
    info = store.load(rid).provenance["imported"]
    assert info["members"] == [2, 5] and info["picks"] == [5, 2, 5]
    assert info["files"] == ["clean_2.npy", "clean_5.npy"]


def test_labels_come_from_the_dataset_registry_when_none_are_given(tmp_path):
    from benchmarks.data import get_dataset

    _write_ub(tmp_path / "ub", sets=("clean", "rotation_2"))
    assert _import(tmp_path / "ub", tmp_path / "store", dataset="digits") == 0
    store = RunStore(tmp_path / "store")
    preds = store.load_predictions(_only_run(tmp_path / "store"))
    want = get_dataset("digits").y_test[:N]
    np.testing.assert_array_equal(preds["test_labels"], want)
    np.testing.assert_array_equal(preds["shift_labels_rotation_2"], want)


def test_npz_labels_per_set_and_ubs_cifar100_corruption_names(tmp_path):
    _write_ub(tmp_path / "ub", sets=("clean", "glass_blur_2", "elastic_transform_4"))
    clean = np.random.default_rng(2).integers(0, CLASSES, N_TEST)
    blur = (clean + 1) % CLASSES
    np.savez(tmp_path / "labels.npz", clean=clean, glass_blur_2=blur)
    labels = ("--labels", str(tmp_path / "labels.npz"))
    assert _import(tmp_path / "ub", tmp_path / "store", *labels, dataset="cifar100") == 0
    store = RunStore(tmp_path / "store")
    rid = _only_run(tmp_path / "store")
    # UB's CIFAR-100-C names (baselines/cifar/utils.py) become the suite's (TFDS's)
    assert sorted(k for k in store.load(rid).metrics if k != "test") == [
        "corruption/elastic/4", "corruption/frosted_glass_blur/2"]  # fmt: skip
    preds = store.load_predictions(rid)
    np.testing.assert_array_equal(preds["shift_labels_frosted_glass_blur_2"], blur[:N])
    np.testing.assert_array_equal(preds["shift_labels_elastic_4"], clean[:N])


def _snapshot(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


def _bad_shape(ub: Path) -> None:
    np.save(ub / "clean_1.npy", np.zeros((N - 1, CLASSES), np.float32))


def _bad_classes(ub: Path) -> None:
    for m in range(3):
        np.save(ub / f"gaussian_noise_1_{m}.npy", np.zeros((N, CLASSES + 1), np.float32))


@pytest.mark.parametrize(
    "break_it,extra,message",
    [
        (lambda ub: [p.unlink() for p in ub.iterdir()], (), "holds no UB clean-test logits"),
        (lambda ub: (ub / "clean_2.npy").unlink(), (), "has members [0, 1, 2] but clean has"),
        (_bad_shape, (), "set 'clean' has member shapes"),
        (_bad_classes, (), "sets disagree on the number of classes"),
        (
            lambda ub: np.save(ub / "clean_1.npy", np.full((N, CLASSES), np.nan, np.float32)),
            (),
            "UB logits are finite floats",
        ),
        (
            lambda ub: np.save(ub / "clean_1.npy", np.zeros((N, CLASSES), np.int64)),
            (),
            "UB logits are finite floats",
        ),
        (lambda ub: np.save(ub / "foo_0.npy", np.zeros(1)), (), "set 'foo' is neither"),
        (lambda ub: np.save(ub / "clean_x.npy", np.zeros(1)), (), "not a UB logits file name"),
        (lambda ub: None, ("--dataset", "cifar11"), "unknown dataset 'cifar11'"),
        (lambda ub: None, ("--method", "deep_ensemble"), "one of the suite's own methods"),
        (lambda ub: None, ("--model", "vgg"), "unknown model 'vgg'"),
        (lambda ub: None, ("--members", "0,9"), "members [9] have no files"),
        (lambda ub: None, ("--members", "0,a"), "--members must be integers"),
        (lambda ub: None, ("--dataset", "digits"), "no corruption 'frosted_glass_blur'"),
        (lambda ub: None, ("--labels", "short.npy"), "need >= 48 integer labels"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    break_it, extra, message, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    _write_ub(tmp_path / "ub")
    _labels(tmp_path / "labels.npy")
    np.save(tmp_path / "short.npy", np.zeros(N - 1, np.int64))
    break_it(tmp_path / "ub")
    argv = ["import-ub", "ub", "--dataset", "cifar10", "--method", "ub_ensemble",
            "--store", "store", "--labels", "labels.npy", *extra]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "store").exists()


def test_missing_dir_and_missing_labels_are_one_line(tmp_path, capsys):
    assert _import(tmp_path / "nowhere", tmp_path / "store") == 2
    assert "UB logits directory" in capsys.readouterr().err
    _write_ub(tmp_path / "ub")
    nodata = ("--data_dir", str(tmp_path / "tfds"))  # cifar10 is not prepared there
    assert _import(tmp_path / "ub", tmp_path / "store", *nodata) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no labels for cifar10's test split" in err[0]
    assert "--labels FILE.npy" in err[0]
    assert not (tmp_path / "store").exists()


def test_an_imported_cell_is_never_imported_again(tmp_path, capsys):
    _write_ub(tmp_path / "ub")
    _labels(tmp_path / "labels.npy")
    labels = ("--labels", str(tmp_path / "labels.npy"))
    assert _import(tmp_path / "ub", tmp_path / "store", *labels) == 0
    before = _snapshot(tmp_path / "store")
    _write_ub(tmp_path / "ub2", seed=5)  # other logits, same cell
    for ub in ("ub", "ub2"):
        assert _import(tmp_path / ub, tmp_path / "store", *labels) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "already holds run" in err[0]
    assert _snapshot(tmp_path / "store") == before
    assert _import(tmp_path / "ub2", tmp_path / "store", *labels, "--seed", "1") == 0


def test_report_marks_the_imported_row_beside_a_suite_run(tmp_path, capsys):
    from benchmarks.report.readme import readme_block

    store, out = tmp_path / "store", tmp_path / "report"
    smoke = ["run", "--dataset", "digits", "--model", "mlp", "--method", "single",
             "--tier", "smoke", "--store", str(store)]  # fmt: skip
    assert main(smoke) == 0
    _write_ub(tmp_path / "ub", sets=("clean", "rotation_1", "rotation_2"))
    cell = ("--model", "mlp", "--tier", "smoke")
    assert _import(tmp_path / "ub", store, *cell, dataset="digits") == 0
    capsys.readouterr()
    assert main(["report", "--store", str(store), "--out", str(out)]) == 0
    assert "1 imported run(s) have no validation split" in capsys.readouterr().out
    table = (out / "tables" / "digits_mlp.md").read_text()
    assert "| ub_ensemble (imported) |" in table and "| single |" in table
    df = pd.read_csv(out / "results.csv")
    imported = df[df["method"] == "ub_ensemble"]
    assert set(imported["split"]) == {"test", "corruption"}  # no validation row
    assert imported["nll_calibrated"].isna().all() and imported["temperature"].isna().all()
    suite = df[df["method"] == "single"]
    assert (suite["source"] == "hyperens").all() and suite["nll_calibrated"].notna().all()
    calibrated = (out / "tables" / "digits_mlp_calibrated.md").read_text()
    assert "ub_ensemble" not in calibrated and "| single |" in calibrated
    note = (out / "tables" / "imported.md").read_text()
    assert "no temperature and no calibrated metrics" in note
    assert str((tmp_path / "ub").resolve()) in note and "9 files" in note
    listed = pd.read_csv(out / "tables" / "imported.csv")
    assert listed["ub_method"].tolist() == ["ub_ensemble"]
    assert listed["files"][0].split() == sorted(
        f"{s}_{m}.npy" for s in ("clean", "rotation_1", "rotation_2") for m in range(3)
    )
    assert "| ub_ensemble (imported) |" in readme_block(out)  # from the CSVs alone
    again = tmp_path / "again"
    assert main(["report", "--results", str(out), "--out", str(again)]) == 0
    assert (again / "tables" / "digits_mlp.md").read_text() == table
    assert json.loads((store / "runs" / _imported_id(store) / "cell.json").read_text())["source"]


def _imported_id(store: Path) -> str:
    return next(p.name for p in (store / "runs").iterdir() if "ub_ensemble" in p.name)
