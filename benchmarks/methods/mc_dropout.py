"""MC dropout (Gal & Ghahramani, ICML 2016): the cell's tuned single model, predicting with its
dropout on, T times; the T samples are the members (equal weights). No extra training: the model
is the random search's best trial by validation NLL (the `single` method's), restored from the
trial cache, so its budget is the search's.

The T samples run as a pack of T copies of the network, one forward pass per batch; sample s of
batch b draws its masks from the stateless seed (cell seed, 1,000,000 * s + b), b counting the
batches of every split and shifted set the method predicts, in order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from benchmarks.errors import HyperensError
from benchmarks.methods.base import METHODS, CellContext, MethodResult
from benchmarks.methods.search import best_index, search_pool
from benchmarks.models.base import PackedModel
from benchmarks.models.layers import PackedBatchNorm


def restored(
    build_model: Callable[[int], PackedModel], weights: list[np.ndarray], pack: int
) -> PackedModel:
    """`build_model(pack)` holding `pack` copies of one trained network's `weights`."""
    model = build_model(pack)
    model.build_all()
    for var, w in zip(model.weights, weights, strict=True):
        var.assign(np.broadcast_to(w, var.shape))
    return model


def sampler(
    model: PackedModel, hparams: dict[str, float], seed: int, batch: int
) -> Callable[[np.ndarray], np.ndarray]:
    """`predict(x) -> (T, N, C)`: softmax of T dropout samples (T = the model's pack)."""
    t = model.pack
    hp = {k: tf.fill([t], float(hparams[k])) for k in model.hparam_names}
    forward = tf.function(
        lambda xb, seeds: tf.nn.softmax(model(xb, hp=hp, seed=seeds, training=True)),
        reduce_retracing=True,
    )
    counter = [0]

    def predict(x: np.ndarray) -> np.ndarray:
        outs = []
        for i in range(0, len(x), batch):
            xb = tf.constant(x[i : i + batch])
            xb = tf.broadcast_to(xb[None], tf.concat([[t], tf.shape(xb)], 0))
            b = counter[0]
            counter[0] += 1
            seeds = tf.constant([[seed, 1_000_000 * s + b] for s in range(t)], tf.int32)
            outs.append(forward(xb, seeds).numpy())
        return np.concatenate(outs, axis=1)

    return predict


@METHODS.register("mc_dropout")
def mc_dropout(ctx: CellContext) -> MethodResult:
    t = ctx.settings.mc_dropout.samples
    probe = ctx.build_model(1)
    if not any(n.startswith("dropout_") for n in probe.hparam_names):
        raise HyperensError(f"mc_dropout needs a model with dropout; {ctx.cell.model} has none")
    if any(isinstance(layer, PackedBatchNorm) for layer in probe.factory.layers):
        raise HyperensError(
            f"mc_dropout: {ctx.cell.model} has batch norm, which dropout sampling would switch "
            "to batch statistics"
        )
    pool = search_pool(ctx)
    best = pool[best_index(pool)]
    model = restored(ctx.build_model, ctx.trials.weights(best), t)
    predict = sampler(model, best.spec.hp(), ctx.cell.seed, ctx.train_config.eval_batch_size)
    info = {
        "members": t,
        "trial": best.key,
        "hparams": best.spec.hp(),
        "selection": "best validation NLL, dropout on at test time",
        "hparams_source": "random search",
        "trials_trained": ctx.trials.trained,
    }
    return MethodResult(
        status="done",
        val_probs=predict(ctx.data.x_val),
        test_probs=predict(ctx.data.x_test),
        member_weights=np.ones(t, np.float32),
        param_count=probe.param_count(),
        info=info,
        shift_probs=ctx.predict_shifted(predict),
        history=best.history[None] if len(best.history) else None,  # the one network trained
    )
