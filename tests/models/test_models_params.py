"""Parameter counts, hyperparameter names and the model registry."""

import dataclasses
import inspect

import pytest

from benchmarks import compose
from benchmarks.errors import UnknownNameError
from benchmarks.models import MODELS, build_model
from benchmarks.models.layers import LayerFactory
from benchmarks.models.lenet import conv2_padding
from benchmarks.settings import MODEL_SETTINGS, Cell

RESNET_KEYS = {
    "l2_input_conv",
    "l2_group_0",
    "l2_group_1",
    "l2_group_2",
    "l2_dense_kernel",
    "l2_dense_bias",
}
LENET_KEYS = {"l2_0", "l2_1", "l2_2", "l2_3", "l2_4", "dropout_0", "dropout_1"}


def lenet_count(h: int, w: int, c: int, classes: int) -> int:
    conv1 = 5 * 5 * c * 6 + 6
    conv2 = 5 * 5 * 6 * 16 + 16
    h, w = h // 2, w // 2
    if min(h, w) >= 6:  # 'valid'
        h, w = h - 4, w - 4
    flat = (h // 2) * (w // 2) * 16
    return conv1 + conv2 + (flat * 120 + 120) + (120 * 84 + 84) + (84 * classes + classes)


def resnet_count(blocks: int, widths, version: int, classes: int, c_in: int = 3) -> int:
    """Trainable weights: bias-free convs, BN gamma+beta, 1x1 shortcut convs, dense."""
    total = 3 * 3 * c_in * 16 + (2 * 16 if version == 1 else 0)
    channels = 16
    for g, width in enumerate(widths):
        for b in range(blocks):
            total += 9 * channels * width + 9 * width * width + 2 * width
            # v1: BN after the second conv; v2: pre-activation BN on the block input
            total += 2 * width if version == 1 else 2 * channels
            if channels != width or (g > 0 and b == 0):
                total += channels * width
            channels = width
    if version == 2:
        total += 2 * channels
    return total + channels * classes + classes


def test_mlp_count_and_names():
    model = build_model("mlp", (28, 28, 1), 10)
    assert model.param_count() == 784 * 200 + 200 + 200 * 200 + 200 + 200 * 10 + 10 == 199_210
    assert set(model.hparam_names) == {"l2_0", "l2_1", "l2_2", "dropout_0", "dropout_1"}


@pytest.mark.parametrize(
    "shape, classes", [((28, 28, 1), 10), ((32, 32, 3), 100), ((8, 8, 1), 10), ((4, 4, 1), 10)]
)
def test_lenet_count(shape, classes):
    model = build_model("lenet", shape, classes)
    assert model.param_count() == lenet_count(*shape, classes)
    assert set(model.hparam_names) == LENET_KEYS


def test_lenet_classic_count_and_small_inputs():
    assert lenet_count(28, 28, 1, 10) == 61_706
    assert conv2_padding(28, 28) == "valid" and conv2_padding(8, 8) == "same"
    with pytest.raises(ValueError, match="at least 4x4"):
        build_model("lenet", (3, 3, 1), 10)


@pytest.mark.parametrize("classes, exact", [(10, 272_282), (100, 278_132)])
def test_resnet20_count(classes, exact):
    model = build_model("resnet20", (32, 32, 3), classes)
    n = model.param_count()
    assert n == resnet_count(3, (16, 32, 64), 1, classes) == exact
    if classes == 10:
        assert abs(n - 0.27e6) / 0.27e6 < 0.03
    assert set(model.hparam_names) == RESNET_KEYS


@pytest.mark.parametrize("classes, exact", [(10, 36_479_194), (100, 36_536_884)])
def test_wrn28_10_count(classes, exact):
    model = build_model("wrn28_10", (32, 32, 3), classes)
    n = model.param_count()
    assert n == resnet_count(4, (160, 320, 640), 2, classes) == exact
    if classes == 10:
        assert abs(n - 36.5e6) / 36.5e6 < 0.01
    assert set(model.hparam_names) == RESNET_KEYS


def test_resnet20_shortcut_bn_option():
    model = build_model("resnet20", (32, 32, 3), 10, settings={"shortcut_bn": True})
    assert model.param_count() == 272_282 + 2 * (32 + 64)


def test_resnets_use_only_the_factory():
    for name in ("resnet20", "lenet"):
        model = build_model(name, (8, 8, 3), 10)
        model.build_all()
        from_factory = {id(v) for layer in model.factory.layers for v in layer.weights}
        assert from_factory == {id(v) for v in model.weights}


def test_registry_and_gin_bindings():
    assert MODELS.names() == ["lenet", "mlp", "resnet20", "wrn28_10"]
    with pytest.raises(UnknownNameError, match="valid names"):
        build_model("vgg", (8, 8, 1), 10)
    settings = compose.resolve(
        Cell("digits", "mlp", "single", "smoke", 0), (), ["MLP.widths = (7,)"]
    )
    arch = dict(settings.model_settings)
    assert arch == {"dropout": True, "widths": (7,)}
    assert build_model("mlp", (2, 2, 1), 3, settings=arch).param_count() == 4 * 7 + 7 + 7 * 3 + 3


@pytest.mark.parametrize("name", sorted(MODEL_SETTINGS))
def test_settings_are_the_model_classes_arguments(name):
    """Every settings field is an `__init__` argument of the model class with the same default,
    and every further argument of the class is one of the settings."""
    cls = MODELS.get(name)
    params = list(inspect.signature(cls.__init__).parameters.values())[4:]
    fields = dataclasses.fields(MODEL_SETTINGS[name][1])
    assert {p.name: tuple(p.default) if isinstance(p.default, list) else p.default
            for p in params} == {f.name: f.default for f in fields}  # fmt: skip


def test_build_model_uses_factory_cls_and_pack():
    class Recording(LayerFactory):
        made: list[str] = []

        def conv2d(self, *args, **kw):
            self.made.append("conv")
            return super().conv2d(*args, **kw)

    model = build_model("lenet", (8, 8, 1), 10, pack=3, factory_cls=Recording)
    assert isinstance(model.factory, Recording) and model.pack == 3
    assert Recording.made == ["conv", "conv"]
    model.build_all()
    assert all(v.shape[0] == 3 for v in model.weights)
