"""hyperens: a reproducible benchmark suite for hyperparameter ensembles."""

import os

# TensorFlow's oneDNN kernels are off by default in this CPU build; on (before TF is imported
# anywhere in the process) they make convolutions several times faster (LeNet ~2.5x per step).
# Set TF_ENABLE_ONEDNN_OPTS=0 to compare; provenance records the value of every run.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's own messages: warnings up

from benchmarks import quiet  # noqa: E402

quiet.install()  # TensorFlow's start-up lines only with HYPERENS_TF_LOGS=1 (benchmarks/quiet.py)

__version__ = "0.1.0"
