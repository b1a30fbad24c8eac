"""The paper's Table 1 layout (§5.1): methods as rows in the paper's order, and per model the
test NLL, accuracy and ECE, with the paper's own values beside ours where the suite has them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from benchmarks.analysis.tables import BEST_PREFIX, _best_flags, _reference_values, format_cell

# (method, the paper's row label), in Table 1's order
ROWS = (
    ("single", "random search"),
    ("deep_ensemble", "deep ensembles"),
    ("hyper_ens", "hyper-ens"),
    ("hyper_deep_ensemble", "hyper-deep ensembles"),
    ("batch_ensemble", "batch ensembles"),
    ("self_tuning", "STN"),
    ("hyper_batch_ensemble", "hyper-batch ensembles"),
)
METRICS = (("nll", "NLL"), ("accuracy", "acc"), ("ece_15bin", "ECE"))
MODELS = (("mlp", "MLP"), ("lenet", "LeNet"))
NOT_IN_SUITE = "not in the suite's reference"


def table1(
    summary: pd.DataFrame,
    reference: pd.DataFrame | None,
    dataset: str = "fashion_mnist",
    models: Sequence[tuple[str, str]] = MODELS,
) -> pd.DataFrame:
    """One row per `ROWS` method; per model, columns '<Model> NLL|acc|ECE' (ours, mean ± s.e.
    over seeds, from `tables.summarize`, test split) and '<Model> paper' (the paper's
    'NLL / acc / ECE' from `reference`, or `NOT_IN_SUITE`), plus the renderers' best flags."""
    sel = summary[summary["dataset"] == dataset]
    stats = {(r.model, r.method, r.metric): (r.mean, r.se) for r in sel.itertuples()}
    table: dict[str, list] = {"method": [label for _, label in ROWS]}
    flags: dict[str, list[bool]] = {}
    for model, name in models:
        for metric, label in METRICS:
            pairs = [stats.get((model, m, metric), (math.nan, math.nan)) for m, _ in ROWS]
            column = f"{name} {label}"
            table[column] = [format_cell(mean, se) or "not run" for mean, se in pairs]
            flags[BEST_PREFIX + column] = _best_flags([mean for mean, _ in pairs], metric)
        ref = {} if reference is None else _reference_values(
            reference, dataset, model, [m for m, _ in METRICS]
        )  # fmt: skip
        table[f"{name} paper"] = [_paper_cell(ref, m) for m, _ in ROWS]
    return pd.DataFrame({**table, **flags})


def _paper_cell(ref: dict[tuple[str, str], float], method: str) -> str:
    values = [ref.get((method, metric)) for metric, _ in METRICS]
    if all(v is None for v in values):
        return NOT_IN_SUITE
    return " / ".join("—" if v is None else f"{v:.4f}" for v in values)
