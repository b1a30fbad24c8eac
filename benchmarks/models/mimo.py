"""MIMO (Havasi et al., ICLR 2021, "Training independent subnetworks for robust prediction"): one
network with K inputs and K outputs, any registered architecture inside.

Layout (as uncertainty-baselines' `wide_resnet_mimo`): the K inputs of an example are stacked on
the last axis, input channel c of head k at position c * K + k, so the inner network is the
architecture with K times the input channels (K times the input features for an MLP); its output
layer has K * C units, head k's logits at k * C .. (k + 1) * C - 1.

Rows are member-major like every K-member model of the suite (see `batch_ensemble`): the rows of
head k are k * B .. (k + 1) * B - 1, so the engine's loss, prediction and member axis need nothing
new. At test time the engine feeds the same image to every head. In training, `training_rows`
draws the heads' inputs as the released `baselines/cifar/mimo.py` does (see `mimo_indices`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tensorflow as tf

from benchmarks.models.base import PackedModel

MIMO_SEED_TAG = 0x4D494D4F  # folds the step's seed into the heads' shuffles (not the dropout's)


def stateless_permutation(n: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """A uniformly random permutation of 0..n-1 from a stateless seed (argsort of uniforms)."""
    return tf.argsort(tf.random.stateless_uniform(tf.reshape(n, [1]), seed), stable=True)


def mimo_indices(
    batch: tf.Tensor, heads: int, repetitions: int, input_repetition: float, seed: tf.Tensor
) -> tf.Tensor:
    """(K, r * B) example indices of each head's training rows, for a batch of B new images.

    main = a random permutation of tile(0..B-1, r); with m = floor(r B (1 - rho)), head k reads
    concat(shuffle_k(main[:m]), main[m:]): every head sees each image r times, and a share rho of
    the rows shows all heads the same image (uncertainty-baselines `baselines/cifar/mimo.py`,
    flags `batch_repetitions`, `input_repetition_probability`).
    """
    rows = tf.tile(tf.range(batch), [repetitions])
    n = tf.shape(rows)[0]
    seed = tf.random.experimental.stateless_fold_in(seed, MIMO_SEED_TAG)
    main = tf.gather(rows, stateless_permutation(n, seed))
    m = tf.cast(tf.cast(n, tf.float32) * (1.0 - input_repetition), tf.int32)
    heads_rows = []
    for k in range(heads):
        s = tf.random.experimental.stateless_fold_in(seed, k + 1)
        shuffled = tf.gather(main[:m], stateless_permutation(m, s))
        heads_rows.append(tf.concat([shuffled, main[m:]], 0))
    return tf.stack(heads_rows)


@dataclasses.dataclass(frozen=True)
class MimoOptions:
    """heads: K; repetitions: r, the times each new image appears in a head's rows per step;
    input_repetition: rho, the share of rows that shows every head the same image."""

    heads: int
    repetitions: int = 1
    input_repetition: float = 0.0


class MIMO(PackedModel):
    """K heads around `inner`, an architecture built for K-times-wider inputs and K * C outputs.

    `repetitions` (r) and `input_repetition` (rho) shape the training rows (`mimo_indices`); the
    training loss is the sum over heads of each head's mean cross-entropy (the released code's
    `reduce_mean(reduce_sum(nll, axis=heads))`), i.e. K times the engine's mean over rows. With
    K = 1 and r = 1 the rows are the batch itself and the model is `inner` (same weights, same
    numbers)."""

    def __init__(self, inner: PackedModel, heads: int, repetitions: int, input_repetition: float):
        if heads < 1 or repetitions < 1 or not 0.0 <= input_repetition <= 1.0:
            raise ValueError(
                f"MIMO needs heads >= 1, repetitions >= 1 and input_repetition in [0, 1]; got "
                f"{heads}, {repetitions}, {input_repetition}"
            )
        if inner.num_classes % heads:
            raise ValueError(f"inner model: {inner.num_classes} outputs, not a multiple of {heads}")
        *rest, channels = inner.in_shape
        if channels % heads:
            raise ValueError(f"inner model: {channels} input channels, not a multiple of {heads}")
        super().__init__(
            inner.factory, (*rest, channels // heads), inner.num_classes // heads, name="mimo"
        )
        self.inner, self.heads = inner, heads
        self.repetitions, self.input_repetition = repetitions, float(input_repetition)
        self.cross_entropy_weight = float(heads)

    @property
    def members(self) -> int:
        return self.heads

    def build(self, input_shape=None):
        self.inner.build_all()  # the inner network's weights, in its own creation order
        self.built = True

    def training_rows(self, xb, yb, seeds):
        """(P, B, ...) new images -> (P, K * r * B, ...) member-major rows (`mimo_indices`)."""
        if self.heads == 1 and self.repetitions == 1:
            return xb, yb
        xs, ys = [], []
        for p in range(self.pack):
            idx = tf.reshape(
                mimo_indices(tf.shape(yb)[1], self.heads, self.repetitions,
                             self.input_repetition, seeds[p]),
                [-1],
            )  # fmt: skip
            xs.append(tf.gather(xb[p], idx))
            ys.append(tf.gather(yb[p], idx))
        return tf.stack(xs), tf.stack(ys)

    def forward(self, x, hp, seed, training):
        k, pack = self.heads, self.pack
        rest = tuple(x.shape[2:])  # static (..., C): the inner layers need static feature sizes
        x = tf.reshape(x, [pack, k, -1, *rest])  # (P, K, B, ..., C)
        x = tf.transpose(x, [0, *range(2, len(rest) + 3), 1])  # (P, B, ..., C, K)
        x = tf.reshape(x, [pack, -1, *rest[:-1], rest[-1] * k])  # (P, B, ..., C * K)
        logits = self.inner.forward(x, hp, seed, training)  # (P, B, K * C)
        c = self.num_classes
        logits = tf.reshape(logits, [pack, -1, k, c])
        return tf.reshape(tf.transpose(logits, [0, 2, 1, 3]), [pack, -1, c])


def mimo_model(
    build: Callable[[tuple[int, ...], int], PackedModel],
    input_shape: tuple[int, ...],
    num_classes: int,
    options: MimoOptions,
) -> MIMO:
    """MIMO around `build(input_shape with K times the channels, K * num_classes)`."""
    *rest, channels = input_shape
    k = options.heads
    inner = build((*rest, channels * k), num_classes * k)
    return MIMO(inner, k, options.repetitions, options.input_repetition)
