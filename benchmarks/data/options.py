"""Dataset and shifted-set options bound in gin (the `data_dir` of tensorflow-datasets, validation
carving, which shifted sets to evaluate); called by `benchmarks.compose` only."""

from __future__ import annotations

from benchmarks.data import dataset_options
from benchmarks.data.shift import ShiftOptions


def data_options(
    name: str,
    cell_seed: int = 0,
    data_dir: str | None = None,
    val_fraction: float = 0.05,
    val_from: str = "tail",
    split_seed: int = 0,
    split_per_seed: bool = False,
) -> dict:
    """Keyword options for `get_dataset(name, ...)`, restricted to those the dataset takes.

    `split_per_seed`: the split is drawn from the cell's seed (`split_seed + cell_seed`), so a
    matrix estimates the dataset's effect over splits, not one split's; every method of a seed
    still sees the same split, so differences stay paired."""
    if split_per_seed:
        split_seed = int(split_seed) + int(cell_seed)
    bound = {
        "data_dir": data_dir,
        "val_fraction": val_fraction,
        "val_from": val_from,
        "split_seed": split_seed,
    }
    return {k: v for k, v in bound.items() if k in dataset_options(name)}


def shift_options(
    name: str,
    data: dict,
    enabled: bool = False,
    corruptions: tuple[str, ...] | None = None,
    severities: tuple[int, ...] = (1, 2, 3, 4, 5),
    ood: tuple[str, ...] | None = None,
    max_examples: int | None = None,
    corrupted_dir: str | None = None,
):
    """The shifted sets to evaluate on dataset `name` (a `ShiftOptions`), or None when shift
    evaluation is off (`enabled=False`, the default outside the matrices). `data_dir` and
    `split_seed` follow the cell's `data_options` (`data`)."""
    if not enabled:
        return None
    return ShiftOptions(
        corruptions=None if corruptions is None else tuple(corruptions),
        severities=tuple(int(s) for s in severities),
        ood=None if ood is None else tuple(ood),
        max_examples=max_examples,
        data_dir=data.get("data_dir"),
        corrupted_dir=corrupted_dir,
        split_seed=int(data.get("split_seed", 0)),
    )
