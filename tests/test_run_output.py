"""`wce run` (the README's main command): writes to out/ (git-ignored), never over the committed reports, resumes
stage by stage and ends with its answers on one screen."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from wce_ref import cli, tour

ROOT = Path(__file__).resolve().parents[1]

AGREEMENT = {"frameworks": {"numpy": {"cells": 40, "failed": 0, "worst_ulp": 2.5, "builtins": 4, "builtins_known": 3},
                            "jax": {"cells": 8, "failed": 0, "worst_ulp": 1.0, "builtins": 0, "builtins_known": 0}},
             "report": "out/agreement.md"}  # fmt: skip  (registry order, not alphabetical: kept when read back)
SPEED = {"ratios": {"torch": {"eager": 1.25, "compiled": 0.9}}, "report": "out/speed-cpu.md"}
SUITE = {"report": "out/compare-tour.md", "headline": ["balanced_accuracy: best wce_balanced (1.5)"]}


@pytest.fixture
def stages(monkeypatch, tmp_path):
    """The three stages replaced by fakes that record their calls; the run in a fresh directory."""
    calls: list[str] = []

    def fake(name: str, summary: dict, fail: list[bool]):
        def run(args: argparse.Namespace, out: Path, *rest) -> dict:
            calls.append(name)
            assert Path(out) == Path("out")
            if fail and fail.pop():
                raise KeyboardInterrupt  # Ctrl-C during this stage
            return summary

        return run

    interrupt_suite = [True]
    monkeypatch.setattr(cli, "_tour_agreement", fake("agreement", AGREEMENT, []))
    monkeypatch.setattr(cli, "_tour_speed", fake("speed", SPEED, []))
    monkeypatch.setattr(cli, "_tour_suite", fake("suite", SUITE, interrupt_suite))
    monkeypatch.setattr(cli.frameworks, "names", lambda: ["numpy"])
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(cli.OUT_ENV, raising=False)
    return calls


def test_wce_run_resumes_at_the_stage_it_stopped_and_prints_its_answers(stages, tmp_path, capsys):
    assert cli.main(["run", "--quiet"]) == 130  # interrupted in the suite
    assert stages == ["agreement", "speed", "suite"]
    assert cli.main(["run", "--quiet"]) == 0  # again: the finished stages are kept, the suite runs
    assert stages == ["agreement", "speed", "suite", "suite"]
    out = capsys.readouterr().out
    assert "== wce run 1/3: agreement of every installed framework with the oracle (float64, float32): finished " \
           "by an earlier run, kept" in out  # fmt: skip
    answers = out[out.index("Agreement with the oracle") :]
    assert "numpy       40 cells, 0 failed; ours within 2.5 ULP; built-ins: 3 of 4 cells deviate" in answers
    assert "torch       compiled 0.90x, eager 1.25x" in answers
    assert answers.index("  numpy ") < answers.index("  jax ")  # the recorded order, read back from out/
    assert "balanced_accuracy: best wce_balanced (1.5)" in answers and "wce compare default" in answers
    assert len(answers.splitlines()) <= 24  # one screen
    assert cli.main(["run", "--quiet"]) == 0  # a third time: nothing runs, the same answers
    assert stages == ["agreement", "speed", "suite", "suite"]
    assert capsys.readouterr().out.endswith(answers)
    assert not (tmp_path / "reports").exists() and (tmp_path / "out" / tour.STATE).exists()
    assert "out/" in (ROOT / ".gitignore").read_text().splitlines()


def test_a_record_of_other_frameworks_is_not_reused(stages, monkeypatch, tmp_path):
    tour.save_state(tmp_path / "out", ["numpy", "torch"], {"agreement": AGREEMENT, "speed": SPEED, "suite": SUITE})
    cli.main(["run", "--quiet"])
    assert stages[:2] == ["agreement", "speed"]  # recorded for numpy and torch: run again for numpy alone


def test_suite_headline_reads_the_reports_answer(tmp_path):
    md = tmp_path / "r.md"
    md.write_text("# T\n\n## The answer, over source families\n\nText.\n\n"
                  "- **average_precision**: best `hgb` (1.0); plain CE 2.0; Friedman p = 0.01.\n"
                  "- **f1**: best `x` (1.0).\n\n"
                  "Weighted cross entropy (balanced weights) against plain cross entropy, over families:\n\n"
                  "- recall: families won / tied / lost 9 / 0 / 0\n\n"
                  "## Next\n\n- **recall**: not this one\n")  # fmt: skip
    assert tour.suite_headline(md) == [
        "- average_precision: best hgb (1.0); plain CE 2.0; Friedman p = 0.01.",
        "Weighted cross entropy (balanced weights) against plain cross entropy, over families:",
        "- recall: families won / tied / lost 9 / 0 / 0",
    ]


def test_speed_summary_is_ours_over_the_builtin_per_framework_and_mode(tmp_path):
    from test_bench import _fake_json

    ratios = tour.speed_summary(_fake_json(tmp_path / "bench-quick.json", 1.0))
    assert set(ratios) == {"torch"} and ratios["torch"]["eager"] == pytest.approx(1.2)  # 1.2x by construction


def test_agreement_summary_counts_cells_and_the_worst_ulp_of_ours():
    from wce_ref import agreement

    cells = agreement.enumerate_cells(["numpy"], dtypes=["float64"], losses=["softmax_wce"])
    results = [agreement.run_cell(c) for c in cells]  # the reference and scikit-learn's log_loss
    s = tour.agreement_summary(results)["numpy"]
    ours = [r for r in results if r.cell.impl == "numpy"]
    assert s["cells"] == len(results) and s["failed"] == 0 and s["builtins"] == len(results) - len(ours) > 0
    assert 0 < s["worst_ulp"] == max(r.worst()[0] for r in ours) < 64


def test_call_filtered_keeps_the_progress_bar_and_logs_the_rest(tmp_path, capfd):
    import sys

    script = ("import sys; print('a table'); sys.stderr.write('oneDNN notice\\n\\rbench 1/2\\rbench 2/2\\n'); "
              "sys.stderr.write('W0000 late notice\\n')")  # fmt: skip
    assert tour.call_filtered([sys.executable, "-c", script], tmp_path / "log", r"\r?bench") == 0
    err = capfd.readouterr().err
    assert "bench 1/2\rbench 2/2\n" in err and "notice" not in err and "table" not in err
    log = (tmp_path / "log").read_text()
    assert "a table" in log and "oneDNN notice" in log and "late notice" in log and "bench" not in log


def test_stderr_to_catches_what_native_code_writes_to_fd_2(tmp_path, capfd):
    import os

    with tour.stderr_to(tmp_path / "frameworks.log"):
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on\n")  # as a C++ logger writes it
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
    assert "oneDNN" in (tmp_path / "frameworks.log").read_text()


def test_call_filtered_hands_the_benchmark_counts_to_the_progress_line(tmp_path, capfd):
    import sys

    script = ("import sys; sys.stderr.write('wce-bench-progress 0/2\\nnotice\\nwce-bench-progress 1/2\\n"
              "wce-bench-progress 2/2\\n')")  # fmt: skip
    seen = []
    rc = tour.call_filtered([sys.executable, "-c", script], tmp_path / "log", r"wce-bench-progress \d+/\d+",
                            on_match=seen.append)  # fmt: skip
    assert rc == 0 and seen == [b"wce-bench-progress 0/2\n", b"wce-bench-progress 1/2\n", b"wce-bench-progress 2/2\n"]
    assert "wce-bench" not in capfd.readouterr().err and "notice" in (tmp_path / "log").read_text()


@pytest.fixture
def counting_stages(monkeypatch, tmp_path):
    """Fake stages that report their cells the way the real ones do (through cli._stage_count)."""

    def fake(name: str, summary: dict, cells: int):
        def run(args, out, *rest) -> dict:
            line = rest[-1]
            os.write(2, b"E0000 cuda_platform.cc: failed call to cuInit\n")  # a framework's notice while it runs
            if line is not None:
                for done in range(cells + 1):
                    cli._stage_count(line, name, done, cells)
            return summary

        return run

    monkeypatch.setattr(cli, "_tour_agreement", fake("agreement", AGREEMENT, 5))
    monkeypatch.setattr(cli, "_tour_speed", fake("speed", SPEED, 3))
    monkeypatch.setattr(cli, "_tour_suite", fake("suite", SUITE, 4))
    monkeypatch.setattr(cli.frameworks, "names", lambda: ["numpy"])
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(cli.OUT_ENV, raising=False)


def test_wce_run_draws_one_progress_line_for_all_stages_and_none_when_quiet(counting_stages, capfd):
    assert cli.main(["run"]) == 0
    err = capfd.readouterr().err
    assert "cuInit" not in err and "cuInit" in (Path("out") / "frameworks.log").read_text()  # notices: the log
    lines = [x for x in err.splitlines() if x.startswith("wce run ")]
    assert lines, err  # stderr is not a terminal here: plain lines, at the stages' starts and ends
    assert all(" agreement " in x and " benchmarks" in x and " suite" in x and " left" in x for x in lines)
    assert "agreement done, benchmarks done, suite done" in lines[-1] and "100%" in lines[-1]
    assert "agreement 0/5, benchmarks, suite" in lines[0]
    assert "it/s" not in err and "|" not in err  # no per-stage (tqdm) bar
    (Path("out") / tour.STATE).unlink()
    assert cli.main(["run", "--quiet"]) == 0
    assert "wce run " not in capfd.readouterr().err  # quiet stays quiet


def test_the_compare_engine_reports_its_cells_to_the_line_inside_suite_progress():
    from wce_ref import _eta
    from wce_ref.compare.engine import _run

    line = _eta.ProgressLine(_eta.Eta([_eta.Stage("suite", 10.0)]), {}, stream=__import__("io").StringIO())
    suite = __import__("wce_ref.compare", fromlist=["load_suite"]).load_suite("tour")
    original = _run._progress_bar
    summary = argparse.Namespace(total=330, already_done=30, suite=suite)
    with tour.suite_progress(line, suite):
        bar = _run._progress_bar(summary, True)
        bar.update(1)
        bar.close()
        assert _run._progress_bar(summary, False) is None
    assert _run._progress_bar is original  # put back
    s = line.eta.stages["suite"]
    assert (s.cells, s.done, s.ran) == (330, 31, 1)
    assert s.work is not None and s.work == sorted(s.work) and s.work[0] < s.work[-1]  # dataset sizes, smallest first
    import inspect

    assert "_progress_bar(summary, show_progress)" in inspect.getsource(_run._consume)  # the hook the engine calls
