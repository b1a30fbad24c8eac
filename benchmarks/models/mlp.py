"""Multilayer perceptron: flatten -> [dense -> ReLU -> dropout] * L -> dense."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from benchmarks.models.base import PackedModel
from benchmarks.models.layers import LayerFactory, flatten


class MLP(PackedModel):
    """Hidden layer i reads `l2_{i}` (kernel L2) and `dropout_{i}` (rate after its ReLU); the
    output layer reads `l2_{L}`. The paper tunes exactly these per-layer values.
    `dropout=False` drops the dropout layers (and their keys)."""

    def __init__(
        self,
        factory: LayerFactory,
        input_shape: Sequence[int],
        num_classes: int,
        widths: Sequence[int] = (200, 200),
        dropout: bool = True,
    ):
        super().__init__(factory, input_shape, num_classes, name="mlp")
        self.hidden = [factory.dense(w, l2_key=f"l2_{i}") for i, w in enumerate(widths)]
        n = len(widths) if dropout else 0
        self.drops = [factory.dropout(f"dropout_{i}") for i in range(n)]
        self.out = factory.dense(num_classes, l2_key=f"l2_{len(widths)}")

    def forward(self, x, hp, seed, training):
        h = flatten(x)
        for i, dense in enumerate(self.hidden):
            h = tf.nn.relu(dense(h, hp=hp))
            if self.drops:
                h = self.drops[i](h, hp=hp, seed=seed, training=training)
        return self.out(h, hp=hp)
