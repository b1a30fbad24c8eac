"""Ensembles from the store: the API reproduces the stored weight-space runs, selection reads
validation only, and nothing trains."""

import numpy as np
import pytest

from benchmarks.ensembles import (
    SELECTIONS,
    caruana_select,
    cell_pool,
    evaluate,
    matrix_params,
    select,
)
from benchmarks.errors import HyperensError
from benchmarks.settings import Cell
from benchmarks.store import RunStore, gather_results


@pytest.fixture(scope="module")
def pool(smoke_store):
    cell = Cell("digits", "mlp", "hyper_ens", "smoke", 0)
    return cell_pool(smoke_store, cell, gin_params=matrix_params("smoke"))


def _stored(store, method: str, seed: int = 0):
    df = gather_results(RunStore(store))
    (rid,) = df[(df["method"] == method) & (df["seed"] == seed) & (df["model"] == "mlp")][
        "run_id"
    ].unique()
    record = RunStore(store).load(rid)
    return record, RunStore(store).load_predictions(rid)


@pytest.mark.parametrize("method,rule", [("hyper_ens", "greedy"), ("random_search_topk", "topk")])
def test_reproduces_the_stored_runs_exactly(smoke_store, pool, method, rule):
    record, preds = _stored(smoke_store, method)
    counts = select(pool, rule, size=pool.k)
    chosen = np.flatnonzero(counts)
    np.testing.assert_array_equal(pool.test_probs[chosen], preds["test_probs"])
    np.testing.assert_array_equal(counts[chosen], preds["member_weights"])
    got = evaluate(pool, counts)
    for split in ("val", "test"):
        for key, value in record.metrics[split].items():
            assert got[split][key] == pytest.approx(value, rel=0, abs=0), (split, key)


def test_permuting_test_labels_changes_no_selection(pool):
    rng = np.random.default_rng(0)
    shuffled = type(pool)(**{**pool.__dict__, "y_test": rng.permutation(pool.y_test),
                             "test_probs": pool.test_probs[:, ::-1]})  # fmt: skip
    for rule in SELECTIONS:
        for size in (1, 2, 3):
            np.testing.assert_array_equal(select(pool, rule, size), select(shuffled, rule, size))


def test_sizes_run_past_k_up_to_the_search(pool):
    n = int(pool.usable.sum())
    assert n == len(pool.keys) > pool.k  # the smoke search: kappa 3, K 2
    for rule in ("topk", "random"):
        assert select(pool, rule, n).sum() == n
    assert select(pool, "caruana", 2 * n).sum() == 2 * n
    with pytest.raises(HyperensError, match="size must be in"):
        select(pool, "topk", n + 1)


def test_caruana_by_hand():
    y = np.array([0, 1])
    p = np.array([
        [[0.9, 0.1], [0.6, 0.4]],  # p(true) 0.9 and 0.4
        [[0.4, 0.6], [0.1, 0.9]],  # p(true) 0.4 and 0.9
    ])  # fmt: skip
    mask = np.ones(2, bool)
    # alone both have NLL -(log .9 + log .4)/2 = 0.511: the tie goes to trial 0; then 0 + 1
    # (p(true) 0.65 on both, NLL 0.431) beats 0 + 0 (0.511); then 0+1+0 and 0+1+1 tie at 0.439
    assert caruana_select(p, y, 1, mask).tolist() == [1, 0]
    assert caruana_select(p, y, 2, mask).tolist() == [1, 1]
    assert caruana_select(p, y, 3, mask).tolist() == [2, 1]
    # a trial masked out is never picked
    assert caruana_select(p, y, 3, np.array([False, True])).tolist() == [0, 3]


def test_a_missing_trial_is_an_error_not_a_training(smoke_store):
    cell = Cell("digits", "mlp", "hyper_ens", "smoke", 0)
    with pytest.raises(HyperensError, match="not in the store"):
        cell_pool(smoke_store, cell, gin_params=matrix_params("smoke"), kappa=50)


def test_command_prints_one_row_per_size(smoke_store, capsys):
    from benchmarks.cli import main

    argv = ["ensemble", "--store", str(smoke_store), "--cell", "digits/mlp/0", "--tier", "smoke",
            "--matrix", "smoke", "--select", "topk", "--size", "1..kappa"]  # fmt: skip
    assert main(argv) == 0
    rows = [ln for ln in capsys.readouterr().out.splitlines() if ln[:3] in ("| 1", "| 2", "| 3")]
    assert [r.split("|")[1].strip() for r in rows] == ["1", "2", "3"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--cell", "digits/mlp"], "--cell must be DATASET/MODEL/SEED"),
        (["--cell", "digits/mlp/0", "--select", "best"], "--select must be one of"),
        (["--cell", "digits/mlp/0", "--size", "3..1"], "--size must be 1 <= A <= B"),
    ],
)
def test_command_bad_input_is_one_line(smoke_store, args, message, capsys):
    from benchmarks.cli import main

    argv = ["ensemble", "--store", str(smoke_store), "--tier", "smoke", "--matrix", "smoke"]
    assert main([*argv, *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
