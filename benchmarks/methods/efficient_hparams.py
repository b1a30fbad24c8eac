"""Where an efficient ensemble's hyperparameters come from (`BatchEnsemble.hparams`,
`MIMO.hparams`), and its own random search.

* 'search': `search_trials` (κ_e) networks of the method itself on the first κ_e settings of the
  cell's random search (`search.random_search`: trial 0 the defaults, then the same seeded
  log-uniform draws a single model's search makes), each trained from the cell's seed under the
  stopping rule; the one with the lowest validation NLL of its ensemble is the result. Every
  candidate's validation NLL and setting are recorded; the run's budget counts the κ_e networks.
  A finished candidate is kept in the run's directory (`search_<i>/candidate.npz`: its weights,
  validation NLL and curves), so a killed run resumes where it stopped.
* 'single-best': the best setting of the cell's single-model random search (cached trials; the
  budget counts that search and the one network).
* 'default': the search space's defaults, one network.

Candidates train one at a time: a K-member network's convolutions run one per member
(`benchmarks.models.batch_ensemble.member_conv2d`), so packing candidates would not group them.
"""

from __future__ import annotations

import numpy as np

from benchmarks.methods.base import CellContext, MethodResult
from benchmarks.methods.search import best_search_setting, random_search
from benchmarks.methods.single_network import default_hparams, fit, train_and_predict
from benchmarks.metrics import nll
from benchmarks.store.atomic import read_npz, write_npz_atomic
from benchmarks.train.engine import Trainer, TrainResult

SOURCES = {"search": "own random search", "single-best": "random search (best trial)",
           "default": "search-space defaults"}  # fmt: skip


def tuned_result(
    ctx: CellContext, trainer: Trainer, source: str, search_trials: int, info: dict
) -> MethodResult:
    """The method's network trained with the hyperparameters `source` names; `info` is extended
    with them (`hparams`, `hparams_source` and, for 'search', every candidate)."""
    if source == "single-best":
        hp = {n: [v] for n, v in best_search_setting(ctx).hparams}
    elif source == "default":
        hp = default_hparams(ctx, trainer.model)
    else:
        return _own_search(ctx, trainer, search_trials, info)
    info = {**info, "hparams": {n: v[0] for n, v in hp.items()}, "hparams_source": SOURCES[source]}
    return train_and_predict(ctx, trainer, hp, info)


def _own_search(ctx: CellContext, trainer: Trainer, kappa: int, info: dict) -> MethodResult:
    best, best_nll, candidates, wall = None, np.inf, [], 0.0
    for i, spec in enumerate(random_search(ctx, kappa)):
        hp = {n: [v] for n, v in spec.hparams}
        weights, val_nll, result = _candidate(ctx, trainer, hp, f"search_{i}")
        wall += result.wall_time_s
        candidates.append({"hparams": {n: v[0] for n, v in hp.items()}, "val_nll": val_nll,
                           "kept_epoch": int(result.kept_epoch[0])})  # fmt: skip
        # the lowest validation NLL (ties: the earlier); every candidate diverged: the first
        if best is None or val_nll < best_nll:
            best, best_nll = (hp, weights, result), val_nll
    hp, weights, result = best
    for v, w in zip(trainer.model.variables, weights, strict=True):
        v.assign(w)
    info = {**info, "hparams": {n: v[0] for n, v in hp.items()},
            "hparams_source": f"{SOURCES['search']} ({kappa} networks)",
            "search": candidates}  # fmt: skip
    out = train_and_predict(ctx, trainer, hp, info, result)
    out.info["train_wall_time_s"] = wall  # every candidate's training counts
    out.own_trainings = kappa
    return out


def _candidate(
    ctx: CellContext, trainer: Trainer, hp: dict, name: str
) -> tuple[list[np.ndarray], float, TrainResult]:
    """Trains (or reads back) one candidate: its kept weights, validation NLL (inf if it
    diverged) and training result."""
    path = ctx.work_dir / name / "candidate.npz"
    if path.exists():
        arrays = read_npz(path)
        weights = [arrays[f"w{j:04d}"] for j in range(int(arrays["n_weights"]))]
        result = TrainResult(
            status=[str(arrays["status"])], final_loss=arrays["final_loss"],
            loss_history=arrays["loss_history"], val_nll_history=arrays["val_nll_history"],
            val_accuracy_history=arrays["val_accuracy_history"], steps=int(arrays["steps"]),
            wall_time_s=float(arrays["wall_time_s"]), resumed_from_epoch=0,
            kept_epoch=arrays["kept_epoch"],
        )  # fmt: skip
        return weights, float(arrays["val_nll"]), result
    result = fit(ctx, trainer, hp, name)
    val_nll = np.inf
    if result.status[0] == "done":
        probs = trainer.predict(ctx.data.x_val, hp)
        val_nll = nll(probs.mean(axis=0), ctx.data.y_val)
    weights = [np.asarray(v.numpy()) for v in trainer.model.variables]
    arrays = {f"w{j:04d}": w for j, w in enumerate(weights)}
    write_npz_atomic(
        path, n_weights=np.asarray(len(weights)), val_nll=np.asarray(val_nll),
        status=np.asarray(result.status[0]), final_loss=result.final_loss,
        loss_history=result.loss_history, val_nll_history=result.val_nll_history,
        val_accuracy_history=result.val_accuracy_history, steps=np.asarray(result.steps),
        wall_time_s=np.asarray(result.wall_time_s), kept_epoch=result.kept_epoch, **arrays,
    )  # fmt: skip
    return weights, val_nll, result
