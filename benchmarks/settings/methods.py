"""Method settings: plain frozen objects, bound in gin under their class names and built once per
cell by `benchmarks.compose` (methods receive them in `CellContext.settings`; none reads gin)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from benchmarks.errors import HyperensError
from benchmarks.hparams import INIT_MODES, SearchSpace, match, validate_range
from benchmarks.selection import OBJECTIVES


@dataclasses.dataclass(frozen=True)
class WeightSpace:
    """kappa: random-search trials; k: ensemble size (of every method of the cell); objective:
    greedy objective on validation; pack_size: trials trained together in one compiled step;
    curve_members: seeds of the best setting `deep_ensemble` also trains, beyond its k, for the
    deep-ensemble size curve of the deep ensemble equivalent (0 or <= k: none; not part of its
    ensemble or its budget)."""

    kappa: int = 20
    k: int = 3
    objective: str = "nll"
    pack_size: int = 10
    curve_members: int = 0

    def __post_init__(self):
        if self.kappa < 1 or self.k < 1 or self.pack_size < 1:
            raise HyperensError("WeightSpace.kappa, k and pack_size must be >= 1")
        if self.curve_members < 0:
            raise HyperensError(f"WeightSpace.curve_members must be >= 0, got {self.curve_members}")
        if self.objective not in OBJECTIVES:
            raise HyperensError(
                f"unknown greedy objective {self.objective!r}; valid: {', '.join(OBJECTIVES)}"
            )


# Where an efficient ensemble's (batch ensemble, MIMO) hyperparameters come from.
HPARAM_SOURCES = ("search", "single-best", "default")


def check_hparam_source(owner: str, hparams: str, search_trials: int) -> None:
    if hparams not in HPARAM_SOURCES:
        raise HyperensError(
            f"unknown {owner}.hparams {hparams!r}; valid: {', '.join(HPARAM_SOURCES)}"
        )
    if search_trials < 1:
        raise HyperensError(f"{owner}.search_trials must be >= 1, got {search_trials}")


@dataclasses.dataclass(frozen=True)
class BatchEnsemble:
    """fast_init: r, s ~ Normal(1, -fast_init) if < 0; random signs, P(+1) = fast_init, if > 0.
    hparams (`HPARAM_SOURCES`): 'search' (a random search of its own: `search_trials` networks
    of this method, the best by validation NLL), 'single-best' (the best setting of the cell's
    single-model random search) or 'default' (the search space's defaults)."""

    fast_init: float = -0.5
    hparams: str = "search"
    search_trials: int = 4

    def __post_init__(self):
        check_hparam_source("BatchEnsemble", self.hparams, self.search_trials)


@dataclasses.dataclass(frozen=True)
class HyperTuning:
    """The tuning side shared by hyper-batch ensembles and self-tuning networks.

    ranges: allowed range per hyperparameter (name or pattern; default: the SearchSpace's);
    init: 'centred' (q starts `init_decades` decades wide around the search space's default),
    'full' (q starts as the whole range) or 'narrow' (the released code's start near the range's
    mean, used for ResNet/WRN); every: tuning step after
    every `every`-th weight step; tau: entropy weight; learning_rate: Adam on q's parameters;
    sample_and_tune: sample λ in tuning steps (else use q's point); embed_hidden: tanh hidden
    widths of the per-layer embedding e(λ) (empty: linear, the released code's default);
    fast_init: as BatchEnsemble.fast_init (the code uses -0.75 for hyper-batch);
    extra_names: trainer hyperparameters also tuned per row (e.g. 'label_smoothing');
    tied_fast_weights: the Δ-branch shares the fast weights r, s (the released ResNet code's
    `fast_weights_eq_contraint=True`) or has its own u, v (the paper's equation);
    stop_holdout: the share of the validation split (its last rows) kept out of tuning batches
    and read alone by the stopping rule (0: tuning and stopping both read the whole split).
    """

    ranges: Mapping[str, Sequence[float]] | None = None
    init: str = "centred"
    init_decades: float = 1.0
    every: int = 3
    tau: float = 1e-3
    learning_rate: float = 1e-3
    sample_and_tune: bool = True
    embed_hidden: tuple[int, ...] = ()
    fast_init: float = -0.75
    extra_names: tuple[str, ...] = ()
    tied_fast_weights: bool = True
    stop_holdout: float = 0.0

    def __post_init__(self):
        if not 0.0 <= self.stop_holdout < 1.0:
            raise HyperensError(f"HyperTuning.stop_holdout must be in [0, 1): {self.stop_holdout}")
        if self.init not in INIT_MODES:
            raise HyperensError(
                f"unknown HyperTuning.init {self.init!r}; valid: {', '.join(INIT_MODES)}"
            )
        if self.every < 1 or self.tau < 0 or self.learning_rate <= 0:
            raise HyperensError("HyperTuning.every must be >= 1, tau >= 0 and learning_rate > 0")
        if not self.init_decades > 0:
            raise HyperensError(f"HyperTuning.init_decades must be > 0, got {self.init_decades}")
        for name, value in (self.ranges or {}).items():
            validate_range(name, value)

    def centre(self, space: SearchSpace, names: Sequence[str]) -> np.ndarray:
        """The search space's default of every tuned name, clipped into the tuning range."""
        low, high = self.bounds(space, names)
        default = np.array(list(space.default_values(names).values()), np.float64)
        return np.clip(default, low, high)

    def bounds(self, space: SearchSpace, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) arrays for `names` from `ranges` (patterns allowed) or `space`."""
        pairs = [
            validate_range(n, space.range_of(n) if self.ranges is None else match(self.ranges, n))
            for n in names
        ]
        return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


@dataclasses.dataclass(frozen=True)
class SelfTuning:
    """init_scale: σ at the start of training (log-space perturbation scale)."""

    init_scale: float = 0.5

    def __post_init__(self):
        if not self.init_scale > 0:
            raise HyperensError(f"SelfTuning.init_scale must be > 0, got {self.init_scale}")


@dataclasses.dataclass(frozen=True)
class MCDropout:
    """samples: T, the dropout samples MC dropout predicts with (its members)."""

    samples: int = 10

    def __post_init__(self):
        if self.samples < 1:
            raise HyperensError(f"MCDropout.samples must be >= 1, got {self.samples}")


@dataclasses.dataclass(frozen=True)
class MIMO:
    """MIMO (Havasi et al., ICLR 2021). heads: K (0: the cell's `WeightSpace.k`);
    batch_repetitions: r, the times each new image appears in a head's rows per step (a step
    takes TrainConfig.batch_size // r new images, so an epoch has about r times the steps);
    input_repetition: rho, the share of rows that shows every head the same image; hparams as
    `BatchEnsemble.hparams` (and `search_trials`)."""

    heads: int = 0
    batch_repetitions: int = 1
    input_repetition: float = 0.0
    hparams: str = "search"
    search_trials: int = 4

    def __post_init__(self):
        if self.heads < 0:
            raise HyperensError(f"MIMO.heads must be >= 0 (0: WeightSpace.k), got {self.heads}")
        if self.batch_repetitions < 1:
            raise HyperensError(f"MIMO.batch_repetitions must be >= 1: {self.batch_repetitions}")
        if not 0.0 <= self.input_repetition <= 1.0:
            raise HyperensError(f"MIMO.input_repetition must be in [0, 1]: {self.input_repetition}")
        check_hparam_source("MIMO", self.hparams, self.search_trials)


@dataclasses.dataclass(frozen=True)
class MethodSettings:
    """Every method's settings for one cell (each method reads the ones it needs)."""

    weight_space: WeightSpace
    batch_ensemble: BatchEnsemble
    hyper_tuning: HyperTuning
    self_tuning: SelfTuning
    mc_dropout: MCDropout
    mimo: MIMO
