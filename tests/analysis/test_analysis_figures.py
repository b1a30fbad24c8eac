"""Every figure function returns a Figure with the expected panels and artists; save_figure writes
PNG and PDF."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from benchmarks.analysis.figures import (
    cost_vs_nll,
    diversity_vs_accuracy,
    learning_curves,
    method_colors,
    nll_vs_ensemble_size,
    reliability_diagram,
    save_figure,
)

CELLS = [("mnist5k", "mlp"), ("cifar10", "lenet")]
METHODS = ["deep_ensemble", "hyper_deep_ensemble", "batch_ensemble"]


def _curves() -> pd.DataFrame:
    rows = []
    for dataset, model in CELLS:
        for k, method in enumerate(METHODS):
            for seed in range(3):
                for size in range(1, 5):
                    rows.append(
                        {
                            "dataset": dataset,
                            "model": model,
                            "tier": "quick",
                            "method": method,
                            "seed": seed,
                            "run_id": f"{method}{seed}",
                            "size": size,
                            "nll": 1.0 / size + 0.01 * (k + seed),
                            "accuracy": 0.9,
                        }
                    )
    return pd.DataFrame(rows)


def _results() -> pd.DataFrame:
    rows = []
    for dataset, model in CELLS:
        for k, method in enumerate(["single", *METHODS]):
            for seed in range(2):
                rows.append(
                    {
                        "run_id": f"{dataset}{method}{seed}",
                        "dataset": dataset,
                        "model": model,
                        "tier": "quick",
                        "method": method,
                        "seed": seed,
                        "split": "test",
                        "nll": 0.5 - 0.05 * k,
                        "accuracy": 0.8 + 0.01 * k,
                        "disagreement": 0.0 if method == "single" else 0.1 * k + 0.01 * seed,
                        "num_members": 1 if method == "single" else 4,
                        "param_count": 1000 * (k + 1),
                        "wall_time_s": 10.0 * (k + 1),
                    }
                )
    return pd.DataFrame(rows)


def _bins(methods: list[str]) -> pd.DataFrame:
    edges = np.linspace(0, 1, 16)
    rows = []
    for method in methods:
        for b in range(15):
            count = 0 if b < 5 else 10
            rows.append(
                {
                    "dataset": "mnist5k",
                    "model": "mlp",
                    "tier": "quick",
                    "method": method,
                    "bin": b,
                    "lower": edges[b],
                    "upper": edges[b + 1],
                    "confidence": np.nan if count == 0 else (edges[b] + edges[b + 1]) / 2,
                    "accuracy": np.nan if count == 0 else 0.5,
                    "count": count,
                }
            )
    return pd.DataFrame(rows)


def test_nll_vs_ensemble_size_panels_and_lines():
    fig = nll_vs_ensemble_size(_curves())
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2  # one panel per (dataset, model)
    for ax in fig.axes:
        assert [line.get_label() for line in ax.lines] == ["deep_ensemble", "hyper_deep_ensemble"]
        assert len(ax.collections) == 2  # the s.e. bands
        np.testing.assert_allclose(ax.lines[0].get_xdata(), [1, 2, 3, 4])
    # the plotted value is the mean over seeds: 1/size + 0.01 * mean(seed) for deep_ensemble
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), 1 / np.arange(1, 5) + 0.01)
    every = nll_vs_ensemble_size(_curves(), methods=None)
    assert [len(ax.lines) for ax in every.axes] == [3, 3]


def _history() -> pd.DataFrame:
    rows = []
    for dataset, model in CELLS:
        for method, networks in (("deep_ensemble", 3), ("batch_ensemble", 1)):
            for seed in range(2):
                for member in range(networks):
                    for epoch in range(1, 6):
                        rows.append(
                            {
                                "dataset": dataset,
                                "model": model,
                                "tier": "quick",
                                "method": method,
                                "seed": seed,
                                "run_id": f"{dataset}{method}{seed}",
                                "member": member,
                                "epoch": epoch,
                                "train_loss": 2.0 / epoch + 0.1 * member + 0.01 * seed,
                                "val_nll": 1.0 / epoch + 0.1 * member + 0.01 * seed,
                                "val_accuracy": 0.5,
                            }
                        )
    return pd.DataFrame(rows)


def test_learning_curves_train_loss_and_val_nll_per_cell():
    history = _history()
    history.loc[history["method"] == "batch_ensemble", "train_loss"] = np.nan  # not recorded
    fig = learning_curves(history)
    assert len(fig.axes) == 4  # per cell: training loss, validation NLL
    assert [ax.get_ylabel() for ax in fig.axes] == ["training loss", "validation NLL"] * 2
    for loss_ax, nll_ax in (fig.axes[:2], fig.axes[2:]):
        assert [line.get_label() for line in loss_ax.lines] == ["deep_ensemble"]
        assert [line.get_label() for line in nll_ax.lines] == ["deep_ensemble", "batch_ensemble"]
        np.testing.assert_allclose(nll_ax.lines[0].get_xdata(), [1, 2, 3, 4, 5])
        assert nll_ax.get_xlabel() == "epoch"
    epochs = np.arange(1, 6)
    # deep ensemble: mean over members 0..2 (0.1) then over seeds 0, 1 (0.005)
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), 2 / epochs + 0.1 + 0.005)
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), 1 / epochs + 0.1 + 0.005)
    np.testing.assert_allclose(fig.axes[1].lines[1].get_ydata(), 1 / epochs + 0.005)
    with pytest.raises(ValueError, match="no rows"):
        learning_curves(history.iloc[:0])


def test_reliability_diagram_one_panel_per_method():
    fig = reliability_diagram(_bins(METHODS))
    assert len(fig.axes) == 3
    centres = (np.arange(5, 15) + 0.5) / 15
    expected = f"ECE {np.mean(np.abs(0.5 - centres)):.4f}"
    for ax in fig.axes:
        assert len(ax.patches) == 15  # one bar per bin
        assert len(ax.lines) == 1  # the diagonal
        # bins 5..14 with accuracy 0.5: ECE = mean |0.5 - centre| over the filled bins
        assert expected in ax.get_title()
    two_rows = pd.concat([_bins(METHODS[:2]), _bins(METHODS[:1]).assign(model="lenet")])
    assert len(reliability_diagram(two_rows).axes) == 3  # a missing (cell, method) has no panel


def test_diversity_vs_accuracy_leaves_out_single_members():
    fig = diversity_vs_accuracy(_results())
    assert len(fig.axes) == 2
    for ax in fig.axes:
        labels = [c.get_label() for c in ax.collections]
        assert labels == METHODS  # single (num_members == 1) is not plotted
        assert all(len(c.get_offsets()) == 2 for c in ax.collections)  # one point per run/seed


def test_cost_vs_nll_two_log_panels_per_cell():
    fig = cost_vs_nll(_results())
    assert len(fig.axes) == 4
    assert all(ax.get_xscale() == "log" for ax in fig.axes)
    assert [ax.get_xlabel() for ax in fig.axes[:2]] == ["parameters", "training budget (s)"]
    assert len(fig.axes[0].collections) == 4  # one point (mean over seeds) per method


def test_cost_axis_is_the_recorded_budget_where_there_is_one():
    """budget_train_s (cached search trials included) replaces the run's own wall time."""
    df = _results()
    df["budget_train_s"] = 1000.0
    fig = cost_vs_nll(df)
    xs = [c.get_offsets()[0][0] for c in fig.axes[1].collections]
    assert xs and all(x == 1000.0 for x in xs)


def test_method_colors_stable():
    colors = method_colors(["zeta", "deep_ensemble"])
    assert colors["deep_ensemble"] == method_colors(["deep_ensemble"])["deep_ensemble"]
    assert colors["zeta"] != colors["deep_ensemble"]


def test_save_figure_writes_png_and_pdf(tmp_path):
    fig = cost_vs_nll(_results())
    paths = save_figure(fig, tmp_path / "figs" / "new", "cost")
    assert [p.name for p in paths] == ["cost.png", "cost.pdf"]
    assert paths[0].read_bytes().startswith(b"\x89PNG") and paths[0].stat().st_size > 1000
    assert paths[1].read_bytes().startswith(b"%PDF") and paths[1].stat().st_size > 1000
    with pytest.raises(ValueError):
        save_figure(fig, tmp_path, "../escape")


def test_q_paths_one_panel_per_hyperparameter_geometric_means():
    from benchmarks.analysis.figures import q_paths

    rows = []
    for seed, scale in ((0, 1.0), (1, 100.0)):
        for epoch in (1, 2):
            for name in ("dropout_0", "l2_0"):
                rows.append(dict(dataset="d", model="mlp", tier="quick",
                                 method="hyper_batch_ensemble", seed=seed, run_id=f"r{seed}",
                                 member=0, epoch=epoch, hparam=name, low=0.1 * scale,
                                 high=10.0 * scale, mean=epoch * scale))  # fmt: skip
    fig = q_paths(pd.DataFrame(rows))
    assert len(fig.axes) == 2
    line = fig.axes[0].lines[0]
    np.testing.assert_allclose(line.get_ydata(), [10.0, 20.0])  # sqrt(1 * 100) x epoch
    assert fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="no tuned"):
        q_paths(pd.DataFrame(rows).iloc[:0])
