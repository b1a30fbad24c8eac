"""Timing parts: exclusive nesting, reclassification and the summary line, on a fake clock."""

import pytest

from benchmarks import timing


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: now[0])
    monkeypatch.setattr(timing, "_totals", dict.fromkeys(timing.PARTS, 0.0))
    monkeypatch.setattr(timing, "_stack", [])
    return now


def test_nested_parts_count_exclusively(clock):
    before = timing.snapshot()
    with timing.part("train"):
        clock[0] += 2.0
        with timing.part("store"):
            clock[0] += 0.5
        clock[0] += 1.0
        with timing.part("eval_shift"):
            clock[0] += 3.0
            with timing.part("eval_clean", unless_in=("eval_shift",)):
                clock[0] += 4.0  # counts for eval_shift
    got = timing.since(before)
    assert got == {"compile": 0.0, "train": 3.0, "eval_clean": 0.0, "eval_shift": 7.0,
                   "store": 0.5}  # fmt: skip
    timing.move(1.25, "train", "compile")
    timing.move(99.0, "store", "compile")  # never more than was counted
    assert timing.snapshot() == {"compile": 1.75, "train": 1.75, "eval_clean": 0.0,
                                 "eval_shift": 7.0, "store": 0.0}  # fmt: skip


def test_unknown_part_is_rejected(clock):
    with pytest.raises(ValueError, match="unknown timing part 'gpu'"):
        with timing.part("gpu"):
            pass


def test_summary_line_shares_and_idle():
    parts = {"compile": 10.0, "train": 50.0, "eval_clean": 5.0, "eval_shift": 10.0, "store": 5.0}
    line = timing.summary(parts, busy=100.0, capacity=160.0)
    assert line == (
        "time in cells 100 s: compile 10 s (10%), train 50 s (50%), eval_clean 5 s "
        "(5%), eval_shift 10 s (10%), store 5 s (5%), other 20 s (20%); idle 60 s"
    )
