"""The training engine shared by every method."""

from benchmarks.train.engine import TrainConfig, Trainer, TrainResult

__all__ = ["TrainConfig", "TrainResult", "Trainer"]
