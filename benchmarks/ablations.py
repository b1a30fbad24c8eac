"""`hyperens ablate NAME`: one registered ablation of the quick matrix, run and compared.

An ablation reruns some methods of the quick matrix's cells with other settings (gin bindings)
into a store of its own, then writes the paired differences against the base results
(`benchmarks.analysis.ablation`) as `OUT/NAME.md` and `.csv`. Everything is chosen on validation
data in the variant as in the base; the table reports test metrics too, as the base's do.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from benchmarks.analysis.ablation import ablation_differences, ablation_markdown
from benchmarks.errors import HyperensError
from benchmarks.registry import Registry
from benchmarks.store.atomic import write_text_atomic

EFFICIENT = ("batch_ensemble", "hyper_batch_ensemble", "self_tuning", "mimo")


@dataclasses.dataclass(frozen=True)
class Ablation:
    """What a variant changes (`gin_params`) for which methods, and what it tests."""

    methods: tuple[str, ...]
    gin_params: tuple[str, ...]
    question: str


ABLATIONS: Registry[Ablation] = Registry("ablation")
ABLATIONS.register("single_best")(Ablation(
    ("batch_ensemble", "mimo"),
    ("BatchEnsemble.hparams = 'single-best'", "MIMO.hparams = 'single-best'"),
    "the single model's best setting instead of an own random search",
))  # fmt: skip
ABLATIONS.register("last_epoch")(Ablation(
    EFFICIENT, ("TrainConfig.stopping = 'last_epoch'",),
    "the last epoch's weights instead of the lowest-validation-NLL epoch's",
))  # fmt: skip
ABLATIONS.register("stop_holdout")(Ablation(
    ("hyper_batch_ensemble", "self_tuning"), ("HyperTuning.stop_holdout = 0.5",),
    "tuning on one half of validation and stopping on the other, instead of both on all of it",
))  # fmt: skip
ABLATIONS.register("tuning_lr_1e-3")(Ablation(
    ("hyper_batch_ensemble", "self_tuning"), ("HyperTuning.learning_rate = 1e-3",),
    "q's Adam learning rate at the released 1e-3 (--lr_tuning) instead of the quick tier's 1e-2",
))  # fmt: skip


def run_ablation(
    name: str,
    store: str | Path,
    base: str | Path,
    out: str | Path,
    seeds: int | None = None,
    workers: int = 1,
    matrix: str = "quick",
) -> Path:
    """Runs ablation `name` on the first `seeds` seeds of `matrix` into `store` and writes the
    paired differences against the results table at `base`; returns the Markdown path."""
    from benchmarks.compare import load_table, results_csv
    from benchmarks.matrix import run_matrix
    from benchmarks.store import RunStore, gather_results

    ablation = ABLATIONS.get(name)
    base_table = load_table(results_csv(base))  # a bad base fails before anything runs
    for method in ablation.methods:
        counts = run_matrix(matrix, store, seeds=seeds, only=f"*/*/{method}/*", workers=workers,
                            gin_params=ablation.gin_params)  # fmt: skip
        if counts.get("failed"):
            raise HyperensError(f"ablation {name}: {counts['failed']} cell(s) of {method} failed")
    diffs = ablation_differences(base_table, gather_results(RunStore(store)))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    title = f"{name}: {ablation.question} ({', '.join(ablation.gin_params)})"
    write_text_atomic(out / f"{name}.csv", diffs.to_csv(index=False))
    write_text_atomic(out / f"{name}.md", ablation_markdown(diffs, title) + "\n")
    return out / f"{name}.md"
