"""Packed models by name: `build_model(name, input_shape, num_classes, pack)` (see ARCHITECTURE.md).

Registered names: `mlp`, `lenet`, `resnet20`, `wrn28_10`; any of them as a K-head MIMO network
with `build_model(..., mimo=MimoOptions(K, r, rho))`. Their architecture settings (gin:
`MLP.widths`, `ResNet20.bn_l2`, ...) live in `benchmarks.models.specs` and reach the model as
`build_model(..., settings=...)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras

from benchmarks.models.base import PackedModel
from benchmarks.models.layers import LayerFactory
from benchmarks.models.lenet import LeNet5
from benchmarks.models.mimo import MIMO, MimoOptions, mimo_model
from benchmarks.models.mlp import MLP
from benchmarks.models.resnet import ResNet20, WideResNet28_10
from benchmarks.registry import Registry

MODELS: Registry[type[PackedModel]] = Registry("model")
MODELS.register("mlp")(MLP)
MODELS.register("lenet")(LeNet5)
MODELS.register("resnet20")(ResNet20)
MODELS.register("wrn28_10")(WideResNet28_10)


def build_model(
    name: str,
    input_shape: Sequence[int],
    num_classes: int,
    pack: int = 1,
    factory_cls: type[LayerFactory] = LayerFactory,
    settings: Mapping[str, Any] | None = None,
    mixed_precision: bool = False,
    mimo: MimoOptions | None = None,
) -> PackedModel:
    """A fresh, unbuilt model `name` whose weights have pack axis `pack`.

    `settings` are the architecture arguments (`benchmarks.models.specs.model_settings`); without
    them the class defaults apply. Unknown names raise
    `UnknownNameError`. Call `model.initialize(seeds)` (len(seeds) == pack) before training; it
    builds the weights. `mixed_precision`: every layer gets Keras' 'mixed_bfloat16' policy
    (bfloat16 compute, float32 variables; the model's logits are cast back to float32).
    `mimo`: the architecture inside a MIMO network of `mimo.heads` heads (`benchmarks.models.mimo`).
    """
    model_cls = MODELS.get(name)
    kwargs = dict(settings or {})

    def make() -> PackedModel:
        def inner(shape, classes):
            return model_cls(factory_cls(pack), tuple(shape), int(classes), **kwargs)

        if mimo is None:
            return inner(input_shape, num_classes)
        return mimo_model(inner, tuple(input_shape), int(num_classes), mimo)

    if not mixed_precision:
        return make()
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")  # layers take the policy when created
    try:
        return make()
    finally:
        keras.config.set_dtype_policy(before)


__all__ = [
    "MODELS",
    "LayerFactory",
    "LeNet5",
    "MIMO",
    "MLP",
    "MimoOptions",
    "PackedModel",
    "ResNet20",
    "WideResNet28_10",
    "build_model",
]
