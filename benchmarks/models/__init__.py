"""Models by name: `build_model(name, input_shape, num_classes, pack)`."""

from benchmarks.models.base import PackedModel
from benchmarks.models.layers import LayerFactory
from benchmarks.models.mlp import MLP
from benchmarks.registry import Registry

MODELS: Registry[type[PackedModel]] = Registry("model")
MODELS.register("mlp")(MLP)


def build_model(name, input_shape, num_classes, pack=1, factory_cls=LayerFactory) -> PackedModel:
    return MODELS.get(name)(factory_cls(pack), input_shape, num_classes)
