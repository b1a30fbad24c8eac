"""The layer factory: packed Keras 3 layers that every model is built from.

Every weight has a leading *pack* axis `P`: member `p` of a pack is one independent trial with its
own weights, hyperparameters and random stream. Activations are `(P, B, ...)`.

Models never instantiate layers directly; they ask a `LayerFactory`. The plain factory here gives
ordinary layers; the efficient-ensemble factories (batch ensemble, hyperparameter-conditioned)
subclass it and return other layers for the *same* model definitions.

Hyperparameters reach layers as `hp: dict[str, Tensor]`, each of shape `(P,)`. A layer names the
keys it reads (`l2_key`, `rate_key`); `LayerFactory.hparam_names` collects them for the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

Hparams = dict[str, tf.Tensor]
InitFn = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Fan-in and fan-out of a dense `(in, out)` or conv `(kh, kw, in, out)` kernel."""
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def he_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Normal(0, sqrt(2 / fan_in)) (He et al. 2015, untruncated)."""
    return rng.normal(0.0, np.sqrt(2.0 / _fans(shape)[0]), size=shape)


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform(-l, l) with l = sqrt(6 / (fan_in + fan_out)) (the Keras default for kernels)."""
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def zeros(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.zeros(shape)


def ones(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.ones(shape)


INITIALIZERS: dict[str, InitFn] = {
    "he_normal": he_normal,
    "glorot_uniform": glorot_uniform,
    "zeros": zeros,
    "ones": ones,
}


def per_member(fn: Callable[[int, tf.Tensor], tf.Tensor], x: tf.Tensor) -> tf.Tensor:
    """stack([fn(p, x[p]) for p in range(P)]).

    Ops that broadcast a per-member weight over the batch (bias add, BatchNorm) run member by
    member, so their gradients reduce a `(B, ...)` slice exactly as a pack of one does: a trial's
    numbers are then bit-identical whatever pack it trains in (a batched `(P, B, C)` reduction
    sums in another order and drifts by ~1e-10 per step).
    """
    if x.shape[0] == 1:  # reshapes, whose gradients are free (a slice's pads a full copy)
        return tf.expand_dims(fn(0, tf.squeeze(x, 0)), 0)
    return tf.stack([fn(p, xp) for p, xp in enumerate(tf.unstack(x))])


def member_sums(w: tf.Tensor) -> tf.Tensor:
    """sum_i w_p[i] per member, shape (P,), as a matrix-vector product (w @ ones over the last
    axis, then a sum over the rest).

    XLA on the CPU rewrites a long `reduce_sum` into a tree of reduce-windows (and a flat dot
    product into a scalar loop); the matrix-vector product runs as one vectorised pass. A NaN
    or infinity anywhere in w_p makes its sum non-finite, so `is_finite(member_sums(g))` checks
    a gradient in one pass (it also flags finite values whose sum overflows float32, 3.4e38:
    a diverged step too)."""
    if len(w.shape) == 1:  # one number per member
        return w
    rows = tf.linalg.matvec(w, tf.ones((w.shape[-1],), w.dtype))
    return tf.reduce_sum(tf.reshape(rows, (w.shape[0], -1)), axis=1)


def sum_of_squares(w: tf.Tensor) -> tf.Tensor:
    """||w_p||^2 per member, shape (P,): `member_sums(square(w))`, whose gradient is 2 w_p times
    the upstream value, as `reduce_sum(square(w))`'s is."""
    return member_sums(tf.square(w))


class PackedLayer(keras.layers.Layer):
    """A layer whose weights carry a leading pack axis.

    Subclasses create weights with `packed_weight`, which records the per-member initializer and the
    hyperparameter key (or fixed coefficient) of its L2 penalty.
    """

    def __init__(self, pack: int, **kwargs):
        super().__init__(**kwargs)
        self.pack = pack
        self._specs: list[tuple[keras.Variable, InitFn, str | float | None]] = []

    def packed_weight(
        self,
        name: str,
        shape: Sequence[int],
        init: str | InitFn,
        l2: str | float | None = None,
        trainable: bool = True,
    ) -> keras.Variable:
        """Adds a `(P, *shape)` weight; `init` names an INITIALIZERS entry or is an `InitFn`;
        `l2` is a hyperparameter key, a fixed number or None."""
        var = self.add_weight(
            name=name,
            shape=(self.pack, *shape),
            initializer="zeros",
            trainable=trainable,
            dtype="float32",
        )
        self._specs.append((var, INITIALIZERS[init] if isinstance(init, str) else init, l2))
        return var

    def initialize(self, rngs: Sequence[np.random.Generator]) -> None:
        """Sets member p's weights from `rngs[p]` only (pack-invariant initialisation)."""
        for var, init, _ in self._specs:
            shape = tuple(var.shape[1:])
            var.assign(np.stack([init(rng, shape) for rng in rngs]).astype(np.float32))

    def l2_penalty(self, hp: Hparams) -> tf.Tensor:
        """sum over regularised weights w of c_w * ||w_p||^2, per member: shape (P,)."""
        total = tf.zeros((self.pack,), tf.float32)
        for var, _, l2 in self._specs:
            if l2 is None:
                continue
            coef = hp[l2] if isinstance(l2, str) else tf.constant(float(l2), tf.float32)
            total += coef * sum_of_squares(var)
        return total


class PackedDense(PackedLayer):
    """y_p = x_p W_p + b_p with x of shape (P, B, d_in)."""

    def __init__(self, pack, units, l2_key=None, bias_l2_key=None, init="glorot_uniform", **kw):
        super().__init__(pack, **kw)
        self.units, self.l2_key, self.bias_l2_key, self.init = units, l2_key, bias_l2_key, init

    def build(self, input_shape):
        d_in = int(input_shape[-1])
        self.kernel = self.packed_weight("kernel", (d_in, self.units), self.init, self.l2_key)
        self.bias = self.packed_weight("bias", (self.units,), "zeros", self.bias_l2_key)

    def call(self, x, hp=None):
        return per_member(lambda p, y: tf.nn.bias_add(y, self.bias[p]), tf.matmul(x, self.kernel))


def channels_side_by_side(x: tf.Tensor) -> tf.Tensor:
    """(P, B, H, W, C) -> (B, H, W, P * C): member p's channels at [p C, (p + 1) C)."""
    shape = tf.shape(x)
    y = tf.transpose(x, [1, 2, 3, 0, 4])
    return tf.reshape(y, tf.concat([shape[1:4], [x.shape[0] * x.shape[-1]]], 0))


def channels_to_pack(x: tf.Tensor, pack: int) -> tf.Tensor:
    """The inverse of `channels_side_by_side`: (B, H, W, P * C) -> (P, B, H, W, C)."""
    shape = tf.shape(x)
    y = tf.reshape(x, tf.concat([shape[:3], [pack, x.shape[-1] // pack]], 0))
    return tf.transpose(y, [3, 0, 1, 2, 4])


class PackedConv2D(PackedLayer):
    """2-D convolution per member: x (P, B, H, W, C_in) -> (P, B, H', W', filters).

    With the pack's channels side by side (`channels_side_by_side`), x (B, H, W, P C_in) ->
    (B, H', W', P filters) is one grouped convolution (P groups) instead of P convolutions: the
    same function, other rounding, and ~1.4x faster per trial for LeNet-5 on one CPU thread,
    whose 1- and 6-channel convolutions are too narrow for oneDNN's kernels alone
    (`hyperens bench roofline`).
    """

    def __init__(
        self, pack, filters, kernel_size, strides=1, padding="same", use_bias=True,
        l2_key=None, init="he_normal", bias_l2_key=None, **kw,
    ):  # fmt: skip
        super().__init__(pack, **kw)
        self.filters, self.kernel_size, self.strides = filters, kernel_size, strides
        self.padding, self.use_bias, self.l2_key, self.init = (
            padding.upper(),
            use_bias,
            l2_key,
            init,
        )
        self.bias_l2_key = bias_l2_key

    def build(self, input_shape):
        c_in = int(input_shape[-1]) // (self.pack if len(input_shape) == 4 else 1)
        k = self.kernel_size
        self.kernel = self.packed_weight(
            "kernel", (k, k, c_in, self.filters), self.init, self.l2_key
        )
        self.bias = (
            self.packed_weight("bias", (self.filters,), "zeros", self.bias_l2_key)
            if self.use_bias
            else None
        )

    def call(self, x, hp=None):
        if x.shape.rank == 4:  # channels side by side
            kernel = tf.transpose(self.kernel, [1, 2, 3, 0, 4])  # (kh, kw, C_in, P, F)
            y = tf.nn.conv2d(x, tf.reshape(kernel, (*kernel.shape[:3], -1)), self.strides,
                             self.padding)  # fmt: skip
            return y if self.bias is None else tf.nn.bias_add(y, tf.reshape(self.bias, [-1]))

        def one(p, xp):
            y = tf.nn.conv2d(xp, self.kernel[p], self.strides, self.padding)
            return y if self.bias is None else tf.nn.bias_add(y, self.bias[p])

        return per_member(one, x)


class PackedBatchNorm(PackedLayer):
    """Batch normalisation per member over (B, H, W); moving statistics of shape (P, C).

    y = gamma * (x - mean) / sqrt(var + eps) + beta; moving <- m * moving + (1 - m) * batch.
    """

    def __init__(self, pack, momentum=0.9, epsilon=1e-5, l2=None, **kw):
        super().__init__(pack, **kw)
        self.momentum, self.epsilon, self.l2 = momentum, epsilon, l2

    def build(self, input_shape):
        c = int(input_shape[-1])
        self.gamma = self.packed_weight("gamma", (c,), "ones", self.l2)
        self.beta = self.packed_weight("beta", (c,), "zeros", self.l2)
        self.moving_mean = self.packed_weight("moving_mean", (c,), "zeros", trainable=False)
        self.moving_var = self.packed_weight("moving_var", (c,), "ones", trainable=False)

    def call(self, x, training=False):
        axes = list(range(len(x.shape) - 2))
        stats = []

        def one(p, xp):
            if training:
                mean, var = tf.nn.moments(xp, axes=axes)
                stats.append((mean, var))
            else:
                mean, var = self.moving_mean[p], self.moving_var[p]
            inv = tf.math.rsqrt(var + self.epsilon) * self.gamma[p]
            return (xp - mean) * inv + self.beta[p]

        y = per_member(one, x)
        if training:
            m = self.momentum
            mean, var = (tf.stack(s) for s in zip(*stats, strict=True))
            self.moving_mean.assign(m * self.moving_mean + (1 - m) * mean)
            self.moving_var.assign(m * self.moving_var + (1 - m) * var)
        return y


def _fmix32(h: tf.Tensor) -> tf.Tensor:
    """MurmurHash3's 32-bit finalizer (Appleby): a bijection of uint32 that mixes every bit."""
    shift, mul = tf.bitwise.right_shift, tf.constant
    h = tf.bitwise.bitwise_xor(h, shift(h, mul(16, tf.uint32))) * mul(0x85EBCA6B, tf.uint32)
    h = tf.bitwise.bitwise_xor(h, shift(h, mul(13, tf.uint32))) * mul(0xC2B2AE35, tf.uint32)
    return tf.bitwise.bitwise_xor(h, shift(h, mul(16, tf.uint32)))


def hash_uniform(shape: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Uniform [0, 1) float32 of `shape` from a counter-based hash of the element index i:
    `u_i = (fmix32(fmix32(i + k0) ^ k1) >> 8) / 2^24`, with (k0, k1) the low 32 bits of the two
    int64 words of `seed` (a stateless seed, e.g. from `stateless_fold_in`).

    Dropout masks only need independent, unbiased bits; two rounds of MurmurHash3's finalizer
    give them at a fraction of the cost of TensorFlow's Philox-4x32-10, which took more of an MLP
    training step than its matmuls. Keys that differ in k1 give unrelated streams (a different
    k0 alone would shift the inner sequence; the xor with k1 breaks that)."""
    key = tf.cast(tf.bitwise.bitwise_and(tf.cast(seed, tf.int64), 0xFFFFFFFF), tf.uint32)
    i = tf.cast(tf.range(tf.reduce_prod(shape)), tf.uint32)
    h = _fmix32(tf.bitwise.bitwise_xor(_fmix32(i + key[0]), key[1]))
    u = tf.cast(tf.bitwise.right_shift(h, tf.constant(8, tf.uint32)), tf.float32) * 2.0**-24
    return tf.reshape(u, shape)


class PackedDropout(PackedLayer):
    """Inverted dropout with a per-member rate hp[rate_key] of shape (P,) (or (P, B)).

    Member p's mask is `hash_uniform(..., fold_in(seed[p], index)) >= rate`: it depends only on
    the member's own seed, never on the pack it trains in.
    """

    def __init__(self, pack, rate_key: str, index: int, **kw):
        super().__init__(pack, **kw)
        self.rate_key, self.index = rate_key, index

    def call(self, x, hp=None, seed=None, training=False):
        if not training:
            return x
        rate = tf.cast(hp[self.rate_key], tf.float32)  # bfloat16 under mixed precision
        rate = tf.reshape(rate, tuple(rate.shape) + (1,) * (len(x.shape) - len(rate.shape)))
        shape = tf.shape(x)[1:]
        u = tf.stack(
            [
                hash_uniform(shape, tf.random.experimental.stateless_fold_in(seed[p], self.index))
                for p in range(self.pack)
            ]
        )
        keep = tf.cast(u >= rate, x.dtype)
        return x * keep / tf.cast(1.0 - rate, x.dtype)


def pool2d(x: tf.Tensor, kind: str, size: int, strides: int | None = None, padding="VALID"):
    """Max or average pooling of (P, B, H, W, C) activations, or of (B, H, W, C) ones (a pack's
    channels side by side)."""
    fn = tf.nn.max_pool2d if kind == "max" else tf.nn.avg_pool2d
    if x.shape.rank == 4:
        return fn(x, size, strides or size, padding)
    shape = tf.shape(x)
    flat = tf.reshape(x, tf.concat([[-1], shape[2:]], 0))
    y = fn(flat, size, strides or size, padding)
    return tf.reshape(y, tf.concat([shape[:2], tf.shape(y)[1:]], 0))


def global_avg_pool(x: tf.Tensor) -> tf.Tensor:
    """Mean over H and W: (P, B, H, W, C) -> (P, B, C)."""
    return tf.reduce_mean(x, axis=[2, 3])


def flatten(x: tf.Tensor) -> tf.Tensor:
    """(P, B, ...) -> (P, B, prod(...))."""
    return tf.reshape(x, (x.shape[0], -1, int(np.prod(x.shape[2:]))))


class LayerFactory:
    """Makes the packed layers of one model and records them in creation order.

    `hparam_names` lists the hyperparameter keys the layers read; `layers` is the order in which
    weights are initialised. Subclass and override `dense`/`conv2d`/`batch_norm`/`dropout` to
    produce other variants of the same model definitions.
    """

    members = 1  # ensemble members inside one model (batch ensembles: K)

    def __init__(self, pack: int = 1):
        self.pack = pack
        self.layers: list[PackedLayer] = []
        self.hparam_names: list[str] = []
        self._dropouts = 0

    def fast_weight_variables(self) -> list:
        """Variables whose gradients the engine scales by `TrainConfig.fast_weight_lr_multiplier`
        (the rank-1 fast weights of batch-ensemble layers; none in plain layers)."""
        return [v for layer in self.layers for v in getattr(layer, "fast_weights", [])]

    def placeholder_hparams(self, names: Sequence[str], rows: int) -> Hparams:
        """Zero hyperparameters of the shapes the layers expect, for building the weights."""
        return {k: tf.zeros((self.pack,)) for k in names}

    def _add(self, layer: PackedLayer, *keys: str | float | None) -> PackedLayer:
        self.layers.append(layer)
        for key in keys:
            if isinstance(key, str) and key not in self.hparam_names:
                self.hparam_names.append(key)
        return layer

    def dense(self, units: int, l2_key=None, bias_l2_key=None, init="glorot_uniform", name=None):
        layer = PackedDense(self.pack, units, l2_key, bias_l2_key, init, name=name)
        return self._add(layer, l2_key, bias_l2_key)

    def conv2d(
        self, filters, kernel_size, strides=1, padding="same", use_bias=True, l2_key=None,
        init="he_normal", name=None, bias_l2_key=None,
    ):  # fmt: skip
        layer = PackedConv2D(
            self.pack, filters, kernel_size, strides, padding, use_bias, l2_key, init,
            bias_l2_key=bias_l2_key, name=name,
        )  # fmt: skip
        return self._add(layer, l2_key, bias_l2_key if use_bias else None)

    def batch_norm(self, momentum=0.9, epsilon=1e-5, l2=None, name=None):
        return self._add(PackedBatchNorm(self.pack, momentum, epsilon, l2, name=name), l2)

    def dropout(self, rate_key: str, name=None):
        self._dropouts += 1
        return self._add(PackedDropout(self.pack, rate_key, self._dropouts, name=name), rate_key)
