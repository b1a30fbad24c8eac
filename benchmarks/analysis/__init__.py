"""Analysis: paper-style tables, figures and reference numbers from the tidy results table.

``tables`` (summaries, paper tables, paired comparisons), ``claims`` (the paper's claims, tested
per cell), ``derived`` (tables computed from stored predictions) and ``tuned`` (where tuned
hyperparameters ended) are re-exported here; the ``figures`` names are re-exported lazily so that
importing this package does not import matplotlib.
"""

from benchmarks.analysis.claims import CLAIMS, claims_markdown, claims_table
from benchmarks.analysis.derived import (
    build_order_metrics,
    ece_from_bins,
    ensemble_size_curve,
    prefix_ensemble_metrics,
    reliability_bins,
    training_history,
)
from benchmarks.analysis.tables import (
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    METHOD_ORDER,
    order_methods,
    paired_comparison,
    paired_markdown,
    paper_table,
    summarize,
)
from benchmarks.analysis.tuned import tuned_hyperparameters, tuned_markdown

_FIGURES = (
    "cost_vs_nll",
    "dee_vs_cost",
    "diversity_vs_accuracy",
    "nll_vs_ensemble_size",
    "reliability_diagram",
    "save_figure",
    "learning_curves",
)


def __getattr__(name: str):
    if name in _FIGURES:
        from benchmarks.analysis import figures

        return getattr(figures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CLAIMS",
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "METHOD_ORDER",
    *_FIGURES,
    "build_order_metrics",
    "claims_markdown",
    "claims_table",
    "ece_from_bins",
    "ensemble_size_curve",
    "order_methods",
    "paired_comparison",
    "paired_markdown",
    "paper_table",
    "prefix_ensemble_metrics",
    "reliability_bins",
    "summarize",
    "training_history",
    "tuned_hyperparameters",
    "tuned_markdown",
]
