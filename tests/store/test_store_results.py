"""The tidy results table built from a RunStore."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.errors import StoreCorruptError
from benchmarks.store import (
    RunStore,
    collect_provenance,
    format_results,
    gather_results,
    read_results,
    run_id,
    status_counts,
    write_results,
)
from benchmarks.store.results import PROVENANCE_COLUMNS

# provenance the runner adds to collect_provenance's (missing from these hand-made runs)
RUNNER_COLUMNS = (
    "shift_eval_s", "budget_trainings", "budget_train_s", "training_code_version", "kept_epoch",
    "hparams_source",
)  # fmt: skip
CONFIG_A = "model.width = 64\n"
CONFIG_B = "model.width = 128\n"
CELL_A = {"dataset": "digits", "model": "mlp", "method": "deep_ens", "tier": "smoke", "seed": 0}
CELL_B = {**CELL_A, "seed": 1}
CELL_F = {**CELL_A, "method": "hyper_ens"}
METRICS_A = {
    "test": {"nll": 0.25, "accuracy": 0.9, "ece_15bin": 0.03, "brier": 0.125},
    "val": {"nll": 0.5, "accuracy": 0.85, "ece_15bin": 0.05, "brier": 0.2},
}
# run B also has a member metric: the column union gives NaN for run A
METRICS_B = {
    "test": {"nll": 0.375, "accuracy": 0.875, "ece_15bin": 0.04, "brier": 0.15, "member_nll": 0.7},
    "val": {"nll": 0.625, "accuracy": 0.8, "ece_15bin": 0.06, "brier": 0.25, "member_nll": 0.8},
}


def _predictions() -> dict[str, np.ndarray]:
    probs = np.full((1, 2, 2), 0.5, dtype=np.float32)
    labels = np.array([0, 1], dtype=np.int32)
    return {
        "val_probs": probs,
        "test_probs": probs,
        "val_labels": labels,
        "test_labels": labels,
        "member_weights": np.ones(1, dtype=np.float32),
    }


def _finish(store: RunStore, cell: dict, config: str, metrics: dict, wall: float) -> tuple:
    rid = run_id(cell, config)
    store.begin(rid, cell, config)
    provenance = collect_provenance(config, cell["seed"], wall_time_s=wall, param_count=1234)
    store.finish(rid, metrics, _predictions(), provenance)
    return rid, provenance


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "store")


@pytest.fixture
def filled(store: RunStore) -> tuple[RunStore, dict]:
    a = _finish(store, CELL_A, CONFIG_A, METRICS_A, wall=12.5)
    b = _finish(store, CELL_B, CONFIG_B, METRICS_B, wall=7.25)
    rid_f = run_id(CELL_F, CONFIG_A)
    store.begin(rid_f, CELL_F, CONFIG_A)
    store.mark(rid_f, "failed", "out of memory")
    return store, {"a": a, "b": b, "failed": rid_f}


def test_gather_exact_rows(filled: tuple[RunStore, dict]) -> None:
    store, runs = filled
    df = gather_results(store)
    (rid_a, prov_a), (rid_b, prov_b) = runs["a"], runs["b"]
    id_cols = ["run_id", "dataset", "model", "method", "tier", "seed", "split"]
    shift_cols = ["corruption", "severity", "ood_set"]
    metric_cols = ["nll", "accuracy", "ece_15bin", "brier", "member_nll"]
    assert list(df.columns) == id_cols + shift_cols + metric_cols + list(PROVENANCE_COLUMNS)
    assert set(df["corruption"]) == {"none"} and set(df["severity"]) == {0}
    assert len(df) == 4 and runs["failed"] not in set(df["run_id"])
    nan = float("nan")
    expected = pd.DataFrame(
        [
            [rid_a, "digits", "mlp", "deep_ens", "smoke", 0, "test", 0.25, 0.9, 0.03, 0.125, nan],
            [rid_a, "digits", "mlp", "deep_ens", "smoke", 0, "val", 0.5, 0.85, 0.05, 0.2, nan],
            [rid_b, "digits", "mlp", "deep_ens", "smoke", 1, "test", 0.375, 0.875, 0.04, 0.15, 0.7],
            [rid_b, "digits", "mlp", "deep_ens", "smoke", 1, "val", 0.625, 0.8, 0.06, 0.25, 0.8],
        ],
        columns=id_cols + metric_cols,
    )
    pd.testing.assert_frame_equal(df[id_cols + metric_cols], expected, check_dtype=False)
    assert df["seed"].dtype == np.int64 and df["nll"].dtype == np.float64
    for prov, rows in ((prov_a, df.iloc[:2]), (prov_b, df.iloc[2:])):
        for col in PROVENANCE_COLUMNS:
            if col in prov:
                assert (rows[col] == prov[col]).all(), col
            elif col == "source":  # where the predictions were made: the suite, unless imported
                assert (rows[col] == "hyperens").all()
            else:  # set by the runner, not by collect_provenance
                assert col in RUNNER_COLUMNS and rows[col].isna().all(), col
    assert list(df["wall_time_s"]) == [12.5, 12.5, 7.25, 7.25]
    assert list(df["param_count"]) == [1234] * 4
    assert df["config_hash"].nunique() == 2 and df["suite_version"].iloc[0] == "0.1.0"


def test_round_trip_parquet_and_csv(filled: tuple[RunStore, dict]) -> None:
    store, _ = filled
    df = gather_results(store)
    parquet_path, csv_path = write_results(store)
    assert parquet_path == store.root / "results.parquet"
    assert csv_path == store.root / "results.csv"
    pd.testing.assert_frame_equal(pd.read_parquet(parquet_path), df)
    pd.testing.assert_frame_equal(read_results(parquet_path), df)
    pd.testing.assert_frame_equal(read_results(csv_path), df)
    assert not [p for p in store.root.iterdir() if p.name.startswith(".tmp-")]


def test_shifted_sets_become_rows_with_their_columns(store: RunStore) -> None:
    metrics = {
        "test": {"nll": 0.2},
        "corruption/fog/3": {"nll": 0.9},
        "corruption/fog/1": {"nll": 0.5},
        "ood/svhn": {"auroc_entropy": 0.8},
    }
    _finish(store, CELL_A, CONFIG_A, metrics, wall=1.0)
    df = gather_results(store)
    got = df[["split", "corruption", "severity", "ood_set", "nll", "auroc_entropy"]]
    nan = float("nan")
    expected = pd.DataFrame(
        [
            ["corruption", "fog", 1, "none", 0.5, nan],
            ["corruption", "fog", 3, "none", 0.9, nan],
            ["ood", "none", 0, "svhn", nan, 0.8],
            ["test", "none", 0, "none", 0.2, nan],
        ],
        columns=got.columns,
    )
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert df["severity"].dtype == np.int64
    _, csv_path = write_results(store)
    pd.testing.assert_frame_equal(read_results(csv_path), df)


def test_status_counts(filled: tuple[RunStore, dict]) -> None:
    store, _ = filled
    rid = run_id({**CELL_A, "seed": 9}, CONFIG_A)
    store.begin(rid, {**CELL_A, "seed": 9}, CONFIG_A)
    assert status_counts(store) == {"running": 1, "done": 2, "failed": 1, "diverged": 0}
    (store.runs_dir / "half-started").mkdir()
    assert status_counts(store)["not_started"] == 1


@pytest.mark.parametrize("name", ["predictions.npz", "metrics.json", "status.json"])
def test_gather_names_a_corrupt_run(filled: tuple[RunStore, dict], name: str) -> None:
    store, runs = filled
    rid_b = runs["b"][0]
    path = store.run_dir(rid_b) / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreCorruptError) as err:
        gather_results(store)
    assert str(err.value).startswith(f"run {rid_b}: file {path} is truncated or corrupt")
    with pytest.raises(StoreCorruptError, match=rid_b):
        write_results(store)


def test_empty_store(store: RunStore) -> None:
    df = gather_results(store)
    assert df.empty and list(df.columns[:7]) == [
        "run_id",
        "dataset",
        "model",
        "method",
        "tier",
        "seed",
        "split",
    ]
    assert status_counts(store) == {"running": 0, "done": 0, "failed": 0, "diverged": 0}
    parquet_path, csv_path = write_results(store)
    assert read_results(parquet_path).empty and read_results(csv_path).empty
    assert format_results(df) == "(no finished runs)"


def test_format_results(filled: tuple[RunStore, dict]) -> None:
    store, _ = filled
    text = format_results(gather_results(store))
    lines = text.splitlines()
    assert len(lines) == 5
    assert lines[0].split() == [
        "dataset",
        "model",
        "method",
        "tier",
        "seed",
        "split",
        "nll",
        "accuracy",
        "ece_15bin",
        "brier",
    ]
    assert lines[1].split() == [
        "digits",
        "mlp",
        "deep_ens",
        "smoke",
        "0",
        "test",
        "0.2500",
        "0.9000",
        "0.0300",
        "0.1250",
    ]
    assert "member_nll" not in text and "run_id" not in text
