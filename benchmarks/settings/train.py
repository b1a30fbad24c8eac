"""`TrainConfig`: the budget and optimiser of one training run (no TensorFlow here)."""

from __future__ import annotations

import dataclasses

from benchmarks.errors import HyperensError

OPTIMIZER_NAMES = ("adam", "sgd")  # benchmarks.train.optim.OPTIMIZERS
L2_UNITS = ("raw", "per_example")  # the L2 convention of benchmarks.train.losses
# What a run keeps (`benchmarks.train.engine`): the weights of the epoch with the lowest
# validation NLL, or those of the last epoch.
STOPPING_RULES = ("best_val_nll", "last_epoch")
DEVICE_SWITCH = (
    True,
    False,
    "auto",
)  # 'auto': on when the task sees a GPU (benchmarks.train.precision)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Budget and optimiser of one training run (bound per tier and model in gin).

    `max_steps` (smoke tier) caps the total number of steps; `l2_units` is described in
    `benchmarks.train.losses`. `jit_compile` (XLA) and `mixed_precision` (bfloat16 compute)
    are True, False or 'auto', resolved where the trial trains (`benchmarks.train.precision`).
    `stopping` = 'best_val_nll': train `epochs` and keep, per member, the weights (and a tuner's
    q) of the epoch with the lowest validation NLL; 'last_epoch': keep the last epoch's.
    """

    epochs: int = 10
    batch_size: int = 128
    max_steps: int | None = None
    optimizer: str = "sgd"
    learning_rate: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    warmup_epochs: float = 0.0
    decay_epochs: tuple[float, ...] = ()
    decay_ratio: float = 0.2
    label_smoothing: float = 0.0
    l2_units: str = "raw"
    checkpoint_every: int = 1
    eval_batch_size: int = 500
    fast_weight_lr_multiplier: float = 1.0  # batch-ensemble fast weights: gradient scale
    val_curve: bool = True  # record the validation NLL after every epoch
    stopping: str = "best_val_nll"  # STOPPING_RULES: which epoch's weights a run keeps
    jit_compile: bool | str = True  # XLA for the epoch loop: ~2x faster on the CPU for MLPs
    mixed_precision: bool | str = False  # Keras 'mixed_bfloat16'; 'auto': on a bf16 GPU only
    progress: bool | None = None  # None: a bar only when stderr is a terminal

    def __post_init__(self):
        if self.optimizer not in OPTIMIZER_NAMES:
            raise HyperensError(
                f"TrainConfig.optimizer must be one of {', '.join(OPTIMIZER_NAMES)}, "
                f"got {self.optimizer!r}"
            )
        if self.l2_units not in L2_UNITS:
            raise HyperensError(
                f"TrainConfig.l2_units must be one of {', '.join(L2_UNITS)}, got {self.l2_units!r}"
            )
        if self.stopping not in STOPPING_RULES:
            raise HyperensError(
                f"TrainConfig.stopping must be one of {', '.join(STOPPING_RULES)}, "
                f"got {self.stopping!r}"
            )
        if self.stopping == "best_val_nll" and not self.val_curve:
            raise HyperensError(
                "TrainConfig.stopping = 'best_val_nll' reads the validation curve: "
                "it needs TrainConfig.val_curve = True"
            )
        for name in ("jit_compile", "mixed_precision"):
            value = getattr(self, name)
            if not any(value is v or (isinstance(v, str) and value == v) for v in DEVICE_SWITCH):
                raise HyperensError(
                    f"TrainConfig.{name} must be True, False or 'auto', got {value!r}"
                )
        names = ("epochs", "batch_size", "eval_batch_size", "checkpoint_every", "learning_rate",
                 "decay_ratio")  # fmt: skip
        positive = {n: getattr(self, n) for n in names}
        if self.max_steps is not None:
            positive["max_steps"] = self.max_steps
        for name, value in positive.items():
            if not value > 0:
                raise HyperensError(f"TrainConfig.{name} must be > 0, got {value}")
        if not 0 <= self.label_smoothing < 1:
            raise HyperensError(
                f"TrainConfig.label_smoothing must be in [0, 1), got {self.label_smoothing}"
            )
        if self.warmup_epochs < 0 or self.momentum < 0 or self.fast_weight_lr_multiplier < 0:
            raise HyperensError(
                "TrainConfig.warmup_epochs, momentum and fast_weight_lr_multiplier must be >= 0"
            )
