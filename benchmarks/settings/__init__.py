"""Settings: the plain, frozen objects that gin binds, built once per cell by `benchmarks.compose`
and handed down (nothing below compose reads gin). No TensorFlow is imported here, so a cell's
configuration is checked in a second or two, before any training code loads.

`cell` (the cell), `train` (`TrainConfig`), `models` (architecture settings per model),
`methods` (method settings) and `monitor` (`Monitor`: progress lines, TensorBoard); search spaces
are `benchmarks.hparams.SearchSpace`, dataset and shifted-set options `benchmarks.data.options`.
"""

from benchmarks.settings.cell import Cell
from benchmarks.settings.methods import (
    MIMO,
    BatchEnsemble,
    HyperTuning,
    MCDropout,
    MethodSettings,
    SelfTuning,
    WeightSpace,
)
from benchmarks.settings.models import MODEL_SETTINGS
from benchmarks.settings.monitor import Monitor
from benchmarks.settings.train import TrainConfig

__all__ = [
    "MODEL_SETTINGS",
    "BatchEnsemble",
    "Cell",
    "HyperTuning",
    "MethodSettings",
    "Monitor",
    "SelfTuning",
    "MIMO",
    "MCDropout",
    "TrainConfig",
    "WeightSpace",
]
