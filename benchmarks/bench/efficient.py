"""`hyperens bench efficient`: training cost of batch ensembles and hyper-batch ensembles.

Three contenders on the same model, measured in this one process (alternating, after one
untimed warm-up run each, median of the timed runs): the single model, a batch ensemble with
K = 4 and a hyper-batch ensemble with K = 4 (tuning step after every 3rd weight step, λ over
the model's L2 and dropout keys). `batch_size` counts new images per step, as the engine does
(`benchmarks.train.engine`): an ensemble's step tiles them K times, so its step, and its epoch
(every image seen once by every member), has K times the single model's rows. Ratios printed:

* per epoch (per step for ResNet-20): time / the single model's time (includes the K-fold work);
* per row: the same divided by K, i.e. the cost of pushing the same number of rows through the
  network (the implementation's overhead over the shared layers);
* the same ratios in FLOPs, from the layers (`benchmarks.bench.roofline.forward_flops` per row):
  3x forward per trained row, and for the hyper-batch ensemble 2x forward per row of its tuning
  step (forward, then the gradient to λ through every layer's activations; no weight
  gradients), one every `EVERY` weight steps of as many rows; the validation pass is left out.
  A hyper-batch layer multiplies by [W | Δ], twice a batch-ensemble layer's kernel, so its
  FLOP ratio to the batch ensemble is 2 (3 + 2 / EVERY) / 3 whatever the implementation.

Settings: MLP 784-200-200-10 on 60,000 random examples (batch 128); LeNet-5 on random 28x28
images; one ResNet-20 step (batch 128 images, 32x32x3).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from benchmarks.bench.roofline import forward_flops
from benchmarks.data import Splits
from benchmarks.hyper.distributions import LogUniform
from benchmarks.hyper.tuner import Tuner
from benchmarks.models import build_model
from benchmarks.models.batch_ensemble import BatchEnsembleFactory
from benchmarks.models.hyper_layers import HyperFactory
from benchmarks.train import TrainConfig, Trainer

K = 4
EVERY = 3  # tuning step after every 3rd weight step
RANGES = {"l2": (1e-3, 1e3), "dropout": (1e-3, 0.9)}


def _random_data(n: int, shape: tuple[int, ...], seed: int = 0):

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *shape)).astype(np.float32)
    y = rng.integers(0, 10, size=n).astype(np.int32)
    return Splits("random", x, y, x[:256], y[:256], x[:10], y[:10], num_classes=10)


def _contenders(
    model_name: str, data, config
) -> tuple[dict[str, Callable[[int], None]], dict[str, float]]:
    """name -> fit(seed) for single, batch ensemble and hyper-batch ensemble, and name -> FLOPs
    per trained row (forward x 3, plus the tuning steps' share; module docstring)."""

    def build(factory=None):
        extra = {} if factory is None else {"factory_cls": factory}
        return build_model(model_name, data.input_shape, 10, **extra)

    out, flops = {}, {}
    for name, factory in (("single", None), ("batch ensemble", BatchEnsembleFactory),
                          ("hyper-batch", HyperFactory)):  # fmt: skip
        model = build(None if factory is None else factory.with_options(members=K))
        tuner = None
        hp = {k: [1e-3 if k.startswith("dropout") else 1e-4] for k in model.hparam_names}
        if name == "hyper-batch":
            names = model.factory.embed_names
            low = np.array([RANGES[n.split("_")[0]][0] for n in names])
            high = np.array([RANGES[n.split("_")[0]][1] for n in names])
            tuner = Tuner(LogUniform(names, low, high, members=K), every=EVERY)
            hp = {}
        trainer = Trainer(model, data, config, tuner=tuner)
        out[name] = lambda seed, t=trainer, h=hp: t.fit(h, [seed])
        tuning = 2 / EVERY if tuner is not None else 0.0
        flops[name] = forward_flops(model, data.input_shape) * (3 + tuning)
    return out, flops


def _time(fns: dict[str, Callable[[int], None]], repeats: int) -> dict[str, float]:
    seeds = iter(range(1, 10_000))
    for fn in fns.values():
        fn(0)  # warm-up: traces and compiles
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(next(seeds))
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def _report(
    title: str, unit: str, med: dict[str, float], per_epoch: bool, flops: dict[str, float]
) -> dict[str, float]:
    print(title)
    for name, t in med.items():
        print(f"  {name:<15} {t:8.3f} s/{unit}")
    s, be, hb = med["single"], med["batch ensemble"], med["hyper-batch"]
    f_be = flops["batch ensemble"] * K / flops["single"]  # an ensemble's step has K x the rows
    f_hb = flops["hyper-batch"] / flops["batch ensemble"]
    figures = {"be/single": be / s, "hyper/be": hb / be, "be/single per row": be / s / K,
               "flops be/single": f_be, "flops hyper/be": f_hb}  # fmt: skip
    print(f"  FLOPs per {unit} from the layers: batch ensemble / single {f_be:.2f}, hyper-batch / "
          f"batch ensemble {f_hb:.2f}; time ratio / FLOP ratio: {be / s / f_be:.2f} and "
          f"{hb / be / f_hb:.2f}")  # fmt: skip
    if per_epoch:
        print(f"  per epoch: batch ensemble / single {be / s:.2f}, hyper-batch / batch ensemble "
              f"{hb / be:.2f} (target <= 1.6; the FLOP ratio of the two: {f_hb:.2f})")  # fmt: skip
        print(f"  per row (epoch time / K): batch ensemble / single {be / s / K:.2f}")
    else:
        print(f"  per step (K x the rows): batch ensemble / single {be / s:.2f}, per row "
              f"{be / s / K:.2f}; hyper-batch / batch ensemble {hb / be:.2f}")  # fmt: skip
    return figures


def run_efficient_benchmark(repeats: int = 3, lenet_examples: int = 6_000) -> dict[str, dict]:
    """Prints and returns the timings and ratios for MLP, LeNet and one ResNet-20 step."""

    results = {}
    adam = dict(epochs=1, batch_size=128, optimizer="adam", learning_rate=1e-3,
                l2_units="per_example", progress=False)  # fmt: skip
    mlp_data = _random_data(60_000, (28, 28, 1))
    fns, flops = _contenders("mlp", mlp_data, TrainConfig(**adam))
    med = _time(fns, repeats)
    title = f"MLP 784-200-200-10, 60,000 random examples, batch 128 images, K = {K}, CPU"
    results["mlp"] = {**med, **_report(title, "epoch", med, True, flops)}

    lenet_data = _random_data(lenet_examples, (28, 28, 1))  # no XLA, as gin/models/lenet.gin
    fns, flops = _contenders("lenet", lenet_data, TrainConfig(**adam, jit_compile=False))
    med = _time(fns, repeats)
    title = f"LeNet-5, {lenet_examples:,} random 28x28 examples, batch 128 images, K = {K}"
    results["lenet"] = {**med, **_report(title, "epoch", med, True, flops)}

    steps = 5
    res_data = _random_data(128 * steps, (32, 32, 3))
    sgd = dict(epochs=1, batch_size=128, max_steps=steps, optimizer="sgd", learning_rate=0.1,
               jit_compile=False, progress=False)  # fmt: skip
    fns, flops = _contenders("resnet20", res_data, TrainConfig(**sgd))
    med = _time(fns, repeats)
    med = {k: v / steps for k, v in med.items()}
    title = f"ResNet-20, one step of 128 images (32x32x3), median over runs of {steps} steps"
    results["resnet20"] = {**med, **_report(title, "step", med, False, flops)}
    return results
