"""The tuner in the engine: weight steps never move q, tuning steps move only q, tuning reads the
validation split and never the test split, the tuning loss is the ensemble NLL − τ·entropy."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from benchmarks.hyper.distributions import LogNormalPerturbation, LogUniform
from benchmarks.hyper.tuner import Tuner
from benchmarks.models import build_model
from benchmarks.models.hyper_layers import EMBED_KEY, HyperFactory
from benchmarks.train import TrainConfig, Trainer

K = 3
RANGES = {"l2": (1e-3, 1e3), "dropout": (1e-3, 0.9)}


def _model(members=K, fast=True):
    factory = HyperFactory.with_options(members=members, fast_weights=fast)
    return build_model("mlp", (8, 8, 1), 10, factory_cls=factory)


def _tuner(model, members=K, every=1, dist_cls=LogUniform, **kw):
    names = model.factory.embed_names
    low = np.array([RANGES[n.split("_")[0]][0] for n in names])
    high = np.array([RANGES[n.split("_")[0]][1] for n in names])
    dist = dist_cls(names, low, high, members=members)
    return Tuner(dist, every=every, **kw)


def _config(**kw):
    base = dict(epochs=1, batch_size=3 * 8, max_steps=4, optimizer="adam",
                learning_rate=1e-2, l2_units="per_example")  # fmt: skip
    return TrainConfig(**{**base, **kw})


def _values(variables):
    return [v.numpy().copy() for v in variables]


def test_weight_steps_leave_q_alone_and_tuning_steps_move_only_q(digits):
    model = _model()
    tuner = _tuner(model, every=1000)  # never tunes
    trainer = Trainer(model, digits, _config(), tuner=tuner)
    trainer.fit({}, [0])
    start = _values(tuner.dist.variables)
    tuner.initialize(0)
    np.testing.assert_array_equal(_values(tuner.dist.variables), start)  # untouched by 4 steps

    weights = _values(model.trainable_variables)
    xv = trainer._tile(tf.constant(digits.x_val[:8])[None])
    yv = tf.constant(digits.y_val[:8])
    seed = tf.constant([1, 2], tf.int32)
    for _ in range(3):
        tuner.tune_step(model, xv, yv, seed, {})
    for before, after in zip(weights, _values(model.trainable_variables), strict=True):
        np.testing.assert_array_equal(before, after)
    moved = [np.abs(a - b).max() for a, b in zip(start, _values(tuner.dist.variables), strict=True)]
    assert max(moved) > 0


def test_gradients_reach_q_in_tuning_and_not_in_weight_steps(digits):
    model = _model()
    tuner = _tuner(model)
    trainer = Trainer(model, digits, _config(), tuner=tuner)
    tuner.initialize(0)
    xv = trainer._tile(tf.constant(digits.x_val[:8])[None])
    yv = tf.constant(digits.y_val[:8])
    seed = tf.constant([1, 2], tf.int32)
    with tf.GradientTape() as tape:
        loss = tuner.tune_loss(model, xv, yv, seed, {})
    grads = tape.gradient(loss, tuner.dist.variables)
    assert all(g is not None and np.all(np.isfinite(g)) for g in grads)
    assert all(np.abs(g).max() > 0 for g in grads)
    with tf.GradientTape() as tape:  # a weight step: λ sampled per row, then the training loss
        hp = tuner.train_hparams(seed, 8)
        logits = model(xv, hp=hp, seed=tf.zeros((1, 2), tf.int32), training=True)
        total = tf.reduce_mean(logits) + tf.reduce_sum(model.l2_penalty(hp))
    assert all(g is None for g in tape.gradient(total, tuner.dist.variables))


def test_rows_are_member_major_at_the_test_point(digits):
    model = _model()
    tuner = _tuner(model)
    Trainer(model, digits, _config(), tuner=tuner)
    tuner.initialize(0)
    tuner.dist.log_b.assign(tuner.dist.log_b - np.arange(K)[:, None].astype(np.float32))
    hp = tuner.eval_hparams(4)
    point = np.asarray(tuner.dist.point())
    for j, name in enumerate(tuner.names):
        np.testing.assert_allclose(np.asarray(hp[name])[0], np.repeat(point[:, j], 4), rtol=1e-6)
    assert hp[EMBED_KEY].shape == (1, K * 4, len(tuner.names))


def test_tuning_loss_is_ensemble_nll_minus_tau_entropy(digits):
    model = _model()
    tuner = _tuner(model, tau=0.5, sample_and_tune=False)
    trainer = Trainer(model, digits, _config(), tuner=tuner)
    tuner.initialize(0)
    model.initialize([0])
    x, y = digits.x_val[:8], digits.y_val[:8]
    probs = trainer.predict(x, {})  # (K, 8, C) at the point
    nll = -np.mean(np.log(probs.mean(axis=0)[np.arange(8), y]))
    xv = trainer._tile(tf.constant(x)[None])
    got = float(tuner.tune_loss(model, xv, tf.constant(y), tf.constant([0, 0]), {}))
    want = nll - 0.5 * float(tuner.dist.entropy())
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_tuning_never_reads_the_test_split(digits):
    """Garbage (NaN) test inputs change nothing the method trains, tunes or predicts on val."""
    outs = []
    for x_test in (digits.x_test, np.full_like(digits.x_test, np.nan)):
        data = dataclasses.replace(digits, x_test=x_test)
        model = _model()
        tuner = _tuner(model, every=2)
        trainer = Trainer(model, data, _config(max_steps=6), tuner=tuner)
        trainer.fit({}, [3])
        outs.append((_values(tuner.dist.variables), trainer.predict(data.x_val, {})))
    for a, b in zip(outs[0][0], outs[1][0], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    assert not np.allclose(outs[0][0][0], np.log(1e-3))  # q did move


def test_resume_restores_q_and_its_optimiser(digits, tmp_path):
    def run():
        model = _model()
        tuner = _tuner(model, every=2)
        trainer = Trainer(model, digits, _config(epochs=2, max_steps=None, batch_size=3 * 200),
                          tuner=tuner)  # fmt: skip
        result = trainer.fit({}, [5], checkpoint_dir=tmp_path)
        return result, _values(tuner.dist.variables), trainer.predict(digits.x_val, {})

    first, q1, p1 = run()  # leaves the end-of-epoch-1 checkpoint behind
    second, q2, p2 = run()  # resumes from it
    assert first.resumed_from_epoch == 0 and second.resumed_from_epoch == 1
    for a, b in zip(q1, q2, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(p1, p2, rtol=1e-5, atol=1e-6)


def test_stn_tuner_runs_with_one_member(digits):
    model = _model(members=1, fast=False)
    tuner = _tuner(model, members=1, every=1, dist_cls=LogNormalPerturbation)
    trainer = Trainer(model, digits, _config(batch_size=8), tuner=tuner)
    tuner.initialize(0)
    start = _values(tuner.dist.variables)
    assert trainer.fit({}, [0]).status == ["done"]
    assert trainer.predict(digits.x_val[:5], {}).shape == (1, 5, 10)
    assert any(
        np.abs(a - b).max() > 0 for a, b in zip(start, _values(tuner.dist.variables), strict=True)
    )


def test_mismatched_tuner_is_rejected(digits):
    model = _model()
    names = model.factory.embed_names[::-1]
    dist = LogUniform(names, np.full(len(names), 0.01), np.full(len(names), 0.5), members=K)
    with pytest.raises(ValueError, match="tuner hyperparameters"):
        Trainer(model, digits, _config(), tuner=Tuner(dist))


def test_a_tuning_step_lowers_the_validation_nll_on_a_fixed_batch(digits):
    """With τ = 0 and q's point (no sampling), one Adam step on q lowers the very loss it was
    taken on: the validation gradient reaches q through e(λ) and points downhill."""
    model = _model()
    tuner = _tuner(model, every=10_000, tau=0.0, learning_rate=1e-3, sample_and_tune=False)
    trainer = Trainer(model, digits, _config(max_steps=30), tuner=tuner)
    trainer.fit({}, [0])  # weight steps only: the embeddings and Δ move away from their init
    xv = trainer._tile(tf.constant(digits.x_val[:64])[None])
    yv = tf.constant(digits.y_val[:64])
    seed = tf.constant([3, 4], tf.int32)
    before = float(tuner.tune_loss(model, xv, yv, seed, {}))
    start = _values(tuner.dist.variables)
    tuner.tune_step(model, xv, yv, seed, {})
    after = float(tuner.tune_loss(model, xv, yv, seed, {}))
    moved = [np.abs(a - b).max() for a, b in zip(start, _values(tuner.dist.variables), strict=True)]
    assert max(moved) > 0
    assert after < before


def test_q_ends_inside_its_range_on_mnist5k(tmp_path):
    """The quick tier's hyper-batch ensemble on mnist5k: no bound of q ends pinned at the edge
    of its range, and the stored summary has each member's low < mean < high."""
    from benchmarks.methods import Cell
    from benchmarks.runner import run_cell
    from benchmarks.store import RunStore

    out = run_cell(Cell("mnist5k", "mlp", "hyper_batch_ensemble", "quick", 0), tmp_path)
    info = RunStore(tmp_path).load(out.run_id).provenance["method_info"]
    assert len(info["q_summary"]) == 3
    for member in info["q_summary"]:
        for name, q in member.items():
            low, high = info["q_range"][name]
            assert low < q["low"] < q["mean"] < q["high"] < high, (name, q)
            assert np.log(high / q["high"]) > 1e-3 and np.log(q["low"] / low) > 1e-3


def test_a_rebound_trainer_computes_what_a_new_one_computes():
    """Rebinding a traced trainer (tuner included) to another split of the same shapes gives the
    numbers of a trainer built on that split, bit for bit, without retracing."""
    from benchmarks.data import get_dataset

    first, second = get_dataset("digits", split_seed=0), get_dataset("digits", split_seed=1)
    assert not np.array_equal(first.y_val, second.y_val)
    config = _config(max_steps=6)

    def trainer(data):
        model = _model()
        return Trainer(model, data, config, tuner=_tuner(model, every=2))

    hp = {"learning_rate": [1e-2]}
    reused = trainer(first)
    reused.fit(hp, [3])
    traces = reused._epoch_fn.experimental_get_tracing_count()
    reused.rebind(second)
    got = reused.fit(hp, [3])
    assert reused._epoch_fn.experimental_get_tracing_count() == traces
    fresh = trainer(second)
    want = fresh.fit(hp, [3])
    np.testing.assert_array_equal(got.loss_history, want.loss_history)
    np.testing.assert_array_equal(got.val_nll_history, want.val_nll_history)
    for x in (second.x_val, second.x_test):
        np.testing.assert_array_equal(reused.predict(x, hp), fresh.predict(x, hp))
    with pytest.raises(ValueError, match="same shapes"):
        reused.rebind(dataclasses.replace(second, x_val=second.x_val[:-1], y_val=second.y_val[:-1]))


def test_with_tau_zero_a_tuning_step_moves_q_towards_the_better_l2(digits):
    # A network whose class-0 logit falls as the output layer's L2 coefficient rises: only l2_1
    # reaches the output (its embedding weight), through a delta kernel that adds a non-negative
    # amount to logit 0 gated by -z(l2_1). On a validation batch of class-0 images a smaller
    # l2_1 is better, so one tuning step without the entropy term moves q's l2_1 mean down and
    # leaves the hyperparameters the network ignores where they were.
    model = _model()
    tuner = _tuner(model, tau=0.0, sample_and_tune=False)
    trainer = Trainer(model, digits, _config(), tuner=tuner)
    model.initialize([0])
    tuner.initialize(0)
    out, names = model.out, list(tuner.names)
    u = out.units
    embed = np.zeros(out.embed_out.shape, np.float32)
    embed[0, names.index("l2_1"), 0] = -1.0  # e1[class 0] = -z(l2_1)
    out.embed_out.assign(embed)
    for layer in model.hidden:
        layer.embed_out.assign(np.zeros(layer.embed_out.shape, np.float32))
    kernel = out.kernel.numpy()
    kernel[..., u:] = 0.0
    kernel[..., u] = 1.0  # the delta branch of unit 0: the sum of the (ReLU) hidden units
    out.kernel.assign(kernel)
    for fast in (out.r, out.s):  # no sign flips per member
        fast.assign(np.ones(fast.shape, np.float32))
    x = digits.x_val[digits.y_val == 0][:8]
    y = np.zeros(len(x), np.int32)
    before = tuner.dist.point().numpy()
    xv = trainer._tile(tf.constant(x)[None])
    tuner.tune_step(model, xv, tf.constant(y), tf.constant([0, 0]), {})
    after = tuner.dist.point().numpy()
    j = names.index("l2_1")
    assert (after[:, j] < before[:, j]).all(), (before[:, j], after[:, j])
    others = [i for i in range(len(names)) if i != j]
    np.testing.assert_array_equal(after[:, others], before[:, others])


def test_a_stop_holdout_keeps_its_rows_from_tuning_and_stops_on_them(digits):
    """Tuning batches never read the held-out last rows of validation (NaN there changes no q),
    and the stopping rule's NLL is the NLL of exactly those rows."""
    n = len(digits.y_val)
    rows = n - int(round(0.4 * n))
    qs = []
    for x_val in (
        digits.x_val,
        np.concatenate([digits.x_val[:rows], np.full_like(digits.x_val[rows:], np.nan)]),
    ):
        data = dataclasses.replace(digits, x_val=x_val)
        model = _model()
        tuner = _tuner(model, every=1, stop_holdout=0.4)
        trainer = Trainer(model, data, _config(max_steps=6, stopping="last_epoch"), tuner=tuner)
        trainer.fit({}, [3])
        qs.append(_values(tuner.dist.variables))
    for a, b in zip(*qs, strict=True):
        np.testing.assert_array_equal(a, b)
    trainer.rebind(digits)  # the clean split
    nll, _, stop = trainer._val_curve({})
    probs = trainer.predict(digits.x_val, {}).mean(axis=0)
    p_true = probs[np.arange(n), digits.y_val]
    np.testing.assert_allclose(stop, [-np.mean(np.log(p_true[rows:]))], rtol=1e-5)
    np.testing.assert_allclose(nll, [-np.mean(np.log(p_true))], rtol=1e-5)
