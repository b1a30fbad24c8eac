"""Greedy ensemble selection with replacement: hand-made pools, a naive reference, validation.

Most pools are binary with every label 0, built from each model's probability of the label,
py[t][i] = p_t(y_i | x_i); the other class gets 1 - py. NLL = -mean_i log pbar_i, where pbar is
the mean of the members' py. Numbers in comments are rounded to 4 decimals.
"""

import dataclasses
import math

import numpy as np
import pytest

from benchmarks.metrics import accuracy, ensemble_nll, member_nll, nll
from benchmarks.selection import (
    OBJECTIVES,
    Selection,
    greedy,
    greedy_select,
    top_k_by_nll,
)


def binary_pool(py):
    """(T, N) label probabilities -> probs (T, N, 2) = [py, 1 - py] and labels all 0."""
    py = np.asarray(py, dtype=np.float64)
    return np.stack([py, 1.0 - py], axis=2), np.zeros(py.shape[1], dtype=np.int64)


def mean_nll(*py):
    """NLL of the mean of the given label-probability vectors (the hand formula)."""
    pbar = np.mean(np.asarray(py, dtype=np.float64), axis=0)
    return float(-np.mean(np.log(pbar)))


# --- first pick, duplicates, early stop, k distinct, ties ------------------------------------


def test_first_pick_is_best_single_model_by_nll():
    # NLL: 0 -> -log .5 = 0.6931; 1 -> -(log .9 + log .6)/2 = (0.1054 + 0.5108)/2 = 0.3081;
    # 2 -> -log .8 = 0.2231 (best); 3 -> -(log .3 + log .95)/2 = (1.2040 + 0.0513)/2 = 0.6276
    probs, labels = binary_pool([[0.5, 0.5], [0.9, 0.6], [0.8, 0.8], [0.3, 0.95]])
    sel = greedy_select(probs, labels, k=1)
    assert sel.picks == [2]
    assert sel.members == [2]
    assert sel.scores == pytest.approx([-math.log(0.8)])
    assert sel.objective == "nll"


def test_first_pick_matches_member_nll_argmin_on_random_pools():
    for seed in range(5):
        rng = np.random.default_rng(seed)
        probs = rng.dirichlet(np.ones(5), size=(12, 40))
        labels = rng.integers(0, 5, size=40)
        sel = greedy_select(probs, labels, k=3)
        assert sel.picks[0] == int(np.argmin(member_nll(probs, labels)))


# Pool [C, A, B]: C = (.1, .1), A = (.8, .4), B = (.2, .9).
#   round 1: C 2.3026, A -(log .8 + log .4)/2 = 0.5697, B -(log .2 + log .9)/2 = 0.8574 -> A
#   round 2: {A,C} (.45,.25) 1.0924; {A,A} 0.5697 (= best, no gain); {A,B} (.5,.65) 0.5620 -> B
#   round 3: {A,B,C} 0.8827; {A,B,A} (1.8/3, 1.7/3) = (.6,.5667) 0.5394; {A,B,B} (.4,.7333) 0.6132
#            -> A again (weights 2/3, 1/3 beat 1/2, 1/2)
#   round 4: {A,B,A,A} (.65,.525) 0.5376 < 0.5394 -> A; {..,B} 0.5620, {..,C} 0.7715
#   round 5: best is {4A,B} (.68,.5) 0.5394 > 0.5376 -> stop with 2 distinct (< k = 3)
DUP_PY = [[0.1, 0.1], [0.8, 0.4], [0.2, 0.9]]


def test_duplicate_pick_is_optimal_and_counts_weights_reflect_it():
    probs, labels = binary_pool(DUP_PY)
    sel = greedy_select(probs, labels, k=3)
    assert sel.picks == [1, 2, 1, 1]
    assert sel.members == [1, 2]
    np.testing.assert_array_equal(sel.counts, [0, 3, 1])
    assert sel.counts.dtype.kind == "i"
    np.testing.assert_allclose(sel.weights, [0.0, 0.75, 0.25])
    a, b = DUP_PY[1], DUP_PY[2]
    expected = [mean_nll(a), mean_nll(a, b), mean_nll(a, b, a), mean_nll(a, b, a, a)]
    np.testing.assert_allclose(sel.scores, expected, rtol=1e-12)
    np.testing.assert_allclose(sel.scores, [0.5697, 0.5620, 0.5394, 0.5376], atol=1e-4)
    # the final score is the weighted-ensemble NLL of our metrics module
    assert sel.scores[-1] == pytest.approx(ensemble_nll(probs, labels, sel.counts), rel=1e-12)


# Pool [C, A, B]: C = (.1, .1), A = (.9, .3), B = (.35, .9).
#   round 1: C 2.3026, A -(log .9 + log .3)/2 = 0.6547, B -(log .35 + log .9)/2 = 0.5776 -> B
#   round 2: {B,A} (.625, .6) -(log .625 + log .6)/2 = 0.4904 -> A; {B,B} 0.5776; {B,C} 1.0924
#   round 3: {B,A,A} (.7167, .5) 0.5131; {B,A,B} (.5333, .7) 0.4926; {B,A,C} (.45,.4333) 0.8174;
#            all > 0.4904 -> stop with 2 distinct though k = 4
EARLY_PY = [[0.1, 0.1], [0.9, 0.3], [0.35, 0.9]]


def test_early_stop_when_nothing_improves():
    probs, labels = binary_pool(EARLY_PY)
    sel = greedy_select(probs, labels, k=4)
    assert sel.picks == [2, 1]
    assert sel.members == [1, 2]
    np.testing.assert_array_equal(sel.counts, [0, 1, 1])
    np.testing.assert_allclose(sel.scores, [0.5776, 0.4904], atol=1e-4)
    assert sel.scores[1] == pytest.approx(mean_nll(EARLY_PY[1], EARLY_PY[2]), rel=1e-12)
    assert sel.scores[1] < mean_nll(EARLY_PY[1], EARLY_PY[2], EARLY_PY[2])  # 0.4926


# Pool [0, 1, 2, 3] = [(.1, .8), (.8, .3), (.45, .5), (.6, .35)].
#   round 1: 1.2629, 0.7136, 0.7458, 0.7803 -> 1
#   round 2: {1,0} (.45,.55) 0.6982; {1,1} 0.7136; {1,2} (.625,.4) 0.6931; {1,3} 0.7403 -> 2
#   round 3: {1,2,0} 0.7136; {1,2,1} (.6833,.3667) 0.6920; {1,2,2} 0.7021; {1,2,3} 0.7211 -> 1
#   round 4: {1,2,1,0} (.5375,.475) 0.6826 -> 0 (3 distinct = k: stop); others 0.6944 .. 0.7132
#   with a larger k the run would go on: {1,2,1,0,1} (.59,.44) 0.6743 < 0.6826
KSTOP_PY = [[0.1, 0.8], [0.8, 0.3], [0.45, 0.5], [0.6, 0.35]]


def test_stops_at_k_distinct_members_with_a_duplicate_along_the_way():
    probs, labels = binary_pool(KSTOP_PY)
    sel = greedy_select(probs, labels, k=3)
    assert sel.picks == [1, 2, 1, 0]
    assert len(sel.picks) > 3
    assert sel.members == [0, 1, 2]
    np.testing.assert_array_equal(sel.counts, [1, 2, 1, 0])
    np.testing.assert_allclose(sel.weights, [0.25, 0.5, 0.25, 0.0])
    np.testing.assert_allclose(sel.scores, [0.7136, 0.6931, 0.6920, 0.6826], atol=1e-4)
    # the k-stop, not a lack of improvement, ended the run: a larger k continues
    longer = greedy_select(probs, labels, k=4)
    assert longer.picks[:5] == [1, 2, 1, 0, 1]
    assert greedy_select(probs, labels, k=1).picks == [1]
    assert greedy_select(probs, labels, k=2).picks == [1, 2]


def test_ties_go_to_the_lowest_index():
    # Pool [C, B, B', A, A'] with B' == B and A' == A from the early-stop pool:
    #   round 1: B (1) and B' (2) tie at 0.5776 -> 1; round 2: A (3) and A' (4) tie at 0.4904 -> 3
    #   round 3: {B,A,B'} = {B,A,B} 0.4926 > 0.4904 -> stop
    c, a, b = EARLY_PY
    probs, labels = binary_pool([c, b, b, a, a])
    sel = greedy_select(probs, labels, k=4)
    assert sel.picks == [1, 3]
    # a first-round tie among the best, with a worse model at index 0
    probs, labels = binary_pool([[0.2, 0.2], [0.7, 0.7], [0.7, 0.7]])
    assert greedy_select(probs, labels, k=2).picks == [1]


# --- objectives ------------------------------------------------------------------------------

# Pool [A, B, D], 3 examples: A = (.6, .6, .01), B = (.45, .45, .45), D = (.55, .55, .3).
#   NLL:  A (2*0.5108 + 4.6052)/3 = 1.8756; B -log .45 = 0.7985; D (2*0.5978 + 1.2040)/3 = 0.7999
#   acc (py > .5 is correct): A 2/3, B 0, D 2/3
#   nll - acc: A 1.2089, B 0.7985, D 0.1332
OBJ_PY = [[0.6, 0.6, 0.01], [0.45, 0.45, 0.45], [0.55, 0.55, 0.3]]


def test_each_objective_first_pick_by_hand():
    probs, labels = binary_pool(OBJ_PY)
    nll_a = -(2 * math.log(0.6) + math.log(0.01)) / 3
    nll_b = -math.log(0.45)
    nll_d = -(2 * math.log(0.55) + math.log(0.3)) / 3
    assert nll_b < nll_d < nll_a
    by_nll = greedy_select(probs, labels, k=1, objective="nll")
    assert by_nll.picks == [1]
    assert by_nll.scores == pytest.approx([nll_b])
    # acc: A and D tie at 2/3 -> A (index 0); minimising +accuracy (the released code's sign
    # error) would pick B
    by_acc = greedy_select(probs, labels, k=1, objective="acc")
    assert by_acc.picks == [0]
    assert by_acc.scores == pytest.approx([-2 / 3])
    by_both = greedy_select(probs, labels, k=1, objective="nll-acc")
    assert by_both.picks == [2]
    assert by_both.scores == pytest.approx([nll_d - 2 / 3])
    assert by_both.objective == "nll-acc"


def test_acc_stops_when_accuracy_does_not_strictly_improve():
    # after A: {A,A} (.6,.6,.01), {A,B} (.525,.525,.23), {A,D} (.575,.575,.155): all 2/3 -> stop
    probs, labels = binary_pool(OBJ_PY)
    sel = greedy_select(probs, labels, k=3, objective="acc")
    assert sel.picks == [0]


def test_objectives_multi_round_by_hand():
    # A = (.9, .9, .2), B = (.2, .2, .9); {A,B} = (.55, .55, .55)
    #   acc: A 2/3, B 1/3 -> A; {A,B} all correct -> 1 -> B; then nothing beats 1 -> stop
    #   nll: A (2*0.1054 + 1.6094)/3 = 0.6067, B 1.1081 -> A; {A,B} -log .55 = 0.5978 -> B;
    #        {A,B,A} (.6667,.6667,.4333) 0.5491 -> A; {A,B,A,A} (.725,.725,.375) 0.5413 -> A; stop
    #   nll-acc: A 0.6067 - 2/3 = -0.0599; {A,B} 0.5978 - 1 = -0.4022;
    #            {A,B,A} 0.5491 - 2/3 = -0.1176 (worse) -> stop
    probs, labels = binary_pool([[0.9, 0.9, 0.2], [0.2, 0.2, 0.9]])
    by_acc = greedy_select(probs, labels, k=3, objective="acc")
    assert by_acc.picks == [0, 1]
    assert by_acc.scores == pytest.approx([-2 / 3, -1.0])
    by_nll = greedy_select(probs, labels, k=3, objective="nll")
    assert by_nll.picks == [0, 1, 0, 0]
    np.testing.assert_allclose(by_nll.scores, [0.6067, 0.5978, 0.5491, 0.5413], atol=1e-4)
    by_both = greedy_select(probs, labels, k=3, objective="nll-acc")
    assert by_both.picks == [0, 1]
    assert by_both.scores == pytest.approx([mean_nll([0.9, 0.9, 0.2]) - 2 / 3, -math.log(0.55) - 1])


def test_acc_uses_argmax_over_all_classes():
    # 3 classes, label 0. A = (.4, .35, .25) correct; B = (.3, .1, .6) wrong (argmax 2);
    # E = {A} then A+B = (.35, .225, .425): wrong, so {A,B} has acc 0 and is not taken
    probs = np.array([[[0.4, 0.35, 0.25]], [[0.3, 0.1, 0.6]]])
    sel = greedy_select(probs, np.array([0]), k=2, objective="acc")
    assert sel.picks == [0]
    assert sel.scores == [-1.0]


def test_acc_class_ties_go_to_the_first_class():
    # (.5, .5) with label 0: argmax picks class 0 (as benchmarks.metrics.accuracy) -> correct;
    # with label 1 -> wrong. Two examples, labels (0, 1): accuracy 1/2, not 0 or 1
    probs = np.full((1, 2, 2), 0.5)
    sel = greedy_select(probs, np.array([0, 1]), k=1, objective="acc")
    assert sel.scores == [-0.5]
    assert greedy_select(probs, np.array([0, 0]), k=1, objective="acc").scores == [-1.0]
    assert accuracy(probs[0], np.array([0, 0])) == 1.0


# --- naive reference -------------------------------------------------------------------------


def naive_greedy(probs, labels, k, objective, mask=None):
    """Explicit loop over candidates with the mean-probability ensemble of our metrics module."""
    usable = [t for t in range(len(probs)) if mask is None or mask[t]]
    picks, scores, best = [], [], math.inf
    while len(set(picks)) < k:
        round_best, round_t = math.inf, None
        for t in usable:
            ens = np.mean(probs[picks + [t]], axis=0)
            if objective == "nll":
                score = nll(ens, labels)
            elif objective == "acc":
                score = -accuracy(ens, labels)
            else:
                score = nll(ens, labels) - accuracy(ens, labels)
            if score < round_best:  # strict: the first (lowest) index wins a tie
                round_best, round_t = score, t
        if not round_best < best:
            break
        best = round_best
        picks.append(round_t)
        scores.append(best)
    return picks, scores


def skilled_pool(seed, t=9, n=60, c=4):
    """Dirichlet(0.7) models with a random extra concentration (skill) on the true label."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, size=n)
    alpha = np.full((t, n, c), 0.7)
    alpha[:, np.arange(n), labels] += rng.uniform(0.0, 3.0, size=t)[:, None]
    probs = rng.standard_gamma(alpha)
    return probs / probs.sum(axis=2, keepdims=True), labels


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_vectorised_equals_naive_reference(objective):
    saw_duplicate = saw_early_stop = False
    for seed in range(10):
        probs, labels = skilled_pool(seed)
        t = probs.shape[0]
        k = [2, 3, 4, 5][seed % 4]
        mask = np.random.default_rng(100 + seed).random(t) > 0.3 if seed % 2 else None
        sel = greedy_select(probs, labels, k, objective=objective, mask=mask)
        picks, scores = naive_greedy(probs, labels, k, objective, mask)
        assert sel.picks == picks, f"seed {seed}"
        np.testing.assert_allclose(sel.scores, scores, rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(sel.counts, np.bincount(picks, minlength=t))
        assert sel.weights.sum() == pytest.approx(1.0)
        if objective == "nll":
            assert sel.scores[-1] == pytest.approx(ensemble_nll(probs, labels, sel.counts))
        saw_duplicate |= len(sel.picks) > len(sel.members)
        saw_early_stop |= len(sel.members) < k
    if objective == "nll":  # the random pools do exercise repeats and early stops
        assert saw_duplicate and saw_early_stop


@pytest.mark.parametrize("rows", [1, 4])
def test_accuracy_chunking_does_not_change_the_result(monkeypatch, rows):
    # 9 candidates scored `rows` at a time (4 -> chunks of 4, 4, 1)
    probs, labels = skilled_pool(5)
    expected = {obj: naive_greedy(probs, labels, 4, obj)[0] for obj in ("acc", "nll-acc")}
    monkeypatch.setattr(greedy, "_ACC_BUFFER_BYTES", rows * 60 * 4 * 8)
    for objective, picks in expected.items():
        assert greedy_select(probs, labels, 4, objective=objective).picks == picks
    assert len(expected["acc"]) > 1


def test_float32_pool_gives_the_same_selection():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(6), size=(10, 80)).astype(np.float32)
    labels = rng.integers(0, 6, size=80)
    for objective in OBJECTIVES:
        a = greedy_select(probs, labels, 4, objective=objective)
        b = greedy_select(probs.astype(np.float64), labels, 4, objective=objective)
        assert a.picks == b.picks


# --- mask and validation ---------------------------------------------------------------------


def test_mask_excludes_candidates():
    # from the duplicate pool: without A (index 1) the best single is B (0.8574), then
    # {B,C} (.15, .5) -(log .15 + log .5)/2 = 1.2951 and {B,B} do not improve -> [2]
    probs, labels = binary_pool(DUP_PY)
    sel = greedy_select(probs, labels, k=3, mask=np.array([True, False, True]))
    assert sel.picks == [2]
    np.testing.assert_array_equal(sel.counts, [0, 0, 1])
    # a masked candidate may be garbage (a diverged run): it is neither validated nor picked
    probs[1] = np.nan
    assert greedy_select(probs, labels, k=3, mask=np.array([True, False, True])).picks == [2]
    with pytest.raises(ValueError, match="NaN"):
        greedy_select(probs, labels, k=3)


def test_all_masked_raises():
    probs, labels = binary_pool(DUP_PY)
    with pytest.raises(ValueError, match="mask"):
        greedy_select(probs, labels, k=2, mask=np.zeros(3, dtype=bool))
    with pytest.raises(ValueError, match="mask"):
        top_k_by_nll(probs, labels, k=1, mask=np.zeros(3, dtype=bool))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"objective": "accuracy"}, "nll, acc, nll-acc"),
        ({"k": 0}, "k must be"),
        ({"k": 1.5}, "k must be"),
        ({"k": None}, "k must be"),
        ({"labels": np.zeros(3, dtype=np.int64)}, "labels must have shape"),
        ({"probs": np.ones((3, 2))}, r"shape \(T, N, C\)"),
        ({"probs": np.full((3, 2, 2), 3.0)}, "got logits"),
        ({"mask": np.array([True, False])}, "mask must be"),
        ({"mask": np.array([1, 0, 1])}, "mask must be"),
    ],
)
def test_invalid_arguments_raise_one_line_value_error(kwargs, match):
    probs, labels = binary_pool(DUP_PY)
    args = {"probs": probs, "labels": labels, "k": 2, "objective": "nll", "mask": None}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match) as info:
        greedy_select(args["probs"], args["labels"], args["k"], args["objective"], args["mask"])
    assert "\n" not in str(info.value)


def test_selection_is_frozen():
    probs, labels = binary_pool(DUP_PY)
    sel = greedy_select(probs, labels, k=2)
    assert isinstance(sel, Selection)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sel.picks = [0]
    with pytest.raises(ValueError):
        sel.counts[0] = 5


# --- top_k_by_nll ----------------------------------------------------------------------------


def test_top_k_by_nll_by_hand():
    # NLL: 0 -> 0.6931; 1 -> (0.1054 + 0.5108)/2 = 0.3081; 2 -> 0.2231; 3 == 1 -> 0.3081 (tie)
    probs, labels = binary_pool([[0.5, 0.5], [0.9, 0.6], [0.8, 0.8], [0.9, 0.6]])
    assert top_k_by_nll(probs, labels, 1) == [2]
    assert top_k_by_nll(probs, labels, 3) == [2, 1, 3]
    assert top_k_by_nll(probs, labels, 4) == [2, 1, 3, 0]
    assert top_k_by_nll(probs, labels, 3, mask=np.array([True, False, True, True])) == [2, 3, 0]
    with pytest.raises(ValueError, match="exceeds"):
        top_k_by_nll(probs, labels, 5)
    with pytest.raises(ValueError, match="k must be"):
        top_k_by_nll(probs, labels, 0)


def test_top_k_by_nll_floors_zero_probabilities():
    # model 0 gives the label probability 0 on one of two examples: -(log 1e-12 + log 1)/2 = 13.8,
    # still finite and ranked below model 1 = -log .5 = 0.6931
    probs, labels = binary_pool([[0.0, 1.0], [0.5, 0.5]])
    assert top_k_by_nll(probs, labels, 2) == [1, 0]
    sel = greedy_select(probs, labels, k=2)
    assert sel.picks[0] == 1
    # alone, model 0 scores exactly the floored value, as in benchmarks.metrics
    alone = greedy_select(probs, labels, k=1, mask=np.array([True, False]))
    assert alone.scores == pytest.approx([-math.log(1e-12) / 2], rel=1e-12)
    assert alone.scores[0] == pytest.approx(ensemble_nll(probs[:1], labels), rel=1e-12)
