"""Ensemble selection from a pool of trained models, on validation predictions only."""

from benchmarks.selection.greedy import (
    OBJECTIVES,
    Selection,
    greedy_select,
    top_k_by_nll,
)

__all__ = ["OBJECTIVES", "Selection", "greedy_select", "top_k_by_nll"]
