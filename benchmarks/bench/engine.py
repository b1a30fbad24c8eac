"""`hyperens bench engine`: our engine against plain `keras.Model.fit` on the same MLP.

MLP 784-200-200-10 (ReLU, no dropout), 60,000 random examples, batch 128, SGD with Nesterov
momentum 0.9, lr 0.01, no L2. Both contenders are measured in this one process, alternating,
after one warm-up epoch each (which pays for tracing); the figure is the median epoch time.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from benchmarks.data import Splits
from benchmarks.models.layers import LayerFactory
from benchmarks.models.mlp import MLP
from benchmarks.train import TrainConfig, Trainer


def _random_data(n: int = 60_000, seed: int = 0):

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, size=n).astype(np.int32)
    small_x, small_y = x[:10], y[:10]
    return Splits("random", x, y, small_x, small_y, small_x, small_y, num_classes=10)


def run_engine_benchmark(epochs: int = 3, batch_size: int = 128) -> dict[str, float]:
    """Prints and returns the median epoch times (s) and their ratio (ours / keras)."""
    import keras

    data = _random_data()
    flat = data.x_train.reshape(len(data.x_train), -1)

    keras.utils.set_random_seed(0)
    ref = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(200, activation="relu"),
            keras.layers.Dense(200, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    ref.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )

    def keras_epoch():
        ref.fit(flat, data.y_train, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)

    model = MLP(LayerFactory(1), data.input_shape, 10, widths=(200, 200), dropout=False)
    config = TrainConfig(
        epochs=1, batch_size=batch_size, optimizer="sgd", learning_rate=0.01, progress=False
    )
    trainer = Trainer(model, data, config)
    hp = {k: [0.0] for k in model.hparam_names}
    seed = iter(range(10_000))

    def our_epoch():
        trainer.fit(hp, seeds=[next(seed)])

    times: dict[str, list[float]] = {"hyperens engine": [], "keras Model.fit": []}
    our_epoch()
    keras_epoch()
    for _ in range(epochs):
        for name, fn in (("hyperens engine", our_epoch), ("keras Model.fit", keras_epoch)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["hyperens engine"] / med["keras Model.fit"]
    print("MLP 784-200-200-10, 60,000 random examples, batch 128, SGD-Nesterov, CPU")
    for name, t in med.items():
        print(f"  {name:<16} {t:7.3f} s/epoch (median of {epochs})")
    print(f"  ratio engine / keras fit: {ratio:.3f}  (target <= 1.0)")
    return {**med, "ratio": ratio}
