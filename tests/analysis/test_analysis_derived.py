"""Ensemble-size curves, training histories and reliability bins from stored member predictions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchmarks.analysis.derived import (
    build_order_metrics,
    build_order_prefixes,
    ece_from_bins,
    ensemble_size_curve,
    history_from_learning_curves,
    prefix_ensemble_metrics,
    reliability_bins,
    training_history,
)
from benchmarks.metrics import compute_all, ece, ensemble_probs, nll
from benchmarks.store import RunStore, gather_results, run_id


def _predictions(seed: int, m: int = 4, n: int = 60, c: int = 3, weights=None) -> dict:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(c, 0.7), size=(m, n)).astype(np.float32)
    probs /= probs.sum(axis=-1, keepdims=True)
    labels = rng.integers(0, c, size=n).astype(np.int32)
    w = np.ones(m, np.float32) if weights is None else np.asarray(weights, np.float32)
    return {
        "val_probs": probs[:, : n // 2],
        "test_probs": probs,
        "val_labels": labels[: n // 2],
        "test_labels": labels,
        "member_weights": w,
    }


def _frame(runs: dict[str, tuple[str, int]]) -> pd.DataFrame:
    rows = []
    for rid, (method, seed) in runs.items():
        for split in ("val", "test"):
            rows.append(
                {
                    "run_id": rid,
                    "dataset": "digits",
                    "model": "mlp",
                    "tier": "quick",
                    "method": method,
                    "seed": seed,
                    "split": split,
                }
            )
    return pd.DataFrame(rows)


def test_curve_ends_match_member_and_full_ensemble():
    weights = [1.0, 3.0, 2.0, 1.0]
    preds = {"r0": _predictions(0, weights=weights)}
    curve = ensemble_size_curve(_frame({"r0": ("hyper_ens", 0)}), preds.__getitem__)
    assert list(curve.columns) == [
        "dataset",
        "model",
        "tier",
        "method",
        "seed",
        "run_id",
        "size",
        "nll",
        "accuracy",
    ]
    assert curve["size"].tolist() == [1, 2, 3, 4]
    p, y = preds["r0"]["test_probs"], preds["r0"]["test_labels"]
    assert curve["nll"].iloc[0] == pytest.approx(nll(p[0], y), rel=1e-10)
    full = compute_all(p, y, np.asarray(weights))
    assert curve["nll"].iloc[-1] == pytest.approx(full["nll"], rel=1e-10)
    assert curve["accuracy"].iloc[-1] == pytest.approx(full["accuracy"])
    # weights matter: the unweighted full ensemble differs, and a prefix uses its own weights
    assert not np.isclose(curve["nll"].iloc[-1], compute_all(p, y)["nll"])
    two = compute_all(p[:2], y, np.asarray(weights[:2]))
    assert curve["nll"].iloc[1] == pytest.approx(two["nll"], rel=1e-10)
    assert curve["accuracy"].iloc[1] == pytest.approx(two["accuracy"])


def test_prefix_with_zero_weights():
    preds = _predictions(1, weights=[0, 1, 0, 1])
    nlls, accs = prefix_ensemble_metrics(
        preds["test_probs"], preds["test_labels"], preds["member_weights"]
    )
    assert np.isnan(nlls[0]) and np.isnan(accs[0])  # the first prefix has no weight
    assert nlls[2] == pytest.approx(nlls[1])  # a zero-weight member changes nothing
    assert nlls[1] == pytest.approx(nll(preds["test_probs"][1], preds["test_labels"]))


def test_curve_val_split_and_one_row_per_run():
    preds = {"a": _predictions(2), "b": _predictions(3, m=2)}
    df = _frame({"a": ("deep_ensemble", 0), "b": ("deep_ensemble", 1)})
    curve = ensemble_size_curve(df, preds.__getitem__, split="val")
    assert curve.groupby("run_id")["size"].max().to_dict() == {"a": 4, "b": 2}
    p, y = preds["a"]["val_probs"], preds["a"]["val_labels"]
    last = curve[(curve.run_id == "a") & (curve["size"] == 4)]["nll"].item()
    assert last == pytest.approx(compute_all(p, y)["nll"], rel=1e-10)


def test_reliability_bins_counts_and_ece():
    preds = {
        "a": _predictions(4, n=80, weights=[2, 1, 1, 1]),
        "b": _predictions(5, n=80),
        "c": _predictions(6, n=80),
    }
    df = _frame({"a": ("hyper_ens", 0), "b": ("hyper_ens", 1), "c": ("single", 0)})
    bins = reliability_bins(df, preds.__getitem__)
    assert list(bins.columns) == [
        "dataset",
        "model",
        "tier",
        "method",
        "bin",
        "lower",
        "upper",
        "confidence",
        "accuracy",
        "count",
    ]
    per_method = bins.groupby("method")["count"].sum().to_dict()
    assert per_method == {"hyper_ens": 2 * 80, "single": 80}
    assert (bins.groupby("method").size() == 15).all()
    first = bins[bins.method == "single"].iloc[0]
    assert first["lower"] == 0.0 and first["upper"] == pytest.approx(1 / 15)
    # a single run: ECE from its bins equals the metric on the same predictions
    ens = ensemble_probs(preds["c"]["test_probs"], preds["c"]["member_weights"])
    got = ece_from_bins(bins).set_index("method")["ece"]
    assert got["single"] == pytest.approx(ece(ens, preds["c"]["test_labels"]), rel=1e-9)
    assert got["single"] == pytest.approx(
        compute_all(preds["c"]["test_probs"], preds["c"]["test_labels"])["ece_15bin"], rel=1e-9
    )
    # one-run frame for the weighted run too
    one = reliability_bins(_frame({"a": ("hyper_ens", 0)}), preds.__getitem__)
    weighted = compute_all(
        preds["a"]["test_probs"], preds["a"]["test_labels"], preds["a"]["member_weights"]
    )["ece_15bin"]
    assert ece_from_bins(one)["ece"].item() == pytest.approx(weighted, rel=1e-9)
    empty = bins[bins["count"] == 0]
    assert empty["confidence"].isna().all() and empty["accuracy"].isna().all()


def test_through_a_run_store(tmp_path):
    store = RunStore(tmp_path)
    cell = {
        "dataset": "digits",
        "model": "mlp",
        "method": "deep_ensemble",
        "tier": "quick",
        "seed": 0,
    }
    preds = _predictions(7, weights=[1, 2, 1, 1])
    rid = run_id(cell, "x = 1\n")
    store.begin(rid, cell, "x = 1\n")
    metrics = {
        s: compute_all(preds[f"{s}_probs"], preds[f"{s}_labels"], preds["member_weights"])
        for s in ("val", "test")
    }
    store.finish(rid, metrics, preds, {"wall_time_s": 1.0, "param_count": 10})
    df = gather_results(store)
    curve = ensemble_size_curve(df, store.load_predictions)
    assert curve["nll"].iloc[-1] == pytest.approx(df[df.split == "test"]["nll"].item(), rel=1e-9)
    bins = reliability_bins(df, store.load_predictions)
    stored = df[df.split == "test"]["ece_15bin"].item()
    assert ece_from_bins(bins)["ece"].item() == pytest.approx(stored, rel=1e-9)


def _hand_predictions(**extra) -> dict:
    """Three members, two examples (labels 0, 1), two classes; true-label probabilities
    member 0: (0.6, 0.4), member 1: (0.2, 0.9), member 2: (0.9, 0.4)."""
    py = np.array([[0.6, 0.4], [0.2, 0.9], [0.9, 0.4]])
    labels = np.array([0, 1])
    probs = np.empty((3, 2, 2))
    probs[:, 0, 0], probs[:, 0, 1] = py[:, 0], 1 - py[:, 0]  # example 0, label 0
    probs[:, 1, 1], probs[:, 1, 0] = py[:, 1], 1 - py[:, 1]  # example 1, label 1
    return {
        "val_probs": probs,
        "test_probs": probs,
        "val_labels": labels,
        "test_labels": labels,
        "member_weights": np.array([1.0, 1.0, 2.0]),
        **extra,
    }


def test_curve_follows_build_order_with_repeats_by_hand():
    preds = {"r": _hand_predictions(build_order=np.array([2, 0, 2, 1]))}
    curve = ensemble_size_curve(_frame({"r": ("hyper_ens", 0)}), preds.__getitem__)
    assert curve["size"].tolist() == [1, 2, 3]
    # size 1 = [2]: member 2 alone -> true-label probabilities (0.9, 0.4)
    # size 2 = [2, 0]: {2: 1, 0: 1} -> ((0.9 + 0.6) / 2, (0.4 + 0.4) / 2) = (0.75, 0.4)
    # size 3 = [2, 0, 2, 1]: {2: 2, 0: 1, 1: 1} -> ((1.8 + 0.6 + 0.2) / 4, (0.8 + 0.4 + 0.9) / 4)
    #        = (0.65, 0.525)
    expected = [
        -(math.log(0.9) + math.log(0.4)) / 2,
        -(math.log(0.75) + math.log(0.4)) / 2,
        -(math.log(0.65) + math.log(0.525)) / 2,
    ]
    np.testing.assert_allclose(curve["nll"], expected, rtol=1e-12)
    # example 1 is right only once its label probability passes 0.5 (at size 3)
    assert curve["accuracy"].tolist() == [0.5, 0.5, 1.0]
    # without build_order: the first m stored members with their stored weights (1, 1, 2)
    old = {"r": _hand_predictions()}
    stored = ensemble_size_curve(_frame({"r": ("hyper_ens", 0)}), old.__getitem__)
    np.testing.assert_allclose(
        stored["nll"],
        [
            -(math.log(0.6) + math.log(0.4)) / 2,
            -(math.log(0.4) + math.log(0.65)) / 2,
            -(math.log((0.6 + 0.2 + 1.8) / 4) + math.log((0.4 + 0.9 + 0.8) / 4)) / 2,
        ],
        rtol=1e-12,
    )


def test_build_order_prefixes_and_metrics():
    prefixes = build_order_prefixes(np.array([2, 0, 2, 1]), 4)
    np.testing.assert_array_equal(prefixes, [[0, 0, 1, 0], [1, 0, 1, 0], [1, 1, 2, 0]])
    # picks after the last new member define no size; arange(M) is the plain prefix
    assert len(build_order_prefixes(np.array([1, 0, 1, 1]), 2)) == 2
    preds = _hand_predictions()
    got = build_order_metrics(preds["test_probs"], preds["test_labels"], np.arange(3))
    want = prefix_ensemble_metrics(preds["test_probs"], preds["test_labels"])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    for bad in (np.array([0, 3]), np.array([], np.int64), np.array([0.0, 1.0]), np.ones((2, 2))):
        with pytest.raises(ValueError, match="build_order"):
            build_order_prefixes(bad, 3)


def test_training_history_one_row_per_network_and_epoch():
    val_nll = np.array([[1.0, 0.8, 0.7], [1.2, 0.9, 0.6]], np.float32)
    loss = np.array([[2.0, 1.5, 1.0], [2.1, 1.4, 0.9]], np.float32)
    acc = np.array([[0.5, 0.75, 0.875], [0.25, 0.5, 1.0]], np.float32)
    preds = {
        "a": _hand_predictions(
            val_nll_curve=val_nll, train_loss_curve=loss, val_accuracy_curve=acc
        ),
        "b": _hand_predictions(),
        "old": _hand_predictions(val_nll_curve=val_nll[:1]),  # a store from before the history
    }
    df = _frame({"a": ("hyper_ens", 0), "b": ("single", 0), "old": ("single", 1)})
    table = training_history(df, preds.__getitem__)
    assert list(table.columns) == [
        "dataset", "model", "tier", "method", "seed", "run_id", "member", "epoch",
        "train_loss", "val_nll", "val_accuracy",
    ]  # fmt: skip
    assert set(table["run_id"]) == {"a", "old"}  # a run without any curve gives no rows
    a = table[table.run_id == "a"]
    assert a["member"].tolist() == [0, 0, 0, 1, 1, 1]
    assert a["epoch"].tolist() == [1, 2, 3, 1, 2, 3]
    np.testing.assert_array_equal(a["val_nll"], val_nll.ravel())
    np.testing.assert_array_equal(a["train_loss"], loss.ravel())
    np.testing.assert_array_equal(a["val_accuracy"], acc.ravel())
    old = table[table.run_id == "old"]
    np.testing.assert_array_equal(old["val_nll"], val_nll[0])
    assert old["train_loss"].isna().all() and old["val_accuracy"].isna().all()
    assert training_history(df[df.run_id == "b"], preds.__getitem__).empty
    bad = {"a": _hand_predictions(val_nll_curve=val_nll, train_loss_curve=loss[:, :2])}
    with pytest.raises(ValueError, match="one .R, E. shape"):
        training_history(df[df.run_id == "a"], bad.__getitem__)


def test_history_from_an_older_reports_learning_curves():
    learning = pd.DataFrame({"dataset": ["d"] * 2, "model": ["m"] * 2, "tier": ["t"] * 2,
                             "method": ["single"] * 2, "seed": [0, 0], "run_id": ["r", "r"],
                             "row": [0, 0], "epoch": [1, 2], "val_nll": [0.9, 0.7]})  # fmt: skip
    history = history_from_learning_curves(learning)
    assert history["member"].tolist() == [0, 0] and history["val_nll"].tolist() == [0.9, 0.7]
    assert history["train_loss"].isna().all() and history["val_accuracy"].isna().all()


def test_q_path_is_tidy_and_named_by_the_run_info():
    from benchmarks.analysis.derived import Q_PATH_COLUMNS, q_path

    df = _frame({"h0": ("hyper_batch_ensemble", 0), "s0": ("single", 0)})
    path = np.zeros((3, 2, 2, 3))  # epochs, members, hyperparameters, (low, high, mean)
    path[..., 0], path[..., 1] = 0.1, 10.0
    path[..., 2] = np.arange(3)[:, None, None] + 1 + 10 * np.arange(2)[None, :, None]
    arrays = {"h0": {"q_path": path.astype(np.float32)}, "s0": {}}
    info = {"h0": {"tuned": ["l2_0", "dropout_0"]}, "s0": {}}
    out = q_path(df, arrays.__getitem__, info.__getitem__)
    assert list(out.columns) == list(Q_PATH_COLUMNS)
    assert len(out) == 3 * 2 * 2 and set(out["run_id"]) == {"h0"}
    row = out[(out["epoch"] == 2) & (out["member"] == 1) & (out["hparam"] == "dropout_0")]
    assert row["mean"].tolist() == [12.0] and row["low"].tolist() == pytest.approx([0.1])
    bad = {"h0": {"tuned": ["l2_0"]}, "s0": {}}
    with pytest.raises(ValueError, match="does not match"):
        q_path(df, arrays.__getitem__, bad.__getitem__)
