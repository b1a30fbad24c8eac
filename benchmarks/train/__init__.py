"""The training engine shared by every method."""

from benchmarks.settings.train import TrainConfig
from benchmarks.train.engine import Trainer, TrainResult

__all__ = ["TrainConfig", "TrainResult", "Trainer"]
