"""Residual networks for CIFAR: ResNet-20 (post-activation) and WRN-28-10 (pre-activation).

One definition, `ResidualNetwork`, follows uncertainty-baselines' `ub.models.wide_resnet`: an
input 3x3 conv with 16 filters, three groups of basic blocks (strides 1, 2, 2), global average
pooling and a dense layer. Every layer comes from the factory, so batch-ensemble and
hyperparameter-conditioned variants only swap the factory.

Hyperparameters (`hparam_names`, the paper's six L2 groups, App. D and the
released `baselines/cifar/hyperdeepensemble_configs/*_rand_search_sweep.py`):
  `l2_input_conv`; `l2_group_0`, `l2_group_1`, `l2_group_2` (every conv kernel of group g,
  1x1 shortcut convs included); `l2_dense_kernel`; `l2_dense_bias`.
BatchNorm beta/gamma carry a fixed L2 coefficient `bn_l2` (gin-configurable, default 0.0: none);
it is not a tuned key. Convs have no bias; there is no dropout.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from benchmarks.models.base import PackedModel
from benchmarks.models.layers import LayerFactory, global_avg_pool

HPARAM_NAMES = (
    "l2_input_conv",
    "l2_group_0",
    "l2_group_1",
    "l2_group_2",
    "l2_dense_kernel",
    "l2_dense_bias",
)
INPUT_FILTERS = 16
GROUP_STRIDES = (1, 2, 2)


class ResidualNetwork(PackedModel):
    """Three groups of `blocks` basic blocks with `widths[g]` filters each.

    version 1 (He et al. 2016a, post-activation): conv-BN-ReLU stem; block
      y = BN(conv(ReLU(BN(conv(x))))), out = ReLU(shortcut(x) + y).
    version 2 (He et al. 2016b, pre-activation, as in WRN): conv stem; block
      y = conv(ReLU(BN(conv(ReLU(BN(x)))))), out = shortcut(x) + y; final BN-ReLU.
    shortcut(x) is x, or a strided 1x1 conv (plus BN if `shortcut_bn`) where the shape changes; as
    in uncertainty-baselines it reads the block input x, not the pre-activated one.
    Pooling is global average pooling (= UB's 8x8 average pool on 32x32 inputs).
    """

    def __init__(
        self,
        factory: LayerFactory,
        input_shape: Sequence[int],
        num_classes: int,
        *,
        blocks: int,
        widths: Sequence[int],
        version: int,
        bn_l2: float = 0.0,
        shortcut_bn: bool = False,
        name: str = "resnet",
    ):
        super().__init__(factory, input_shape, num_classes, name=name)
        if version not in (1, 2):
            raise ValueError(f"version must be 1 or 2, got {version}")
        if len(widths) != len(GROUP_STRIDES):
            raise ValueError(f"need {len(GROUP_STRIDES)} group widths, got {widths}")
        self.version = version
        bn_coef = float(bn_l2) or None

        def bn(layer_name: str):
            return factory.batch_norm(momentum=0.9, epsilon=1e-5, l2=bn_coef, name=layer_name)

        def conv(filters: int, size: int, strides: int, key: str, layer_name: str):
            return factory.conv2d(
                filters, size, strides, "same", use_bias=False, l2_key=key, name=layer_name
            )

        self.stem = conv(INPUT_FILTERS, 3, 1, "l2_input_conv", "input_conv")
        self.stem_bn = bn("input_bn") if version == 1 else None
        self.blocks: list[dict] = []
        channels = INPUT_FILTERS
        for g, (width, group_stride) in enumerate(zip(widths, GROUP_STRIDES, strict=True)):
            key = f"l2_group_{g}"
            for b in range(blocks):
                prefix = f"group_{g}_block_{b}"
                strides = group_stride if b == 0 else 1
                block = {}
                if version == 2:
                    block["bn_0"] = bn(f"{prefix}_bn_0")
                block["conv_0"] = conv(width, 3, strides, key, f"{prefix}_conv_0")
                block["bn_1"] = bn(f"{prefix}_bn_1")
                block["conv_1"] = conv(width, 3, 1, key, f"{prefix}_conv_1")
                if version == 1:
                    block["bn_2"] = bn(f"{prefix}_bn_2")
                if strides != 1 or channels != width:
                    block["shortcut"] = conv(width, 1, strides, key, f"{prefix}_shortcut")
                    if shortcut_bn:
                        block["shortcut_bn"] = bn(f"{prefix}_shortcut_bn")
                self.blocks.append(block)
                channels = width
        self.final_bn = bn("final_bn") if version == 2 else None
        self.out = factory.dense(
            num_classes, "l2_dense_kernel", "l2_dense_bias", init="he_normal", name="dense"
        )

    def _block(self, block: dict, x: tf.Tensor, hp, training: bool) -> tf.Tensor:
        y = x
        if self.version == 2:
            y = tf.nn.relu(block["bn_0"](y, training=training))
        y = tf.nn.relu(block["bn_1"](block["conv_0"](y, hp=hp), training=training))
        y = block["conv_1"](y, hp=hp)
        if self.version == 1:
            y = block["bn_2"](y, training=training)
        if "shortcut" in block:
            x = block["shortcut"](x, hp=hp)
            if "shortcut_bn" in block:
                x = block["shortcut_bn"](x, training=training)
        x = x + y
        return tf.nn.relu(x) if self.version == 1 else x

    def forward(self, x, hp, seed, training):
        h = self.stem(x, hp=hp)
        if self.stem_bn is not None:
            h = tf.nn.relu(self.stem_bn(h, training=training))
        for block in self.blocks:
            h = self._block(block, h, hp, training)
        if self.final_bn is not None:
            h = tf.nn.relu(self.final_bn(h, training=training))
        return self.out(global_avg_pool(h), hp=hp)


class ResNet20(ResidualNetwork):
    """ResNet-20 (He et al. 2016a): post-activation, 3 blocks per group, 16/32/64 filters.

    Equals uncertainty-baselines' `wide_resnet(depth=22, width_multiplier=1, version=1)`: its two
    projection shortcuts are bare 1x1 convs (`shortcut_bn=True` adds a BN after them, the Keras
    "ResNet v1" variant). Hyperparameters: see the module docstring.
    """

    def __init__(
        self,
        factory: LayerFactory,
        input_shape: Sequence[int],
        num_classes: int,
        bn_l2: float = 0.0,
        shortcut_bn: bool = False,
    ):
        super().__init__(
            factory, input_shape, num_classes, blocks=3, widths=(16, 32, 64), version=1,
            bn_l2=bn_l2, shortcut_bn=shortcut_bn, name="resnet20",
        )  # fmt: skip


class WideResNet28_10(ResidualNetwork):
    """WRN-28-10 (Zagoruyko & Komodakis 2016), pre-activation: 4 blocks per group, 160/320/640.

    Equals uncertainty-baselines' `wide_resnet(depth=28, width_multiplier=10, version=2)`.
    Hyperparameters: see the module docstring.
    """

    def __init__(
        self,
        factory: LayerFactory,
        input_shape: Sequence[int],
        num_classes: int,
        bn_l2: float = 0.0,
    ):
        super().__init__(
            factory, input_shape, num_classes, blocks=4, widths=(160, 320, 640), version=2,
            bn_l2=bn_l2, name="wide_resnet28_10",
        )  # fmt: skip
