"""The hyperparameter side of alternating optimisation (hyper-batch ensembles, STN).

The engine (`benchmarks.train.engine.Trainer(..., tuner=...)`) calls:

* `train_hparams(seed, batch)` in every weight step: an independent λ ~ q_k for every member k
  and row, as hp[name] of shape (1, K·batch) plus the embedding input z (`EMBED_KEY`). λ is a
  constant there (stop_gradient): a weight step never moves the distribution.
* `tune_step(model, x_val, y_val, seed, hp)` after every `every`-th weight step, on a batch of
  the *validation* split: loss = ensemble NLL − τ·entropy(q), where the ensemble NLL is
  −log mean_k p(y | x, W_k(λ_k)) with λ_k sampled per row (or at q's point if
  `sample_and_tune=False`), the model in inference mode (BatchNorm moving statistics, no
  dropout). Only q's parameters move (Adam), then they are projected back into the range.
* `eval_hparams(batch)`: every row of member k at q_k's test-time point.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from benchmarks.hyper.distributions import HyperDistribution, log_scale
from benchmarks.models.hyper_layers import EMBED_KEY
from benchmarks.train.optim import Adam

_SALT = 1 << 20  # keeps the tuner's random stream apart from dropout's (fold_in indices 1, 2, ...)


class Tuner:
    """Learns `distribution` (K members over D named hyperparameters) on validation data."""

    def __init__(
        self,
        distribution: HyperDistribution,
        every: int = 3,
        tau: float = 1e-3,
        learning_rate: float = 1e-3,
        sample_and_tune: bool = True,
        stop_holdout: float = 0.0,
    ):
        if every < 1:
            raise ValueError(f"tuning every {every} steps: must be >= 1")
        if not 0.0 <= stop_holdout < 1.0:
            raise ValueError(f"stop_holdout must be in [0, 1), got {stop_holdout}")
        self.stop_holdout = float(stop_holdout)
        self.dist, self.every, self.tau = distribution, int(every), float(tau)
        self.learning_rate, self.sample_and_tune = float(learning_rate), sample_and_tune
        self.names = tuple(distribution.names)
        self.optimizer = Adam()
        self._low = np.asarray(distribution.low, np.float64)
        self._high = np.asarray(distribution.high, np.float64)

    def build(self, model) -> None:
        """Checks the model reads the same hyperparameters in the same order; builds Adam."""
        embed = list(getattr(model.factory, "embed_names", []))
        if embed != list(self.names):
            raise ValueError(f"tuner hyperparameters {list(self.names)} != model's {embed}")
        if model.members != self.dist.members:
            raise ValueError(f"model has {model.members} members, distribution {self.dist.members}")
        self.optimizer.build(self.dist.variables)

    @property
    def variables(self) -> list[tf.Variable]:
        """The distribution's parameters and the tuning optimiser's state (checkpointed)."""
        return list(self.dist.variables) + self.optimizer.variables()

    def state(self) -> np.ndarray:
        """q's state: (K, D, 3) low, high and test-time point (`HyperDistribution.state`)."""
        return self.dist.state()

    def initialize(self, seed: int) -> None:
        self.dist.initialize(seed)
        for v in self.optimizer.variables():
            v.assign(tf.zeros_like(v))

    def rows(self, lam: tf.Tensor) -> dict[str, tf.Tensor]:
        """λ (K, B, D) -> hp: each name (1, K·B) member-major, and z = log-scaled λ (1, K·B, D)."""
        flat = tf.reshape(lam, (1, -1, len(self.names)))
        hp = {n: flat[..., j] for j, n in enumerate(self.names)}
        hp[EMBED_KEY] = log_scale(flat, self._low, self._high)
        return hp

    def _at_point(self, batch) -> tf.Tensor:
        point = self.dist.point()
        return tf.broadcast_to(point[:, None, :], tf.stack([point.shape[0], batch, point.shape[1]]))

    def train_hparams(self, seed: tf.Tensor, batch) -> dict[str, tf.Tensor]:
        lam = self.dist.sample(tf.random.experimental.stateless_fold_in(seed, _SALT), batch)
        return self.rows(tf.stop_gradient(lam))

    def eval_hparams(self, batch) -> dict[str, tf.Tensor]:
        return self.rows(self._at_point(batch))

    def tune_loss(self, model, x_val, y_val, seed, hp) -> tf.Tensor:
        """Ensemble NLL on (x_val tiled K times, y_val) − τ·entropy; differentiable in q."""
        batch = tf.shape(y_val)[0]
        if self.sample_and_tune:
            lam = self.dist.sample(tf.random.experimental.stateless_fold_in(seed, _SALT), batch)
        else:
            lam = self._at_point(batch)
        hp = {**hp, **self.rows(lam)}
        hp.pop("label_smoothing", None)
        logits = model(x_val, hp=hp, seed=None, training=False)  # (1, K·B, C)
        k = self.dist.members
        logp = tf.nn.log_softmax(tf.reshape(logits, (k, batch, -1)))
        picked = _pick(logp, y_val)
        ens = tf.reduce_logsumexp(picked, axis=0) - tf.math.log(float(k))
        return -tf.reduce_mean(ens) - self.tau * self.dist.entropy()

    def tune_step(self, model, x_val, y_val, seed, hp) -> tf.Tensor:
        """One Adam step on q's parameters only, then the projection."""
        variables = list(self.dist.variables)
        with tf.GradientTape() as tape:
            loss = self.tune_loss(model, x_val, y_val, seed, hp)
        grads = tape.gradient(loss, variables)
        lr = tf.constant([self.learning_rate], tf.float32)
        self.optimizer.apply(grads, variables, lr, tf.constant([True]))
        self.dist.project()
        return loss


def _pick(logp: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """logp (K, B, C), labels (B,) -> log p_k(y_i) (K, B)."""
    onehot = tf.one_hot(labels, tf.shape(logp)[-1], dtype=logp.dtype)
    return tf.reduce_sum(logp * onehot[None], axis=-1)
