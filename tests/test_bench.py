"""The benchmark commands' own helpers (timings are printed figures, never asserted)."""

from pathlib import Path

import pytest

from benchmarks.bench.greedy import bench_greedy
from benchmarks.selection import OBJECTIVES


def test_bench_greedy_smoke(capsys):
    times = bench_greedy(pool=6, n=50, classes=3, k=2, seed=1)
    assert set(times) == set(OBJECTIVES)
    assert all(v > 0 for v in times.values())
    assert capsys.readouterr().out.count("greedy_select") == 3


def test_forward_flops_of_the_mlp_and_lenet_by_hand():
    from benchmarks.bench.roofline import forward_flops
    from benchmarks.models import build_model

    mlp = build_model("mlp", (28, 28, 1), 10)
    mlp.build_all()
    assert forward_flops(mlp, (28, 28, 1)) == 2 * (784 * 200 + 200 * 200 + 200 * 10)
    lenet = build_model("lenet", (28, 28, 1), 10)
    lenet.build_all()
    conv1 = 2 * 28 * 28 * 5 * 5 * 1 * 6  # 'same': 28x28 out
    conv2 = 2 * 10 * 10 * 5 * 5 * 6 * 16  # 'valid' on the pooled 14x14: 10x10 out
    dense = 2 * (16 * 5 * 5 * 120 + 120 * 84 + 84 * 10)
    assert forward_flops(lenet, (28, 28, 1)) == conv1 + conv2 + dense
    # per member: a pack of three (grouped convolutions, channels side by side) counts the same
    lenet3 = build_model("lenet", (28, 28, 1), 10, pack=3)
    lenet3.build_all()
    assert forward_flops(lenet3, (28, 28, 1)) == conv1 + conv2 + dense
    # the recording is undone: the model still predicts as before
    assert "call" not in vars(lenet.factory.layers[0])


@pytest.mark.parametrize("name", ["mlp", "lenet"])
def test_forward_flops_per_row_of_the_efficient_ensembles(name):
    """A batch-ensemble row costs the single model's matmuls (its fast weights are elementwise);
    a hyper-batch row twice that (the fused [W | Δ] kernel)."""
    from benchmarks.bench.roofline import forward_flops
    from benchmarks.models import build_model
    from benchmarks.models.batch_ensemble import BatchEnsembleFactory
    from benchmarks.models.hyper_layers import HyperFactory

    def flops(factory=None):
        extra = {} if factory is None else {"factory_cls": factory.with_options(members=4)}
        model = build_model(name, (28, 28, 1), 10, **extra)
        model.build_all()
        return forward_flops(model, (28, 28, 1))

    single = flops()
    assert flops(BatchEnsembleFactory) == single
    assert flops(HyperFactory) == 2 * single


@pytest.mark.parametrize(
    "padding,shape,filters", [("SAME", (9, 7, 1), 6), ("VALID", (10, 10, 3), 4)]
)
def test_im2col_convolution_equals_conv2d(padding, shape, filters):
    """The bench's im2col contender computes what `tf.nn.conv2d` computes."""
    import numpy as np
    import tensorflow as tf

    from benchmarks.bench.roofline import im2col_conv2d

    x = tf.random.stateless_normal((3, *shape), seed=[0, 1])
    k = tf.random.stateless_normal((5, 5, shape[-1], filters), seed=[2, 3])
    want = tf.nn.conv2d(x, k, 1, padding).numpy()
    got = im2col_conv2d(x, k, padding).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_store_projection_by_hand_and_against_a_real_store(smoke_store):
    """digits: N_val = N_test = 359, C = 10, 48 shifted sets of 359; smoke K = 2, kappa = 3,
    K' = 3 (curve), T = 10 (MC dropout). One member's predictions: 4*10*718 + 2*10*48*359 =
    373,360 bytes compact (float32: 4 per shifted value: 717,280); a seed's 10 runs hold
    1+1+10+7*2 = 26 members, labels of 4*(718 + 48*359) = 71,800 bytes each, and one curve seed
    of clean predictions (4*10*718 = 28,720 bytes); trials per seed <= 3 + 3 - 1 + 2*1 = 7, each
    with its clean predictions (28,720 bytes: no shifted sets) and its weights."""
    from benchmarks.bench.store import cell_shapes, projection

    shapes = [s for s in cell_shapes("smoke") if s.model == "mlp"]
    row = projection(shapes).iloc[0]
    assert (row["seeds"], row["trials"], row["runs"], row["shifted_sets"]) == (2, 14, 20, 48)
    assert row["runs_GB_compact"] * 1e9 == pytest.approx(52 * 373_360 + 2 * 28_720 + 20 * 71_800)
    assert row["trials_GB_float32"] * 1e9 == pytest.approx(14 * 28_720)
    assert row["trials_GB_compact"] == row["trials_GB_float32"]
    # weights: MLP 64-200-200-10, (64 + 1) 200 + (200 + 1) 200 + (200 + 1) 10 = 55,210 parameters
    assert row["trials_GB_weights"] * 1e9 == pytest.approx(14 * 4 * 55_210)
    runs = sum(p.stat().st_size for p in Path(smoke_store).glob("runs/*/predictions.npz"))
    # an upper bound: greedy selection (with replacement) can keep fewer than K distinct members
    assert 0.8 * row["runs_GB_compact"] * 1e9 < runs <= 1.01 * row["runs_GB_compact"] * 1e9
    trials = list(Path(smoke_store).glob("trials/*/predictions.npz"))
    assert 0 < len(trials) <= row["trials"]
    assert all(28_720 < p.stat().st_size < 28_720 + 4096 for p in trials)  # + zip headers


def test_pruned_weights_in_the_projection_by_hand():
    """With `Matrix.prune_weights` a seed keeps the weights of at most 1 + 3 + 3 + 3 + 3 members
    (single, top-K, deep ensemble, hyper-ens, hyper-deep, K = 3) + 1 (MC dropout) = 14 of its
    20 + 3 + 3 - 1 + 3 * 2 = 31 trials; without, all 31."""
    from benchmarks.bench.store import CellShape, projection

    members = {"single": 1, "random_search_topk": 3, "deep_ensemble": 3, "hyper_ens": 3,
               "hyper_deep_ensemble": 3, "batch_ensemble": 3, "mc_dropout": 10}  # fmt: skip

    def shapes(prune):
        return [CellShape("d", "m", method, 0, n, 20, 3, 3 if method == "deep_ensemble" else 0,
                          10, 100, 100, (), 1000, prune)
                for method, n in members.items()]  # fmt: skip

    assert projection(shapes(True)).iloc[0]["trials_GB_weights"] * 1e9 == 14 * 4 * 1000
    assert projection(shapes(False)).iloc[0]["trials_GB_weights"] * 1e9 == 31 * 4 * 1000
