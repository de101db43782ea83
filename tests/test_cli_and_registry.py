from __future__ import annotations

import json
import subprocess
import sys

import pytest

from wce_ref import cli, frameworks


def test_registry_resolves_aliases_and_rejects_unknown_names():
    assert frameworks.resolve("tf") == "tensorflow"
    assert frameworks.resolve("PyTorch") == "torch"
    with pytest.raises(ValueError, match="framework must be one of .* received 'mxnet'"):
        frameworks.resolve("mxnet")


def test_framework_imports_are_lazy():
    code = (
        "import sys, wce_ref, wce_ref.frameworks as f, wce_ref.agreement;"
        "[f.get(n) for n in f.names()];"
        "print(sorted(m for m in ('torch','tensorflow','jax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unavailable_framework_is_a_clear_error(monkeypatch):
    backend = frameworks.get("jax")
    monkeypatch.setattr(backend, "module", "jax_that_does_not_exist")
    monkeypatch.setattr(backend, "_mod", None)
    with pytest.raises(frameworks.FrameworkUnavailable, match=r"framework 'jax' cannot be imported.*wce-ref\[jax\]"):
        backend.load()


def test_check_writes_reports(tmp_path, capsys):
    rc = cli.main(["check", "--frameworks", "numpy", "--dtypes", "float64,float32", "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    data = json.loads((tmp_path / "agreement.json").read_text())
    assert {c["dtype"] for c in data["cells"]} == {"float64", "float32"}
    assert all(c["status"] in ("pass", "known") for c in data["cells"])
    md = (tmp_path / "agreement.md").read_text()
    assert "| numpy | cpu | softmax_wce |" in md and "sklearn.log_loss" in md
    assert "softmax_wce" in capsys.readouterr().out
    html = (tmp_path / "agreement.html").read_text()
    assert '<h2 id="answer">' in html and "<table>" in html and "**" not in html
    # rendered again from its data: the same bytes, the data copied beside the report
    assert cli.main(["report", "check", str(tmp_path / "agreement.json"), "--out", str(tmp_path / "again")]) == 0
    for name in ("agreement.md", "agreement.html", "agreement.json"):
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_report_check_names_a_missing_or_foreign_file(tmp_path, capsys):
    assert cli.main(["report", "check", str(tmp_path / "nope.json"), "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "other.json").write_text('{"benchmarks": []}')
    assert cli.main(["report", "check", str(tmp_path / "other.json"), "--out", str(tmp_path)]) == 2
    assert "is not a `wce check` report's data" in capsys.readouterr().err


def test_check_rejects_unknown_framework(capsys):
    assert cli.main(["check", "--frameworks", "caffe", "--quiet"]) == 2
    assert "received 'caffe'" in capsys.readouterr().err
