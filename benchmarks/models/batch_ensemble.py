"""Rank-1 batch-ensemble layers (Wen, Tran & Ba 2020) and their layer factory.

Member k of K uses W_k = W ∘ (r_k s_kᵀ) and its own bias b_k, computed without building W_k:

    y_k = ((x ∘ r_k) W) ∘ s_k + b_k

so a convolution stays one ordinary (fast) convolution over all K * B rows. Rows are
member-major: the rows of member k are k * B .. (k + 1) * B - 1 (the engine tiles every batch K
times). Activations keep the pack axis: (P, K * B, ...).

Fast weights r, s start at Normal(1, |c|) for `fast_init = c < 0` and at random signs with
P(+1) = c for c > 0 (edward2's `random_sign_init`). They are not L2-regularised (as in the
released code); W carries the layer's tuned or fixed L2 and b_k the bias key, if any.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from benchmarks.models.layers import LayerFactory, PackedLayer, per_member


def fast_weight_init(c: float):
    """Initializer for fast weights: Normal(1, -c) if c < 0, random ±1 with P(+1) = c if c > 0."""
    if c == 0 or c > 1:
        raise ValueError(f"fast_init must be in [-inf, 0) or (0, 1], got {c}")

    def init(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        if c < 0:
            return rng.normal(1.0, -c, size=shape)
        return np.where(rng.uniform(size=shape) < c, 1.0, -1.0)

    return init


def member_major(x: tf.Tensor, members: int) -> tf.Tensor:
    """(P, K * B, ...) -> (P, K, B, ...)."""
    shape = tf.shape(x)
    return tf.reshape(x, tf.concat([[shape[0], members, -1], shape[2:]], 0))


def merge_members(x: tf.Tensor) -> tf.Tensor:
    """(P, K, B, ...) -> (P, K * B, ...)."""
    shape = tf.shape(x)
    return tf.reshape(x, tf.concat([[shape[0], -1], shape[3:]], 0))


def _expand(v: tf.Tensor, rank: int) -> tf.Tensor:
    """(P, K, C) -> (P, K, 1, ..., 1, C) to broadcast against (P, K, B, ..., C) of `rank` dims."""
    return tf.reshape(v, (v.shape[0], v.shape[1]) + (1,) * (rank - 3) + (v.shape[2],))


class EnsembleLayer(PackedLayer):
    """A packed layer with K members; `fast_weights` lists the rank-1 factors (r, s)."""

    def __init__(self, pack: int, members: int, fast_init: float, **kw):
        super().__init__(pack, **kw)
        self.members, self.fast_init = members, fast_init
        self.fast_weights: list = []

    def _fast(self, name: str, size: int):
        var = self.packed_weight(name, (self.members, size), fast_weight_init(self.fast_init))
        self.fast_weights.append(var)
        return var


class BatchEnsembleDense(EnsembleLayer):
    """y_k = ((x ∘ r_k) W) ∘ s_k + b_k for x of shape (P, K * B, d_in)."""

    def __init__(
        self, pack, members, units, l2_key=None, bias_l2_key=None, init="glorot_uniform",
        fast_init=-0.5, **kw,
    ):  # fmt: skip
        super().__init__(pack, members, fast_init, **kw)
        self.units, self.l2_key, self.bias_l2_key, self.init = units, l2_key, bias_l2_key, init

    def build(self, input_shape):
        d_in = int(input_shape[-1])
        self.kernel = self.packed_weight("kernel", (d_in, self.units), self.init, self.l2_key)
        self.r = self._fast("fast_r", d_in)
        self.s = self._fast("fast_s", self.units)
        self.bias = self.packed_weight(
            "bias", (self.members, self.units), "zeros", self.bias_l2_key
        )

    def call(self, x, hp=None):
        xr = merge_members(member_major(x, self.members) * _expand(self.r, 4))
        y = member_major(tf.matmul(xr, self.kernel), self.members)
        return merge_members(y * _expand(self.s, 4) + _expand(self.bias, 4))


class BatchEnsembleConv2D(EnsembleLayer):
    """Member k: conv(x ∘ r_k, K) ∘ s_k (+ b_k), r over input channels, s over filters."""

    def __init__(
        self, pack, members, filters, kernel_size, strides=1, padding="same", use_bias=True,
        l2_key=None, init="he_normal", fast_init=-0.5, **kw,
    ):  # fmt: skip
        super().__init__(pack, members, fast_init, **kw)
        self.filters, self.kernel_size, self.strides = filters, kernel_size, strides
        self.padding, self.use_bias = padding.upper(), use_bias
        self.l2_key, self.init = l2_key, init

    def build(self, input_shape):
        c_in, k = int(input_shape[-1]), self.kernel_size
        self.kernel = self.packed_weight(
            "kernel", (k, k, c_in, self.filters), self.init, self.l2_key
        )
        self.r = self._fast("fast_r", c_in)
        self.s = self._fast("fast_s", self.filters)
        self.bias = (
            self.packed_weight("bias", (self.members, self.filters), "zeros")
            if self.use_bias
            else None
        )

    def call(self, x, hp=None):
        xr = merge_members(member_major(x, self.members) * _expand(self.r, 6))

        def conv(p, xp):
            return tf.nn.conv2d(xp, self.kernel[p], self.strides, self.padding)

        y = member_major(per_member(conv, xr), self.members) * _expand(self.s, 6)
        if self.bias is not None:
            y += _expand(self.bias, 6)
        return merge_members(y)


class BatchEnsembleFactory(LayerFactory):
    """Dense and conv layers become rank-1 batch-ensemble layers with `members` members;
    BatchNorm (statistics over all K * B rows, as the shared Keras layer in the released code)
    and dropout stay as they are."""

    def __init__(self, pack: int = 1, members: int = 4, fast_init: float = -0.5):
        super().__init__(pack)
        if members < 1:
            raise ValueError(f"members must be >= 1, got {members}")
        fast_weight_init(fast_init)  # validates
        self.members, self.fast_init = members, fast_init

    def dense(self, units, l2_key=None, bias_l2_key=None, init="glorot_uniform", name=None):
        layer = BatchEnsembleDense(
            self.pack, self.members, units, l2_key, bias_l2_key, init, self.fast_init, name=name
        )
        return self._add(layer, l2_key, bias_l2_key)

    def conv2d(
        self, filters, kernel_size, strides=1, padding="same", use_bias=True, l2_key=None,
        init="he_normal", name=None,
    ):  # fmt: skip
        layer = BatchEnsembleConv2D(
            self.pack, self.members, filters, kernel_size, strides, padding, use_bias, l2_key,
            init, self.fast_init, name=name,
        )  # fmt: skip
        return self._add(layer, l2_key)

    @classmethod
    def with_options(cls, **options) -> functools.partial:
        """A factory class for `build_model(..., factory_cls=...)` with these options bound."""
        return functools.partial(cls, **options)


__all__ = [
    "BatchEnsembleConv2D",
    "BatchEnsembleDense",
    "BatchEnsembleFactory",
    "fast_weight_init",
    "member_major",
    "merge_members",
]
