"""The paper's reference numbers (results/paper/reference.csv) and their loader."""

import pandas as pd
import pytest

from benchmarks.analysis.reference import (
    COLUMNS,
    REFERENCE_CORRUPTIONS,
    REFERENCE_PATH,
    load_reference,
    reference_for,
)
from benchmarks.errors import HyperensError

DATASETS = {"cifar10", "cifar100", "fashion_mnist"}
MODELS = {"wrn28_10", "resnet20", "mlp", "lenet"}
METHODS = {
    "single",
    "random_search_topk",
    "deep_ensemble",
    "hyper_ens",
    "hyper_deep_ensemble",
    "batch_ensemble",
    "hyper_batch_ensemble",
    "self_tuning",
}
METRICS = {
    "nll",
    "accuracy",
    "ece_15bin",
    "member_nll_mean",
    "member_accuracy_mean",
    "corrupted_nll",
    "corrupted_accuracy",
    "corrupted_ece_15bin",
    "param_count_millions",
    "ood_svhn_auroc",
    "ood_svhn_fpr_at_95_tpr",
}
PAPER_TABLE_2 = "paper Table 2 (via [2nd])"
UB_README = "uncertainty-baselines baselines/cifar/README.md (UB-README)"


@pytest.fixture(scope="module")
def ref():
    return load_reference()


def _one(ref, **key):
    mask = pd.Series(True, index=ref.index)
    for col, val in key.items():
        mask &= ref[col] == val
    rows = ref[mask]
    assert len(rows) == 1, key
    return rows.iloc[0]


def test_loads_with_the_documented_columns(ref):
    assert REFERENCE_PATH.is_file()
    assert tuple(ref.columns) == COLUMNS
    assert len(ref) > 0
    assert ref["value"].dtype == float


def test_every_row_has_a_source_and_a_confirmed_flag(ref):
    assert ref["source"].notna().all()
    assert (ref["source"].str.strip() != "").all()
    assert set(ref["confirmed"]) <= {"yes", "no"}


def test_only_documented_names(ref):
    assert set(ref["dataset"]) <= DATASETS
    assert set(ref["model"].dropna()) <= MODELS
    assert set(ref["method"]) <= METHODS
    assert set(ref["metric"]) <= METRICS
    # a missing model is a gap in the source, and the note has to say so
    assert ref.loc[ref["model"].isna(), "note"].str.contains("model not stated").all()


def test_one_row_per_number(ref):
    key = ["dataset", "model", "method", "metric", "ensemble_size", "source"]
    assert not ref.duplicated(subset=key).any()


def test_value_ranges(ref):
    acc = ref[ref["metric"].str.contains("accuracy")]["value"]
    assert len(acc) and acc.between(0, 1).all()
    nll = ref[ref["metric"].str.contains("nll")]["value"]
    assert len(nll) and (nll > 0).all()
    ece = ref[ref["metric"].str.contains("ece")]["value"]
    assert ece.between(0, 1).all()
    assert (ref["ensemble_size"].dropna() >= 1).all()


def test_secondary_source_numbers_are_unconfirmed(ref):
    second = ref["source"].str.contains("[2nd]", regex=False)
    assert second.any()
    assert (ref.loc[second, "confirmed"] == "no").all()


def test_spot_check_paper_table_2(ref):
    # paper Table 2 (via the secondary source): Hyper-deep ensemble, WRN-28-10 CIFAR-100, K=4:
    # NLL 0.652 ± 0.000
    row = _one(ref, dataset="cifar100", model="wrn28_10", method="hyper_deep_ensemble",
               metric="nll", source=PAPER_TABLE_2)  # fmt: skip
    assert row["value"] == 0.652
    assert row["ensemble_size"] == 4
    assert row["confirmed"] == "no"
    # paper Table 2 (via the secondary source): Single accuracy 0.801 ± 0.004 (one model)
    row = _one(ref, dataset="cifar100", model="wrn28_10", method="single", metric="accuracy",
               source=PAPER_TABLE_2)  # fmt: skip
    assert row["value"] == 0.801
    assert row["ensemble_size"] == 1


def test_spot_check_ub_readme(ref):
    # UB baselines/cifar/README.md, CIFAR-10 "BatchEnsemble (size=4)": test accuracy 96.3% ->
    # 0.963, ECE 0.0177
    key = dict(dataset="cifar10", model="wrn28_10", method="batch_ensemble", source=UB_README)
    assert _one(ref, metric="accuracy", **key)["value"] == 0.963
    assert _one(ref, metric="ece_15bin", **key)["value"] == 0.0177
    assert _one(ref, metric="accuracy", **key)["confirmed"] == "yes"


def test_notes_cite_public_sources_only(ref):
    notes = ref["note"].dropna()
    assert not notes.str.contains(r"notes §|reference notes|paper-notes", regex=True).any()
    assert not ref["source"].str.contains("notes", regex=False).any()


def test_corrupted_rows_say_which_types_they_average(ref):
    corrupted = ref[ref["metric"].str.startswith("corrupted_")]
    assert set(corrupted["dataset"]) == {"cifar10", "cifar100"}
    for dataset, count, name in (("cifar10", 15, "CIFAR-10-C"), ("cifar100", 17, "CIFAR-100-C")):
        notes = corrupted.loc[corrupted["dataset"] == dataset, "note"]
        assert len(notes) and notes.str.contains(f"on {name}: ", regex=False).all()
        assert notes.str.contains(f"the same {count} types", regex=False).all()
        assert len(REFERENCE_CORRUPTIONS[dataset]) == count


def test_our_corruption_families_average_the_reference_types():
    # baselines/cifar/utils.py load_corrupted_test_info: CIFAR-100-C has 17 types, not the 15
    from benchmarks.data.shift import SHIFTS
    from benchmarks.data.shift_tfds import release_file

    cifar10 = SHIFTS.get("cifar10").corruptions
    assert cifar10 == REFERENCE_CORRUPTIONS["cifar10"]  # TFDS names, as the released list
    cifar100 = SHIFTS.get("cifar100").corruptions
    assert [release_file(c).removesuffix(".npy") for c in cifar100] == list(
        REFERENCE_CORRUPTIONS["cifar100"]
    )
    extra = {"gaussian_blur", "saturate", "spatter", "speckle_noise"}
    assert set(REFERENCE_CORRUPTIONS["cifar100"]) - set(cifar10) == extra | {
        "glass_blur",
        "elastic_transform",
    }
    assert {"motion_blur", "snow"}.isdisjoint(REFERENCE_CORRUPTIONS["cifar100"])


def test_reference_for_selects_one_cell(ref):
    cell = reference_for(ref, "cifar100", "wrn28_10")
    assert len(cell) > 0
    assert set(cell["dataset"]) == {"cifar100"}
    assert set(cell["model"]) == {"wrn28_10"}
    assert len(reference_for(ref, "fashion_mnist", "mlp")) == 0


def _write(tmp_path, text):
    path = tmp_path / "reference.csv"
    path.write_text(text, encoding="utf-8")
    return path


GOOD_ROW = "cifar10,mlp,single,nll,0.5,1,somewhere,no,"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("dataset,model,method,metric,value\ncifar10,mlp,single,nll,0.5\n", "missing columns"),
        (
            ",".join(COLUMNS) + "\ncifar10,mlp,single,nll,n/a,1,somewhere,no,\n",
            "not a finite number",
        ),
        (",".join(COLUMNS) + "\ncifar10,mlp,single,nll,inf,1,somewhere,no,\n", "not a finite"),
        (",".join(COLUMNS) + "\ncifar10,mlp,single,nll,,1,somewhere,no,\n", "empty 'value'"),
        (",".join(COLUMNS) + "\ncifar10,mlp,single,nll,0.5,1,,no,\n", "empty 'source'"),
        (",".join(COLUMNS) + "\ncifar10,mlp,single,nll,0.5,2.5,somewhere,no,\n", "ensemble_size"),
        (",".join(COLUMNS) + "\ncifar10,mlp,single,nll,0.5,1,somewhere,maybe,\n", "yes/no"),
    ],
)
def test_malformed_csv_raises_one_line(tmp_path, text, fragment):
    path = _write(tmp_path, text)
    with pytest.raises(HyperensError) as err:
        load_reference(path)
    msg = str(err.value)
    assert fragment in msg
    assert str(path) in msg
    assert "\n" not in msg


def test_missing_file_raises(tmp_path):
    with pytest.raises(HyperensError, match="not found"):
        load_reference(tmp_path / "nope.csv")


def test_good_tmp_file_loads(tmp_path):
    ref = load_reference(_write(tmp_path, ",".join(COLUMNS) + "\n" + GOOD_ROW + "\n"))
    assert ref["value"].tolist() == [0.5]
    assert pd.isna(ref.at[0, "note"])
