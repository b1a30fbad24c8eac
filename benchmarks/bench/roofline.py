"""`hyperens bench roofline`: training speed as a fraction of this machine's own float32 peak.

The peak is measured here, in the same process: the best of several large square float32
matmuls (2 n^3 FLOP each) on all threads. A model's FLOP count comes from its layers:

* forward, per example: 2 * d_in * d_out for a dense layer; 2 * H_out * W_out * k_h * k_w *
  C_in * C_out for a convolution (biases, activations, pooling, dropout and the loss are left
  out: they are a few percent of the matmuls);
* one training step costs 3x the forward FLOPs of its rows (the backward pass computes the
  gradients of the inputs and of the weights, each as many FLOPs as the forward pass);
* an epoch of the engine is its training steps plus one forward pass over the validation split
  (the learning curve).

A trial's epoch time is the slope between two runs of `fit` with different epoch counts on the
quick tier's settings and the cell's real data, so per-run fixed costs (tracing, compiling,
initialising) drop out. Figures are printed, never asserted.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks import compose
from benchmarks.data import get_dataset
from benchmarks.models import build_model
from benchmarks.models.base import PackedModel
from benchmarks.models.layers import PackedConv2D, PackedDense
from benchmarks.settings import Cell
from benchmarks.train.engine import Trainer


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of the best of `repeats` float32 (n x n) @ (n x n) matmuls, all threads."""
    import tensorflow as tf

    a = tf.random.stateless_normal((n, n), seed=[1, 2])
    b = tf.random.stateless_normal((n, n), seed=[3, 4])
    matmul = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
    matmul(a, b).numpy()  # trace and warm up
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def forward_flops(model: PackedModel, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one example's forward pass through the model's dense and conv layers (module
    docstring), read off the shapes each layer sees in one traced forward pass."""
    import tensorflow as tf

    seen: list[tuple[object, tuple, tuple]] = []
    layers = [ly for ly in model.factory.layers if isinstance(ly, PackedDense | PackedConv2D)]
    originals = {id(ly): ly.call for ly in layers}
    for layer in layers:

        def recording(x, *args, _layer=layer, **kwargs):
            y = originals[id(_layer)](x, *args, **kwargs)
            seen.append((_layer, tuple(x.shape), tuple(y.shape)))
            return y

        layer.call = recording
    try:
        hp = model.factory.placeholder_hparams(model.hparam_names, 1)
        model(tf.zeros((model.pack, 1, *input_shape)), hp=hp, seed=None, training=False)
    finally:
        for layer in layers:
            del layer.call  # back to the class's method
    total = 0
    for layer, x_shape, y_shape in seen:
        if isinstance(layer, PackedDense):
            total += 2 * x_shape[-1] * y_shape[-1]
        else:
            kh, kw = layer.kernel.shape[1:3]
            total += 2 * y_shape[-3] * y_shape[-2] * kh * kw * x_shape[-1] * y_shape[-1]
    return int(total)


def epoch_flops(model: PackedModel, trainer: Trainer) -> int:
    """FLOPs of one engine epoch: 3x forward over the trained rows, 1x over the validation split."""
    per_example = forward_flops(model, trainer.data.input_shape)
    rows = trainer.steps_per_epoch * trainer.batch * trainer.members * trainer.pack
    return per_example * (3 * rows + len(trainer.data.y_val) * trainer.pack * trainer.members)


def trial_epoch_seconds(model_name: str, epochs: tuple[int, int] = (5, 15)) -> tuple[float, int]:
    """(seconds per epoch, FLOPs per epoch) of one quick-tier trial on mnist5k: the slope of `fit`
    between `epochs[0]` and `epochs[1]` epochs, default hyperparameters, one trial at a time."""
    import dataclasses

    settings = compose.resolve(Cell("mnist5k", model_name, "single", "quick", 0))
    data = get_dataset("mnist5k", **dict(settings.data_options))
    model = build_model(model_name, data.input_shape, data.num_classes,
                        settings=dict(settings.model_settings))  # fmt: skip
    hp = {k: [v] for k, v in settings.space.default_values(model.hparam_names).items()}
    times = []
    for n in epochs:
        config = dataclasses.replace(settings.train_config, epochs=n, progress=False)
        trainer = Trainer(model, data, config)
        trainer.fit(hp, [0])  # traces and compiles
        start = time.perf_counter()
        trainer.fit(hp, [1])
        times.append(time.perf_counter() - start)
    per_epoch = (times[1] - times[0]) / (epochs[1] - epochs[0])
    return per_epoch, epoch_flops(model, trainer)


def run_roofline_benchmark() -> dict[str, float]:
    """Prints the peak and each quick-tier trial's achieved GFLOP/s and share of the peak."""
    peak = matmul_peak()
    print(f"float32 matmul peak (2048^2, all threads): {peak:.1f} GFLOP/s")
    out = {"peak_gflops": peak}
    for name in ("mlp", "lenet"):
        seconds, flops = trial_epoch_seconds(name)
        achieved = flops / seconds / 1e9
        out[f"{name}_share"] = achieved / peak
        print(
            f"  {name:<6} quick-tier trial epoch: {seconds * 1e3:7.1f} ms, {flops / 1e9:6.2f} "
            f"GFLOP -> {achieved:6.1f} GFLOP/s = {achieved / peak:.0%} of peak"
        )
    return out
