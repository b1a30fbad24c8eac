"""ECE binning and value, Brier score."""

import numpy as np
import pytest

from benchmarks.metrics import brier, ece, ece_bin_index


def test_bin_index_edges():
    # B = 15: bin 0 = [0, 1/15], bin b = (b/15, (b+1)/15]; 0.5 * 15 = 7.5 -> bin 7; 1.0 -> 14
    conf = np.array([0.0, 1 / 15, 1 / 15 + 1e-9, 0.5, 0.99, 1.0])
    np.testing.assert_array_equal(ece_bin_index(conf, 15), [0, 0, 1, 7, 14, 14])


def test_bin_index_other_bin_counts():
    # B = 1: everything in bin 0; B = 2: [0, 0.5] and (0.5, 1]
    np.testing.assert_array_equal(ece_bin_index(np.array([0.0, 0.5, 1.0]), 1), [0, 0, 0])
    np.testing.assert_array_equal(ece_bin_index(np.array([0.0, 0.5, 0.51, 1.0]), 2), [0, 0, 1, 1])


# Four examples, two non-empty bins, one confidence of exactly 1.0:
#   [1.0, 0.0]  y=1  conf 1.0  wrong    -> bin 14
#   [0.95,0.05] y=0  conf 0.95 correct  -> bin 14 (14/15 = 0.933 < 0.95)
#   [0.7, 0.3]  y=0  conf 0.7  correct  -> bin 10 (0.7 * 15 = 10.5)
#   [0.3, 0.7]  y=1  conf 0.7  correct  -> bin 10
# bin 10: acc 1, conf 0.7 -> |1 - 0.7| * 2/4 = 0.15
# bin 14: acc 1/2, conf (1 + 0.95)/2 = 0.975 -> |0.5 - 0.975| * 2/4 = 0.2375
# ECE = 0.3875. (If 1.0 fell into an extra 16th bin it would be 0.15 + 0.0125 + 0.25 = 0.4125.)
PROBS = np.array([[1.0, 0.0], [0.95, 0.05], [0.7, 0.3], [0.3, 0.7]])
LABELS = np.array([1, 0, 0, 1])


def test_ece_two_bins_by_hand():
    assert ece(PROBS, LABELS) == pytest.approx(0.3875, abs=1e-12)


def test_ece_one_bin_is_global_gap():
    # acc 3/4, mean conf (1 + 0.95 + 0.7 + 0.7)/4 = 0.8375 -> 0.0875
    assert ece(PROBS, LABELS, num_bins=1) == pytest.approx(0.0875, abs=1e-12)


def test_ece_confidence_one():
    # one example, conf exactly 1.0: correct -> 0, wrong -> 1
    assert ece(np.array([[1.0, 0.0]]), np.array([0])) == pytest.approx(0.0)
    assert ece(np.array([[1.0, 0.0]]), np.array([1])) == pytest.approx(1.0)


def test_ece_rejects_bad_bins():
    with pytest.raises(ValueError):
        ece(PROBS, LABELS, num_bins=0)


def test_brier_by_hand():
    # ex 1, y=0: 0.3^2 + 0.2^2 + 0.1^2 = 0.14; ex 2, y=1: 0.1^2 + 0.7^2 + 0.6^2 = 0.86 -> 0.5
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    assert brier(probs, np.array([0, 1])) == pytest.approx(0.5)


def test_brier_range_ends():
    # confident and right -> 0; confident and wrong -> 1^2 + 1^2 = 2
    assert brier(np.array([[1.0, 0.0]]), np.array([0])) == pytest.approx(0.0)
    assert brier(np.array([[1.0, 0.0]]), np.array([1])) == pytest.approx(2.0)


def test_calibration_rejects_mismatched_labels():
    with pytest.raises(ValueError):
        brier(PROBS, LABELS[:3])
    with pytest.raises(ValueError):
        ece(PROBS, LABELS[:3])
