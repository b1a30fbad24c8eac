"""The paper's (and its released code's) own numbers, typed in once: `results/paper/reference.csv`
(shipped as `benchmarks/analysis/reference.csv`).

These are reference values to compare against; nothing in this suite produces or changes them,
and they are never mixed into our results table. See `results/paper/README.md` for the columns.
The `corrupted_*` rows average the corruption types of `REFERENCE_CORRUPTIONS` (their `note` says
which); our CIFAR-10-C / CIFAR-100-C aggregates average the same types.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from benchmarks.errors import HyperensError

# Shipped inside the package; `results/paper/reference.csv` in a checkout is a link to this file.
REFERENCE_PATH = Path(str(resources.files("benchmarks.analysis") / "reference.csv"))

COLUMNS = (
    "dataset",
    "model",
    "method",
    "metric",
    "value",
    "ensemble_size",
    "source",
    "confirmed",
    "note",
)
TEXT_COLUMNS = ("dataset", "model", "method", "metric", "source", "confirmed", "note")
# columns that may be empty: a gap in the source stays a gap
OPTIONAL_COLUMNS = ("model", "ensemble_size", "note")
CONFIRMED_VALUES = ("yes", "no")

# The corruption types the reference `corrupted_*` numbers average over, in the released code's
# own names: google/uncertainty-baselines, baselines/cifar/utils.py `load_corrupted_test_info`
# (per intensity the mean over these types, then the mean over intensities 1-5:
# `aggregate_corrupt_metrics`). CIFAR-10-C is TFDS `cifar10_corrupted`'s 15 benchmark types;
# CIFAR-100-C is 17 types, not the standard 15 (no motion_blur or snow, 4 extra ones). The
# shifted-set families of `benchmarks.data.shift_tfds` offer exactly these (TFDS names for
# glass_blur / elastic_transform), so our aggregate averages the same set.
REFERENCE_CORRUPTIONS = {
    "cifar10": (
        "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "frosted_glass_blur",
        "motion_blur", "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic",
        "pixelate", "jpeg_compression",
    ),
    "cifar100": (
        "brightness", "contrast", "defocus_blur", "elastic_transform", "fog", "frost",
        "glass_blur", "gaussian_blur", "gaussian_noise", "impulse_noise", "jpeg_compression",
        "pixelate", "saturate", "shot_noise", "spatter", "speckle_noise", "zoom_blur",
    ),
}  # fmt: skip


def _bad(path: Path, detail: str) -> HyperensError:
    return HyperensError(f"reference table {path}: {detail}")


def load_reference(path: str | Path = REFERENCE_PATH) -> pd.DataFrame:
    """Read and check the reference table.

    Returns one row per number: text columns as strings (an empty cell is missing), `value` as
    float, `ensemble_size` as nullable Int64. Raises HyperensError (one line) if the file is
    missing or unreadable, lacks a column, or has a non-numeric value, a non-integer ensemble
    size, an empty required cell or a `confirmed` other than yes/no.
    """
    path = Path(path)
    if not path.is_file():
        raise HyperensError(f"reference table not found: {path}")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        detail = " ".join(str(err).split())
        raise _bad(path, f"unreadable CSV ({detail})") from err
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise _bad(path, f"missing columns {', '.join(missing)}; expected {', '.join(COLUMNS)}")
    raw = raw[list(COLUMNS)].apply(lambda col: col.str.strip())

    def line(i) -> int:  # the file line of row i (line 1 is the header)
        return int(i) + 2

    for col in COLUMNS:
        if col in OPTIONAL_COLUMNS:
            continue
        empty = raw.index[raw[col] == ""]
        if len(empty):
            raise _bad(path, f"line {line(empty[0])}: empty {col!r}")

    value = pd.to_numeric(raw["value"], errors="coerce")
    bad = raw.index[value.isna() | value.isin([float("inf"), float("-inf")])]
    if len(bad):
        i = bad[0]
        raise _bad(path, f"line {line(i)}: value {raw.at[i, 'value']!r} is not a finite number")

    size_text = raw["ensemble_size"]
    size = pd.to_numeric(size_text.where(size_text != ""), errors="coerce")
    bad = raw.index[(size_text != "") & (size.isna() | (size % 1 != 0) | (size < 1))]
    if len(bad):
        i = bad[0]
        raise _bad(
            path, f"line {line(i)}: ensemble_size {size_text[i]!r} is not a positive integer"
        )

    bad = raw.index[~raw["confirmed"].isin(CONFIRMED_VALUES)]
    if len(bad):
        i = bad[0]
        raise _bad(path, f"line {line(i)}: confirmed {raw.at[i, 'confirmed']!r} is not yes/no")

    out = pd.DataFrame(index=raw.index)
    for col in COLUMNS:
        if col == "value":
            out[col] = value.astype(float)
        elif col == "ensemble_size":
            out[col] = size.astype("Int64")
        else:
            out[col] = raw[col].where(raw[col] != "").astype("string")
    return out.reset_index(drop=True)


def reference_for(ref: pd.DataFrame, dataset: str, model: str) -> pd.DataFrame:
    """The rows of one (dataset, model) cell, in file order (empty if the table has none)."""
    mask = (ref["dataset"] == dataset) & (ref["model"] == model)
    return ref[mask.fillna(False).astype(bool)].reset_index(drop=True)
