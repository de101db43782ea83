"""Committed results change only when asked: every command writes to the git-ignored ``out/`` by default,
and a report rendered twice from the same store is the same bytes."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

from test_bench import _fake_json

from wce_ref import cli

ROOT = Path(__file__).resolve().parents[1]

SUITE = """description = "Six cells over two datasets and three strategies: enough for a critical-difference diagram."
datasets = ["synthetic_small", "breast_cancer_imb"]
strategies = ["baseline", "wce_balanced", "ros"]
models = ["sklearn_lr"]
metrics = ["average_precision", "f1"]
[protocol]
folds = 2
repeats = 1
"""


def listing(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``directory`` with its size and modification time (empty when it does not exist).

    SQLite's git-ignored ``-shm`` / ``-wal`` files are left out: a reader of a store in WAL mode updates them.
    """
    if not directory.exists():
        return {}
    files = (p for p in directory.rglob("*") if p.is_file() and not p.name.endswith(("-shm", "-wal")))
    return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns) for p in files}


def test_every_command_defaults_to_out_or_wce_out(monkeypatch):
    monkeypatch.delenv(cli.OUT_ENV, raising=False)
    argv = {"run": [], "check": [], "compare": [], "bench": [], "report": ["compare"]}
    for command, rest in argv.items():
        assert cli.build_parser().parse_args([command, *rest]).out == "out", command
    assert "out/" in (ROOT / ".gitignore").read_text().splitlines()
    monkeypatch.setenv(cli.OUT_ENV, "/tmp/elsewhere")
    for command, rest in argv.items():
        assert cli.build_parser().parse_args([command, *rest]).out == "/tmp/elsewhere", command
    assert "default: /tmp/elsewhere/" in cli.build_parser().format_help()


def test_commands_with_default_arguments_write_nothing_under_reports(tmp_path, monkeypatch):
    """check, compare and report in a fresh directory: everything in out/, no reports/ anywhere.

    `wce bench`: tests/test_bench.py; `wce run` hands its --out to its stages: tests/test_run_output.py."""
    monkeypatch.delenv(cli.OUT_ENV, raising=False)
    committed = listing(ROOT / "reports")
    (tmp_path / "tiny.toml").write_text(SUITE)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check", "--frameworks", "numpy", "--dtypes", "float64", "--quiet"]) == 0
    assert cli.main(["compare", "tiny.toml", "--quiet", "--jobs", "1", "--no-report"]) == 0
    assert cli.main(["report", "compare", "tiny.toml"]) == 0
    (tmp_path / "out" / "bench-quick.json").write_text(_fake_json(tmp_path / "bench.json", 1.0).read_text())
    assert cli.main(["report", "speed"]) == 0  # re-renders out/bench-*.json (`wce bench`: tests/test_bench.py)
    assert {"speed-cpu.md", "speed-cpu.html", "speed-cpu"} <= {p.name for p in (tmp_path / "out").iterdir()}
    assert {"agreement.md", "agreement.json", "compare-tiny.md", "compare-tiny.html", "compare-tiny.sqlite"} <= {
        p.name for p in (tmp_path / "out").iterdir()
    }
    assert not (tmp_path / "reports").exists()
    assert listing(ROOT / "reports") == committed


def test_report_compare_reads_the_committed_store_and_writes_to_out(tmp_path, monkeypatch, capsys):
    """``wce report compare SUITE`` with no store in out/ renders the committed one without touching reports/."""
    monkeypatch.delenv(cli.OUT_ENV, raising=False)
    (tmp_path / "tiny.toml").write_text(SUITE)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["report", "compare", "tiny.toml"]) == 2
    err = capsys.readouterr().err
    assert "db: no results store at out/compare-tiny.sqlite" in err, err
    assert cli.main(["compare", "tiny.toml", "--quiet", "--jobs", "1", "--out", "reports", "--no-report"]) == 0
    from wce_ref import compare

    compare.export("reports/compare-tiny.sqlite", "reports/compare-tiny.sqlite.xz")  # the committed form
    (tmp_path / "reports" / "compare-tiny.sqlite").unlink()
    before = listing(tmp_path / "reports")
    assert cli.main(["report", "compare", "tiny.toml"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("from " + str(tmp_path / "reports" / "compare-tiny.sqlite.xz"))
    assert listing(tmp_path / "reports") == before and set(before) == {"compare-tiny.sqlite.xz"}
    assert "suite tiny" in (tmp_path / "out" / "compare-tiny.md").read_text()


def test_two_renders_of_a_store_are_byte_identical(tmp_path):
    """Another process, hash seed and time zone: the same Markdown, HTML and PNG bytes, no software version."""
    suite = tmp_path / "tiny.toml"
    suite.write_text(SUITE)
    db = tmp_path / "t.sqlite"
    first = ["compare", str(suite), "--db", str(db), "--out", str(tmp_path / "a"), "--quiet", "--jobs", "1"]
    assert cli.main(first) == 0
    env = {**os.environ, "PYTHONHASHSEED": "12345", "TZ": "Asia/Kolkata"}
    again = ["report", "compare", str(suite), "--db", str(db), "--out", str(tmp_path / "b")]
    cmd = [sys.executable, "-m", "wce_ref", *again]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    a, b = listing(tmp_path / "a"), listing(tmp_path / "b")
    assert sorted(a) == sorted(b) and any(name.endswith("cd-f1.png") for name in a), sorted(a)
    differ = [name for name in a if not filecmp.cmp(tmp_path / "a" / name, tmp_path / "b" / name, shallow=False)]
    assert not differ
    png = (tmp_path / "a" / "compare-tiny" / "cd-f1.png").read_bytes()
    assert b"Software" not in png and b"Matplotlib" not in png


def test_tox_writes_the_committed_reports_only_when_asked():
    tox = (ROOT / "tox.ini").read_text()
    assert "--out {tox_root}/reports" not in tox and "--out reports" not in tox.replace("-- --out reports", "")
