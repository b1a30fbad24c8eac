"""Optimisers with a learning rate per pack member and a per-member freeze mask.

Written here (a few lines each) rather than taken from Keras because every pack member needs its
own learning rate and a diverged member must stop changing while the rest of its pack trains on.
Both follow the Keras 3 update rules exactly, in Keras' own arithmetic order.

A pack of one (every trial of the CPU tiers) is updated by TensorFlow's fused kernels
(`ResourceApplyAdam`, `ResourceApplyKerasMomentum`): one pass over each variable instead of a
dozen elementwise ops, each allocating a tensor the size of the variable (the unfused Adam step
took as long as an MLP's matmuls on one thread). The composed ops used for larger packs compute
the same floats in the same order: the fused and composed updates are bit-identical (tested).
"""

from __future__ import annotations

import tensorflow as tf

from benchmarks.settings.train import OPTIMIZER_NAMES


def _bcast(values: tf.Tensor, like: tf.Variable) -> tf.Tensor:
    """Reshapes a (P,) tensor to broadcast against a (P, ...) variable."""
    return tf.reshape(values, (-1,) + (1,) * (len(like.shape) - 1))


def _f32(value: float) -> tf.Tensor:
    # constants rounded to float32 before any arithmetic, as the fused kernels receive them
    return tf.constant(value, tf.float32)


class Optimizer:
    """Base: `apply(grads, variables, lr (P,), alive (P,) bool)`; slots are tf.Variables."""

    slot_names: tuple[str, ...] = ()

    def __init__(self):
        self.slots: dict[str, list[tf.Variable]] = {}
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")

    def build(self, variables) -> None:
        for name in self.slot_names:
            self.slots[name] = [
                tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False, name=f"{name}_{i}")
                for i, v in enumerate(variables)
            ]

    def variables(self) -> list[tf.Variable]:
        """Every state variable, in a fixed order (for checkpoints)."""
        return [self.iterations] + [v for name in self.slot_names for v in self.slots[name]]

    def apply(self, grads, variables, lr, alive, fused: bool | None = None) -> None:
        """One update of every member; a member that is not `alive` gets a zero gradient and a
        zero learning rate, so its weights stay exactly as they are (its optimiser slots decay,
        which nothing reads once it is frozen: `alive` never comes back). `fused` (default: for
        a pack of one) picks the fused kernels, which give the same floats as the composed ops.

        Freezing by a select on the gradient rather than on every updated tensor (or a `tf.cond`
        around the update) keeps the step free of branches and of full copies of each variable.
        """
        self.iterations.assign_add(1)
        zero = tf.constant(0.0, lr.dtype)
        lr = tf.where(alive, lr, zero)
        grads = [
            tf.where(_bcast(alive, v), g, tf.zeros_like(g))
            for g, v in zip(grads, variables, strict=True)
        ]
        if fused is None:  # the variables' shapes are static (lr's may not be, once retraced)
            fused = variables[0].shape[0] == 1
        for i, (g, v) in enumerate(zip(grads, variables, strict=True)):
            if fused:
                self._fused(i, g, v, lr[0], alive[0])
            else:
                self._update(i, g, v, _bcast(lr, v), _bcast(alive, v))


class SGD(Optimizer):
    """SGD with (Nesterov) momentum m, Keras form: v <- m v - lr g; w <- w + m v - lr g (Nesterov)
    or w <- w + v (heavy ball)."""

    slot_names = ("momentum",)

    def __init__(self, momentum: float = 0.9, nesterov: bool = True):
        super().__init__()
        self.momentum, self.nesterov = momentum, nesterov

    def _momentum(self, alive):
        # a frozen member's velocity is zeroed too, or it would keep moving the weights
        return tf.where(alive, _f32(self.momentum), _f32(0.0))

    def _update(self, i, g, var, lr, alive):
        m = self._momentum(alive)
        vel = self.slots["momentum"][i]
        vel.assign(vel * m - lr * g)
        var.assign_add(vel * m - lr * g if self.nesterov else vel)

    def _fused(self, i, g, var, lr, alive):
        tf.raw_ops.ResourceApplyKerasMomentum(
            var=var.handle, accum=self.slots["momentum"][i].handle, lr=lr, grad=g,
            momentum=self._momentum(alive), use_nesterov=self.nesterov,
        )  # fmt: skip


class Adam(Optimizer):
    """Adam (Kingma & Ba), Keras 3 form: m <- m + (g - m)(1 - b1); v <- v + (g^2 - v)(1 - b2);
    w <- w - (m * alpha) / (sqrt(v) + eps) with alpha = lr sqrt(1 - b2^t) / (1 - b1^t)."""

    slot_names = ("m", "v")

    def __init__(self, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7):
        super().__init__()
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _powers(self) -> tuple[tf.Tensor, tf.Tensor]:
        t = tf.cast(self.iterations, tf.float32)
        return tf.pow(_f32(self.beta_1), t), tf.pow(_f32(self.beta_2), t)

    def _update(self, i, g, var, lr, alive):
        b1, b2 = _f32(self.beta_1), _f32(self.beta_2)
        b1_t, b2_t = self._powers()
        m, v = self.slots["m"][i], self.slots["v"][i]
        m.assign_add((g - m) * (1 - b1))
        v.assign_add((tf.square(g) - v) * (1 - b2))
        alpha = lr * tf.sqrt(1 - b2_t) / (1 - b1_t)
        var.assign_sub((m * alpha) / (tf.sqrt(v) + _f32(self.epsilon)))

    def _fused(self, i, g, var, lr, alive):
        b1_t, b2_t = self._powers()
        tf.raw_ops.ResourceApplyAdam(
            var=var.handle, m=self.slots["m"][i].handle, v=self.slots["v"][i].handle,
            beta1_power=b1_t, beta2_power=b2_t, lr=lr, beta1=_f32(self.beta_1),
            beta2=_f32(self.beta_2), epsilon=_f32(self.epsilon), grad=g,
        )  # fmt: skip


OPTIMIZERS = {"sgd": SGD, "adam": Adam}
assert set(OPTIMIZERS) == set(OPTIMIZER_NAMES)  # the names TrainConfig accepts
