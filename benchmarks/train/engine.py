"""The one training engine every method uses.

A pack of P trials (P = 1 for one run) trains in one compiled step. Each member has its own
weights, seed, data order, dropout masks, hyperparameters and learning rate; nothing a member
computes depends on the other members, so a trial's numbers do not depend on its pack.

* A whole epoch is one `tf.function` (a loop over steps inside the graph): no per-step Python.
* Hyperparameters and learning rates are tensors (arguments and variables), so a new set of
  hyperparameters of the same architecture never retraces the step.
* A member whose loss or gradients become non-finite is frozen and reported `diverged`; the others
  go on. `fit` never raises because of divergence.
* A model with K > 1 members (batch ensembles) gets every batch tiled K times, member-major:
  `batch_size` counts *new images per step*, the same for every member as for a single model, so
  a step has K x batch_size rows and the loss (mean CE over all rows) is the Gibbs
  cross-entropy. Every member thus sees as many images per step, and as many steps, as a single
  model with the same TrainConfig.
* After every epoch the validation NLL and accuracy of each pack member (its K-member ensemble)
  are recorded from one set of validation predictions (`TrainResult.val_nll_history`,
  `val_accuracy_history`, the learning curve; `val_curve=False` skips them), and `fit`'s
  `on_epoch` callback receives them with the epoch's training loss (`benchmarks.train.observe`:
  progress lines, TensorBoard). Recording reads predictions only: it changes no trained number.
  A tuner's `state()` (q's bounds and mean) is recorded after every epoch too
  (`TrainResult.tuner_path`).
* Extension points, so the engine names no model variant or dataset:
  - a `tuner` (the `StepTuner` protocol below; hyper-batch ensembles and self-tuning networks use
    `benchmarks.hyper.tuner.Tuner`) supplies the tuned hyperparameters of every row and, every
    `tuner.every` steps, takes a tuning step on a validation batch; the weights and the tuner's
    parameters never share a step. Without one, `NO_TUNER` tunes nothing;
  - the layer factory's `fast_weight_variables()` get their gradients scaled by
    `TrainConfig.fast_weight_lr_multiplier`;
  - the dataset's `Splits.augment` names a pack augmentation (`benchmarks.data.augment`).
* The stopping rule (`TrainConfig.stopping`): with 'best_val_nll' every pack member keeps the
  weights, and the tuner's parameters, of the epoch whose validation NLL (the curve above) is the
  lowest; ties keep the earlier epoch. `TrainResult.kept_epoch` says which (1-based). The rule
  reads validation predictions only, the same ones the learning curve records. A tuner with
  `stop_holdout` > 0 tunes on the first rows of validation only, and the rule then reads the
  NLL of the remaining rows.
* Checkpoints (every variable, as one .npz written atomically) at epoch ends; `fit` resumes from
  the last one. Data order depends on (seed, epoch) and dropout on (seed, step), so a resumed run
  gives the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import tensorflow as tf

from benchmarks import timing
from benchmarks.data import Splits
from benchmarks.data.augment import pack_augmentation
from benchmarks.metrics import PROB_FLOOR
from benchmarks.models.base import PackedModel
from benchmarks.models.layers import member_sums
from benchmarks.settings.train import TrainConfig
from benchmarks.train import checkpoint
from benchmarks.train.losses import cross_entropy, l2_scale
from benchmarks.train.observe import EpochObserver, EpochRecord
from benchmarks.train.optim import OPTIMIZERS
from benchmarks.train.precision import resolve_jit, resolve_mixed_precision
from benchmarks.train.progress import progress_bar
from benchmarks.train.schedule import lr_factor

TRAINER_HPARAMS = ("learning_rate", "label_smoothing")


@dataclasses.dataclass
class TrainResult:
    """Per-member outcome of `fit`: status is 'done' or 'diverged'."""

    status: list[str]
    final_loss: np.ndarray
    loss_history: np.ndarray  # (epochs, P) mean training loss per epoch
    val_nll_history: np.ndarray  # (epochs, P) validation NLL after each epoch (NaN: not recorded)
    val_accuracy_history: np.ndarray  # (epochs, P) validation accuracy, as val_nll_history
    steps: int
    wall_time_s: float
    resumed_from_epoch: int
    kept_epoch: np.ndarray  # (P,) the epoch whose weights the member kept (1-based; 0: none)
    tuner_path: np.ndarray | None = None  # (epochs, ...) the tuner's state after each epoch


class StepTuner(Protocol):
    """What the engine asks of a tuner (`benchmarks.hyper.tuner.Tuner` documents the semantics)."""

    names: tuple[str, ...]  # hyperparameters it supplies (the model's `factory.embed_names`)
    every: int  # a tuning step after every `every`-th weight step; 0: never
    stop_holdout: float  # share of validation (last rows) kept from tuning for the stopping rule

    @property
    def variables(self) -> list[tf.Variable]: ...  # checkpointed with the model

    def build(self, model: PackedModel) -> None: ...
    def initialize(self, seed: int) -> None: ...
    def train_hparams(self, seed: tf.Tensor, batch) -> dict[str, tf.Tensor]: ...
    def eval_hparams(self, batch) -> dict[str, tf.Tensor]: ...
    def tune_step(self, model, x_val, y_val, seed, hp) -> tf.Tensor: ...
    def state(self) -> np.ndarray: ...  # what it has learned, recorded after every epoch


class NoTuner:
    """The tuner of a model without tuned hyperparameters: supplies none, never tunes."""

    names: tuple[str, ...] = ()
    every = 0
    stop_holdout = 0.0
    variables: list = []

    def build(self, model: PackedModel) -> None:
        pass

    def initialize(self, seed: int) -> None:
        pass

    def train_hparams(self, seed: tf.Tensor, batch) -> dict[str, tf.Tensor]:
        return {}

    def eval_hparams(self, batch) -> dict[str, tf.Tensor]:
        return {}

    def tune_step(self, model, x_val, y_val, seed, hp) -> tf.Tensor:
        raise NotImplementedError("NoTuner never tunes")

    def state(self) -> np.ndarray:
        return np.zeros((0,), np.float32)


NO_TUNER = NoTuner()


def _member_seeds(seeds: Sequence[int]) -> tf.Tensor:
    return tf.constant([[int(s) % (2**31 - 1), 0] for s in seeds], tf.int32)


def epoch_indices(seed: int, epoch: int, num_examples: int, batch: int, steps: int) -> np.ndarray:
    """Member data order for one epoch: a permutation keyed by (seed, epoch), (steps, batch)."""
    perm = np.random.default_rng([int(seed), 1, int(epoch)]).permutation(num_examples)
    return perm[: steps * batch].reshape(steps, batch).astype(np.int32)


class Trainer:
    """Trains a PackedModel on a dataset's train split; predicts probabilities on any split."""

    def __init__(
        self,
        model: PackedModel,
        data: Splits,
        config: TrainConfig | None = None,
        tuner: StepTuner | None = None,
    ):
        self.model, self.data = model, data
        self.tuner: StepTuner = NO_TUNER if tuner is None else tuner
        self.config = config or TrainConfig()
        self.pack, self.members = model.pack, model.members
        # 'auto' settings resolved for the devices this process sees
        self.jit_compile = resolve_jit(self.config.jit_compile)
        self.mixed_precision = resolve_mixed_precision(self.config.mixed_precision)
        if self.mixed_precision != (model.compute_dtype == "bfloat16"):
            raise ValueError(
                f"TrainConfig.mixed_precision resolves to {self.mixed_precision} but the model "
                f"computes in {model.compute_dtype}: build it with build_model(..., "
                "mixed_precision=resolve_mixed_precision(config.mixed_precision))"
            )
        if self.tuner.every and self.pack != 1:
            raise ValueError("a tuner trains one model at a time (pack = 1)")
        n = len(data.y_train)
        self.batch = min(self.config.batch_size, n)  # new images per step (rows: K x batch)
        self.steps_per_epoch = n // self.batch
        self.optimizer = OPTIMIZERS[self.config.optimizer](
            **(
                {"momentum": self.config.momentum, "nesterov": self.config.nesterov}
                if self.config.optimizer == "sgd"
                else {}
            )
        )
        self.l2_scale = l2_scale(self.config.l2_units, n)
        model.build_all()
        self.optimizer.build(model.trainable_variables)
        fast = {id(v) for v in model.factory.fast_weight_variables()}
        mult = float(self.config.fast_weight_lr_multiplier)
        self._grad_scale = [mult if id(v) in fast else 1.0 for v in model.trainable_variables]
        self._augment_pack = pack_augmentation(data.augment)
        self.tuner.build(model)
        if self.tuner.every:  # variables, so `rebind` can swap the data under the traced step
            self._x_val = tf.Variable(data.x_val, trainable=False, name="x_val")
            self._y_val = tf.Variable(data.y_val, trainable=False, name="y_val")
            self._tune_rows = tf.Variable(self._tuning_rows(data), trainable=False)
        self.alive = tf.Variable(tf.ones((self.pack,), tf.bool), trainable=False, name="alive")
        self._x_train = tf.constant(data.x_train)
        self._y_train = tf.constant(data.y_train)
        self._epoch_fn = tf.function(
            self._epoch, reduce_retracing=True, jit_compile=self.jit_compile
        )
        self._predict_fn = tf.function(self._predict, reduce_retracing=True)
        self._traced = False  # has an epoch run (its trace compiled)?
        self._keep_best = self.config.stopping == "best_val_nll"
        if self._keep_best:  # the kept epoch's weights and q, beside the live ones
            self._kept = [*model.variables, *self.tuner.variables]
            for v in model.variables:
                if self.pack > 1 and (not v.shape or v.shape[0] != self.pack):
                    raise ValueError(f"variable {v.name} has no leading pack axis")
            # per member (a model variable of a pack) or whole (pack of one, tuner variables)
            self._per_member = [self.pack > 1 for _ in model.variables]
            self._per_member += [False for _ in self.tuner.variables]
            self._best = [
                tf.Variable(np.zeros_like(v.numpy()), trainable=False) for v in self._kept
            ]
            self._best_nll = tf.Variable(tf.fill((self.pack,), np.inf), trainable=False)
            self._best_epoch = tf.Variable(tf.zeros((self.pack,), tf.int64), trainable=False)

    # -- compiled parts ---------------------------------------------------------------------
    def _augment(self, xb, seeds):
        return xb if self._augment_pack is None else self._augment_pack(xb, seeds)

    def _tile(self, xb: tf.Tensor) -> tf.Tensor:
        """(P, B, ...) -> (P, K * B, ...), member-major."""
        if self.members == 1:
            return xb
        return tf.tile(xb, [1, self.members] + [1] * (len(xb.shape) - 2))

    def _train_step(self, xb, yb, seeds, hp, base_lr, smoothing, step):
        model = self.model
        xb, yb = model.training_rows(xb, yb, seeds)
        if self.tuner.names:
            hp = {**hp, **self.tuner.train_hparams(seeds[0], tf.shape(yb)[1] // self.members)}
            smoothing = hp.pop("label_smoothing", smoothing)
        with tf.GradientTape() as tape:
            logits = model(xb, hp=hp, seed=seeds, training=True)
            loss = cross_entropy(logits, yb, smoothing)
            if model.cross_entropy_weight != 1.0:
                loss *= model.cross_entropy_weight
            loss += self.l2_scale * model.l2_penalty(hp)
            total = tf.reduce_sum(loss)
        variables = model.trainable_variables
        grads = tape.gradient(total, variables)
        grads = [g if c == 1.0 else g * c for g, c in zip(grads, self._grad_scale, strict=True)]
        finite = tf.math.is_finite(loss)
        for g in grads:
            finite &= tf.math.is_finite(member_sums(g))
        self.alive.assign(self.alive & finite)
        cfg = self.config
        factor = lr_factor(
            step, self.steps_per_epoch, cfg.warmup_epochs, cfg.decay_epochs, cfg.decay_ratio
        )
        self.optimizer.apply(grads, variables, base_lr * factor, self.alive)
        return loss

    def _epoch(self, x, y, idx, member_seeds, hp, base_lr, smoothing, step0):
        """idx: (steps, P, B) int32 example indices; returns the (steps, P) losses."""
        steps = tf.shape(idx)[0]
        losses = tf.TensorArray(tf.float32, size=steps)
        for i in tf.range(steps):
            step = step0 + tf.cast(i, tf.int64)
            b = idx[i]
            seeds = tf.stack(
                [
                    tf.random.experimental.stateless_fold_in(member_seeds[p], step)
                    for p in range(self.pack)
                ]
            )
            xb = self._augment(tf.gather(x, b), seeds)
            loss = self._train_step(xb, tf.gather(y, b), seeds, hp, base_lr, smoothing, step)
            losses = losses.write(i, loss)
            if self.tuner.every:
                self._maybe_tune(step, member_seeds[0], hp, tf.shape(b)[1])
        return losses.stack()

    def _maybe_tune(self, step, seed, hp, batch):
        """A tuning step on a random validation batch after every `tuner.every`-th step."""

        def tune():
            s = tf.random.experimental.stateless_fold_in(seed, step + (1 << 40))
            idx = tf.random.stateless_uniform((batch,), s, 0, self._tune_rows, dtype=tf.int32)
            xv = self._tile(tf.gather(self._x_val, idx)[None])
            self.tuner.tune_step(self.model, xv, tf.gather(self._y_val, idx), s, hp)
            return tf.constant(0)

        tf.cond(tf.equal((step + 1) % self.tuner.every, 0), tune, lambda: tf.constant(0))

    def _predict(self, xb, hp):
        xb = tf.broadcast_to(xb[None], tf.concat([[self.pack], tf.shape(xb)], 0))
        if self.tuner.names:
            hp = {**hp, **self.tuner.eval_hparams(tf.shape(xb)[1])}
            hp.pop("label_smoothing", None)
        logits = self.model(self._tile(xb), hp=hp, seed=None, training=False)
        shape = tf.shape(logits)
        k_major = tf.reshape(logits, [self.pack * self.members, -1, shape[-1]])
        return tf.nn.softmax(k_major)

    # -- public API ---------------------------------------------------------------------------
    def rebind(self, data: Splits) -> None:
        """Trains and predicts on `data` from now on, keeping the traced functions: `data` must
        match the current splits in shapes, dtypes, classes and augmentation. `fit` re-initialises
        every variable, so a rebound trainer computes what a new one on `data` computes."""
        if data is self.data:
            return
        if data.shapes() != self.data.shapes():
            raise ValueError("rebind needs splits of the same shapes, classes and augmentation")
        self.data = data
        self._x_train, self._y_train = tf.constant(data.x_train), tf.constant(data.y_train)
        if self.tuner.every:
            self._x_val.assign(data.x_val)
            self._y_val.assign(data.y_val)
            self._tune_rows.assign(self._tuning_rows(data))

    def _tuning_rows(self, data: Splits) -> int:
        """Tuning batches come from the first rows of validation; the rest (`stop_holdout`) is
        left to the stopping rule."""
        n = len(data.y_val)
        return n - int(round(self.tuner.stop_holdout * n)) if self.tuner.every else n

    def hparam_tensors(self, hparams: Mapping[str, Sequence[float]]) -> dict[str, tf.Tensor]:
        """Checks that every model hyperparameter is given (or tuned), one value per member."""
        tuned = set(self.tuner.names)
        missing = [k for k in self.model.hparam_names if k not in hparams and k not in tuned]
        if missing:
            raise ValueError(f"missing hyperparameters {missing} for model {self.model.name}")
        out = {}
        names = [k for k in self.model.hparam_names if k not in tuned]
        for k in names + [k for k in TRAINER_HPARAMS if k in hparams]:
            v = np.asarray(hparams[k], np.float32).reshape(-1)
            if v.shape != (self.pack,):
                raise ValueError(f"hyperparameter {k} needs {self.pack} values, got {v.shape}")
            out[k] = tf.constant(v)
        return out

    def fit(
        self,
        hparams: Mapping[str, Sequence[float]],
        seeds: Sequence[int],
        checkpoint_dir: str | Path | None = None,
        on_epoch: EpochObserver | None = None,
    ) -> TrainResult:
        """Initialises the pack from `seeds`, trains, and returns per-member status.

        `hparams[name]` has one value per member; `learning_rate` and `label_smoothing` may be
        given per member too (else the TrainConfig values apply). `on_epoch` is called with an
        `EpochRecord` after every epoch trained by this call (not the epochs a checkpoint holds).
        """
        cfg, start = self.config, time.perf_counter()
        hp = self.hparam_tensors(hparams)
        base_lr = hp.pop("learning_rate", tf.fill((self.pack,), float(cfg.learning_rate)))
        smoothing = hp.pop("label_smoothing", tf.fill((self.pack,), float(cfg.label_smoothing)))
        member_seeds = _member_seeds(seeds)
        state_vars = [
            *self.model.variables,
            *self.optimizer.variables(),
            self.alive,
            *self.tuner.variables,
        ]
        if self._keep_best:
            state_vars += [*self._best, self._best_nll, self._best_epoch]

        first_epoch, history, tuner_path = 0, [], []
        ckpt = Path(checkpoint_dir) / "train_state.npz" if checkpoint_dir else None
        if ckpt is not None and ckpt.exists():
            first_epoch, history = checkpoint.restore(ckpt, state_vars)
            tuner_path = checkpoint.restore_tuner_path(ckpt) if self.tuner.names else []
            # a checkpoint written before validation accuracy was recorded: NaN accuracy
            nan = np.full((1, self.pack), np.nan, np.float32)
            history = [h if len(h) == 3 else np.concatenate([h, nan]) for h in history]
        else:
            self.model.initialize(seeds)
            for v in self.optimizer.variables():
                v.assign(tf.zeros_like(v))
            self.alive.assign(tf.ones((self.pack,), tf.bool))
            self.tuner.initialize(int(seeds[0]))
            if self._keep_best:
                self._best_nll.assign(tf.fill((self.pack,), np.inf))
                self._best_epoch.assign(tf.zeros((self.pack,), tf.int64))

        total_steps = cfg.epochs * self.steps_per_epoch
        if cfg.max_steps is not None:
            total_steps = min(total_steps, cfg.max_steps)
        epochs = -(-total_steps // self.steps_per_epoch)
        bar = progress_bar(cfg.progress, epochs, first_epoch)
        n = len(self.data.y_train)
        epoch_s = []  # the first epoch of a new trainer also traces and compiles
        for epoch in range(first_epoch, epochs):
            tick = time.perf_counter()
            step0 = epoch * self.steps_per_epoch
            steps = min(self.steps_per_epoch, total_steps - step0)
            idx = np.stack([epoch_indices(s, epoch, n, self.batch, steps) for s in seeds], axis=1)
            with timing.part("train"):
                losses = self._epoch_fn(
                    self._x_train, self._y_train, tf.constant(idx), member_seeds, hp,
                    base_lr, smoothing, tf.constant(step0, tf.int64),
                )  # fmt: skip
                none = np.full(self.pack, np.nan)
                val_nll, val_acc, stop_nll = (
                    self._val_curve(hp) if cfg.val_curve else (none, none, none)
                )
                if self._keep_best:
                    self._remember_best(stop_nll, epoch + 1)
            epoch_s.append(time.perf_counter() - tick)
            history.append(np.stack([np.asarray(losses).mean(axis=0), val_nll, val_acc]))
            if self.tuner.names:
                tuner_path.append(np.asarray(self.tuner.state(), np.float32))
            if on_epoch is not None:
                row = np.asarray(history[-1], np.float32)
                on_epoch(EpochRecord(epoch + 1, epochs, *row, epoch_s[-1]))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{np.nanmean(history[-1][0]):.4f}")
            last = epoch + 1 == epochs
            if ckpt is not None and not last and (epoch + 1) % cfg.checkpoint_every == 0:
                checkpoint.save(ckpt, state_vars, epoch + 1, history, tuner_path)
            if not bool(np.any(self.alive.numpy())):
                break
        if bar is not None:
            bar.close()
        if not self._traced and len(epoch_s) > 1:
            timing.move(epoch_s[0] - float(np.mean(epoch_s[1:])), "train", "compile")
        self._traced = self._traced or bool(epoch_s)
        if self._keep_best:
            kept = self._restore_best()
        else:
            kept = np.full(self.pack, len(history), np.int64)
        alive = self.alive.numpy()
        rows = np.array(history, dtype=np.float32).reshape(-1, 3, self.pack)
        hist = rows[:, 0]
        return TrainResult(
            status=["done" if a else "diverged" for a in alive],
            final_loss=hist[-1] if len(hist) else np.full(self.pack, np.nan, np.float32),
            loss_history=hist,
            val_nll_history=rows[:, 1],
            val_accuracy_history=rows[:, 2],
            steps=total_steps,
            wall_time_s=time.perf_counter() - start,
            resumed_from_epoch=first_epoch,
            kept_epoch=kept,
            tuner_path=np.asarray(tuner_path, np.float32) if tuner_path else None,
        )

    def _remember_best(self, val_nll: np.ndarray, epoch: int) -> None:
        """Copies the weights (and q) of every live member whose validation NLL beats its best."""
        better = np.isfinite(val_nll) & (val_nll < self._best_nll.numpy()) & self.alive.numpy()
        if not better.any():
            return
        for live, best, per_member in zip(self._kept, self._best, self._per_member, strict=True):
            if not per_member:
                if better.all():
                    best.assign(live)
                continue
            mask = tf.reshape(tf.constant(better), [self.pack] + [1] * (len(live.shape) - 1))
            best.assign(tf.where(mask, live, best))
        self._best_nll.assign(np.where(better, val_nll, self._best_nll.numpy()).astype(np.float32))
        self._best_epoch.assign(np.where(better, epoch, self._best_epoch.numpy()))

    def _restore_best(self) -> np.ndarray:
        """Puts every member's kept weights (and q) back; returns the kept epochs (P,)."""
        kept = self._best_epoch.numpy()
        have = kept > 0
        for live, best, per_member in zip(self._kept, self._best, self._per_member, strict=True):
            if not per_member:
                if have.all():
                    live.assign(best)
                continue
            mask = tf.reshape(tf.constant(have), [self.pack] + [1] * (len(live.shape) - 1))
            live.assign(tf.where(mask, best, live))
        return kept

    def _val_curve(self, hp: Mapping[str, tf.Tensor]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(P,) validation NLL and (P,) accuracy of each pack member's K-member ensemble (mean
        probabilities), both from the same validation predictions, and (P,) the NLL the stopping
        rule reads: the same NLL, or that of the rows tuning never reads (`stop_holdout`)."""
        hp = {k: v for k, v in hp.items() if k not in TRAINER_HPARAMS}
        x, y, bs = self.data.x_val, self.data.y_val, self.config.eval_batch_size
        true, correct = [], []
        for i in range(0, len(x), bs):
            probs = self._predict_fn(tf.constant(x[i : i + bs]), hp).numpy()
            rows, yb = np.arange(probs.shape[1]), y[i : i + bs]
            true.append(probs[:, rows, yb])  # (P * K, b)
            ens = probs.reshape(self.pack, self.members, *probs.shape[1:]).mean(axis=1)
            correct.append(np.argmax(ens, axis=-1) == yb)  # (P, b)
        p_true = np.concatenate(true, axis=1).reshape(self.pack, self.members, -1).mean(axis=1)
        log_p = np.log(np.maximum(p_true, PROB_FLOOR))
        nll = -np.mean(log_p, axis=1)
        rows = self._tuning_rows(self.data)
        stop = nll if rows == len(y) else -np.mean(log_p[:, rows:], axis=1)
        return nll, np.concatenate(correct, axis=1).mean(axis=1), stop

    def predict(self, x: np.ndarray, hparams: Mapping[str, Sequence[float]]) -> np.ndarray:
        """Softmax probabilities of every member on `x`: shape (P * K, N, C), row p * K + k for
        pack member p's ensemble member k (K = 1 for ordinary models)."""
        hp = {k: v for k, v in self.hparam_tensors(hparams).items() if k not in TRAINER_HPARAMS}
        bs = self.config.eval_batch_size
        with timing.part("eval_clean", unless_in=("eval_shift",)):
            outs = [self._predict_fn(tf.constant(x[i : i + bs]), hp) for i in range(0, len(x), bs)]
            return np.concatenate([o.numpy() for o in outs], axis=1)
