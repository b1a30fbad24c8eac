"""Optimisers with a learning rate per pack member and a per-member freeze mask.

Written here (a few lines each) rather than taken from Keras because every pack member needs its
own learning rate and a diverged member must stop changing while the rest of its pack trains on.
Both follow the Keras update rules exactly.
"""

from __future__ import annotations

import tensorflow as tf

from benchmarks.settings.train import OPTIMIZER_NAMES


def _bcast(values: tf.Tensor, like: tf.Variable) -> tf.Tensor:
    """Reshapes a (P,) tensor to broadcast against a (P, ...) variable."""
    return tf.reshape(values, (-1,) + (1,) * (len(like.shape) - 1))


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

    def apply(self, grads, variables, lr, alive) -> None:
        self.iterations.assign_add(1)
        for i, (g, v) in enumerate(zip(grads, variables, strict=True)):
            keep = _bcast(alive, v)
            self._update(i, g, v, _bcast(lr, v), keep)

    @staticmethod
    def _assign(var, new, keep) -> None:
        var.assign(tf.where(keep, new, var))


class SGD(Optimizer):
    """SGD with (Nesterov) momentum m, Keras form: v <- m v - lr g; w <- w + m v - lr g (Nesterov)
    or w <- w + v (heavy ball)."""

    slot_names = ("momentum",)

    def __init__(self, momentum: float = 0.9, nesterov: bool = True):
        super().__init__()
        self.momentum, self.nesterov = momentum, nesterov

    def _update(self, i, g, var, lr, keep):
        m = self.momentum
        vel = self.slots["momentum"][i]
        new_vel = m * vel - lr * g
        self._assign(vel, new_vel, keep)
        step = m * new_vel - lr * g if self.nesterov else new_vel
        self._assign(var, var + step, keep)


class Adam(Optimizer):
    """Adam (Kingma & Ba), Keras form: m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2;
    w <- w - lr * sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)."""

    slot_names = ("m", "v")

    def __init__(self, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7):
        super().__init__()
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _update(self, i, g, var, lr, keep):
        b1, b2 = self.beta_1, self.beta_2
        t = tf.cast(self.iterations, tf.float32)
        m, v = self.slots["m"][i], self.slots["v"][i]
        new_m = b1 * m + (1 - b1) * g
        new_v = b2 * v + (1 - b2) * tf.square(g)
        self._assign(m, new_m, keep)
        self._assign(v, new_v, keep)
        alpha = lr * tf.sqrt(1 - b2**t) / (1 - b1**t)
        self._assign(var, var - alpha * new_m / (tf.sqrt(new_v) + self.epsilon), keep)


OPTIMIZERS = {"sgd": SGD, "adam": Adam}
assert set(OPTIMIZERS) == set(OPTIMIZER_NAMES)  # the names TrainConfig accepts
