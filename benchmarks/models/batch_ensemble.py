"""Rank-1 batch-ensemble layers (Wen, Tran & Ba 2020) and their layer factory.

Member k of K uses W_k = W ∘ (r_k s_kᵀ) and its own bias b_k:

    y_k = ((x ∘ r_k) W) ∘ s_k + b_k = x_k W_k + b_k

Rows are member-major: the rows of member k are k * B .. (k + 1) * B - 1 (the engine tiles every
batch K times). Activations keep the pack axis: (P, K * B, ...).

The layers build the K member kernels W_k (`member_kernels`, K times the kernel's size) and apply
each to its member's rows, rather than scaling the activations by r_k and s_k around one shared
matmul or convolution (the released code's form, `x ∘ r` and `∘ s` over all K * B rows). Same
function, other rounding; measured on the CPU it is the faster form: the rank-1 products run
over kernels, not over activation maps, and the gradient of r no longer needs the gradient of the
layer's input, which the first layer (its input is data) otherwise computes for r alone.

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


def member_kernels(kernel: tf.Tensor, r: tf.Tensor | None, s: tf.Tensor | None) -> tf.Tensor:
    """W_k = W ∘ (r_k s_kᵀ) for every member: kernel (P, ..., C_in, C_out), r (P, K, C_in) and
    s (P, K, C_out) (None: ones) -> (P, K, ..., C_in, C_out)."""
    w = kernel[:, None]
    ones = (1,) * (len(kernel.shape) - 3)  # a convolution's spatial axes
    if r is not None:
        w = w * tf.reshape(r, (r.shape[0], r.shape[1], *ones, r.shape[2], 1))
    if s is not None:
        w = w * tf.reshape(s, (s.shape[0], s.shape[1], *ones, 1, s.shape[2]))
    return w


def member_matmul(x: tf.Tensor, kernels: tf.Tensor) -> tf.Tensor:
    """x_k W_k for every pack member p and ensemble member k: x (P, K * B, d_in) member-major,
    kernels (P, K, d_in, u) -> (P, K, B, u)."""
    return tf.matmul(member_major(x, kernels.shape[1]), kernels)


def member_conv2d(x: tf.Tensor, kernels: tf.Tensor, strides, padding: str) -> tf.Tensor:
    """conv(x_k, W_k) for every pack member p and ensemble member k: x (P, K * B, H, W, C)
    member-major, kernels (P, K, kh, kw, C, F) -> (P, K, B, H', W', F)."""
    members = kernels.shape[1]

    def one(p, xp):
        xs = tf.unstack(tf.reshape(xp, (members, -1, *xp.shape[1:])))
        return tf.stack(
            [tf.nn.conv2d(xk, kernels[p, k], strides, padding) for k, xk in enumerate(xs)]
        )

    return per_member(one, x)


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
        w = member_kernels(self.kernel, self.r, self.s)  # (P, K, d_in, u)
        y = member_matmul(x, w)
        return merge_members(y + _expand(self.bias, 4))


class BatchEnsembleConv2D(EnsembleLayer):
    """Member k: conv(x ∘ r_k, K) ∘ s_k (+ b_k), r over input channels, s over filters."""

    def __init__(
        self, pack, members, filters, kernel_size, strides=1, padding="same", use_bias=True,
        l2_key=None, init="he_normal", fast_init=-0.5, bias_l2_key=None, **kw,
    ):  # fmt: skip
        super().__init__(pack, members, fast_init, **kw)
        self.filters, self.kernel_size, self.strides = filters, kernel_size, strides
        self.padding, self.use_bias = padding.upper(), use_bias
        self.l2_key, self.init, self.bias_l2_key = l2_key, init, bias_l2_key

    def build(self, input_shape):
        c_in, k = int(input_shape[-1]), self.kernel_size
        self.kernel = self.packed_weight(
            "kernel", (k, k, c_in, self.filters), self.init, self.l2_key
        )
        self.r = self._fast("fast_r", c_in)
        self.s = self._fast("fast_s", self.filters)
        self.bias = (
            self.packed_weight("bias", (self.members, self.filters), "zeros", self.bias_l2_key)
            if self.use_bias
            else None
        )

    def call(self, x, hp=None):
        w = member_kernels(self.kernel, self.r, self.s)
        y = member_conv2d(x, w, self.strides, self.padding)
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
        init="he_normal", name=None, bias_l2_key=None,
    ):  # fmt: skip
        layer = BatchEnsembleConv2D(
            self.pack, self.members, filters, kernel_size, strides, padding, use_bias, l2_key,
            init, self.fast_init, bias_l2_key=bias_l2_key, name=name,
        )  # fmt: skip
        return self._add(layer, l2_key, bias_l2_key if use_bias else None)

    @classmethod
    def with_options(cls, **options) -> functools.partial:
        """A factory class for `build_model(..., factory_cls=...)` with these options bound."""
        return functools.partial(cls, **options)


__all__ = [
    "BatchEnsembleConv2D",
    "BatchEnsembleDense",
    "BatchEnsembleFactory",
    "fast_weight_init",
    "member_conv2d",
    "member_kernels",
    "member_major",
    "member_matmul",
    "merge_members",
]
