"""Per-member logits cached by uncertainty-baselines (UB), read into the store as a run.

UB's CIFAR evaluation scripts (google/uncertainty-baselines, ``baselines/cifar/ensemble.py`` and
``baselines/cifar/hyperdeepensemble.py``) cache every member's logits on every eval set as

    {output_dir}/{name}_{member}.npy        written by ``np.save(f, logits.numpy())``

with ``output_dir`` their ``--output_dir`` flag (``baselines/cifar/utils.py``), ``name``
``clean`` (the test split) or ``{corruption_type}_{severity}`` (``utils.load_corrupted_test_info``,
severities 1-5), and ``member`` the index of the member's checkpoint among those
``parse_checkpoint_dir(--checkpoint_dir)`` finds: 0..M-1 in ``ensemble.py``; in
``hyperdeepensemble.py`` the pool index of each *distinct* member its greedy selection picked (the
picks with repeats, which weight the ensemble, are only logged: "Members selected by greedy
procedure: [2, 7, 3, 3]"; pass them as ``members``). Each file is float32 (N, num_classes), the
model's outputs before the softmax, for the first N = (n_test // B) * B examples of the split in
TFDS order (``steps_per_eval = num_examples // batch_size`` full batches, B =
``--per_core_batch_size`` x ``--num_cores``: 9,984 of CIFAR's 10,000 at the default 64; eval splits
are never shuffled, ``uncertainty_baselines/datasets/base.py``). No validation logits are cached.
With ``--eval_on_ood`` newer ``ensemble.py`` also writes ``ood_{dataset}_{member}.npy``; those mix
in- and out-of-distribution examples (``ood_utils.load_ood_datasets``) whose membership is not on
disk, so they are listed as skipped, not imported.

The files hold no labels. They come from ``labels`` (a ``.npy`` of test labels used for every set,
or a ``.npz`` with a ``clean`` array and optionally one per set name), else from the suite's
dataset registry (the dataset's test split, in TFDS order for ``cifar10``/``cifar100``, the order UB
reads). Corrupted sets share the test split's labels: UB's CIFAR-10-C is TFDS
``cifar10_corrupted``, whose test examples carry the same keys 0..9999 as ``cifar10``'s and are
shuffled with the same salt (the split name), so both come in the same order; for CIFAR-100-C UB
reads its own TFRecords, whose order is not known here (give per-set labels in a ``.npz``).

The run: member probabilities softmax(logits), test and corrupted-set metrics by the suite's
``compute_all`` (corrupted sets rounded to the store's compact form first, as the runner does), no
validation split (``val_probs`` (M, 0, C), no ``val`` metrics), ``source`` =
``uncertainty-baselines`` and ``imported`` (directory, files, UB method name, members) in its
provenance.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import compose
from benchmarks.compact import round_trip
from benchmarks.data import DATASETS, get_dataset
from benchmarks.data.shift import SEVERITIES, SHIFTS
from benchmarks.errors import DatasetUnavailableError, HyperensError
from benchmarks.metrics import compute_all
from benchmarks.store import RunStore, collect_provenance, read_json, run_id

SOURCE = "uncertainty-baselines"
CLEAN = "clean"
_FILE = re.compile(r"^(?P<set>.+)_(?P<member>\d+)\.npy$")
_METHOD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# UB's CIFAR-100-C names (baselines/cifar/utils.py) where the suite's differ (TFDS's names).
UB_CORRUPTION_NAMES = {"glass_blur": "frosted_glass_blur", "elastic_transform": "elastic"}


@dataclass(frozen=True)
class UBCache:
    """What a UB output directory holds: per set name, member id -> file; skipped files."""

    directory: Path
    sets: dict[str, dict[int, Path]]
    skipped: tuple[str, ...]


def set_key(name: str) -> tuple[str, int] | None:
    """A UB set name -> (corruption, severity), None for ``clean``; HyperensError otherwise."""
    if name == CLEAN:
        return None
    corruption, _, severity = name.rpartition("_")
    if not corruption or not severity.isdigit() or int(severity) not in SEVERITIES:
        raise HyperensError(
            f"UB logits file set {name!r} is neither 'clean' nor '<corruption>_<severity 1-5>'"
        )
    return UB_CORRUPTION_NAMES.get(corruption, corruption), int(severity)


def scan(directory: str | Path) -> UBCache:
    """The ``{name}_{member}.npy`` files of `directory` (module docstring); one-line errors for
    a missing directory, no clean member files, or sets that lack some member's file."""
    root = Path(directory)
    if not root.is_dir():
        raise HyperensError(f"UB logits directory {root} does not exist")
    sets: dict[str, dict[int, Path]] = {}
    skipped = []
    for path in sorted(root.glob("*.npy")):
        match = _FILE.match(path.name)
        if match is None:
            raise HyperensError(f"{path} is not a UB logits file name ({{name}}_{{member}}.npy)")
        if match["set"].startswith("ood_"):
            skipped.append(path.name)
            continue
        set_key(match["set"])  # an unknown set name fails here
        sets.setdefault(match["set"], {})[int(match["member"])] = path
    if CLEAN not in sets:
        raise HyperensError(
            f"{root} holds no UB clean-test logits (clean_<member>.npy, as written by "
            "baselines/cifar/ensemble.py or hyperdeepensemble.py --output_dir)"
        )
    members = sorted(sets[CLEAN])
    for name, files in sets.items():
        if sorted(files) != members:
            raise HyperensError(
                f"{root}: set {name!r} has members {sorted(files)} but clean has {members}"
            )
    return UBCache(root, dict(sorted(sets.items())), tuple(skipped))


def selection(
    cache: UBCache, members: list[int] | None
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """(distinct member ids, weights = multiplicities, build order) of the ensemble: every member
    once (``ensemble.py``), or the picks `members` with repeats (``hyperdeepensemble.py``)."""
    available = sorted(cache.sets[CLEAN])
    picks = available if not members else list(members)
    missing = sorted(set(picks) - set(available))
    if missing:
        raise HyperensError(
            f"members {missing} have no files in {cache.directory} (found {available})"
        )
    ids = sorted(set(picks))
    order = np.array([ids.index(m) for m in picks], np.int32)
    return ids, np.bincount(order, minlength=len(ids)).astype(np.float32), order


def _load(path: Path, header_only: bool = False) -> np.ndarray:
    """The logits of one file (memory-mapped with `header_only`: shape and dtype are checked,
    values are not read); one line if it is unreadable or not a 2-D float array."""
    try:
        array = np.load(path, mmap_mode="r" if header_only else None, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise HyperensError(f"{path} is not a readable .npy: {err}".replace("\n", " ")) from None
    finite = header_only or bool(np.all(np.isfinite(array)))
    if array.ndim != 2 or array.dtype.kind != "f" or not finite:
        raise HyperensError(
            f"{path} holds {array.dtype} {array.shape}; UB logits are finite floats (N, classes)"
        )
    return array


def check_shapes(cache: UBCache, ids: list[int]) -> dict[str, tuple[int, int]]:
    """Set name -> (N, C) from the files' headers: one shape per set, one C for every set."""
    out = {}
    for name, files in cache.sets.items():
        shapes = sorted({_load(files[m], header_only=True).shape for m in ids})
        if len(shapes) > 1:
            raise HyperensError(f"{cache.directory}: set {name!r} has member shapes {shapes}")
        out[name] = shapes[0]
    classes = sorted({c for _, c in out.values()})
    if len(classes) > 1:
        raise HyperensError(f"{cache.directory}: sets disagree on the number of classes {classes}")
    return out


def member_probs(cache: UBCache, name: str, ids: list[int]) -> np.ndarray:
    """softmax of set `name`'s logits, (M, N, C) float32 (computed in float64), one set at a
    time so that a CIFAR-100 directory is never in memory whole."""
    return np.stack([softmax(_load(cache.sets[name][m]).astype(np.float64)) for m in ids]).astype(
        np.float32
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    """exp(z - max z) / sum exp(z - max z) over the last axis."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def read_labels(
    dataset: str, labels: str | Path | None, data_dir: str | None
) -> tuple[dict[str, np.ndarray], str]:
    """({clean: labels, [set: labels]}, where they came from): `labels` (.npy or .npz) if given,
    else the registry's test split; one line if neither is available."""
    if labels is not None:
        path = Path(labels)
        if not path.is_file():
            raise HyperensError(f"labels file {path} does not exist")
        try:
            loaded = np.load(path, allow_pickle=False)
            arrays = dict(loaded) if path.suffix == ".npz" else {CLEAN: loaded}
        except (OSError, ValueError) as err:
            msg = f"labels file {path} is unreadable: {err}".replace("\n", " ")
            raise HyperensError(msg) from None
        if CLEAN not in arrays:
            raise HyperensError(f"labels file {path} has no 'clean' array")
        return arrays, str(path.resolve())
    options = {} if data_dir is None else {"data_dir": data_dir}
    try:
        data = get_dataset(dataset, **options)
    except DatasetUnavailableError as err:
        raise HyperensError(
            f"no labels for {dataset}'s test split: {err}; or pass --labels FILE.npy "
            "(its test labels in TFDS order)"
        ) from None
    return {CLEAN: data.y_test}, f"dataset registry: {dataset} test split"


def _labels_for(name: str, labels: dict[str, np.ndarray], n: int, classes: int) -> np.ndarray:
    y = np.asarray(labels.get(name, labels[CLEAN]))
    if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) < n:
        raise HyperensError(
            f"labels for set {name!r} are {y.dtype} {y.shape}; need >= {n} integer labels"
        )
    y = y[:n].astype(np.int32)  # UB scores the first n = (n_test // batch) * batch examples
    if y.min() < 0 or y.max() >= classes:
        raise HyperensError(f"labels for set {name!r} fall outside 0..{classes - 1}")
    return y


def check_names(dataset: str, model: str, method: str, tier: str) -> None:
    """One-line errors for an unknown dataset/model/tier or a method name of the suite's own."""
    DATASETS.get(dataset)
    for kind, name in (("models", model), ("tiers", tier)):
        if name not in compose.available(kind):
            raise HyperensError(
                f"unknown {kind[:-1]} {name!r}; valid: {', '.join(compose.available(kind))}"
            )
    if not _METHOD_NAME.match(method):
        raise HyperensError(f"method name {method!r} must match {_METHOD_NAME.pattern}")
    if method in compose.available("methods"):
        raise HyperensError(
            f"method name {method!r} is one of the suite's own methods; name the imported rows "
            f"apart (e.g. ub_{method})"
        )


def _existing(store: Path, cell: dict) -> str | None:
    """The id of a run in `store` of the same (dataset, model, method, tier, seed), if any."""
    runs = store / "runs"
    if not runs.is_dir():
        return None
    keys = ("dataset", "model", "method", "tier", "seed")
    for path in sorted(runs.iterdir()):
        if (path / "cell.json").is_file():
            other = read_json(path / "cell.json")
            if all(other.get(k) == cell[k] for k in keys):
                return path.name
    return None


def _fingerprint(cache: UBCache, ids: list[int], order: np.ndarray) -> str:
    digest = hashlib.sha256(np.asarray(order).tobytes())
    for files in cache.sets.values():
        for m in ids:
            digest.update(files[m].name.encode())
            digest.update(files[m].read_bytes())
    return digest.hexdigest()


def import_ub(
    directory: str | Path,
    store_root: str | Path,
    dataset: str,
    method: str,
    *,
    model: str = "wrn28_10",
    tier: str = "paper",
    seed: int = 0,
    labels: str | Path | None = None,
    data_dir: str | None = None,
    members: list[int] | None = None,
) -> tuple[str, dict]:
    """Import a UB output directory as one done run; returns (run id, metrics).

    Every input is checked before the store is touched; a store already holding a run of the
    same (dataset, model, method, tier, seed) is an error (nothing is overwritten)."""
    start = time.perf_counter()
    check_names(dataset, model, method, tier)
    cache = scan(directory)
    ids, weights, order = selection(cache, members)
    shapes = check_shapes(cache, ids)
    family = SHIFTS.get(dataset) if dataset in SHIFTS else None
    for name in shapes:
        key = set_key(name)
        if key is not None and family is not None and key[0] not in family.corruptions:
            raise HyperensError(
                f"UB set {name!r}: {dataset} has no corruption {key[0]!r} in the suite "
                f"(valid: {', '.join(family.corruptions)})"
            )
    cell = {"dataset": dataset, "model": model, "method": method, "tier": tier,
            "seed": int(seed), "source": SOURCE}  # fmt: skip
    existing = _existing(Path(store_root), cell)
    if existing is not None:
        raise HyperensError(
            f"store {store_root} already holds run {existing} for {dataset}/{model}/{method}/"
            f"{tier} seed {seed}; choose another --seed or --method, or remove that run"
        )
    label_sets, label_source = read_labels(dataset, labels, data_dir)
    classes = shapes[CLEAN][1]
    metrics, predictions = {}, {}
    for name, (n, _) in shapes.items():
        y = _labels_for(name, label_sets, n, classes)
        probs = member_probs(cache, name, ids)
        key = set_key(name)
        if key is None:
            metrics["test"] = compute_all(probs, y, weights)
            predictions.update(test_probs=probs, test_labels=y)
        else:
            probs = round_trip(probs)  # what the store keeps, as for the suite's runs
            metrics[f"corruption/{key[0]}/{key[1]}"] = compute_all(probs, y, weights)
            predictions[f"shift_probs_{key[0]}_{key[1]}"] = probs
            predictions[f"shift_labels_{key[0]}_{key[1]}"] = y
    predictions.update(
        val_probs=np.zeros((len(ids), 0, classes), np.float32),
        val_labels=np.zeros(0, np.int32),
        member_weights=weights,
        build_order=order,
    )
    source_dir = str(cache.directory.resolve())
    files = sorted(files[m].name for files in cache.sets.values() for m in ids)
    text = (
        f"# imported from {SOURCE} logits by `hyperens import-ub`; not a gin configuration\n"
        f"# ub_method = {method}\n# source_dir = {source_dir}\n"
        f"# files_sha256 = {_fingerprint(cache, ids, order)}\n"
    )
    provenance = collect_provenance(text, seed, time.perf_counter() - start, 0)
    provenance.update(
        source=SOURCE,
        param_count=None,  # logits carry no weights
        hparams_source="imported",
        method_info={},
        imported={
            "source_dir": source_dir,
            "files": files,
            "skipped_files": list(cache.skipped),
            "skipped_reason": "ood_* files mix in- and out-of-distribution examples whose "
            "membership UB does not cache"
            if cache.skipped
            else "",
            "ub_method": method,
            "members": ids,
            "picks": [ids[i] for i in order],
            "examples": shapes[CLEAN][0],
            "labels": label_source,
            "validation": "none: UB caches no validation logits",
        },
    )
    rid = run_id(cell, text)
    store = RunStore(store_root)
    store.begin(rid, cell, text)
    store.finish(rid, metrics, predictions, provenance)
    return rid, metrics
