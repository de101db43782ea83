"""`wce run` (the README's main command) writes to out/ (git-ignored) and never over the committed reports."""

from __future__ import annotations

import argparse
from pathlib import Path

from wce_ref import cli

ROOT = Path(__file__).resolve().parents[1]


def test_wce_run_writes_to_out_not_the_committed_reports(tmp_path, monkeypatch, capsys):
    seen: dict[str, argparse.Namespace] = {}

    def record(name: str):
        def fake(args: argparse.Namespace) -> int:
            seen[name] = args
            return 0

        return fake

    for name in ("cmd_check", "cmd_bench", "cmd_compare"):
        monkeypatch.setattr(cli, name, record(name))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(cli.OUT_ENV, raising=False)
    assert cli.main(["run", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert {Path(a.out) for a in seen.values()} == {Path("out")}
    assert Path(seen["cmd_compare"].db) == Path("out/compare-default.sqlite")
    assert "out/" in out.splitlines()[0] and out.rstrip().endswith("the reports are in out/")
    assert "out/" in (ROOT / ".gitignore").read_text().splitlines()
    assert not (tmp_path / "reports").exists()
    # pointed explicitly at a directory, it writes there
    assert cli.main(["run", "--out", str(tmp_path / "mine")]) == 0
    assert Path(seen["cmd_check"].out) == tmp_path / "mine"
