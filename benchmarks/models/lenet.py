"""LeNet-5: [conv 5x5 -> ReLU -> max-pool 2] * 2 -> [dense -> ReLU -> dropout] * 2 -> dense."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from benchmarks.models.base import PackedModel
from benchmarks.models.layers import (
    LayerFactory,
    PackedConv2D,
    channels_side_by_side,
    channels_to_pack,
    flatten,
    pool2d,
)

KERNEL = 5
MIN_SIZE = 4  # smallest input height/width: the second pool needs a 2x2 map


def conv2_padding(height: int, width: int) -> str:
    """'valid' (classic LeNet-5) if the second conv + pool still leave a >= 1x1 map, else 'same'.

    After the first 'same' conv and pool the map is (height // 2, width // 2); a 'valid' 5x5 conv
    followed by a 2x2 pool needs that map to be at least 6 wide. 28x28 -> 'valid' (5x5x16 = 400
    features), 8x8 (the `digits` smoke set) -> 'same' (2x2x16 = 64 features).
    """
    if min(height, width) < MIN_SIZE:
        raise ValueError(
            f"LeNet5 needs inputs of at least {MIN_SIZE}x{MIN_SIZE}, got {height}x{width}"
        )
    return "valid" if min(height, width) // 2 >= KERNEL + 1 else "same"


class LeNet5(PackedModel):
    """LeNet-5 for (H, W, C) inputs (28x28x1 in the paper); see `conv2_padding` for small inputs.

    Layers: conv 6@5x5 'same' -> ReLU -> max-pool 2 -> conv 16@5x5 'valid' -> ReLU -> max-pool 2 ->
    flatten -> dense 120 -> ReLU -> dropout -> dense 84 -> ReLU -> dropout -> dense num_classes.

    Hyperparameters (`hparam_names`): `l2_0`..`l2_4`, the L2 coefficients of the kernels of conv 1,
    conv 2, dense 120, dense 84 and the output layer (biases are not regularised);
    `dropout_0`, `dropout_1`, the rates after dense 120 and dense 84.
    """

    def __init__(
        self,
        factory: LayerFactory,
        input_shape: Sequence[int],
        num_classes: int,
        filters: Sequence[int] = (6, 16),
        widths: Sequence[int] = (120, 84),
    ):
        super().__init__(factory, input_shape, num_classes, name="lenet5")
        padding = conv2_padding(self.in_shape[0], self.in_shape[1])
        self.convs = [
            factory.conv2d(filters[0], KERNEL, padding="same", l2_key="l2_0", name="conv_0"),
            factory.conv2d(filters[1], KERNEL, padding=padding, l2_key="l2_1", name="conv_1"),
        ]
        n = len(self.convs)
        self.hidden = [
            factory.dense(w, l2_key=f"l2_{n + i}", name=f"dense_{i}") for i, w in enumerate(widths)
        ]
        self.drops = [
            factory.dropout(f"dropout_{i}", name=f"dropout_{i}") for i in range(len(widths))
        ]
        self.out = factory.dense(num_classes, l2_key=f"l2_{n + len(widths)}", name="output")

    def forward(self, x, hp, seed, training):
        # a pack of plain convolutions runs as grouped ones, channels side by side (PackedConv2D)
        grouped = self.pack > 1 and all(type(c) is PackedConv2D for c in self.convs)
        h = channels_side_by_side(x) if grouped else x
        for conv in self.convs:
            # relu(max-pool(h)) = max-pool(relu(h)) and so are the gradients, on 4x fewer values
            h = tf.nn.relu(pool2d(conv(h, hp=hp), "max", 2))
        h = flatten(channels_to_pack(h, self.pack) if grouped else h)
        for dense, drop in zip(self.hidden, self.drops, strict=True):
            h = drop(tf.nn.relu(dense(h, hp=hp)), hp=hp, seed=seed, training=training)
        return self.out(h, hp=hp)
