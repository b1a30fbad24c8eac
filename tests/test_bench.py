"""The benchmark commands' own helpers (timings are printed figures, never asserted)."""

from benchmarks.bench.greedy import bench_greedy
from benchmarks.selection import OBJECTIVES


def test_bench_greedy_smoke(capsys):
    times = bench_greedy(pool=6, n=50, classes=3, k=2, seed=1)
    assert set(times) == set(OBJECTIVES)
    assert all(v > 0 for v in times.values())
    assert capsys.readouterr().out.count("greedy_select") == 3
