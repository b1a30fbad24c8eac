"""Learned distributions over D hyperparameters for K ensemble members.

`LogUniform` is the hyper-batch ensembles distribution (Wenzel et al. 2020); `LogNormalPerturbation`
is the self-tuning network's Gaussian perturbation in log space (MacKay et al. 2019). Both share
the `HyperDistribution` interface so the tuner is agnostic: `sample` is reparameterised, so
gradients of a validation loss flow into `variables`; `project` runs after every tuning update.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from benchmarks.hparams import INIT_MODES

# The released hyper-batch ensembles code initialises "narrow" bounds in units where every range
# is [0.1, 100], with an absolute half-width of 0.2 around the log-uniform mean of that range.
CODE_RANGE = (0.1, 100.0)
CODE_DELTA = 0.2


def loguniform_mean(low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
    """Mean of log-uniform(low, high): (high - low) / (log high - log low), float64."""
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    return (high - low) / (np.log(high) - np.log(low))


def log_scale(lam: tf.Tensor, low: np.ndarray, high: np.ndarray) -> tf.Tensor:
    """LogScaler: z = (log lam - log low) / (log high - log low) per last-axis dimension.

    z is in [0, 1] for lam inside [low, high]; low -> 0, high -> 1, sqrt(low * high) -> 0.5.
    """
    lam = tf.convert_to_tensor(lam)
    log_low = tf.constant(np.log(np.asarray(low, np.float64)), lam.dtype)
    log_high = tf.constant(np.log(np.asarray(high, np.float64)), lam.dtype)
    return (tf.math.log(lam) - log_low) / (log_high - log_low)


def _sample_shape(members: int, n: int | tf.Tensor, dims: int) -> tf.Tensor:
    return tf.stack([members, tf.cast(n, tf.int32), dims])


STATE_FIELDS = ("low", "high", "mean")  # the last axis of `HyperDistribution.state()`


class HyperDistribution:
    """K independent distributions over D hyperparameters with learned parameters `variables`.

    `low`, `high` are (D,) float64 with 0 < low < high; `variables` are float32 tf.Variables.
    """

    def __init__(
        self, names: Sequence[str], low: Sequence[float], high: Sequence[float], members: int
    ):
        self.names = tuple(names)
        self.low = np.asarray(low, np.float64).reshape(-1)
        self.high = np.asarray(high, np.float64).reshape(-1)
        if not (len(self.names) == self.low.size == self.high.size) or not self.names:
            raise ValueError(
                f"need one (low, high) per name: {len(self.names)} names, "
                f"{self.low.size} lows, {self.high.size} highs"
            )
        if not (np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high))):
            raise ValueError("hyperparameter ranges must be finite")
        if np.any(self.low <= 0) or np.any(self.low >= self.high):
            raise ValueError(
                f"ranges must satisfy 0 < low < high, got low={self.low}, high={self.high}"
            )
        if int(members) < 1:
            raise ValueError(f"members must be >= 1, got {members}")
        self.members = int(members)
        self.log_low = np.log(self.low)
        self.log_high = np.log(self.high)
        self.variables: list[tf.Variable] = []

    @property
    def dims(self) -> int:
        return len(self.names)

    def _variable(self, name: str) -> tf.Variable:
        var = tf.Variable(tf.zeros((self.members, self.dims), tf.float32), name=name)
        self.variables.append(var)
        return var

    def sample(self, seed: tf.Tensor, n: int | tf.Tensor) -> tf.Tensor:
        """(K, n, D) float32 draws from the stateless `seed` (shape (2,)), reparameterised."""
        raise NotImplementedError

    def point(self) -> tf.Tensor:
        """(K, D) float32 value each member uses at test time."""
        raise NotImplementedError

    def entropy(self) -> tf.Tensor:
        """Scalar: mean over members and dimensions of the per-dimension differential entropy."""
        raise NotImplementedError

    def project(self) -> None:
        """Assign the variables back into the allowed region."""
        raise NotImplementedError

    def initialize(self, seed: int) -> None:
        """(Re)set the variables deterministically from an integer seed."""
        raise NotImplementedError

    def interval(self) -> tuple[tf.Tensor, tf.Tensor]:
        """(K, D) lower and upper ends of where the distribution puts its mass."""
        raise NotImplementedError

    def state(self) -> np.ndarray:
        """(K, D, 3) float32: per member and hyperparameter the interval's low and high ends and
        the test-time point (`STATE_FIELDS`)."""
        lo, hi = (np.asarray(v, np.float32) for v in self.interval())
        return np.stack([lo, hi, np.asarray(self.point(), np.float32)], axis=-1)

    def summary(self) -> list[dict[str, dict[str, float]]]:
        """Per member, {name: {"low", "high", "mean"}}: `interval()` and the test-time `point()`."""
        lo, hi = (np.asarray(v, np.float64) for v in self.interval())
        pt = np.asarray(self.point(), np.float64)
        return [
            {n: {"low": float(lo[k, j]), "high": float(hi[k, j]), "mean": float(pt[k, j])}
             for j, n in enumerate(self.names)}
            for k in range(self.members)
        ]  # fmt: skip


class LogUniform(HyperDistribution):
    """q_k(lam) = prod_j log-uniform(a_kj, b_kj); learned xi = (log_a, log_b), each (K, D).

    init="full": a = low, b = high for every member (the paper's start).
    init="centred": every member's q centred (geometric mean of a and b) on `centre` (e.g. the
    search space's default), `init_decades` decades wide, the centre jittered per member by
    N(0, 0.1 x half-width) in log space, then clipped into the range by `project()`: a start at a
    sensible point that uses no random search (the paper narrows the ResNet start likewise).
    init="narrow": the released code's start, made scale-free. With mu = mean of
    log-uniform(low, high) and delta_rel = init_delta / mean of log-uniform(0.1, 100),
    lam0 = mu * (1 + 0.1 * delta_rel * N(0, 1)), a = lam0 - delta_rel * mu,
    b = lam0 + delta_rel * mu, then `project()`. On [0.1, 100] with the default init_delta = 0.2
    this is exactly the code's lam0 ~ N(mu, 0.1 * 0.2), a = lam0 - 0.2, b = lam0 + 0.2 (mu ~ 14.46);
    on other ranges the bounds keep the same layout relative to mu.
    """

    def __init__(
        self,
        names: Sequence[str],
        low: Sequence[float],
        high: Sequence[float],
        members: int,
        init: str = "full",
        init_delta: float = CODE_DELTA,
        seed: int = 0,
        centre: Sequence[float] | None = None,
        init_decades: float = 1.0,
    ):
        super().__init__(names, low, high, members)
        if init not in INIT_MODES:
            raise ValueError(f"unknown init {init!r}; valid values: {', '.join(INIT_MODES)}")
        if not init_delta > 0:
            raise ValueError(f"init_delta must be > 0, got {init_delta}")
        if init == "centred":
            centre = np.asarray(centre if centre is not None else [], np.float64).reshape(-1)
            if centre.size != self.dims or np.any(centre <= 0):
                raise ValueError(f"init 'centred' needs {self.dims} positive centres, got {centre}")
            if not init_decades > 0:
                raise ValueError(f"init_decades must be > 0, got {init_decades}")
        self.centre, self.init_decades = centre, float(init_decades)
        self.init = init
        self.init_delta = float(init_delta)
        self.log_a = self._variable("log_a")
        self.log_b = self._variable("log_b")
        self.initialize(seed)

    def initialize(self, seed: int) -> None:
        shape = (self.members, self.dims)
        if self.init == "full":
            a = np.broadcast_to(self.low, shape)
            b = np.broadcast_to(self.high, shape)
        elif self.init == "centred":
            rng = np.random.default_rng([seed, 7])
            half = 0.5 * self.init_decades * math.log(10.0)
            mid = np.log(self.centre) + 0.1 * half * rng.standard_normal(shape)
            a, b = np.exp(mid - half), np.exp(mid + half)
        else:
            rng = np.random.default_rng([seed, 7])
            mu = loguniform_mean(self.low, self.high)
            code_mu = float(loguniform_mean(*CODE_RANGE))
            rel = self.init_delta / code_mu
            lam0 = mu * (1.0 + 0.1 * rel * rng.standard_normal(shape))
            # The code's max(lam0 - delta, 1e-8), in the same relative units.
            a = np.maximum(lam0 - rel * mu, 1e-8 * mu / code_mu)
            b = lam0 + rel * mu
        self.log_a.assign(np.log(a).astype(np.float32))
        self.log_b.assign(np.log(b).astype(np.float32))
        self.project()

    def bounds(self) -> tuple[tf.Tensor, tf.Tensor]:
        """(a, b), each (K, D) float32."""
        return tf.exp(self.log_a), tf.exp(self.log_b)

    def interval(self) -> tuple[tf.Tensor, tf.Tensor]:
        """The support (a, b)."""
        return self.bounds()

    def sample(self, seed: tf.Tensor, n: int | tf.Tensor) -> tf.Tensor:
        """lam = exp(log_a + u * (log_b - log_a)), u ~ U(0, 1); shape (K, n, D)."""
        u = tf.random.stateless_uniform(_sample_shape(self.members, n, self.dims), seed)
        log_a = self.log_a[:, None, :]
        return tf.exp(log_a + u * (self.log_b[:, None, :] - log_a))

    def point(self) -> tf.Tensor:
        """Mean (b - a) / (log b - log a) = a * expm1(w) / w, w = log b - log a; -> a as w -> 0."""
        w = self.log_b - self.log_a
        small = w < 1e-4
        w_safe = tf.where(small, tf.ones_like(w), w)  # keeps the unused branch's gradient finite
        ratio = tf.where(small, 1.0 + 0.5 * w, tf.math.expm1(w_safe) / w_safe)
        return tf.exp(self.log_a) * ratio

    def entropy(self) -> tf.Tensor:
        """Mean over K, D of 1/2 (log a + log b) + log(log b - log a)."""
        per_dim = 0.5 * (self.log_a + self.log_b) + tf.math.log(self.log_b - self.log_a)
        return tf.reduce_mean(per_dim)

    def project(self) -> None:
        """eps = 1e-6 * (log high - log low) / 2; log_a into [log low, log high - 2 eps], then
        log_b into [log_a + eps, log high]."""
        eps = (1e-6 * 0.5 * (self.log_high - self.log_low)).astype(np.float32)
        log_low = self.log_low.astype(np.float32)
        log_high = self.log_high.astype(np.float32)
        self.log_a.assign(tf.clip_by_value(self.log_a, log_low, log_high - 2 * eps))
        self.log_b.assign(tf.clip_by_value(self.log_b, self.log_a + eps, log_high))


class LogNormalPerturbation(HyperDistribution):
    """STN perturbation: log lam = clip(mu + sigma * eps, log low, log high), eps ~ N(0, 1).

    Learned xi = (mu, log_sigma), each (K, D). Initialised at mu = log of `init_point` (default
    the geometric centre sqrt(low * high)) and sigma = `init_scale` (default 0.5, a moderate
    perturbation in log units). `seed` is accepted for the interface; initialisation is fixed.
    """

    MIN_SIGMA = 1e-3

    def __init__(
        self,
        names: Sequence[str],
        low: Sequence[float],
        high: Sequence[float],
        members: int = 1,
        init_point: Sequence[float] | None = None,
        init_scale: float = 0.5,
        seed: int = 0,
    ):
        super().__init__(names, low, high, members)
        if init_point is not None:
            init_point = np.asarray(init_point, np.float64).reshape(-1)
            if init_point.size != self.dims or np.any(init_point <= 0):
                raise ValueError(f"init_point needs {self.dims} positive values, got {init_point}")
        if not init_scale > 0:
            raise ValueError(f"init_scale must be > 0, got {init_scale}")
        self.init_point = init_point
        self.init_scale = float(init_scale)
        self.mu = self._variable("mu")
        self.log_sigma = self._variable("log_sigma")
        self.initialize(seed)

    def initialize(self, seed: int) -> None:
        del seed  # deterministic start
        centre = 0.5 * (self.log_low + self.log_high)
        mu = centre if self.init_point is None else np.log(self.init_point)
        shape = (self.members, self.dims)
        self.mu.assign(np.broadcast_to(mu, shape).astype(np.float32))
        self.log_sigma.assign(np.full(shape, math.log(self.init_scale), np.float32))
        self.project()

    def sample(self, seed: tf.Tensor, n: int | tf.Tensor) -> tf.Tensor:
        """exp(clip(mu + sigma * eps)); the clip passes gradients through inside the range."""
        eps = tf.random.stateless_normal(_sample_shape(self.members, n, self.dims), seed)
        log_lam = self.mu[:, None, :] + tf.exp(self.log_sigma)[:, None, :] * eps
        log_lam = tf.clip_by_value(
            log_lam, self.log_low.astype(np.float32), self.log_high.astype(np.float32)
        )
        return tf.exp(log_lam)

    def point(self) -> tf.Tensor:
        """exp(mu)."""
        return tf.exp(self.mu)

    def interval(self) -> tuple[tf.Tensor, tf.Tensor]:
        """exp(mu -/+ sigma), clipped into the range (one standard deviation in log space)."""
        sigma = tf.exp(self.log_sigma)
        lo, hi = self.log_low.astype(np.float32), self.log_high.astype(np.float32)
        return (tf.exp(tf.maximum(self.mu - sigma, lo)), tf.exp(tf.minimum(self.mu + sigma, hi)))

    def entropy(self) -> tf.Tensor:
        """Mean over K, D of the perturbation's entropy 1/2 log(2 pi e sigma^2)."""
        return 0.5 * math.log(2 * math.pi * math.e) + tf.reduce_mean(self.log_sigma)

    def project(self) -> None:
        """mu into [log low, log high]; log_sigma into [log 1e-3, log((log high - log low) / 2)]
        (a perturbation wider than half the log range is mostly clipped away)."""
        self.mu.assign(
            tf.clip_by_value(
                self.mu, self.log_low.astype(np.float32), self.log_high.astype(np.float32)
            )
        )
        max_log_sigma = np.log(0.5 * (self.log_high - self.log_low)).astype(np.float32)
        # A range narrower than 2e-3 in log units would invert the clip; keep max >= min.
        min_log_sigma = np.minimum(np.float32(math.log(self.MIN_SIGMA)), max_log_sigma)
        self.log_sigma.assign(tf.clip_by_value(self.log_sigma, min_log_sigma, max_log_sigma))
