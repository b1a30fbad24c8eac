"""The benchmark commands' own helpers (timings are printed figures, never asserted)."""

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
    # the recording is undone: the model still predicts as before
    assert "call" not in vars(lenet.factory.layers[0])
