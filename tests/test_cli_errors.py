"""Bad command lines and bad suite files: a non-zero exit, a short message naming the culprit, no traceback.

Most cases call ``cli.main`` in-process (fast); a few run ``python -m wce_ref`` to
check what a user sees end to end.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("imblearn")
pytest.importorskip("scikit_posthocs")

from wce_ref import check  # noqa: E402
from wce_ref.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = """datasets = ["synthetic_small"]
strategies = ["baseline"]
models = ["sklearn_lr"]
[protocol]
folds = 2
repeats = 1
"""

#: suite files that must be rejected before any work: (file content, the message naming the key)
BAD_SUITES = {
    "description_number": ("description = 7\n" + TINY, "description must be text; received int 7"),
    "published_text": ('published = "x"\n' + TINY, "published must be a table .* received str 'x'"),
    "published_figure": (
        TINY + '[published]\nmetrics = ["f1"]\n[published.results.baseline]\nf1 = "high"\n',
        "published.results.baseline.f1 must be a finite number; received 'high'",
    ),
    "lr_text": (TINY + '[training]\nlr = "fast"\n', "training.lr must be a number > 0; received str 'fast'"),
    "validation_fraction": (
        TINY + "[training]\nvalidation_fraction = 1.5\n",
        r"training.validation_fraction must be a number in \[0, 1\); received 1.5",
    ),
    "max_epochs_negative": (TINY + "[training]\nmax_epochs = -5\n", "training.max_epochs must be an integer >= 1"),
    "training_unknown_key": (TINY + "[training]\nepochs = 5\n", r"training: unknown key\(s\) \['epochs'\]"),
    "protocol_number": ("protocol = 5\n" + TINY.split("[protocol]")[0], r"protocol must be a table \(\[protocol\]\)"),
    "folds_text": (TINY.replace("folds = 2", 'folds = "three"'), "protocol.folds must be an integer >= 2; .* 'three'"),
    "folds_fraction": (TINY.replace("folds = 2", "folds = 2.5"), "protocol.folds must be an integer >= 2; .* 2.5"),
    "folds_one": (TINY.replace("folds = 2", "folds = 1"), "protocol.folds must be an integer >= 2; received 1"),
    "strategies_number": (TINY.replace('["baseline"]', "5"), "strategies: expected a non-empty list"),
    "toml_syntax": (TINY + "[training\n", "Expected ']' at the end of a table declaration"),
}


def _run_main(argv: list[str], capsys) -> tuple[int, str]:
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2
        rc = exc.code
    return rc, capsys.readouterr().err


def _assert_clear(rc: int, err: str, pattern: str) -> None:
    import re

    assert rc not in (0, None), err
    assert "Traceback" not in err
    assert re.search(pattern, err), err
    assert len(err) < 1000 and "\n\n" not in err.strip(), err  # one short paragraph


@pytest.mark.parametrize("case", sorted(BAD_SUITES))
def test_bad_suite_file_is_rejected_before_work(case, tmp_path, capsys):
    content, message = BAD_SUITES[case]
    suite = tmp_path / "bad.toml"
    suite.write_text(content)
    db = tmp_path / "db.sqlite"
    rc, err = _run_main(["compare", str(suite), "--db", str(db), "--out", str(tmp_path), "--quiet"], capsys)
    _assert_clear(rc, err, f"suite file .*bad.toml: {message}")
    assert not db.exists()


@pytest.fixture
def tiny(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def _cases(tmp: Path, tiny: Path) -> dict[str, tuple[list[str], str]]:
    """Command lines (with the files they need made in ``tmp``) and the message each must print."""
    (tmp / "text.txt").write_text("not a database\n")
    (tmp / "empty.sqlite").write_bytes(b"")
    with sqlite3.connect(tmp / "other.sqlite") as con:  # a SQLite file some other program wrote
        con.execute("CREATE TABLE things (x)")
    con.close()
    (tmp / "a_dir.toml").mkdir()
    (tmp / "latin1.toml").write_bytes("description = 'caf\xe9'\n".encode("latin-1"))
    db = ["--db", str(tmp / "db.sqlite")]
    out = ["--out", str(tmp)]
    compare = ["compare", str(tiny), "--quiet", *out]
    return {
        "folds_zero": ([*compare, *db, "--folds", "0"], "argument --folds: must be a positive integer; received '0'"),
        "repeats_zero": ([*compare, *db, "--repeats", "0"], "argument --repeats: must be a positive integer"),
        "folds_one": ([*compare, *db, "--folds", "1"], "--folds must be an integer >= 2; received 1"),
        "jobs_negative": ([*compare, *db, "--jobs", "-1"], "argument --jobs: must be a positive integer; .* '-1'"),
        "suite_directory": (["compare", str(tmp / "a_dir.toml"), *db], "a_dir.toml' is a directory"),
        "suite_not_utf8": (["compare", str(tmp / "latin1.toml"), *db], "suite file .*latin1.toml: not UTF-8"),
        "db_text_file": ([*compare, "--db", str(tmp / "text.txt")], "text.txt: it is not a SQLite database"),
        "db_directory": ([*compare, "--db", str(tmp / "a_dir.toml")], "a_dir.toml is a directory"),
        "db_unwritable": ([*compare, "--db", str(tmp / "text.txt" / "x.sqlite")], "cannot open the results store"),
        "out_is_a_file": (["compare", str(tiny), *db, "--out", str(tmp / "text.txt")], "--out: .*text.txt is a file"),
        "reuse_missing": ([*compare, *db, "--reuse", str(tmp / "nope.sqlite")], "reuse: no results store at .*nope"),
        "reuse_not_sqlite": ([*compare, *db, "--reuse", str(tmp / "text.txt")], "reuse: .*text.txt: it is not a SQLite"),  # noqa: E501
        "reuse_own_store": ([*compare, *db, "--reuse", str(tmp / "db.sqlite")], "reuse: .*db.sqlite is the suite's own"),  # noqa: E501
        "collection": (["datasets", "list", "--collection", "bogus"], "--collection: unknown collection 'bogus'"),
        "check_dtype": (["check", "--frameworks", "numpy", "--dtypes", "float8", *out], "--dtypes: .*float8"),
        "check_device": (["check", "--frameworks", "numpy", "--devices", "tpu", *out], "--devices: .*'tpu'"),
        "report_not_sqlite": (
            ["report", "compare", str(tiny), "--db", str(tmp / "text.txt"), "--out", str(tmp)],
            "text.txt: it is not a SQLite database",
        ),
        "report_missing_db": (
            ["report", "compare", str(tiny), "--db", str(tmp / "new" / "dir" / "x.sqlite"), "--out", str(tmp)],
            "db: no results store at .*x.sqlite",
        ),
        "report_speed_missing": (["report", "speed", str(tmp / "nope.json")], "JSON: .*nope.json does not exist"),
        "report_empty_db": (
            ["report", "compare", str(tiny), "--db", str(tmp / "empty.sqlite"), *out],
            "db: .*empty.sqlite is a SQLite file without a results table",
        ),
        "report_schema_less_db": (
            ["report", "compare", str(tiny), "--db", str(tmp / "other.sqlite"), *out],
            "db: .*other.sqlite is a SQLite file without a results table .*not written by `wce compare`",
        ),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case",
    [
        "folds_zero",
        "repeats_zero",
        "folds_one",
        "jobs_negative",
        "suite_directory",
        "suite_not_utf8",
        "db_text_file",
        "db_directory",
        "db_unwritable",
        "out_is_a_file",
        "reuse_missing",
        "reuse_not_sqlite",
        "reuse_own_store",
        "collection",
        "check_dtype",
        "check_device",
        "report_not_sqlite",
        "report_missing_db",
        "report_speed_missing",
        "report_empty_db",
        "report_schema_less_db",
    ],
)
def test_bad_command_line_is_a_clear_error(case, tmp_path, tiny, capsys):
    argv, message = _cases(tmp_path, tiny)[case]
    before = sorted(p.name for p in tmp_path.iterdir())
    rc, err = _run_main(argv, capsys)
    _assert_clear(rc, err, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, no store, no report


@pytest.mark.parametrize("case", ["jobs_negative", "suite_not_utf8", "report_speed_missing", "out_is_a_file"])
def test_bad_command_line_from_a_shell(case, tmp_path, tiny):
    argv, message = _cases(tmp_path, tiny)[case]
    proc = subprocess.run([sys.executable, "-m", "wce_ref", *argv], cwd=ROOT, capture_output=True, text=True)
    _assert_clear(proc.returncode, proc.stderr, message)


def test_unreachable_scheduler_names_its_address(tmp_path, tiny, capsys, monkeypatch):
    pytest.importorskip("distributed")
    from wce_ref.compare.engine import _execute

    monkeypatch.setattr(_execute, "SCHEDULER_TIMEOUT_S", 1.0)
    argv = ["compare", str(tiny), "--db", str(tmp_path / "d.sqlite"), "--out", str(tmp_path), "--quiet"]
    rc, err = _run_main([*argv, "--scheduler", "tcp://127.0.0.1:1"], capsys)
    _assert_clear(rc, err, "--scheduler: cannot reach the Dask scheduler at 'tcp://127.0.0.1:1' within 1 s")


def test_an_empty_agreement_matrix_never_replaces_a_report(tmp_path, capsys):
    (tmp_path / "agreement.md").write_text("the committed matrix\n")
    with pytest.raises(ValueError, match="no cell matches .* left unchanged"):
        check.write_reports([], {}, tmp_path)
    rc, err = _run_main(["check", "--frameworks", "numpy", "--dtypes", "float8", "--out", str(tmp_path)], capsys)
    assert rc == 2 and "float8" in err
    assert (tmp_path / "agreement.md").read_text() == "the committed matrix\n"
    assert not (tmp_path / "agreement.json").exists()


def test_skipping_line_says_why_a_framework_does_not_run_here():
    """A framework that is missing names the pip command of its extra (Keras: its backend's); one that runs only in
    a process of its own (Keras on another backend) says so instead of calling itself "not installed"."""
    from wce_ref.frameworks._base import Backend
    from wce_ref.frameworks._keras import KerasJax

    missing = Backend(name="missing_fw", module="no_such_module_for_wce_ref_tests")
    assert missing.skip_reason() == "not installed (pip install 'wce-ref[missing_fw]')"
    assert KerasJax().install_hint() == "pip install 'wce-ref[keras,jax]'"

    class Elsewhere(KerasJax):
        def available(self) -> bool:
            return False

        def installed(self) -> bool:
            return True

    assert "process of its own" in Elsewhere().skip_reason()
