"""Learning-rate schedule: linear warm-up, then piecewise-constant decay."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf


def lr_factor(
    step: tf.Tensor,
    steps_per_epoch: int,
    warmup_epochs: float = 0.0,
    decay_epochs: Sequence[float] = (),
    decay_ratio: float = 0.2,
) -> tf.Tensor:
    """Multiplier of the base learning rate at (0-based) `step`.

    factor = min(1, (step + 1) / warmup_steps) * decay_ratio ** #{e in decay_epochs : epoch >= e},
    with epoch = step / steps_per_epoch (fractional).
    """
    step_f = tf.cast(step, tf.float32)
    factor = tf.constant(1.0)
    warmup_steps = warmup_epochs * steps_per_epoch
    if warmup_steps > 0:
        factor = tf.minimum(1.0, (step_f + 1.0) / warmup_steps)
    epoch = step_f / float(steps_per_epoch)
    for boundary in decay_epochs:
        factor *= tf.where(epoch >= float(boundary), decay_ratio, 1.0)
    return factor
