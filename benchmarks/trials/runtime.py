"""How TensorFlow runs in a process that trains: its threads and environment, set in one place.

A CPU kernel's float result can depend on how many threads share its work: with 2 intra-op
threads, oneDNN's AVX2 matrix multiplications split their work (and so their sums) differently
than with one, while its AVX-512 kernels happen not to on the same shapes. So every process that
trains cells or trials (the driver of a one-process matrix, a local worker process, a Ray task,
`hyperens run`) gets `worker_env(threads)` in its environment before TensorFlow starts and its
thread pools pinned to `threads` (`enter_worker`); `tf_settings` reports what a process actually
runs with, so two kinds of worker can be compared directly (tests/test_executors.py).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

# Environment variables that TensorFlow, oneDNN, OpenMP, MKL or XLA read: what `tf_settings`
# reports of a process's environment.
ENV_PREFIXES = ("TF_", "ONEDNN_", "DNNL_", "OMP_", "MKL_", "KMP_", "XLA_", "OPENBLAS_")


def worker_env(threads: int) -> dict[str, str]:
    """The environment of a training process with `threads` TensorFlow threads of each kind:
    the thread counts (TensorFlow's and OpenMP's, which Ray also sets for a task), oneDNN on
    (this process's choice, default on; see `benchmarks/__init__.py`), TensorFlow's C++ log
    quiet unless asked for, and GPU memory claimed as needed (trials may share a GPU)."""
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    n = str(threads)
    return {
        "TF_NUM_INTRAOP_THREADS": n,
        "TF_NUM_INTEROP_THREADS": n,
        "OMP_NUM_THREADS": n,
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1"),
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    }


@contextlib.contextmanager
def worker_environment(threads: int) -> Iterator[dict[str, str]]:
    """`os.environ` holds `worker_env(threads)` inside the block (for the processes started in
    it, which inherit it) and what it held before after it."""
    env = worker_env(threads)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def pin_threads(threads: int | None) -> int:
    """Bounds TF's intra- and inter-op thread pools to `threads` (a no-op once TF has run ops in
    this process with other counts); returns the intra-op threads TF uses from now on (0: TF's
    default, one per core)."""
    import tensorflow as tf

    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            pass
    return tf.config.threading.get_intra_op_parallelism_threads()


def limit_blas(threads: int) -> None:
    """At most `threads` threads in the BLAS and OpenMP libraries loaded in this process (numpy's
    OpenBLAS reads `OMP_NUM_THREADS` only when it loads, which may be before `worker_env` is
    set); a BLAS call's rounding can depend on its thread count as a TF kernel's does."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)


def blas_threads() -> list[tuple[str, int]]:
    """(library, threads) of every BLAS and OpenMP thread pool loaded in this process."""
    from threadpoolctl import threadpool_info

    return sorted((i["internal_api"], int(i["num_threads"])) for i in threadpool_info())


def enter_worker(threads: int) -> bool:
    """Makes this process a training process of `threads` threads: `worker_env(threads)` in its
    environment (before TF loads, if it has not), TF's pools pinned and the BLAS/OpenMP pools
    limited (`limit_blas`). True if TF now runs with exactly `threads` threads of each kind;
    False, changing nothing, if it had already started with other counts (then only a new
    process can)."""
    if "tensorflow" not in sys.modules:
        os.environ.update(worker_env(threads))
    import tensorflow as tf

    intra = pin_threads(threads)
    if not intra == threads == tf.config.threading.get_inter_op_parallelism_threads():
        return False
    os.environ.update(worker_env(threads))
    limit_blas(threads)
    return True


def tf_settings() -> dict[str, Any]:
    """What TensorFlow in this process runs with, as far as a result can depend on it: its
    thread pools, whether oneDNN is on, XLA's auto-clustering, op determinism, the Keras
    precision policy, the visible devices, the BLAS/OpenMP pools (`blas_threads`) and every
    environment variable of `ENV_PREFIXES`."""
    import keras
    import tensorflow as tf

    try:  # TensorFlow's own checks (not in its public API)
        from tensorflow.python.framework import config as tf_config
        from tensorflow.python.util import _pywrap_util_port

        onednn = bool(_pywrap_util_port.IsMklEnabled())
        determinism = bool(tf_config.is_op_determinism_enabled())
    except (ImportError, AttributeError):  # a TensorFlow without them
        onednn = determinism = None
    threading = tf.config.threading
    return {
        "intra_op_threads": threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": threading.get_inter_op_parallelism_threads(),
        "onednn": onednn,
        "jit": tf.config.optimizer.get_jit(),
        "op_determinism": determinism,
        "keras_policy": keras.mixed_precision.global_policy().name,
        "devices": sorted(d.device_type for d in tf.config.list_logical_devices()),
        "tensorflow": tf.__version__,
        "blas_threads": blas_threads(),
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)},
    }


def tf_settings_task(_payload: Any = None) -> dict[str, Any]:
    """`tf_settings` as a task (executors pass it a payload)."""
    return tf_settings()
