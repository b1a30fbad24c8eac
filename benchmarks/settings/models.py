"""Architecture settings of every model, bound in gin under the model class's name
(`MLP.widths = (200, 200)`, `resnet20/ResNet20.bn_l2 = 1e-4`). Plain frozen objects, no
TensorFlow: `benchmarks.compose` builds them before anything heavy is imported, and
`build_model(name, ..., settings=...)` passes their fields to the model class as keyword arguments
(each field is an `__init__` argument of the class, with the same default; the tests check it).
"""

from __future__ import annotations

import dataclasses

from benchmarks.errors import HyperensError


def _positive(model: str, **values: tuple[int, ...] | float) -> None:
    for name, value in values.items():
        items = value if isinstance(value, tuple) else (value,)
        if not items or not all(isinstance(v, int | float) and v > 0 for v in items):
            raise HyperensError(f"{model}.{name} must be positive numbers, got {value!r}")


def _non_negative(model: str, name: str, value: float) -> None:
    if not (isinstance(value, int | float) and value >= 0):
        raise HyperensError(f"{model}.{name} must be >= 0, got {value!r}")


@dataclasses.dataclass(frozen=True)
class MLPSettings:
    widths: tuple[int, ...] = (200, 200)
    dropout: bool = True

    def __post_init__(self):
        _positive("MLP", widths=tuple(self.widths))


@dataclasses.dataclass(frozen=True)
class LeNet5Settings:
    filters: tuple[int, ...] = (6, 16)
    widths: tuple[int, ...] = (120, 84)

    def __post_init__(self):
        _positive("LeNet5", filters=tuple(self.filters), widths=tuple(self.widths))


@dataclasses.dataclass(frozen=True)
class ResNet20Settings:
    bn_l2: float = 0.0
    shortcut_bn: bool = False

    def __post_init__(self):
        _non_negative("ResNet20", "bn_l2", self.bn_l2)


@dataclasses.dataclass(frozen=True)
class WideResNet28_10Settings:  # noqa: N801  (the model's name)
    bn_l2: float = 0.0

    def __post_init__(self):
        _non_negative("WideResNet28_10", "bn_l2", self.bn_l2)


# model name -> (gin name, settings class)
MODEL_SETTINGS = {
    "mlp": ("MLP", MLPSettings),
    "lenet": ("LeNet5", LeNet5Settings),
    "resnet20": ("ResNet20", ResNet20Settings),
    "wrn28_10": ("WideResNet28_10", WideResNet28_10Settings),
}
