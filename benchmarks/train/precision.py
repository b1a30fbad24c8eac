"""XLA and mixed precision as the task sees its devices: `TrainConfig.jit_compile` and
`TrainConfig.mixed_precision` are True, False or 'auto', resolved in the process that trains.

* `jit_compile = 'auto'`: XLA when a GPU is visible to the process, plain graph mode on the CPU
  (where XLA compiles a ResNet's epoch loop for minutes and runs LeNet's convolutions slower).
* `mixed_precision = 'auto'`: Keras' 'mixed_bfloat16' policy (bfloat16 compute, float32
  variables, float32 logits) when a GPU with native bfloat16 (compute capability >= 8.0) is
  visible; never on a CPU. The released code's flag is `--use_bfloat16` (google/
  uncertainty-baselines, baselines/cifar/deterministic.py), used on TPUs.
"""

from __future__ import annotations

import tensorflow as tf

AUTO = "auto"
MIXED_POLICY = "mixed_bfloat16"


def visible_gpus() -> list:
    return tf.config.list_physical_devices("GPU")


def bfloat16_gpu_visible() -> bool:
    """A visible GPU computes bfloat16 natively (NVIDIA Ampere or newer)."""
    for gpu in visible_gpus():
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability is not None and tuple(capability) >= (8, 0):
            return True
    return False


def resolve_jit(value: bool | str) -> bool:
    """`TrainConfig.jit_compile` as a bool for this process."""
    return bool(visible_gpus()) if value == AUTO else bool(value)


def resolve_mixed_precision(value: bool | str) -> bool:
    """`TrainConfig.mixed_precision` as a bool for this process."""
    return bfloat16_gpu_visible() if value == AUTO else bool(value)
