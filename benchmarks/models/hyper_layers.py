"""Hyperparameter-conditioned (hyper-batch-ensemble) layers and their factory.

Member k with hyperparameters λ (one λ per row: every example carries its own):

    W_k(λ) = W ∘ (r_k s_kᵀ) + [Δ ∘ (r_k s_kᵀ)] ∘ e1(λ)      (e1 gates output units / filters)
    b_k(λ) = b_k + δ_k ∘ e2(λ)

so y = [(x ∘ r_k) W + ((x ∘ r_k) Δ) ∘ e1] ∘ s_k + b_k + δ_k ∘ e2 when the Δ-branch shares the
fast weights r_k, s_k (`tied_fast_weights=True`: u = r, v = s, the released ResNet code's
`fast_weights_eq_contraint=True`). Untied (the paper's equation, and edward2's layers with the
constraint off), the Δ-branch has its own u_k, v_k:
    y = ((x ∘ r_k) W) ∘ s_k + [((x ∘ u_k) Δ) ∘ v_k] ∘ e1 + b_k + δ_k ∘ e2.
With `fast_weights=False` there are no r, s (the self-tuning network's layer, K = 1):
y = x W + (x Δ) ∘ e1 + b + δ ∘ e2.
Either way it is computed as ONE matmul (or convolution) per member of x_k with the fused member
kernel [W ∘ (r_k s_kᵀ) | Δ ∘ (u_k v_kᵀ)] of 2·units columns (`member_kernels`; the batch-ensemble
module says why member kernels rather than scaled activations), then the gate e1 on the Δ half.

e(λ) is the layer's own embedding of the whole normalised hyperparameter vector z ∈ [0, 1]^D
(hp[EMBED_KEY], shape (P, K·B, D)): a linear map without bias, init Normal(0, 1e-4), optionally
after tanh hidden layers (`embed_hidden`). Its width is `units` (+ `units` for the bias gate).

L2 (the kernel's key, one λ per row): R = mean_{rows i} λ_i ||W + e1_i ∘ Δ||²_F, fast weights not
inside the norm (`regularize_fast_weights=False` in the code), in closed form: with per-unit sums
A_l = Σ_j W_jl², B_l = Σ_j W_jl Δ_jl, C_l = Σ_j Δ_jl²,
    R = mean(λ) Σ_l A_l + Σ_l [2 mean(λ e1_l) B_l + mean(λ e1_l²) C_l].
The bias key adds mean_i λ_i ||b_k(i) + δ_k(i) ∘ e2_i||² (cheap, computed directly).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from benchmarks.models.batch_ensemble import (
    BatchEnsembleFactory,
    EnsembleLayer,
    _expand,
    member_conv2d,
    member_kernels,
    member_major,
    member_matmul,
    merge_members,
)
from benchmarks.models.layers import INITIALIZERS, Hparams

EMBED_KEY = "hyper_embedding"  # hp entry holding z, the normalised hyperparameters (P, K·B, D)
EMBED_STDDEV = 1e-4


def fused_init(name: str):
    """Initialises [W | Δ] (..., 2·u) as two independent draws of `name` on (..., u)."""
    base = INITIALIZERS[name]

    def init(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        half = (*shape[:-1], shape[-1] // 2)
        return np.concatenate([base(rng, half), base(rng, half)], axis=-1)

    return init


def _embed_init(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.normal(0.0, EMBED_STDDEV, size=shape)


def _rows(values: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """A (P,) or (P, rows) hyperparameter as (P, rows) matching like's (P, rows, ...)."""
    values = tf.cast(values, tf.float32)  # bfloat16 under mixed precision
    if len(values.shape) == 1:
        values = values[:, None]
    return tf.broadcast_to(values, tf.shape(like)[:2])


class HyperLayer(EnsembleLayer):
    """Shared machinery: the fused kernel, fast weights, embedding and closed-form L2."""

    def __init__(
        self, pack, members, units, use_bias, l2_key, bias_l2_key, init, fast_init,
        embed_dim: Callable[[], int], embed_hidden: Sequence[int] = (), fast_weights=True,
        tied_fast_weights=True, **kw,
    ):  # fmt: skip
        super().__init__(pack, members, fast_init, **kw)
        self.units, self.use_bias, self.init = units, use_bias, init
        self.l2_key, self.bias_l2_key = l2_key, bias_l2_key
        self.embed_dim, self.embed_hidden = embed_dim, tuple(embed_hidden)
        self.has_fast = fast_weights
        self.tied = tied_fast_weights or not fast_weights

    def _build_common(self, kernel_shape: tuple[int, ...], d_in: int) -> None:
        u = self.units
        self.kernel = self.packed_weight("kernel", (*kernel_shape, 2 * u), fused_init(self.init))
        self.r = self._fast("fast_r", d_in) if self.has_fast else None
        self.s = self._fast("fast_s", u) if self.has_fast else None
        untied = self.has_fast and not self.tied
        self.u = self._fast("fast_u", d_in) if untied else None
        self.v = self._fast("fast_v", u) if untied else None
        if self.use_bias:
            self.bias = self.packed_weight("bias", (self.members, u), "zeros")
            self.bias_delta = self.packed_weight("bias_delta", (self.members, u), "zeros")
        self.embed_layers = []
        width = int(self.embed_dim())
        for i, h in enumerate(self.embed_hidden):
            w = self.packed_weight(f"embed_{i}_kernel", (width, h), "glorot_uniform")
            b = self.packed_weight(f"embed_{i}_bias", (h,), "zeros")
            self.embed_layers.append((w, b))
            width = h
        out = 2 * u if self.use_bias else u
        self.embed_out = self.packed_weight("embed_out", (width, out), _embed_init)

    def embedding(self, hp: Hparams) -> tuple[tf.Tensor, tf.Tensor | None]:
        """e1 (P, rows, u) and e2 (P, rows, u) or None, from z = hp[EMBED_KEY]."""
        # the weights' dtype as read here: bfloat16 inside a mixed-precision call, else float32
        h = tf.cast(hp[EMBED_KEY], self.embed_out.value.dtype)
        for w, b in self.embed_layers:
            h = tf.tanh(tf.matmul(h, w) + b[:, None, :])
        e = tf.matmul(h, self.embed_out)
        u = self.units
        return e[..., :u], (e[..., u:] if self.use_bias else None)

    def _branches(self, x: tf.Tensor, op) -> tuple[tf.Tensor, tf.Tensor]:
        """x_k W_k and x_k Δ_k (P, K·B, ..., u) with W_k = W ∘ (r_k s_kᵀ), Δ_k = Δ ∘ (u_k v_kᵀ)
        (u = r, v = s when tied; W and Δ without fast weights), as ONE op per member over the
        fused member kernel [W_k | Δ_k]; `op(x, kernels)` applies member kernels (P, K, ...)
        to member-major rows, giving (P, K, B, ..., 2·u)."""
        w, d = tf.split(self.kernel, 2, axis=-1)
        u_in, v_out = (self.r, self.s) if self.tied else (self.u, self.v)
        kernels = tf.concat(
            [member_kernels(w, self.r, self.s), member_kernels(d, u_in, v_out)], axis=-1
        )
        # split, not two slices: its gradient is one concat, not two padded copies and a sum
        hw, hd = tf.split(merge_members(op(x, kernels)), 2, axis=-1)
        return hw, hd

    def _out(self, hw: tf.Tensor, hd: tf.Tensor, e1, e2, rank: int) -> tf.Tensor:
        """hw = x_k W_k, hd = x_k Δ_k (P, rows, ..., u) -> y, gates broadcast over spatial axes."""
        u = self.units
        spatial = (1,) * (rank - 3)
        gate = tf.reshape(e1, tf.concat([tf.shape(e1)[:2], spatial, [u]], 0))
        y = hw + hd * gate
        if self.use_bias:
            shift = merge_members(
                _expand(self.bias, 4) + _expand(self.bias_delta, 4) * member_major(e2, self.members)
            )
            y += tf.reshape(shift, tf.concat([tf.shape(shift)[:2], spatial, [u]], 0))
        return y

    def l2_penalty(self, hp: Hparams) -> tf.Tensor:
        """Closed-form mean_i λ_i ||W + e1_i ∘ Δ||² (+ the bias term), per pack member (P,)."""
        total = tf.zeros((self.pack,), tf.float32)
        if self.l2_key is None and self.bias_l2_key is None:
            return total
        e1, e2 = self.embedding(hp)
        if self.l2_key is not None:
            lam = _rows(hp[self.l2_key], e1)
            u = self.units
            axes = list(range(1, len(self.kernel.shape) - 1))
            w, d = self.kernel[..., :u], self.kernel[..., u:]
            a = tf.reduce_sum(tf.square(w), axis=axes)  # (P, u)
            b = tf.reduce_sum(w * d, axis=axes)
            c = tf.reduce_sum(tf.square(d), axis=axes)
            m0 = tf.reduce_mean(lam, axis=1)
            m1 = tf.reduce_mean(lam[..., None] * e1, axis=1)
            m2 = tf.reduce_mean(lam[..., None] * tf.square(e1), axis=1)
            total += m0 * tf.reduce_sum(a, -1) + tf.reduce_sum(2 * m1 * b + m2 * c, -1)
        if self.bias_l2_key is not None and self.use_bias:
            lam = _rows(hp[self.bias_l2_key], e2)
            bk = _expand(self.bias, 4) + _expand(self.bias_delta, 4) * member_major(
                e2, self.members
            )
            sq = merge_members(tf.reduce_sum(tf.square(bk), axis=-1))  # (P, rows)
            total += tf.reduce_mean(lam * sq, axis=1)
        return total


class HyperDense(HyperLayer):
    """Dense hyper layer: x (P, K·B, d_in) -> (P, K·B, units); see the module docstring."""

    def __init__(self, pack, members, units, l2_key=None, bias_l2_key=None,
                 init="glorot_uniform", fast_init=-0.75, **kw):  # fmt: skip
        super().__init__(pack, members, units, True, l2_key, bias_l2_key, init, fast_init, **kw)

    def build(self, input_shape):
        d_in = int(input_shape[-1])
        self._build_common((d_in,), d_in)

    def call(self, x, hp=None):
        e1, e2 = self.embedding(hp)
        hw, hd = self._branches(x, member_matmul)
        return self._out(hw, hd, e1, e2, 3)


class HyperConv2D(HyperLayer):
    """Conv hyper layer: one convolution with 2·filters outputs, then the gate (module doc).
    Its bias is penalised as the dense layer's, with its own key (`bias_l2_key`), as edward2's
    `Conv2DHyperBatchEnsemble` does with its `bias_regularizer`."""

    def __init__(self, pack, members, filters, kernel_size, strides=1, padding="same",
                 use_bias=True, l2_key=None, init="he_normal", fast_init=-0.75,
                 bias_l2_key=None, **kw):  # fmt: skip
        super().__init__(pack, members, filters, use_bias, l2_key, bias_l2_key, init, fast_init,
                         **kw)  # fmt: skip
        self.kernel_size, self.strides, self.padding = kernel_size, strides, padding.upper()

    def build(self, input_shape):
        c_in, k = int(input_shape[-1]), self.kernel_size
        self._build_common((k, k, c_in), c_in)

    def call(self, x, hp=None):
        e1, e2 = self.embedding(hp)
        hw, hd = self._branches(x, lambda x, w: member_conv2d(x, w, self.strides, self.padding))
        return self._out(hw, hd, e1, e2, 5)


class HyperFactory(BatchEnsembleFactory):
    """Dense and conv layers become hyperparameter-conditioned layers with `members` members.

    Every row then needs its own value of each tuned key, hp[key] of shape (P, K·B), plus
    hp[EMBED_KEY] = z (P, K·B, D) over `embed_names` (the model's keys, then `extra_names`, e.g.
    `label_smoothing` when the loss takes it per row).
    """

    def __init__(self, pack: int = 1, members: int = 4, fast_init: float = -0.75,
                 embed_hidden: Sequence[int] = (), fast_weights: bool = True,
                 extra_names: Sequence[str] = (), tied_fast_weights: bool = True):  # fmt: skip
        super().__init__(pack, members, fast_init)
        self.embed_hidden, self.fast_weights = tuple(embed_hidden), fast_weights
        self.tied_fast_weights = tied_fast_weights
        self.extra_names = tuple(extra_names)

    @property
    def embed_names(self) -> list[str]:
        return list(self.hparam_names) + [n for n in self.extra_names if n not in self.hparam_names]

    def _kw(self) -> dict:
        return dict(embed_dim=lambda: len(self.embed_names), embed_hidden=self.embed_hidden,
                    fast_weights=self.fast_weights,
                    tied_fast_weights=self.tied_fast_weights)  # fmt: skip

    def placeholder_hparams(self, names: Sequence[str], rows: int) -> Hparams:
        hp = {k: tf.zeros((self.pack, rows)) for k in names}
        hp[EMBED_KEY] = tf.zeros((self.pack, rows, len(self.embed_names)))
        return hp

    def dense(self, units, l2_key=None, bias_l2_key=None, init="glorot_uniform", name=None):
        layer = HyperDense(self.pack, self.members, units, l2_key, bias_l2_key, init,
                           self.fast_init, name=name, **self._kw())  # fmt: skip
        return self._add(layer, l2_key, bias_l2_key)

    def conv2d(
        self, filters, kernel_size, strides=1, padding="same", use_bias=True, l2_key=None,
        init="he_normal", name=None, bias_l2_key=None,
    ):  # fmt: skip
        layer = HyperConv2D(
            self.pack, self.members, filters, kernel_size, strides, padding, use_bias, l2_key,
            init, self.fast_init, bias_l2_key=bias_l2_key, name=name, **self._kw(),
        )  # fmt: skip
        return self._add(layer, l2_key, bias_l2_key if use_bias else None)
