"""The packed-model contract every architecture follows (see docs/ARCHITECTURE.md)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from benchmarks.models.layers import Hparams, LayerFactory


class PackedModel(keras.Model):
    """A Keras model over packed inputs `(P, B, ...)` returning logits `(P, B, C)`.

    Subclasses create their layers through `self.factory` in `__init__` and implement
    `forward(x, hp, seed, training)`.
    """

    # the training loss per member is this times the mean cross-entropy over its rows
    cross_entropy_weight: float = 1.0

    def __init__(self, factory: LayerFactory, input_shape: Sequence[int], num_classes: int, **kw):
        super().__init__(**kw)
        self.factory = factory
        self.pack = factory.pack
        self.in_shape = tuple(int(d) for d in input_shape)
        self.num_classes = num_classes

    @property
    def members(self) -> int:
        """Ensemble members inside the model: rows are member-major, (P, K * B, ...) (see the
        batch-ensemble layers); 1 for ordinary models."""
        return self.factory.members

    @property
    def hparam_names(self) -> list[str]:
        """Tuned hyperparameters this model reads (keys of `hp`)."""
        return list(self.factory.hparam_names)

    def training_rows(self, xb: tf.Tensor, yb: tf.Tensor, seeds: tf.Tensor):
        """The rows a training step feeds the model, from the step's new images (P, B, ...) and
        labels (P, B): K copies of the batch, member-major (P, K * B, ...); the batch itself
        for K = 1. `seeds` (P, 2) is the step's stateless seed per pack member."""
        k = self.members
        if k == 1:
            return xb, yb
        return tf.tile(xb, [1, k] + [1] * (len(xb.shape) - 2)), tf.tile(yb, [1, k])

    def forward(self, x: tf.Tensor, hp: Hparams, seed: tf.Tensor | None, training: bool):
        raise NotImplementedError

    def call(self, x, hp=None, seed=None, training=False):
        # float32 logits under mixed precision (a no-op for a float32 model)
        return tf.cast(self.forward(x, hp or {}, seed, training), tf.float32)

    def build_all(self) -> None:
        """Creates every weight by running one tiny forward pass."""
        if self.built:
            return
        rows = self.members
        x = tf.zeros((self.pack, rows, *self.in_shape))
        hp = self.factory.placeholder_hparams(self.hparam_names, rows)
        self(x, hp=hp, seed=tf.zeros((self.pack, 2), tf.int32), training=False)

    def initialize(self, seeds: Sequence[int]) -> None:
        """Sets member p's weights from seeds[p] alone (deterministic, pack-invariant)."""
        if len(seeds) != self.pack:
            raise ValueError(f"need {self.pack} seeds, got {len(seeds)}")
        self.build_all()
        for index, layer in enumerate(self.factory.layers):
            layer.initialize([np.random.default_rng([int(s), index]) for s in seeds])

    def l2_penalty(self, hp: Hparams) -> tf.Tensor:
        """sum_l c_l * ||W_l||^2 per member, shape (P,), with raw coefficients c_l."""
        total = tf.zeros((self.pack,), tf.float32)
        for layer in self.factory.layers:
            total += layer.l2_penalty(hp)
        return total

    def param_count(self) -> int:
        """Trainable parameters of ONE member (the pack axis excluded)."""
        self.build_all()
        return int(sum(np.prod(v.shape[1:]) for v in self.trainable_weights))
