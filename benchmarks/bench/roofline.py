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
initialising) drop out; trials train in packs of the tier's `WeightSpace.pack_size`, as the
matrix trains them (and, for a pack of several, one at a time too). Every figure is printed
twice: in this process on all threads, then in a child process on one thread against the
one-thread peak, as each matrix worker trains. Figures are printed, never asserted.

**LeNet's convolutions, two ways** (`conv_alternatives`): each of LeNet-5's two convolutions on
a batch of 128 MNIST-sized inputs, as a training step needs it (forward, the kernel's gradient,
and the input's gradient for the second convolution only; the first one's input is data), once
with `tf.nn.conv2d` and once as im2col (`tf.image.extract_patches`, then one matmul with the
kernel reshaped to (k_h k_w C_in, C_out)), on one thread as a matrix worker runs it.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np

from benchmarks import compose
from benchmarks.data import get_dataset
from benchmarks.models import build_model
from benchmarks.models.base import PackedModel
from benchmarks.settings import Cell
from benchmarks.train.engine import Trainer
from benchmarks.trials.runtime import pin_threads


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
    """FLOPs of one row's forward pass through the model's layers with a kernel (module
    docstring), read off the shapes each layer sees in one traced forward pass of K rows (one
    per member). The output width is the kernel's: a hyper-batch layer's fused [W | Δ] kernel
    has twice the units of its output; the hyper-batch embedding network (a few hundred FLOPs
    per row) and the rank-1 fast weights are left out."""
    import tensorflow as tf

    seen: list[tuple[object, tuple, tuple]] = []
    layers = [ly for ly in model.factory.layers if getattr(ly, "kernel", None) is not None]
    originals = {id(ly): ly.call for ly in layers}
    for layer in layers:

        def recording(x, *args, _layer=layer, **kwargs):
            y = originals[id(_layer)](x, *args, **kwargs)
            seen.append((_layer, tuple(x.shape), tuple(y.shape)))
            return y

        layer.call = recording
    rows = model.members
    try:
        hp = model.factory.placeholder_hparams(model.hparam_names, rows)
        model(tf.zeros((model.pack, rows, *input_shape)), hp=hp, seed=None, training=False)
    finally:
        for layer in layers:
            del layer.call  # back to the class's method
    total = 0
    for layer, x_shape, y_shape in seen:
        kernel = tuple(layer.kernel.shape)
        if len(kernel) == 3:  # (P, in, out)
            total += 2 * x_shape[-1] * kernel[-1]
        else:  # (P, kh, kw, in, out); a grouped call (channels side by side) sees P x in
            h, w = y_shape[-3:-1]
            total += 2 * h * w * kernel[1] * kernel[2] * kernel[3] * kernel[-1]
    return int(total)


def epoch_flops(model: PackedModel, trainer: Trainer) -> int:
    """FLOPs of one engine epoch: 3x forward over the trained rows, 1x over the validation split."""
    per_example = forward_flops(model, trainer.data.input_shape)
    rows = trainer.steps_per_epoch * trainer.batch * trainer.members * trainer.pack
    return per_example * (3 * rows + len(trainer.data.y_val) * trainer.pack * trainer.members)


def trial_epoch_seconds(
    model_name: str, epochs: tuple[int, int] = (5, 15), pack: int | None = None
) -> tuple[float, int, int]:
    """(seconds per epoch, FLOPs per epoch, pack) of quick-tier trials on mnist5k trained as one
    pack of `pack` trials (default: the tier's `WeightSpace.pack_size` for the model): the slope
    of `fit` between `epochs[0]` and `epochs[1]` epochs, default hyperparameters."""
    import dataclasses

    settings = compose.resolve(Cell("mnist5k", model_name, "single", "quick", 0))
    pack = pack or settings.methods.weight_space.pack_size
    data = get_dataset("mnist5k", **dict(settings.data_options))
    model = build_model(model_name, data.input_shape, data.num_classes, pack=pack,
                        settings=dict(settings.model_settings))  # fmt: skip
    defaults = settings.space.default_values(model.hparam_names)
    hp = {k: [v] * pack for k, v in defaults.items()}
    times = []
    for n in epochs:
        config = dataclasses.replace(settings.train_config, epochs=n, progress=False)
        trainer = Trainer(model, data, config)
        trainer.fit(hp, list(range(pack)))  # traces and compiles
        start = time.perf_counter()
        trainer.fit(hp, list(range(1, pack + 1)))
        times.append(time.perf_counter() - start)
    per_epoch = (times[1] - times[0]) / (epochs[1] - epochs[0])
    return per_epoch, epoch_flops(model, trainer), pack


def im2col_conv2d(x, kernel, padding: str):
    """`tf.nn.conv2d(x, kernel, 1, padding)` for an odd square kernel, as patches @ kernel."""
    import tensorflow as tf

    kh, kw, c_in, c_out = kernel.shape
    if padding == "SAME":
        x = tf.pad(x, [[0, 0], [kh // 2, kh // 2], [kw // 2, kw // 2], [0, 0]])
    patches = tf.image.extract_patches(x, [1, kh, kw, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID")
    return tf.einsum("bhwk,ko->bhwo", patches, tf.reshape(kernel, (kh * kw * c_in, c_out)))


# LeNet-5's convolutions on 28x28x1 inputs: (input shape, filters, padding, input gradient)
LENET_CONVS = (((28, 28, 1), 6, "SAME", False), ((14, 14, 6), 16, "VALID", True))


def conv_alternatives(batch: int = 128, repeats: int = 30) -> list[dict[str, float]]:
    """Seconds per training-step use of each LeNet convolution, `tf.nn.conv2d` against im2col
    (module docstring); the caller fixes the thread count."""
    import tensorflow as tf

    rows = []
    for i, (shape, filters, padding, input_grad) in enumerate(LENET_CONVS):
        x = tf.random.stateless_normal((batch, *shape), seed=[i, 0])
        k = tf.Variable(tf.random.stateless_normal((5, 5, shape[-1], filters), seed=[i, 1]))
        out_hw = shape[0] if padding == "SAME" else shape[0] - 4
        flops = 2 * batch * out_hw**2 * 25 * shape[-1] * filters * (3 if input_grad else 2)
        row = {"layer": f"conv_{i}", "gflop": flops / 1e9}
        for name, conv in (("conv2d", lambda a, b, p: tf.nn.conv2d(a, b, 1, p)),
                           ("im2col", im2col_conv2d)):  # fmt: skip

            @tf.function
            def step(x=x, k=k, conv=conv, padding=padding, input_grad=input_grad):
                with tf.GradientTape() as tape:
                    if input_grad:
                        tape.watch(x)
                    y = conv(x, k, padding)
                    loss = tf.reduce_sum(y * y)
                return tape.gradient(loss, [x, k] if input_grad else [k])

            step()[0].numpy()
            best = np.inf
            for _ in range(3):
                start = time.perf_counter()
                for _ in range(repeats):
                    grads = step()
                grads[0].numpy()
                best = min(best, (time.perf_counter() - start) / repeats)
            row[name] = best
        rows.append(row)
    return rows


def run_roofline_benchmark(one_thread_too: bool = True) -> dict[str, float]:
    """Prints the peak and each quick-tier trial's achieved GFLOP/s and share of the peak, in
    this process (all threads), then the same in a child process on one thread, as every matrix
    worker runs (TF's thread pools are fixed once it has run an op, hence the process)."""
    import tensorflow as tf

    threads = tf.config.threading.get_intra_op_parallelism_threads()
    label = "one thread" if threads == 1 else "all threads"
    peak = matmul_peak()
    print(f"float32 matmul peak (2048^2, {label}): {peak:.1f} GFLOP/s")
    out = {"peak_gflops": peak}
    for name in ("mlp", "lenet"):
        seconds, flops, pack = trial_epoch_seconds(name)
        achieved = flops / seconds / 1e9
        out[f"{name}_share"] = achieved / peak
        print(
            f"  {name:<6} quick-tier trial epoch ({pack} per pack): {seconds / pack * 1e3:7.1f} ms "
            f"per trial, {flops / pack / 1e9:6.2f} GFLOP -> {achieved:6.1f} GFLOP/s = "
            f"{achieved / peak:.0%} of peak"
        )
        if pack > 1:
            alone, flops1, _ = trial_epoch_seconds(name, pack=1)
            print(f"         one trial at a time: {alone * 1e3:7.1f} ms = "
                  f"{flops1 / alone / 1e9 / peak:.0%} of peak; the pack trains "
                  f"{alone * pack / seconds:.2f}x as many trials per second")  # fmt: skip
    print(f"  LeNet convolutions per training step, batch 128 ({label}):")
    for row in conv_alternatives():
        rates = {name: row["gflop"] / row[name] for name in ("conv2d", "im2col")}
        print(f"    {row['layer']}: conv2d {row['conv2d'] * 1e3:6.2f} ms "
              f"({rates['conv2d']:5.1f} GFLOP/s), im2col {row['im2col'] * 1e3:6.2f} ms "
              f"({rates['im2col']:5.1f} GFLOP/s)")  # fmt: skip
    if one_thread_too and threads != 1:
        sys.stdout.flush()
        subprocess.run([sys.executable, "-m", "benchmarks.bench.roofline", "--one-thread"],
                       check=True)  # fmt: skip
    return out


if __name__ == "__main__":
    if "--one-thread" in sys.argv[1:]:
        pin_threads(1)
    run_roofline_benchmark(one_thread_too=False)
