"""The compact form of shifted-set predictions: its error bound, round trips and both stores."""

import numpy as np
import pytest

from benchmarks.compact import decode, encode, from_store, round_trip, to_store
from benchmarks.metrics import nll
from benchmarks.store import RunStore, run_id
from benchmarks.store.trial_store import TrialStore


def _probs(rng, n=2000, c=10, scale=8.0):
    logits = rng.normal(scale=scale, size=(n, c)).astype(np.float32)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def test_log_probability_error_is_within_the_float16_bound():
    p = _probs(np.random.default_rng(0))
    q = round_trip(p)
    logp, logq = np.log(p.astype(np.float64)), np.log(q.astype(np.float64))
    bound = 2.0**-11 * np.abs(logp) + 3e-8 + 1e-6  # (+ float32 exp/log rounding)
    assert np.all(np.abs(logq - logp) <= bound)
    assert np.all(p[p < 6e-8] > 0) and np.all(q[p < 6e-8] > 0)  # the tail is kept, not flushed
    y = np.random.default_rng(1).integers(0, 10, len(p))
    assert abs(nll(q, y) - nll(p, y)) <= 2.0**-11 * nll(p, y) + 1e-6


def test_stored_form_is_a_fixed_point():
    """What `round_trip` gives is what a store reads back: decode(encode(q)) == q, bit for bit
    (also near p = 1, where float32 rounding in exp/log moves log q off its float16 code)."""
    p = _probs(np.random.default_rng(2), n=20000, scale=12.0)
    p[:5, 0] = [1.0, 0.99999994, 0.9999999, 0.9999, 0.0]
    q = round_trip(p)
    np.testing.assert_array_equal(decode(encode(q)).view(np.uint32), q.view(np.uint32))
    assert encode(np.zeros(1))[0] == -np.inf and decode(encode(np.zeros(1)))[0] == 0.0


def test_only_shift_float_arrays_are_compacted():
    arrays = {
        "val_probs": np.full((2, 3), 0.5, np.float32),
        "shift_probs_a": np.full((1, 2, 3), 0.5, np.float32),
        "shift_labels_a": np.arange(2, dtype=np.int32),
        "shift_b": np.full((2, 3), 0.25, np.float32),
    }
    stored = to_store(arrays)
    assert {k: v.dtype for k, v in stored.items()} == {
        "val_probs": np.float32,
        "shift_probs_a": np.float16,
        "shift_labels_a": np.int32,
        "shift_b": np.float16,
    }
    back = from_store(stored)
    assert all(back[k].dtype == arrays[k].dtype for k in arrays)
    np.testing.assert_array_equal(back["shift_b"], round_trip(arrays["shift_b"]))


@pytest.mark.parametrize("store_kind", ["trial", "run"])
def test_stores_give_back_what_was_predicted(tmp_path, store_kind):
    rng = np.random.default_rng(3)
    shifted = round_trip(_probs(rng, n=50))
    val, test = _probs(rng, n=40), _probs(rng, n=30)
    if store_kind == "trial":
        store = TrialStore(tmp_path)
        store.save(
            "k",
            {"status": "done", "hparams": {}, "seed": 0},
            {"val_probs": val, "test_probs": test, "shift_s": shifted},
        )
        _, preds = store.load("k")
        got = preds["shift_s"]
        size = (tmp_path / "trials" / "k" / "predictions.npz").stat().st_size
    else:
        store = RunStore(tmp_path)
        cell = {"dataset": "d", "model": "m", "method": "x", "tier": "t", "seed": 0}
        rid = run_id(cell, "cfg")
        store.begin(rid, cell, "cfg")
        preds = {
            "val_probs": val[None],
            "test_probs": test[None],
            "val_labels": np.zeros(40, np.int32),
            "test_labels": np.zeros(30, np.int32),
            "member_weights": np.ones(1, np.float32),
            "shift_probs_s": shifted[None],
            "shift_labels_s": np.zeros(50, np.int32),
        }
        store.finish(rid, {"val": {"nll": 1.0}}, preds, {})
        got = store.load_predictions(rid)["shift_probs_s"][0]
        size = None
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, shifted)  # bit for bit
    np.testing.assert_array_equal(
        preds["val_probs"].reshape(val.shape) if store_kind == "trial" else val, val
    )
    if size is not None:  # float16 shifted arrays: half the bytes of float32
        assert size < (val.nbytes + test.nbytes + shifted.nbytes // 2) + 2000
