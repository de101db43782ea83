"""Task suites: the smoke suite end to end, resuming after kill -9, Dask, validation, statistics."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("imblearn")
pytest.importorskip("scikit_posthocs")

from conftest import requested_frameworks  # noqa: E402

from wce_ref import compare  # noqa: E402
from wce_ref.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BINARY_METRICS = compare.metric_names("binary")
RESULT_COLUMNS = ["dataset", "strategy", "model", "framework", "repeat", "fold", "seed", "status", *BINARY_METRICS]


def results_table(db: Path):
    df = compare.Store(db).frame()
    return df[RESULT_COLUMNS].sort_values(RESULT_COLUMNS[:7]).reset_index(drop=True)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One uninterrupted run of the smoke suite through the command line."""
    out = tmp_path_factory.mktemp("smoke")
    db = out / "smoke.sqlite"
    assert main(["compare", "smoke", "--db", str(db), "--out", str(out), "--quiet", "--jobs", "1"]) == 0
    return out, db


def test_smoke_suite_runs_and_reports(smoke_run):
    out, db = smoke_run
    df = results_table(db)
    suite = compare.load_suite("smoke")
    assert len(df) == len(compare.cells(suite)) == 84
    assert (df.status == "ok").all()
    bounded = [m for m in BINARY_METRICS if m != "log_loss"]  # calibration included: Brier and ECE lie in [0, 1]
    assert df[bounded].apply(lambda c: c.between(-1, 1)).all().all() and (df.log_loss > 0).all()
    md = (out / "compare-smoke.md").read_text()
    assert md.index("## The answer, over source families") < md.index("## Against the literature")
    assert "## Mean ranks over source families (1 = best)" in md and "Friedman" in md and "wce_balanced" in md
    assert "### Secondary view: mean ranks (1 = best) over datasets" in md and "## Convergence" in md
    assert "the suite has no `ros`" not in md  # the literature's checks find the strategies of the first model
    assert (out / "compare-smoke" / "cd-average_precision.png").stat().st_size > 5000
    html = (out / "compare-smoke.html").read_text()
    assert html.count("<img") == md.count("![")
    # threshold moving only changes decisions: threshold-free metrics equal the plain-CE model's
    base = df[(df.strategy == "baseline")].reset_index(drop=True)
    thr = df[(df.strategy == "threshold")].reset_index(drop=True)
    np.testing.assert_allclose(thr.average_precision, base.average_precision)
    assert (thr.recall >= base.recall - 1e-12).all()


def test_rerun_resumes_without_counting_twice(smoke_run, capsys):
    out, db = smoke_run
    before = results_table(db)
    assert main(["compare", "smoke", "--db", str(db), "--out", str(out), "--quiet", "--no-report"]) == 0
    assert "84 already in" in capsys.readouterr().out
    assert results_table(db).equals(before)


def test_kill_midway_then_resume_gives_the_same_table(smoke_run, tmp_path):
    _, reference_db = smoke_run
    db = tmp_path / "killed.sqlite"
    cmd = [sys.executable, "-m", "wce_ref", "compare", "smoke", "--db", str(db), "--out", str(tmp_path), "--quiet",
           "--jobs", "1", "--no-report"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    n = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                n = sqlite3.connect(db).execute("SELECT COUNT(*) FROM results").fetchone()[0]
            except sqlite3.OperationalError:
                n = 0
            if n >= 20:
                break
        time.sleep(0.05)
    assert proc.poll() is None, f"the run finished before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = len(results_table(db))
    assert 20 <= partial < 84
    assert main(["compare", "smoke", "--db", str(db), "--out", str(tmp_path), "--quiet", "--no-report"]) == 0
    resumed = results_table(db)
    assert len(resumed) == 84
    assert resumed.equals(results_table(reference_db))


def test_dask_cluster_gives_the_same_results(smoke_run, tmp_path):
    distributed = pytest.importorskip("distributed")
    _, reference_db = smoke_run
    suite = compare.load_suite("smoke", strategies=["baseline", "wce_balanced", "smote", "focal"])
    db = tmp_path / "dask.sqlite"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        summary = compare.run(suite, db=db, scheduler=c.scheduler_address, show_progress=False)
    assert summary.ran == len(compare.cells(suite)) and summary.errors == 0
    got = results_table(db)
    ref = results_table(reference_db)
    ref = ref[ref.strategy.isin(suite.strategies)].reset_index(drop=True)
    assert got.equals(ref)


def test_local_processes_give_the_same_results(smoke_run, tmp_path):
    _, reference_db = smoke_run
    suite = compare.load_suite("smoke", strategies=["wce_balanced", "ros"], models=["linear"])
    db = tmp_path / "procs.sqlite"
    compare.run(suite, db=db, jobs=2, show_progress=False)
    ref = results_table(reference_db)
    ref = ref[ref.strategy.isin(suite.strategies) & (ref.model == "linear")].reset_index(drop=True)
    assert results_table(db).equals(ref)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"datasets": ["no_such_set"]}, "datasets: name: unknown dataset 'no_such_set'"),
        ({"strategies": ["smote", "oversample_harder"]}, r"strategies: unknown strategy \['oversample_harder'\]"),
        ({"models": ["transformer"]}, r"models: unknown model \['transformer'\]"),
        ({"frameworks": ["caffe"]}, r"frameworks: unknown framework \['caffe'\]"),
        ({"folds": 1}, "--folds must be an integer >= 2; received 1"),
    ],
)
def test_bad_configuration_is_rejected_before_work(overrides, message, tmp_path):
    with pytest.raises(compare.SuiteError, match=message):
        compare.run(compare.load_suite("smoke", **overrides), db=tmp_path / "x.sqlite", show_progress=False)
    assert not (tmp_path / "x.sqlite").exists()


def test_bad_metric_and_too_many_folds(tmp_path, capsys):
    bad_metric = tmp_path / "m.toml"
    bad_metric.write_text('datasets = ["synthetic_small"]\nmetrics = ["f1", "accuracy_at_k"]\n')
    with pytest.raises(compare.SuiteError, match=r"metrics: unknown metric \['accuracy_at_k'\]"):
        compare.load_suite(str(bad_metric))
    folds = tmp_path / "f.toml"
    folds.write_text('datasets = ["synthetic_small"]\nstrategies = ["baseline"]\n[protocol]\nfolds = 60\n')
    assert main(["compare", str(folds), "--db", str(tmp_path / "f.sqlite"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "60 folds but dataset 'synthetic_small' has only 59 minority samples" in err
    assert not (tmp_path / "f.sqlite").exists()
    with pytest.raises(compare.SuiteError, match="unknown suite 'nope'"):
        compare.load_suite("nope")


def test_unavailable_dataset_is_skipped_with_its_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WCE_ALLOW_DOWNLOAD", "0")
    suite = compare.load_suite("creditcard")
    with pytest.raises(compare.SuiteError, match=r"no dataset is available .*creditcard"):
        compare.run(suite, db=tmp_path / "c.sqlite", show_progress=False)


def _fit(framework, loss, **kw):
    from sklearn.datasets import make_classification

    X, y = make_classification(300, n_features=6, weights=[0.85], random_state=3)
    return compare.WCEClassifier(framework=framework, loss=loss, max_epochs=40, random_state=1, **kw).fit(X, y)


@pytest.mark.parametrize("framework", ["torch", "jax", "tensorflow"])
@pytest.mark.parametrize(
    ("loss", "kw"),
    [
        ("wce", {"class_weight": "balanced"}),
        ("cost", {"cost_matrix": [[1, 1], [6, 1]]}),
        ("focal", {}),
        ("batch", {"batch_size": 64}),
        ("ce", {"hidden": (8,)}),
        ("softmax_focal", {"class_weight": "balanced", "loss_params": {"gamma": 0.5}}),
        ("logit_adjusted_ce", {"loss_params": {"tau": 1.0}}),
        ("ldam_ce", {"class_weight": "effective_number", "drw": 0.5}),
        ("poly1_ce", {"loss_params": {"epsilon": 1.0}}),
        ("ce", {"posthoc_tau": 1.0}),
    ],  # fmt: skip
)
def test_frameworks_train_the_same_model_as_numpy(framework, loss, kw):
    if framework not in requested_frameworks():
        pytest.skip(f"{framework} not requested (WCE_FRAMEWORKS)")
    ref = _fit("numpy", loss, **kw)
    got = _fit(framework, loss, **kw)
    assert got.n_epochs_ == ref.n_epochs_
    for a, b in zip(got.params_, ref.params_, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-4)


def test_estimator_is_sklearn_compatible():
    from imblearn.over_sampling import RandomOverSampler
    from imblearn.pipeline import Pipeline
    from sklearn.base import clone
    from sklearn.datasets import make_classification
    from sklearn.model_selection import cross_val_score

    X, y = make_classification(400, n_features=5, weights=[0.9], random_state=0)
    pipe = Pipeline([("ros", RandomOverSampler(random_state=0)), ("m", compare.WCEClassifier(max_epochs=30))])
    scores = cross_val_score(pipe, X, y, cv=3, scoring="average_precision")
    assert scores.shape == (3,) and (scores > 0.3).all()
    assert clone(compare.WCEClassifier(loss="wce", class_weight="enet")).get_params()["class_weight"] == "enet"
    with pytest.raises(ValueError, match="loss: expected one of"):
        compare.WCEClassifier(loss="hinge").fit(X, y)
    with pytest.raises(ValueError, match=r"cost_matrix: expected a \(2, 2\) array"):
        compare.WCEClassifier(loss="cost", cost_matrix=[1, 2]).fit(X, y)


def test_nemenyi_critical_difference_matches_demsar():
    # Demsar (2006), table 5(a): q_0.05 for k = 2..6 is 1.960, 2.343, 2.569, 2.728, 2.850
    for k, q in zip(range(2, 7), (1.960, 2.343, 2.569, 2.728, 2.850), strict=True):
        n = 10
        assert compare.critical_difference(k, n) == pytest.approx(q * math.sqrt(k * (k + 1) / (6 * n)), abs=2e-3)


def test_store_never_counts_a_cell_twice(tmp_path):
    store = compare.Store(tmp_path / "s.sqlite")
    row = {"config_hash": "h", "suite": "s", "dataset": "d", "strategy": "baseline", "model": "linear",
           "framework": "numpy", "repeat": 0, "fold": 0, "seed": 1, "status": "ok", "metrics": {"f1": 0.5}}  # fmt: skip
    assert store.add(row) is True
    assert store.add({**row, "metrics": {"f1": 0.9}}) is False
    assert store.frame()["f1"].tolist() == [0.5]
    store.close()


def test_every_strategy_is_registered_once_with_a_family():
    fams = {s.family for s in compare.STRATEGIES.values()}
    assert fams <= {"baseline", "weighting", "oversampling", "undersampling", "combination", "cost-sensitive", "loss",
                    "reference"}  # fmt: skip
    # 31 trained with the project's model (prior_correction multiclass-only; the two cosine LDAMs MLP-only; the
    # smote-variants oversamplers binary-only) + 5 reference methods (binary-only)
    assert len(compare.STRATEGIES) == 37
    assert sum(s.estimator is not None for s in compare.STRATEGIES.values()) == 5
    from wce_ref import losses

    for s in compare.STRATEGIES.values():  # every loss a strategy trains with is a registered loss
        loss = s.loss.get("loss")
        assert loss is None or loss in compare.WCEClassifier.ALIASES or loss in losses.LOSSES, s.name


TINY = """description = "Two cells. [click](javascript:alert(1)) [paper](https://example.org/p) [figure](tiny/a.png)"
datasets = ["synthetic_small"]
strategies = ["baseline"]
models = ["sklearn_lr"]
[protocol]
folds = 2
repeats = 1
"""


@pytest.fixture
def tiny_suite(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def test_failed_cells_are_retried_on_resume_and_fail_the_run(tiny_suite, tmp_path, monkeypatch, capsys):
    from wce_ref import datasets

    real_load, calls = datasets.load, []

    def damaged_once(name, *, download=None):  # the first cell finds its dataset file damaged
        calls.append(name)
        if download is False and len(calls) == 2:  # call 1: the up-front check; call 2: the first cell
            raise datasets.IntegrityError(f"dataset {name!r}: checksum mismatch (damaged for the test)")
        return real_load(name, download=download)

    monkeypatch.setattr(datasets, "load", damaged_once)
    argv = ["compare", str(tiny_suite), "--db", str(tmp_path / "t.sqlite"), "--out", str(tmp_path), "--quiet"]
    assert main([*argv, "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert "ran 2 (1 failed)" in out and "1 cell(s) FAILED" in out
    monkeypatch.setattr(datasets, "load", real_load)  # the cause is fixed
    assert main([*argv, "--jobs", "1"]) == 0
    assert "1 already in" in (out := capsys.readouterr().out) and "ran 1, 1 of them retried" in out, out
    store = compare.Store(tmp_path / "t.sqlite")
    assert store.frame().status.tolist() == ["ok", "ok"]
    history = store.frame(table="failures")  # the failure is kept
    assert len(history) == 1 and "damaged for the test" in history.error.iloc[0]
    assert len(store.runs(compare.load_suite(str(tiny_suite)).config_hash())) == 2
    store.close()


def test_report_says_when_a_run_is_in_progress_or_cells_are_missing(tiny_suite, tmp_path, capsys):
    import os
    import socket

    db = tmp_path / "t.sqlite"
    assert main(["compare", str(tiny_suite), "--db", str(db), "--out", str(tmp_path), "--quiet", "--jobs", "1"]) == 0
    md = (tmp_path / "compare-tiny.md").read_text()
    assert "still writing" not in md and "Incomplete" not in md
    suite = compare.load_suite(str(tiny_suite))
    store = compare.Store(db)
    store.begin_run(config_hash=suite.config_hash(), suite="tiny", started=time.time() - 60, jobs=1, scheduler=None,
                    cells_total=2, host=socket.gethostname(), versions={}, pid=None)  # killed; the store is complete
    store.con.commit()
    assert main(["report", "compare", str(tiny_suite), "--db", str(db), "--out", str(tmp_path)]) == 0
    md = (tmp_path / "compare-tiny.md").read_text()
    assert "was interrupted; later runs stored the rest, and every cell is here" in md and "resumes it" not in md
    store.begin_run(config_hash=suite.config_hash(), suite="tiny", started=time.time(), jobs=1, scheduler=None,
                    cells_total=2, host=socket.gethostname(), versions={}, pid=os.getpid())  # fmt: skip
    store.con.execute("DELETE FROM results WHERE fold = 1")
    store.con.commit()
    store.close()
    assert main(["report", "compare", str(tiny_suite), "--db", str(db), "--out", str(tmp_path)]) == 0
    md = (tmp_path / "compare-tiny.md").read_text()
    assert "**Incomplete: 1 of the suite's 2 cells are stored.**" in md
    assert f"(process {os.getpid()}) is still writing to the store" in md


def test_html_report_links_only_http_and_relative_targets(tiny_suite, tmp_path):
    from wce_ref._report import Document

    assert main(["compare", str(tiny_suite), "--db", str(tmp_path / "t.sqlite"), "--out", str(tmp_path),
                 "--quiet", "--jobs", "1"]) == 0  # fmt: skip
    html = (tmp_path / "compare-tiny.html").read_text()
    assert 'href="javascript' not in html.lower() and "[click](javascript:alert(1))" in html
    assert '<a href="https://example.org/p">paper</a>' in html and '<a href="tiny/a.png">figure</a>' in html
    for url in ["JavaScript:alert(1)", "java\tscript:alert(1)", "data:text/html,x", "//evil.example", "vbscript:x"]:
        assert "<a " not in Document("t").para(f"[x]({url})").html(), url


def test_report_reads_a_read_only_store_without_writing(tiny_suite, tmp_path):
    import shutil

    db_dir = tmp_path / "ro"
    db_dir.mkdir()
    db = db_dir / "t.sqlite"
    assert main(["compare", str(tiny_suite), "--db", str(db), "--out", str(tmp_path), "--quiet", "--jobs", "1"]) == 0
    report = [sys.executable, "-m", "wce_ref", "report", "compare", str(tiny_suite), "--db", str(db), "--out",
              str(tmp_path / "out")]  # fmt: skip
    if shutil.which("unshare") and os.geteuid() == 0:  # root ignores file modes: a read-only bind mount instead
        cmd = ["unshare", "-rm", "sh", "-c", f'mount --bind -o ro "{db_dir}" "{db_dir}" && exec "$@"', "sh", *report]
    elif os.geteuid() != 0:
        db.chmod(0o444)
        db_dir.chmod(0o555)
        cmd = report
    else:
        pytest.skip("no way to make the store read-only here")
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode and cmd[0] == "unshare":
        pytest.skip("unshare is not permitted here")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    db_dir.chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and (tmp_path / "out" / "compare-tiny.md").exists()


def test_reuse_copies_the_cells_of_the_same_configuration_instead_of_running_them(tiny_suite, tmp_path, capsys):
    first, second = tmp_path / "first.sqlite", tmp_path / "second.sqlite"
    argv = ["compare", str(tiny_suite), "--out", str(tmp_path), "--quiet", "--jobs", "1"]
    assert main([*argv, "--db", str(first)]) == 0
    capsys.readouterr()
    assert main([*argv, "--db", str(second), "--reuse", str(first)]) == 0
    out = capsys.readouterr()
    assert "2 already in" in out.out and "(2 of them reused from other stores), ran 0" in out.out, out.out
    assert "reused 2 cell(s) of" in out.err
    assert results_table(second).equals(results_table(first))  # the same rows, metrics and all
    assert set(compare.Store(second).frame()["suite"]) == {"tiny"}
    md = (tmp_path / "compare-tiny.md").read_text()
    assert "Cells reused (`--reuse`) instead of run: 2 from `first.sqlite`" in md and "over 1 run(s)" in md
    # another configuration (3 folds) shares no cell: everything runs
    assert main([*argv, "--db", str(tmp_path / "third.sqlite"), "--reuse", str(first), "--folds", "3"]) == 0
    assert "0 already in" in (text := capsys.readouterr().out) and "ran 3" in text, text
