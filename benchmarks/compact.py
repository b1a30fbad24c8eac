"""The compact form of shifted-set predictions: float16 log-probabilities.

Shifted sets hold most of a store's bytes (the paper tier predicts 75-85 corrupted copies of a
10,000-image test split per trial), so their predictions are kept as `float16(log p)`, half the
bytes of float32 probabilities. Predictions are rounded through this form where they are made
(`benchmarks.data.shift.predict_shifted`), so what a method or a metric sees in memory is what a
later read from the store gives back, bit for bit.

Error bound: float16 rounds to nearest with relative error <= 2^-11 (normal range), so a
decoded probability is p * exp(e) with |e| <= 2^-11 * |log p| (+ 3e-8 below float16's normal
range, |log p| < 6.1e-5). A member's NLL on an example is off by at most 2^-11 of itself
(0.05%), an ensemble's by at most 2^-11 * max over members of -log p. Log-probabilities keep the
tail: a float16 *probability* would flush p < 6e-8 to zero, where NLL is most sensitive.
"""

from __future__ import annotations

import numpy as np

COMPACT_DTYPE = np.float16


def encode(probs: np.ndarray) -> np.ndarray:
    """float16(log p) (p = 0 becomes -inf), snapped so that `encode(decode(l))` decodes to
    exactly `decode(l)`: where float32 rounding in exp/log moved log p off its float16 code, the
    code within two float16 steps that decodes back to p is taken."""
    p = np.asarray(probs, np.float32)
    with np.errstate(divide="ignore"):
        code = np.log(p).astype(COMPACT_DTYPE)
    miss = np.flatnonzero(decode(code) != p)
    if miss.size:
        flat, target, base = code.reshape(-1), p.reshape(-1)[miss], code.reshape(-1)[miss]
        down, up = base, base
        for _ in range(2):
            down, up = (
                np.nextafter(down, COMPACT_DTYPE(-np.inf)),
                np.nextafter(up, COMPACT_DTYPE(np.inf)),
            )
            for candidate in (down, up):
                hit = (decode(candidate) == target) & (flat[miss] == base)
                flat[miss[hit]] = candidate[hit]
    return code


def decode(log_probs: np.ndarray) -> np.ndarray:
    """float32(exp(l)) of float16 log-probabilities."""
    return np.exp(np.asarray(log_probs).astype(np.float32))


def round_trip(probs: np.ndarray) -> np.ndarray:
    """decode(encode(p)): the probabilities as the store keeps them."""
    return decode(encode(probs))


def to_store(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Arrays as a store writes them: float arrays named `shift_*` (a trial's `shift_<set>`, a
    run's `shift_probs_<set>`) in compact form, every other array as given."""
    return {
        k: encode(v) if k.startswith("shift_") and np.asarray(v).dtype.kind == "f" else v
        for k, v in arrays.items()
    }


def from_store(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Arrays as a store read them: every float16 array (compact form) decoded to float32."""
    return {k: decode(v) if v.dtype == COMPACT_DTYPE else v for k, v in arrays.items()}
