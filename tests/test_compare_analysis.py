"""The suites' protocol and analysis: converged linear models, source families, block statistics, the
literature's checks, the cosine classifier, compact committed stores."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("imblearn")
pytest.importorskip("scikit_posthocs")

from wce_ref import compare, datasets  # noqa: E402
from wce_ref.cli import main  # noqa: E402
from wce_ref.compare.analysis import (
    _blocks,  # noqa: E402
    _literature,  # noqa: E402
)
from wce_ref.compare.methods import _trainers  # noqa: E402


# --- converged training: the linear model's optimum is scikit-learn's ---------------------------------------
@pytest.mark.parametrize("name", ["synthetic_small", "breast_cancer_imb"])
@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_linear_optimum_equals_sklearn_logistic_regression(name, class_weight):
    from sklearn.preprocessing import StandardScaler

    data = datasets.load(name, download=False)
    X = StandardScaler().fit_transform(data.X)
    ours = compare.WCEClassifier(l2=1e-3, class_weight=class_weight, loss="softmax_wce").fit(X, data.y)
    sk = compare.PenalisedLogisticRegression(l2=1e-3, class_weight=class_weight).fit(X, data.y)
    assert ours.converged_ and ours.stop_ == "converged"
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), atol=2e-4)


def test_linear_model_records_when_it_hits_its_iteration_cap():
    data = datasets.load("breast_cancer_imb", download=False)
    clf = compare.WCEClassifier(l2=1e-6, max_iter=3).fit(data.X, data.y)
    assert not clf.converged_ and clf.n_epochs_ <= 3


def test_without_validation_rows_adam_stops_on_the_training_objective_or_runs_to_the_cap():
    from sklearn.datasets import make_classification

    X, y = make_classification(300, n_features=5, weights=[0.97], flip_y=0, random_state=0)
    assert 2 <= np.bincount(y).min() < 10  # too few minority rows to hold any out
    kw = dict(solver="adam", max_iter=4000, class_weight="balanced", loss="softmax_wce", random_state=0)
    stalled = compare.WCEClassifier(**kw).fit(X, y)
    capped = compare.WCEClassifier(**kw, no_validation_stop="cap").fit(X, y)
    assert stalled.converged_ and stalled.stop_ == "training_loss" and stalled.n_epochs_ < 4000
    assert not capped.converged_ and capped.stop_ == "max_epochs" and capped.n_epochs_ == 4000
    # stopped where the objective stalled: the same decisions as the model trained to the cap
    assert np.mean(stalled.predict(X) == capped.predict(X)) > 0.98
    with pytest.raises(ValueError, match="no_validation_stop: expected 'training_loss' or 'cap', got 'never'"):
        compare.WCEClassifier(**dict(kw, no_validation_stop="never")).fit(X, y)


def test_converged_cells_of_the_earlier_cap_carry_over_and_the_others_run_again(tmp_path, capsys):
    import sqlite3

    suite = tmp_path / "carry.toml"
    body = 'datasets = ["synthetic_small"]\nstrategies = ["baseline", "wce_balanced"]\nmodels = ["linear"]\n' \
           "[protocol]\nfolds = 2\nrepeats = 1\n"  # fmt: skip
    suite.write_text(body + '[training]\nmax_iter = 1000\nno_validation_stop = "cap"\n')
    old, new = tmp_path / "old.sqlite", tmp_path / "new.sqlite"
    argv = ["compare", str(suite), "--out", str(tmp_path), "--quiet", "--jobs", "1", "--no-report"]
    assert main([*argv, "--db", str(old)]) == 0
    with sqlite3.connect(old) as con:  # one cell of the earlier settings ran into the old cap
        con.execute("UPDATE results SET converged = 0, stop = 'max_iter' WHERE strategy = 'wce_balanced' AND fold = 0")
    suite.write_text(body)  # today's defaults: a larger cap, the training-loss rule
    capsys.readouterr()
    assert main([*argv, "--db", str(new), "--reuse", str(old)]) == 0
    out = capsys.readouterr()
    assert "ran 1 (0 failed)" in out.out and "reused 3 cell(s)" in out.err and "carried over" in out.err, out
    before, after = compare.Store(old).frame(), compare.Store(new).frame()
    assert len(set(after["config_hash"])) == 1 and set(after["config_hash"]).isdisjoint(before["config_hash"])
    key = ["strategy", "fold"]
    both = before.merge(after, on=key, suffixes=("_old", "_new"))
    kept = both[~((both["strategy"] == "wce_balanced") & (both["fold"] == 0))]
    assert (kept["average_precision_old"] == kept["average_precision_new"]).all() and len(kept) == 3
    assert after["converged"].all()
    assert compare.load_suite(str(suite)).carried_hashes()  # and a smaller cap carries nothing over
    suite.write_text(body + "[training]\nmax_iter = 500\n")
    assert compare.load_suite(str(suite)).carried_hashes() == {}


# --- source families ----------------------------------------------------------------------------------------
def test_every_dataset_has_a_family_and_duplicates_are_marked():
    infos = [datasets.info(n) for n in datasets.names()]
    assert all(i.family for i in infos)
    assert datasets.info("abalone19").duplicate_of == "abalone_19"
    ecoli = [i.name for i in infos if i.family == "ecoli"]
    assert len(ecoli) >= 10 and "ecoli1" in ecoli
    assert datasets.info("ecoli1").family == datasets.info("ecoli_0_1_vs_5").family


# --- block statistics ---------------------------------------------------------------------------------------
def _cells(values: dict[str, dict[str, float]], status: dict[tuple[str, str], str] | None = None):
    """One ok cell per (dataset, method) with ``average_precision`` = the given value."""
    rows = []
    for d, per in values.items():
        for m, v in per.items():
            s = (status or {}).get((d, m), "ok")
            rows.append({"dataset": d, "method": m, "strategy": m, "status": s,
                         "average_precision": v if s == "ok" else np.nan})  # fmt: skip
    return pd.DataFrame(rows)


def test_identical_methods_are_one_entry_and_noise_below_the_precision_is_a_tie():
    vals = {"ecoli1": {"a": 0.5, "b": 0.5 + 1e-9, "c": 0.4}, "yeast1": {"a": 0.7, "b": 0.7, "c": 0.8}}
    t = _blocks.table(_cells(vals), "average_precision")
    assert list(t.values.columns) == ["a = b", "c"] and t.merged == {"a = b": ["a", "b"]}
    assert _blocks.entry_of(t, "b") == "a = b"


def test_a_failed_cell_ranks_its_method_last_and_a_duplicate_counts_once():
    vals = {
        "ecoli1": {"a": 0.9, "b": 0.5, "c": 0.4},
        "yeast1": {"a": 0.9, "b": 0.5, "c": 0.4},
        "abalone_19": {"a": 0.9, "b": 0.5, "c": 0.4},
        "abalone19": {"a": 0.1, "b": 0.9, "c": 0.8},  # the same task as abalone_19: dropped
    }
    st = _blocks.analyse_families(_cells(vals, {("yeast1", "a"): "error"}), "average_precision")
    assert st.table.duplicates == ["abalone19"] and st.n_datasets == 3 and st.n_families == 3
    ranks = _blocks.dataset_ranks(st.table.values, True)
    assert ranks.loc["yeast1", "a"] == 3.0  # failed: last, never averaged away
    fam = _blocks.family_values(st.table, True)
    assert fam.loc["yeast", "a"] == 0.4  # the dataset's worst value stands in for the failure


def test_ranks_are_averaged_within_a_family_before_the_test():
    vals = {f"ecoli{i}": {"a": 0.9, "b": 0.1} for i in range(1, 4)} | {"yeast1": {"a": 0.1, "b": 0.9}}
    st = _blocks.analyse_families(_cells(vals), "average_precision")
    assert st.n_families == 2  # three ecoli tasks are one block
    assert st.ranks["a"] == st.ranks["b"] == 1.5


def test_a_method_missing_on_most_datasets_is_not_ranked():
    vals = {d: {"a": 0.5, "b": 0.6, "c": 0.7} for d in ("ecoli1", "yeast1", "glass1")}
    status = {("ecoli1", "c"): "inapplicable", ("yeast1", "c"): "inapplicable"}
    t = _blocks.table(_cells(vals, status), "average_precision")
    assert t.unranked == {"c": 2} and "c" not in t.values.columns


# --- the literature's checks --------------------------------------------------------------------------------
FAMILY_DATASETS = ["ecoli1", "yeast1", "glass1", "abalone_19", "pima", "vowel0", "page_blocks0", "segment0",
                   "vehicle0", "wisconsin", "haberman", "new_thyroid1"]  # fmt: skip


def _suite_cells(gain: float):
    rng = np.random.default_rng(0)
    rows = []
    for d in FAMILY_DATASETS:
        for fold in range(3):
            base = rng.uniform(0.4, 0.7)
            for m, v in {"baseline": base, "wce_balanced": base + gain + rng.normal(0, 0.005)}.items():
                rows.append({"dataset": d, "method": m, "strategy": m, "status": "ok", "repeat": 0, "fold": fold,
                             "f1": v, "balanced_accuracy": v})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("gain", "verdict"), [(0.05, "confirmed"), (-0.05, "contradicted"), (0.0, "inconclusive")])
def test_a_paired_claim_is_decided_from_the_store(gain, verdict, tmp_path):
    lit = tmp_path / "literature.toml"
    lit.write_text(
        '[[claim]]\nid = "x"\nsource = "s"\nsetting = "t"\nfinding = "WCE raises F1."\nchecks = [\n'
        '  { kind = "better", method = "wce_balanced", than = "baseline", metric = "f1" },\n'
        '  { kind = "better", method = "focal", than = "baseline", metric = "f1" },\n]\n'
    )
    cells = _suite_cells(gain)
    (res,) = _literature.evaluate(cells, FAMILY_DATASETS, lit)
    assert res.checks[0].verdict == verdict, res.checks[0].evidence
    assert res.checks[1].verdict == "not testable" and "`focal`" in res.checks[1].evidence
    assert res.verdict == {"confirmed": "confirms", "contradicted": "contradicts", "inconclusive": "partly"}[verdict]


def test_a_one_dataset_claim_uses_the_corrected_resampled_t_test(tmp_path):
    lit = tmp_path / "literature.toml"
    lit.write_text(
        '[[claim]]\nid = "x"\nsource = "s"\nsetting = "t"\nfinding = "f"\nchecks = [\n'
        '  { kind = "better", method = "wce_balanced", than = "baseline", metric = "f1", datasets = ["ecoli1"] },\n]\n'
    )
    (res,) = _literature.evaluate(_suite_cells(0.05), FAMILY_DATASETS, lit)
    assert "corrected resampled t-test" in res.checks[0].evidence and "(on ecoli1)" in res.checks[0].text
    assert res.checks[0].verdict == "confirmed"


def test_every_claim_of_the_repository_has_a_source_a_setting_and_valid_checks():
    found = _literature.claims()
    assert {c.id for c in found} >= {"climb", "smote_variants", "logit_adjustment", "ldam_drw", "seed_blog"}
    for c in found:
        assert c.source and c.setting and c.finding and c.checks
        assert all(k["kind"] in _literature.CHECKS for k in c.checks)
        named = [n.removesuffix("@tuned") for k in c.checks for n in (k.get("method"), k.get("than"),
                                                                          *k.get("methods", ())) if n]  # fmt: skip
        assert set(named) <= set(compare.STRATEGIES), c.id


# --- the cosine classifier (LDAM in the paper's setting) ----------------------------------------------------
def test_cosine_classifier_gradient_matches_finite_differences():
    from wce_ref import losses

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 4)), rng.integers(0, 3, 20)
    params = [rng.normal(size=(4, 5)), rng.normal(size=5), rng.normal(size=(5, 3)), np.zeros(3)]
    static = {"class_counts": np.bincount(y, minlength=3).astype(float), "max_margin": 0.5, "scale": 30.0}
    eng = _trainers.CosineEngine(X, y, "ldam_ce", static, params, lr=0.01, l2=1e-3)
    grads = eng.gradient(None, {})
    spec = losses.get("ldam_ce")

    def objective(p):
        reg = 1e-3 * sum(float(np.sum(p[i] ** 2)) for i in range(0, len(p), 2) if i < len(p) - 1)
        return float(spec.value(_trainers.logits(p, X, cosine=1.0), y, **static)) + reg

    for k in (0, 2):  # a hidden layer's weights and the normalised last layer's
        idx = (1, 2)
        up = [q.copy() for q in params]
        down = [q.copy() for q in params]
        up[k][idx] += 1e-6
        down[k][idx] -= 1e-6
        assert grads[k][idx] == pytest.approx((objective(up) - objective(down)) / 2e-6, rel=1e-4, abs=1e-7)


# --- compact committed stores -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    body = 'datasets = ["synthetic_small"]\nstrategies = ["baseline", "ros"]\nmodels = ["linear"]\n'
    body += "[protocol]\nfolds = 2\n"
    (out / "tiny.toml").write_text(body)
    db = out / "compare-tiny.sqlite"
    assert main(["compare", str(out / "tiny.toml"), "--db", str(db), "--out", str(out), "--quiet", "--no-report"]) == 0
    return out, db


def test_export_is_deterministic_and_reports_and_runs_read_it(tiny_store, tmp_path, capsys):
    out, db = tiny_store
    a = compare.export(db, tmp_path / "a" / "compare-tiny.sqlite.xz")
    b = compare.export(db, tmp_path / "b" / "compare-tiny.sqlite.xz")
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    assert a.stat().st_size < db.stat().st_size
    assert compare.Store(a, readonly=True).frame().equals(compare.Store(db, readonly=True).frame())
    suite = str(out / "tiny.toml")
    assert main(["report", "compare", suite, "--db", str(a), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "compare-tiny.md").exists() and (tmp_path / "r" / "compare-tiny.sqlite.xz").exists()
    new = tmp_path / "resumed.sqlite"  # a run resumes from the export: every cell copied, none run
    assert main(["compare", suite, "--db", str(new), "--reuse", str(a), "--quiet", "--no-report"]) == 0
    assert len(compare.Store(new, readonly=True).frame()) == len(compare.Store(db, readonly=True).frame())


def test_an_export_is_read_only_and_a_bad_one_is_named(tmp_path):
    with pytest.raises(compare.StoreError, match=r"db: .*compressed export, read-only.*--reuse"):
        compare.Store(tmp_path / "x.sqlite.xz")
    bad = tmp_path / "bad.sqlite.xz"
    bad.write_bytes(b"not xz at all")
    with pytest.raises(compare.StoreError, match=r"db: .*bad.sqlite.xz is not an xz-compressed store"):
        compare.Store(bad, readonly=True)
    with pytest.raises(compare.StoreError, match=r"dest: an export is named \*\.sqlite\.xz"):
        compare.export(bad, tmp_path / "out.sqlite")


def test_report_sets_the_previous_protocol_beside_this_one(tiny_store, tmp_path):
    import shutil
    import sqlite3

    out, db = tiny_store
    suite = compare.load_suite(str(out / "tiny.toml"))
    old = tmp_path / "old.sqlite"
    shutil.copy(db, old)
    with sqlite3.connect(old) as con:  # the same cells, as a store of the previous protocol would hold them
        con.execute("UPDATE results SET config_hash = ?", (suite.config_hash(reference=True),))
    assert main(["report", "compare", str(out / "tiny.toml"), "--db", str(db), "--previous", str(old),
                 "--out", str(tmp_path / "r")]) == 0  # fmt: skip
    md = (tmp_path / "r" / "compare-tiny.md").read_text()
    section = md[md.index("## What the protocol change moved"):]
    assert "| average_precision | CE" in section and "with `--previous old.sqlite`" in md
    plain = tmp_path / "plain"
    assert main(["report", "compare", str(out / "tiny.toml"), "--db", str(db), "--out", str(plain)]) == 0
    assert "What the protocol change moved" not in (plain / "compare-tiny.md").read_text()


def test_a_partial_store_is_analysed_on_its_complete_datasets(tiny_store, tmp_path):
    out, db = tiny_store
    bigger = tmp_path / "suite" / "tiny.toml"  # the same suite and configuration, one more dataset
    bigger.parent.mkdir()
    bigger.write_text((out / "tiny.toml").read_text().replace('["synthetic_small"]', '["synthetic_small", "pima"]'))
    import shutil

    partial = tmp_path / "partial.sqlite"
    shutil.copy(db, partial)
    compare.run(compare.load_suite(str(bigger)), db=partial, limit=3, show_progress=False)  # pima partly run
    assert main(["report", "compare", str(bigger), "--db", str(partial), "--out", str(tmp_path / "r")]) == 0
    md = (tmp_path / "r" / "compare-tiny.md").read_text()
    assert "**Datasets: 1 of 2 complete, 1 partly run, 0 not started.**" in md
    assert "1 datasets from 1 source families" in md and "### pima" not in md


def test_previous_protocol_cells_are_labelled_and_never_mixed_with_the_current(tiny_store, tmp_path):
    import shutil
    import sqlite3

    out, db = tiny_store
    suite = str(out / "tiny.toml")
    ref = compare.load_suite(suite).config_hash(reference=True)
    old = tmp_path / "old.sqlite"
    shutil.copy(db, old)
    with sqlite3.connect(old) as con:
        con.execute("UPDATE results SET config_hash = ?", (ref,))
    assert main(["report", "compare", suite, "--db", str(old), "--out", str(tmp_path / "a")]) == 0
    first = (tmp_path / "a" / "compare-tiny.md").read_text()
    assert "**These results are from the suite's previous protocol**" in first
    both = tmp_path / "both.sqlite"  # a store resumed in place: the previous protocol's cells and the current ones
    shutil.copy(db, both)
    with sqlite3.connect(both) as con:
        con.execute("ATTACH ? AS old", (str(old),))
        con.execute("INSERT INTO results SELECT * FROM old.results")
    assert main(["report", "compare", suite, "--db", str(both), "--out", str(tmp_path / "b")]) == 0
    md = (tmp_path / "b" / "compare-tiny.md").read_text()
    assert "previous protocol**" not in md
    current = (tmp_path / "c")
    assert main(["report", "compare", suite, "--db", str(db), "--out", str(current)]) == 0
    strip = lambda text: text[: text.index("## Protocol and provenance")]  # noqa: E731
    assert strip(md) == strip((current / "compare-tiny.md").read_text())  # the previous cells left out
