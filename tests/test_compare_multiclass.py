"""Multiclass and long-tailed task suites: the same table in every framework, validation, metrics, protocol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("imblearn")
pytest.importorskip("scikit_posthocs")

from conftest import requested_frameworks  # noqa: E402

from wce_ref import compare, datasets  # noqa: E402
from wce_ref.cli import main  # noqa: E402

TRI = "mc_test_tri3"  # 3 classes, 300 / 120 / 40 rows
LT = "lt_test_tail3"  # 3 classes, long-tailed training part 240 / 60 / 12, balanced test part 60 / 60 / 60


@dataclass(frozen=True)
class _Synthetic(datasets.Source):
    """A seeded ``make_classification`` with given class counts; ``test`` rows per class form a fixed test part."""

    counts: tuple[int, ...]
    test: int = 0
    kind: str = "built-in"

    def status(self) -> str:
        return "offline"

    def load(self, *, download: bool, dataset: str) -> datasets.RawData:
        import pandas as pd
        from sklearn.datasets import make_classification

        k = len(self.counts)
        X, y = make_classification(4000, n_features=6, n_informative=4, n_redundant=0, n_classes=k,
                                   n_clusters_per_class=1, class_sep=1.2, random_state=5)  # fmt: skip
        rng = np.random.default_rng(5)
        keep = [rng.choice(np.flatnonzero(y == c), n + self.test, replace=False) for c, n in enumerate(self.counts)]
        rows = np.sort(np.concatenate(keep))
        mask = np.isin(rows, np.concatenate([idx[: self.test] for idx in keep])) if self.test else None
        frame = pd.DataFrame(X[rows], columns=[f"x{i}" for i in range(X.shape[1])])
        names = [f"c{c}" for c in range(k)]
        return datasets.RawData(frame, y[rows].astype(np.int64), "synthetic", class_names=names, test_mask=mask)


def _register(name: str, counts: tuple[int, ...], task: str, test: int = 0) -> None:
    if name in datasets.registry():
        return
    n = sum(counts) + test * len(counts)
    datasets.register(
        datasets.DatasetInfo(
            name=name, collection="builtin", title=f"test set {name}", target_rule="class index", n_rows=n,
            n_features=6, n_minority=min(counts), imbalance_ratio=max(counts) / min(counts), ir_decimals=1,
            features_counted="raw", sources=(_Synthetic(counts, test),), task=task, n_classes=len(counts),
            class_counts=counts,
        )
    )  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def test_datasets():
    added = [name for name in (TRI, LT) if name not in datasets.registry()]
    _register(TRI, (300, 120, 40), "multiclass")
    _register(LT, (240, 60, 12), "longtail", test=60)
    yield
    for name in added:  # other modules see the registry as it was
        datasets.unregister(name)


def _suite(tmp_path: Path, body: str, name: str = "tri") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(body)
    return path


TINY = f"""description = "3 classes, the cost matrix and logit adjustment"
datasets = ["{TRI}"]
strategies = ["baseline", "wce_balanced", "cost_matrix", "logit_adjusted", "logit_adjusted_posthoc",
              "prior_correction", "ros", "ldam_drw"]
models = ["linear"]
frameworks = ["numpy"]
[protocol]
folds = 3
repeats = 1
[training]
max_epochs = 40
[costs]
{TRI} = [[1, 1, 1], [4, 1, 1], [10, 3, 1]]
"""

COLUMNS = ["dataset", "strategy", "repeat", "fold", "seed", "status", "epochs", *compare.metric_names("multiclass")]


def _table(db: Path, framework: str):
    df = compare.Store(db).frame()
    df = df[df.framework == framework][COLUMNS + ["class_recall"]]
    return df.sort_values(COLUMNS[:5]).reset_index(drop=True)


def test_tiny_multiclass_suite_gives_the_same_table_in_every_framework(tmp_path):
    installed = [f for f in ("numpy", "torch", "jax", "tensorflow") if f in requested_frameworks()]
    suite = compare.load_suite(str(_suite(tmp_path, TINY)), frameworks=installed)
    db = tmp_path / "tri.sqlite"
    summary = compare.run(suite, db=db, show_progress=False)
    assert summary.errors == 0 and summary.ran == 8 * 3 * len(installed)
    ref = _table(db, "numpy")
    assert len(ref) == 24 and (ref.status == "ok").all()
    metrics = list(compare.metric_names("multiclass"))
    assert ref[["many_recall", "medium_recall"]].notna().all().all() and ref["few_recall"].isna().all()
    for fw in installed[1:]:
        got = _table(db, fw)
        assert got[COLUMNS[:7]].equals(ref[COLUMNS[:7]]), fw
        np.testing.assert_allclose(got[metrics].to_numpy(float), ref[metrics].to_numpy(float), rtol=1e-4, atol=1e-4)
    # the strategies act: balanced weights and logit adjustment raise the rarest class's recall over plain CE
    rare = ref.assign(r2=ref.class_recall.map(lambda r: r[2])).groupby("strategy").r2.mean()
    assert rare["wce_balanced"] > rare["baseline"] and rare["logit_adjusted"] > rare["baseline"]
    # prior correction to uniform priors is post-hoc logit adjustment with tau = 1 (same model, same logits)
    pc, la = (ref[ref.strategy == s].reset_index(drop=True) for s in ("prior_correction", "logit_adjusted_posthoc"))
    np.testing.assert_allclose(pc[metrics].to_numpy(float), la[metrics].to_numpy(float), rtol=1e-9, atol=1e-12)
    # post-hoc strategies keep the plain model: its ranking (AUC) changes, its accuracy too, its epochs not
    base = ref[ref.strategy == "baseline"].reset_index(drop=True)
    assert (pc.epochs == base.epochs).all()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.replace("[10, 3, 1]]", "]"), rf"costs\.{TRI}: expected 3 x 3 numbers .*received 2 x 3"),
        (lambda s: s + f"[priors]\n{TRI} = [0.5, 0.5]\n", rf"priors\.{TRI}: expected 3 numbers .*received 2"),
        (lambda s: s + f"[priors]\n{TRI} = [0.5, 0.5, 0]\n", rf"priors\.{TRI}: expected finite positive"),
        (lambda s: s.replace('"ros"', '"threshold"'), rf"strategies: 'threshold' supports binary .*'{TRI}' is multi"),
        (lambda s: s.replace("[costs]", '[costs]\nseed4 = [[1]]'), r"costs\.seed4: 'seed4' is not one of the suite"),
        (lambda s: s.replace('models = ["linear"]', 'models = ["linear"]\nmetrics = ["f1", "macro_f1"]'),
         r"metrics: \['f1'\] apply to none of the suite's datasets \(tasks: multiclass\)"),
    ],
)  # fmt: skip
def test_bad_multiclass_configuration_is_rejected_before_work(edit, message, tmp_path, capsys):
    path = _suite(tmp_path, edit(TINY))
    with pytest.raises(compare.SuiteError, match=message):
        compare.load_suite(str(path))
    assert main(["compare", str(path), "--db", str(tmp_path / "x.sqlite"), "--quiet"]) == 2
    assert "x.sqlite" not in {p.name for p in tmp_path.iterdir()}
    assert message.split(":")[0].replace("\\", "") in capsys.readouterr().err


def test_long_tailed_protocol_trains_on_the_tail_and_tests_on_the_balanced_part(tmp_path):
    body = f"""datasets = ["{LT}"]
strategies = ["baseline", "logit_adjusted", "ldam_drw", "smote"]
models = ["mlp"]
[protocol]
folds = 5
repeats = 2
[training]
max_epochs = 30
"""
    suite = compare.load_suite(str(_suite(tmp_path, body, "lt")))
    cells = compare.cells(suite)
    assert len(cells) == 4 * 2 and {c.fold for c in cells} == {0}  # one cell per repeat
    assert len({c.seed for c in cells if c.strategy == "baseline"}) == 2  # the model seed varies with the repeat
    db = tmp_path / "lt.sqlite"
    assert compare.run(suite, db=db, show_progress=False).errors == 0
    df = compare.Store(db).frame()
    d = datasets.load(LT, download=False)
    assert (df.n_train == int((~d.test_mask).sum())).all()
    assert df.train_counts.map(lambda c: list(c) == [240, 60, 12]).all()  # the long-tailed training part only
    assert df.confusion.map(lambda m: np.sum(m, axis=1).tolist() == [60, 60, 60]).all()  # the balanced test part
    # the shot split by training count: 240 many (> 100), 60 medium, 12 few (< 20)
    recall = np.stack(df.class_recall.map(np.asarray))
    np.testing.assert_allclose(df[["many_recall", "medium_recall", "few_recall"]].to_numpy(float), recall)


def test_expected_calibration_error_and_shot_split_by_hand():
    y = np.array([0, 0, 1, 1, 2])
    proba = np.array([[0.95, 0.05, 0], [0.95, 0.0, 0.05], [0.6, 0.4, 0], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6]])
    # bins of the top probability (15 bins): {0.95, 0.95} -> 1.0 correct, conf 0.95; {0.6 (wrong), 0.6, 0.6}
    expected = (2 * abs(1.0 - 0.95) + 3 * abs(2 / 3 - 0.6)) / 5
    assert compare.expected_calibration_error(y, proba) == pytest.approx(expected)
    assert compare.expected_calibration_error(y, np.eye(3)[y]) == 0.0
    s = compare.score(y, proba.argmax(1), proba, train_counts=np.array([500, 50, 5]))
    assert (s["many_recall"], s["medium_recall"], s["few_recall"], s["worst_recall"]) == (1.0, 0.5, 1.0, 0.5)
    from sklearn.metrics import brier_score_loss, log_loss

    assert s["brier"] == pytest.approx(brier_score_loss(y, proba, labels=[0, 1, 2]))
    assert s["log_loss"] == pytest.approx(log_loss(y, proba, labels=[0, 1, 2]))


def test_cost_matrix_from_counts_is_the_binary_one_for_two_classes():
    y2 = np.array([0] * 90 + [1] * 10)
    assert compare.cost_matrix_from_counts(y2) == [[1.0, 1.0], [9.0, 1.0]]
    c = np.array(compare.cost_matrix_from_counts(np.repeat([0, 1, 2], [200, 50, 10])))
    np.testing.assert_allclose(c, [[1, 1, 1], [4, 1, 1], [20, 5, 1]])


def test_classifier_rejects_priors_and_costs_of_the_wrong_size():
    X = np.random.default_rng(0).normal(size=(90, 3))
    y = np.repeat([0, 1, 2], 30)
    with pytest.raises(ValueError, match=r"prior_correction: expected 3 positive priors"):
        compare.WCEClassifier(prior_correction=[0.5, 0.5], max_epochs=2).fit(X, y)
    with pytest.raises(ValueError, match=r"cost_matrix: expected a \(3, 3\) array"):
        compare.WCEClassifier(loss="cost", cost_matrix=[[1, 1], [2, 1]], max_epochs=2).fit(X, y)
    clf = compare.WCEClassifier(max_epochs=5).fit(X, y)
    assert clf.predict_proba(X).shape == (90, 3) and np.allclose(clf.predict_proba(X).sum(1), 1.0)


def test_every_strategy_declares_its_tasks():
    assert all(set(s.tasks) <= {"binary", "multiclass"} and s.tasks for s in compare.STRATEGIES.values())
    binary_only = {n for n, s in compare.STRATEGIES.items() if s.tasks == ("binary",)}
    smote_variants = {"polynom_fit_smote", "prowsyn", "smote_ipf"}  # smote-variants' binary oversamplers
    assert binary_only == {"threshold", *compare.REFERENCE_METHODS, *smote_variants}  # reference methods: binary
    multiclass = [n for n, s in compare.STRATEGIES.items() if s.supports_task("multiclass")]
    assert "prior_correction" in multiclass and "cost_matrix" in multiclass and "smote_enn" in multiclass
    # the binary suites keep their strategies: prior_correction is the multiclass counterpart of threshold
    # (26, then the smote-variants oversamplers and the two cosine-classifier LDAMs)
    assert sum(s.supports_task("binary") and s.estimator is None for s in compare.STRATEGIES.values()) == 31


def test_binary_report_says_which_metrics_an_old_store_lacks(tmp_path):
    import json
    import sqlite3

    body = 'datasets = ["synthetic_small"]\nstrategies = ["baseline"]\nmodels = ["sklearn_lr"]\n[protocol]\nfolds = 2\n'
    path = _suite(tmp_path, body, "old")
    db = tmp_path / "old.sqlite"
    assert main(["compare", str(path), "--db", str(db), "--out", str(tmp_path), "--quiet", "--jobs", "1"]) == 0
    assert "lacks" not in (tmp_path / "compare-old.md").read_text()
    con = sqlite3.connect(db)  # a store written before the calibration metrics existed
    for rowid, m in con.execute("SELECT rowid, metrics FROM results").fetchall():
        m = {k: v for k, v in json.loads(m).items() if k not in ("brier", "ece", "log_loss")}
        con.execute("UPDATE results SET metrics = ? WHERE rowid = ?", (json.dumps(m), rowid))
    con.commit()
    con.close()
    assert main(["report", "compare", str(path), "--db", str(db), "--out", str(tmp_path)]) == 0
    md = (tmp_path / "compare-old.md").read_text()
    assert "The store lacks the metric(s) `brier`, `ece`, `log_loss`" in md and "| brier" not in md


def test_report_says_which_methods_a_metric_was_recorded_for(tmp_path):
    """A store whose older cells predate the calibration metrics and whose newer ones have them (the default suite
    after the reference methods joined it): the report renders, names the methods that have them, and tests
    nothing against a control that lacks them."""
    import json
    import sqlite3

    body = ('datasets = ["synthetic_small", "synthetic"]\nstrategies = ["baseline", "wce_balanced", "rus", "ros"]\n'
            'models = ["sklearn_lr"]\n[protocol]\nfolds = 2\n')  # fmt: skip
    path = _suite(tmp_path, body, "mixed")
    db = tmp_path / "mixed.sqlite"
    assert main(["compare", str(path), "--db", str(db), "--out", str(tmp_path), "--quiet", "--jobs", "1"]) == 0
    con = sqlite3.connect(db)
    for rowid, strategy, m in con.execute("SELECT rowid, strategy, metrics FROM results").fetchall():
        if strategy not in ("rus", "ros"):
            m = {k: v for k, v in json.loads(m).items() if k not in ("brier", "ece", "log_loss")}
            con.execute("UPDATE results SET metrics = ? WHERE rowid = ?", (json.dumps(m), rowid))
    con.commit()
    con.close()
    assert main(["report", "compare", str(path), "--db", str(db), "--out", str(tmp_path)]) == 0
    md = (tmp_path / "compare-mixed.md").read_text()
    assert "`brier` is recorded for 2 of 4 methods only (`ros`, `rus`)" in md


def test_selectors_follow_the_registry_and_skip_what_the_folds_cannot_split(tmp_path):
    from dataclasses import replace

    from wce_ref.compare.engine._suite import _dataset_names

    names, selected = _dataset_names(["seed4", "offline:multiclass", "-mc_fars"])
    offline = {n for n in datasets.names(task="multiclass") if datasets.info(n).availability() == "offline"}
    assert set(names) == offline - {"mc_fars"} and names[0] == "seed4" and "seed4" not in selected
    assert TRI in selected  # a dataset registered at run time joins the selector
    with pytest.raises(compare.SuiteError, match=r"datasets: name: unknown dataset 'mc_nope'"):
        _dataset_names(["offline:multiclass", "-mc_nope"])
    body = 'datasets = ["seed4", "mc_ecoli"]\nstrategies = ["baseline"]\n'
    suite = compare.load_suite(str(_suite(tmp_path, body, "sel")))
    with pytest.raises(compare.SuiteError, match=r"5 folds but dataset 'mc_ecoli' has only 2 samples in its smallest"):
        compare.check_data(suite, download=False)  # named: an error
    kept = compare.check_data(replace(suite, selected=("mc_ecoli",)), download=False)  # selected: skipped
    assert kept.datasets == ("seed4",) and kept.skipped[0][0] == "mc_ecoli" and "2 samples" in kept.skipped[0][1]


def test_adasyn_with_nothing_to_generate_leaves_the_data_unchanged_and_says_so():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [50, 50, 49])  # one row short of balance: ADASYN's share rounds to no sample
    X = rng.normal(size=(149, 4)) + y[:, None]
    far = np.repeat([0, 1, 2], [50, 50, 45])  # classes far apart: no neighbour of another class
    X_far = rng.normal(size=(145, 4)) + 10 * far[:, None]
    for X_, y_ in ((X, y), (X_far, far)):
        adasyn = compare.STRATEGIES["adasyn"].sampler(y_, 0)
        Xr, yr = adasyn.fit_resample(X_, y_)
        assert adasyn.unchanged_ and adasyn.n_out_ == len(y_) and Xr is X_ and yr is y_
    smote = compare.STRATEGIES["smote"].sampler(far, 0)  # SMOTE raises 45 to 50
    assert len(smote.fit_resample(X_far, far)[1]) == 150 and not smote.unchanged_
    ros = compare.STRATEGIES["ros"].sampler(y, 0)  # only ADASYN is lenient: other samplers' errors fail the cell
    with pytest.raises(ValueError):
        ros.fit_resample(X[:0], y[:0])
