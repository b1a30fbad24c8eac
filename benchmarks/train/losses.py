"""Training losses, and the suite's one L2 convention.

L2 convention (every model, method and search space follows it):

    loss_p = mean_i CE(y_i, softmax(f_p(x_i)))  +  s * sum_l c_{p,l} * ||W_{p,l}||^2

* the squared norm carries no 1/2 (the Keras convention) and is added to the *mean* cross-entropy;
* c_{p,l} is the coefficient of layer (or group) l for pack member p: a tuned hyperparameter
  `hp["l2_..."]` or a fixed number (BatchNorm);
* s is the units factor: `l2_units="raw"` gives s = 1 (the coefficient is what Keras would use);
  `l2_units="per_example"` gives s = 1 / N_train, the paper's "per-dataset" units in which the
  MLP/LeNet ranges [1e-3, 1e3] and the hyper-batch lambda in [0.1, 100] are stated.
"""

from __future__ import annotations

import tensorflow as tf

from benchmarks.settings.train import L2_UNITS


def l2_scale(units: str, num_train: int) -> float:
    """The factor s of the L2 convention above."""
    if units not in L2_UNITS:
        raise ValueError(f"l2_units must be one of {L2_UNITS}, got {units!r}")
    return 1.0 if units == "raw" else 1.0 / float(num_train)


def cross_entropy(logits: tf.Tensor, labels: tf.Tensor, smoothing: tf.Tensor) -> tf.Tensor:
    """Mean CE per member with label smoothing: logits (P, B, C), labels (P, B), smoothing (P,)
    or one value per row (P, B).

    Targets are (1 - eps) * onehot + eps / C (as Keras' categorical CE does).
    """
    num_classes = logits.shape[-1]
    onehot = tf.one_hot(labels, num_classes, dtype=logits.dtype)
    eps = tf.convert_to_tensor(smoothing, logits.dtype)
    eps = eps[:, :, None] if len(eps.shape) == 2 else tf.reshape(eps, (-1, 1, 1))
    targets = onehot * (1.0 - eps) + eps / num_classes
    per_example = -tf.reduce_sum(targets * tf.nn.log_softmax(logits), axis=-1)
    return tf.reduce_mean(per_example, axis=1)
