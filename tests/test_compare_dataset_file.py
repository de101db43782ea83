"""``wce compare --dataset-file``: a suite on a user's CSV, end to end; bad files refused before any work."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("imblearn")
pytest.importorskip("scikit_posthocs")

from wce_ref import compare  # noqa: E402
from wce_ref.cli import main  # noqa: E402

N = 240
SUITE = """
description = "a suite on a user file"
strategies = ["baseline", "wce_balanced", "rus"]
models = ["linear"]
frameworks = ["numpy"]
metrics = "all"
{datasets}
[protocol]
folds = 3
repeats = 1
[training]
max_epochs = 20
"""


def _frame(seed: int = 0):
    from sklearn.datasets import make_classification

    X, y = make_classification(N, n_features=4, n_informative=3, n_redundant=0, weights=[0.85], random_state=seed)
    frame = pd.DataFrame(X.round(5), columns=["a", "b", "c", "d"])
    frame["shop"] = [("north", "south", "east")[i % 3] for i in range(N)]
    frame["label"] = np.where(y == 1, "fraud", "ok")
    return frame


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    path = tmp_path / "payments.csv"
    _frame().to_csv(path, index=False)
    return path


def test_a_suite_runs_on_a_csv_the_test_writes(csv, tmp_path, capsys):
    suite = tmp_path / "mine.toml"
    suite.write_text(SUITE.format(datasets='datasets = ["synthetic_small"]'))
    db, out = tmp_path / "store.sqlite", tmp_path / "out"
    argv = ["compare", str(suite), "--dataset-file", str(csv), "--target", "label", "--positive", "fraud"]
    assert main([*argv, "--db", str(db), "--out", str(out), "--quiet", "--jobs", "2"]) == 0  # workers re-register it
    df = compare.Store(db, readonly=True).frame()
    assert set(df.dataset) == {"payments"} and (df.status == "ok").all() and len(df) == 3 * 3
    y = (pd.read_csv(csv)["label"] == "fraud").to_numpy()
    assert df.groupby("fold")["n_train"].first().sum() == 2 * len(y)  # 3 folds: every row trains twice
    text = (out / "compare-mine-payments.md").read_text()
    sha = hashlib.sha256(csv.read_bytes()).hexdigest()
    assert str(csv.resolve()) in text and sha in text and "target column `label`" in text


def test_suite_file_entries_read_relative_paths_and_hash_the_content(csv, tmp_path):
    suite = tmp_path / "entries.toml"
    entry = '[[dataset_files]]\npath = "payments.csv"\ntarget = "label"\npositive = "fraud"\nname = "pay"\n'
    suite.write_text(SUITE.format(datasets='datasets = ["synthetic_small"]') + entry)
    loaded = compare.load_suite(str(suite))
    assert loaded.datasets == ("synthetic_small", "pay") and loaded.files[0].path == str(csv.resolve())
    assert loaded.files[0].sha256 == hashlib.sha256(csv.read_bytes()).hexdigest()
    first = loaded.config_hash()
    _frame(seed=1).to_csv(csv, index=False)  # other content: another configuration, old results never resume
    assert compare.load_suite(str(suite)).config_hash() != first


@pytest.mark.parametrize(
    ("change", "target", "needle"),
    [
        (lambda f: f, "class", "column 'class' not in"),
        (lambda f: f.assign(label="ok"), "label", "single class"),
        (lambda f: f.assign(b=f["b"].where(f.index != 7)), "label", "'b'"),
        (lambda f: f.assign(shop=[f"id{i}" for i in range(N)]), "label", "'shop'"),
    ],
)
def test_bad_files_are_refused_before_any_work_naming_file_and_column(tmp_path, capsys, change, target, needle):
    path = tmp_path / "bad.csv"
    change(_frame()).to_csv(path, index=False)
    db = tmp_path / "never.sqlite"
    argv = ["compare", "smoke", "--dataset-file", str(path), "--target", target, "--db", str(db), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--dataset-file" in err and str(path) in err and needle in err
    assert not db.exists()


def test_dataset_file_options_are_checked(csv, tmp_path, capsys):
    db = str(tmp_path / "x.sqlite")
    assert main(["compare", "smoke", "--target", "label", "--db", db]) == 2
    assert "--target needs --dataset-file" in capsys.readouterr().err
    assert main(["compare", "smoke", "--dataset-file", str(csv), "--db", db]) == 2
    assert "--target COLUMN" in capsys.readouterr().err
    assert main(["compare", "smoke", "--dataset-file", str(tmp_path / "none.csv"), "--target", "y", "--db", db]) == 2
    assert "--dataset-file.path: no such file" in capsys.readouterr().err
    assert not Path(db).exists()


def test_creditcard_offline_message_says_how_to_run_on_the_downloaded_csv(tmp_path, capsys, monkeypatch):
    from wce_ref import datasets

    if datasets.info("creditcard").availability() not in ("needs download", "missing"):
        pytest.skip("creditcard is available here")
    monkeypatch.setenv("WCE_ALLOW_DOWNLOAD", "0")
    assert main(["compare", "creditcard", "--db", str(tmp_path / "cc.sqlite"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--dataset-file creditcard.csv --target Class --positive 1" in err
