"""Issue 13 wired into the suites: reference strategies, tuned-threshold scores, Bayesian pairs and cost in reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("imblearn")
pytest.importorskip("scikit_posthocs")
pytest.importorskip("baycomp")

from wce_ref import compare  # noqa: E402
from wce_ref.compare.methods import _cell  # noqa: E402
from wce_ref.compare.methods._reference import REFERENCE_METHODS  # noqa: E402
from wce_ref.compare.methods._strategies import REFERENCE_FRAMEWORK, REFERENCE_MODEL, STRATEGIES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

TINY = """
description = "issue 13 in small: references and the tuned threshold"
datasets = ["synthetic_small", "breast_cancer_imb"]
strategies = ["baseline", "wce_balanced", "rus", "smote", "hgb_balanced", "rusboost"]
models = {models}
frameworks = ["numpy"]
metrics = "all"
[protocol]
folds = 3
repeats = 1
tuned_threshold = true
inner_folds = 2
[training]
max_epochs = 30
"""


def _suite(tmp_path: Path, models: str = '["linear"]', **replace: str) -> Path:
    text = TINY.format(models=models)
    for old, new in replace.items():
        text = text.replace(old, new)
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    suite = compare.load_suite(str(_suite(out)))
    summary = compare.run(suite, db=out / "tiny.sqlite", show_progress=False)
    return suite, summary, out


def test_reference_methods_are_binary_strategies_of_the_registry():
    for name, ref in REFERENCE_METHODS.items():
        s = STRATEGIES[name]
        assert s.family == "reference" and s.estimator is not None
        assert s.supports_task("binary") and not s.supports_task("multiclass")
        assert s.supports(REFERENCE_MODEL) and not s.supports("linear")
        assert type(s.estimator(3)) is type(ref.make(3))


def test_tiny_suite_runs_references_once_per_fold_with_tuned_scores(tiny_run):
    suite, summary, out = tiny_run
    assert summary.errors == 0 and summary.failed == 0
    df = compare.Store(out / "tiny.sqlite", readonly=True).frame()
    refs = df[df.strategy.isin(["hgb_balanced", "rusboost"])]
    assert set(refs.model) == {REFERENCE_MODEL} and set(refs.framework) == {REFERENCE_FRAMEWORK}
    assert len(refs) == 2 * 2 * 3  # datasets x strategies x folds: once per fold, not per model / framework
    for m in compare.THRESHOLD_METRICS:
        assert df[f"{m}@tuned"].between(0 if m != "mcc" else -1, 1).all()
    assert df["threshold@tuned"].between(0, 1).all() and (df["was@tuned"] == 1).all()
    # the threshold-free metrics have no tuned column; the label metrics move with the tuned threshold
    assert "average_precision@tuned" not in df.columns
    assert (df["f1@tuned"] != df["f1"]).any()


def test_tuned_classifier_is_the_default_pipeline_with_a_moved_threshold(tiny_run):
    from wce_ref import datasets

    suite = tiny_run[0]
    cell = next(c for c in compare.cells(suite) if c.strategy == "smote")
    d = datasets.load(cell.dataset, download=False)
    train, test = _cell._split(cell, d)
    pipe, tuned = _cell._fit(cell, STRATEGIES["smote"], d.X[train], d.y[train], 2)
    assert tuned.tuned and tuned.n_splits == 2 and tuned.classifier.estimator_ is pipe
    proba = pipe.predict_proba(d.X[test])[:, 1]
    np.testing.assert_array_equal(tuned.classifier.predict(d.X[test]), (proba >= tuned.threshold).astype(int))
    np.testing.assert_array_equal(pipe.predict(d.X[test]), (proba >= 0.5).astype(int))


def test_a_cell_whose_tuning_fails_keeps_its_default_scores_at_threshold_one_half(tiny_run, monkeypatch):
    from wce_ref.compare.methods import _threshold

    def fail(*args, **kwargs):
        raise ValueError("The provided estimator makes constant predictions.")

    monkeypatch.setattr(_threshold, "tune_threshold", fail)
    cell = next(c for c in compare.cells(tiny_run[0]) if c.strategy == "hgb_balanced")
    row = compare.run_cell(cell)
    assert row["status"] == "ok" and row["metrics"]["was@tuned"] == 0 and row["metrics"]["threshold@tuned"] == 0.5
    assert row["metrics"]["f1@tuned"] == row["metrics"]["f1"]  # a reference's own threshold is 0.5


def test_fast_balanced_accuracy_equals_scikit_learn():
    from sklearn.metrics import balanced_accuracy_score

    from wce_ref.compare.methods._threshold import balanced_accuracy

    rng = np.random.default_rng(1)
    for _ in range(20):
        y = rng.integers(0, 2, 50)
        y[:2] = [0, 1]
        yhat = rng.integers(0, 2, 50)
        assert balanced_accuracy(y, yhat) == pytest.approx(balanced_accuracy_score(y, yhat), abs=1e-15)


def test_report_shows_tuned_ranks_bayes_pairs_with_rope_and_cost(tiny_run):
    from wce_ref.compare.analysis._reporting import render

    suite, _, out = tiny_run
    md, html = render(compare.check_data_quiet(suite), out / "tiny.sqlite", out)
    text = md.read_text()
    assert "## Default threshold vs threshold tuned on the training folds" in text
    assert "balanced_accuracy@tuned" in text and "median tuned threshold" in text
    assert "ROPE: ±0.01" in text
    assert "| balanced_accuracy | wce_balanced | baseline@tuned | 2 |" in text
    assert "| average_precision | wce_balanced | baseline@tuned |" not in text  # threshold-free: no tuned pair
    assert "## Cost" in text and "single-threaded workers" in text
    assert "`hgb_balanced`" in text and "`rusboost`" in text
    for calibration in ("brier", "ece", "log_loss"):
        assert f"| {calibration} |" in text or f" {calibration} " in text
    assert html.exists()


def test_wall_time_is_the_union_of_the_runs_an_unfinished_one_up_to_its_last_cell():
    import pandas as pd

    from wce_ref.compare.analysis._sections import wall_seconds

    runs = pd.DataFrame({"started": [0.0, 10.0, 15.0, 100.0], "ended": [5.0, 20.0, np.nan, np.nan]})
    cells = pd.DataFrame({"finished": [3.0, 30.0, 120.0]})
    assert wall_seconds(runs, cells) == 5.0 + 110.0  # [0, 5] and [10, 120]: overlapping runs count once
    assert wall_seconds(runs.iloc[:0], cells) is None


def test_references_keep_plain_names_beside_several_models(tmp_path):
    import pandas as pd

    from wce_ref.compare.analysis._stats import with_methods

    df = pd.DataFrame(
        {
            "strategy": ["baseline", "baseline", "hgb_balanced"],
            "model": ["linear", "mlp", REFERENCE_MODEL],
            "framework": ["numpy", "numpy", REFERENCE_FRAMEWORK],
        }
    )
    assert with_methods(df)["method"].tolist() == ["baseline (linear/numpy)", "baseline (mlp/numpy)", "hgb_balanced"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("tuned_threshold = true", 'tuned_threshold = "yes"', "protocol.tuned_threshold must be true or false"),
        ("inner_folds = 2", "inner_folds = 1", "protocol.inner_folds must be an integer in [2, 10]"),
        ('"rusboost"]', '"rusboost", "prior_correction"]', "'prior_correction' supports multiclass"),
    ],
)
def test_bad_suite_keys_are_rejected_naming_the_key(tmp_path, old, new, message):
    path = _suite(tmp_path, **{old: new})
    with pytest.raises(compare.SuiteError, match=message.replace("[", r"\[").replace("]", r"\]")):
        compare.load_suite(str(path))


@pytest.mark.parametrize("name", ["multiclass", "longtail"])
def test_reference_cells_keep_their_config_hash_across_protocol_changes(name):
    """The tuned threshold and the converged-training protocol changed how learned cells are trained, so those
    cells get a new hash and are re-run; the reference estimators' cells are untouched and keep theirs."""
    suite = compare.load_suite(name)
    assert not suite.protocol.tuned_threshold
    assert suite.config_hash(reference=True) != suite.config_hash()  # the new protocol is a new configuration
    store = ROOT / "reports" / f"compare-{name}.sqlite.xz"
    if not store.exists():
        pytest.skip(f"no committed {name} store (reports/compare-{name}.sqlite.xz)")
    hashes = set(compare.Store(store, readonly=True).frame()["config_hash"])
    # the store holds this configuration's cells, or an earlier one's whose converged cells carry over
    assert hashes & {suite.config_hash(reference=True), suite.config_hash(), *suite.carried_hashes()}


def test_binary_suites_with_the_same_protocol_share_their_cells():
    """`default` runs `benchmark`'s protocol on a subset, so its cells are benchmark cells (`--reuse` copies them)."""
    default, benchmark = compare.load_suite("default"), compare.load_suite("benchmark")
    assert default.protocol.tuned_threshold and default.config_hash() == benchmark.config_hash()
    assert {c.key() for c in compare.cells(default)} <= {c.key() for c in compare.cells(benchmark)}


def test_benchmark_suite_selects_the_offline_binary_datasets_and_every_binary_strategy():
    from wce_ref import datasets

    suite = compare.load_suite("benchmark")
    offline = [n for n, i in datasets.registry().items() if i.task == "binary" and i.availability() == "offline"]
    assert set(offline) <= set(suite.datasets) and {"german", "hypothyroid"} <= set(suite.datasets)
    binary = {n for n, s in STRATEGIES.items() if s.supports_task("binary")}
    assert set(suite.strategies) == binary and set(REFERENCE_METHODS) <= binary
    assert suite.protocol.folds == 5 and suite.protocol.repeats == 2 and suite.protocol.tuned_threshold


def test_named_broken_dataset_is_skipped_with_its_reason(tmp_path):
    path = _suite(tmp_path, **{'"breast_cancer_imb"]': '"breast_cancer_imb", "german"]'})
    suite = compare.check_data(compare.load_suite(str(path)), download=False)
    assert suite.datasets == ("synthetic_small", "breast_cancer_imb")
    ((name, reason),) = suite.skipped
    assert name == "german" and reason.startswith("broken loader:") and "load_german" in reason
