"""``wce run``: the project's tour on the embedded defaults, resumable stage by stage, ending with its answers.

Three stages, each recorded in ``OUT/run-state.json`` when it finishes: the agreement of every installed
framework with the oracle (float64, float32), the quick speed benchmarks, and the ``tour`` suite (its cells
are stored as they finish, so an interrupted suite resumes at its next cell). Run again, ``wce run`` skips the
stages that finished for the same frameworks and package version and prints the same answers. The frameworks'
log noise is silenced and their caches (Keras, Matplotlib) are kept inside the output directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from ._eta import ProgressLine

#: the suite `wce run` runs (suites/tour.toml): the default suite's question, sized for minutes
SUITE = "tour"
#: the stages' record in the output directory
STATE = "run-state.json"
#: the report metrics whose headline lines the summary shows
HEADLINE_METRICS = ("balanced_accuracy", "average_precision", "recall", "brier")


def quiet_environment(out: Path) -> None:
    """Silence the frameworks' own logs and keep their caches in ``out`` (set before any framework import).

    Parameters
    ----------
    out : Path
        The output directory; ``.keras`` and ``.matplotlib`` go there unless already configured.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's and XLA's C++ notices (oneDNN, CUDA probes)
    os.environ.setdefault("KERAS_HOME", str((out / ".keras").resolve()))
    os.environ.setdefault("MPLCONFIGDIR", str((out / ".matplotlib").resolve()))
    for category in (DeprecationWarning, FutureWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category, module=r"(torch|tensorflow|keras|jax|absl)(\.|$)")


@contextlib.contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Send file descriptor 2 to ``path`` (appended) for the block: the C++ notices frameworks print on import.

    Parameters
    ----------
    path : Path
        The log file.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def terminal() -> TextIO:
    """A text stream on a copy of file descriptor 2 as it is now: still the terminal after :func:`stderr_to` has
    sent descriptor 2 to a log (``wce run``'s progress line and notices; close it when done).

    Returns
    -------
    file
        Line-buffered text stream.
    """
    sys.stderr.flush()
    return os.fdopen(os.dup(2), "w", buffering=1)


def call_filtered(cmd: list[str], log: Path, keep: str, on_match: Callable[[bytes], None] | None = None,
                  **kwargs: Any) -> int:  # fmt: skip
    """Run ``cmd`` with its output in ``log``, except the stderr lines matching ``keep`` (a progress bar).

    Parameters
    ----------
    cmd : list of str
        The command.
    log : Path
        Its stdout and every other stderr line go here.
    keep : str
        A regular expression; stderr lines (``\r`` or ``\n`` terminated) that match it go to the terminal.
    on_match : callable, optional
        Called with each matching line instead (``wce run``'s progress line reads the benchmarks' counts).
    **kwargs
        Passed to :class:`subprocess.Popen` (``env``, ``cwd``).

    Returns
    -------
    int
        The exit status.
    """
    pattern = re.compile(keep.encode())
    with open(log, "wb") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.PIPE, **kwargs)
        rest = b""
        while chunk := proc.stderr.read1(4096):
            *lines, rest = re.split(rb"(?<=[\r\n])", rest + chunk)
            for line in lines:
                if not pattern.match(line):
                    f.write(line)
                elif on_match is not None:
                    on_match(line)
                else:
                    sys.stderr.buffer.write(line)
            sys.stderr.flush()
        f.write(rest)
        return proc.wait()


def _key(names: list[str]) -> dict[str, Any]:
    from . import __version__

    return {"frameworks": sorted(names), "wce_ref": __version__, "suite": SUITE}


def load_state(out: Path, names: list[str]) -> dict[str, Any]:
    """The finished stages' summaries in ``out`` for these frameworks (empty when another run wrote them).

    Parameters
    ----------
    out : Path
        The output directory.
    names : list of str
        The frameworks of this run.

    Returns
    -------
    dict
        Stage name -> the summary it recorded.
    """
    path = out / STATE
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return dict(state.get("stages", {})) if state.get("key") == _key(names) else {}


def save_state(out: Path, names: list[str], stages: dict[str, Any]) -> None:
    """Record the finished stages (written to a temporary file and moved into place)."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{STATE}.tmp"
    tmp.write_text(json.dumps({"key": _key(names), "stages": stages}, indent=1) + "\n")  # in the order printed
    tmp.replace(out / STATE)


def agreement_summary(results: list[Any]) -> dict[str, dict[str, Any]]:
    """Per framework: cells, failures, the worst ULP of this project's losses, built-in cells beyond tolerance.

    Parameters
    ----------
    results : list of wce_ref.agreement.CellResult
        The matrix.

    Returns
    -------
    dict
        Framework -> ``cells``, ``failed``, ``worst_ulp`` (ours), ``builtins``, ``builtins_known``.
    """
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        s = out.setdefault(r.cell.framework, {"cells": 0, "failed": 0, "worst_ulp": 0.0, "builtins": 0,
                                              "builtins_known": 0})  # fmt: skip
        s["cells"] += 1
        s["failed"] += r.status == "fail"
        if r.cell.impl == r.cell.framework:
            s["worst_ulp"] = max(s["worst_ulp"], float(r.worst()[0]))
        else:
            s["builtins"] += 1
            s["builtins_known"] += r.status == "known"
    return out


def speed_summary(json_path: Path) -> dict[str, dict[str, float]]:
    """Per framework and mode: the geometric mean of ours / the same-convention built-in's median time.

    Parameters
    ----------
    json_path : Path
        A ``wce bench`` JSON file.

    Returns
    -------
    dict
        Framework -> mode (``eager``, ``compiled``) -> ratio (below 1: ours is faster).
    """
    from .bench import report

    df, _ = report.load([json_path])
    ratios = report._ratios(df, "median_s")
    out: dict[str, dict[str, float]] = {}
    for key, value in ratios.groupby(level=["framework", "mode"]):
        out.setdefault(key[0], {})[key[1]] = report._gmean(value.tolist())
    return out


def suite_headline(md: Path) -> list[str]:
    """The report's answer in plain text: its headline metrics' lines and balanced WCE against plain CE.

    Parameters
    ----------
    md : Path
        The suite's Markdown report.

    Returns
    -------
    list of str
        Lines without Markdown emphasis or code marks.
    """
    text = md.read_text()
    start = text.find("## The answer")
    section = text[start : text.find("\n## ", start + 1)] if start >= 0 else ""
    lines = []
    for line in section.splitlines():
        plain = re.sub(r"[*`]", "", line).strip()
        if line.startswith("- ") and any(plain[2:].startswith(f"{m}:") for m in HEADLINE_METRICS):
            lines.append(plain)
        elif plain.startswith("Weighted cross entropy (balanced weights)"):
            lines.append(plain)
    return lines


def run_stages(stages: list[tuple[str, str, Callable[[], dict]]], out: Path, names: list[str],
               line: ProgressLine | None = None) -> dict[str, Any]:  # fmt: skip
    """Run each stage not recorded as finished, recording it when it finishes; print one line per stage.

    Parameters
    ----------
    stages : list of (name, title, run)
        ``run()`` returns the stage's summary (JSON-serialisable).
    out : Path
        The output directory.
    names : list of str
        The frameworks of this run (a record for others is not reused).
    line : ProgressLine, optional
        The run's progress line (:func:`progress_line`); the stages report their cells to it.

    Returns
    -------
    dict
        Stage name -> summary, every stage included.
    """
    done = load_state(out, names)
    started = time.monotonic()
    for name, *_ in stages:
        if name in done and line is not None:
            line.finish(name)
    try:
        for i, (name, title, run) in enumerate(stages, 1):
            if line is not None:
                line.clear()
            if name in done:
                print(f"\n== wce run {i}/{len(stages)}: {title}: finished by an earlier run, kept ({out / STATE})")
                continue
            print(f"\n== wce run {i}/{len(stages)}: {title} (elapsed {_clock(time.monotonic() - started)})",
                  flush=True)  # fmt: skip
            done[name] = run()
            save_state(out, names, done)
            if line is not None:
                line.finish(name)
    finally:
        if line is not None:
            line.clear()
    print(f"\nwce run: finished in {_clock(time.monotonic() - started)}")
    return done


def progress_line(names: list[str], quiet: bool, stream: TextIO | None = None) -> ProgressLine | None:
    """The run's one progress line (``None`` with ``--quiet``): the stages' priors for ``names``.

    Parameters
    ----------
    names : list of str
        The installed frameworks (the agreement and benchmark stages' priors scale with them).
    quiet : bool
        No line at all.
    stream : file, optional
        Where the line goes (default ``sys.stderr``; ``wce run``: :func:`terminal`).

    Returns
    -------
    ProgressLine or None
    """
    if quiet:
        return None
    from ._eta import PER_FRAMEWORK, PRIOR_SECONDS, Eta, ProgressLine, Stage

    scale = max(len(names), 1)
    stages = [Stage(n, s * (scale if n in PER_FRAMEWORK else 1)) for n, s in PRIOR_SECONDS.items()]
    return ProgressLine(Eta(stages), {"agreement": "agreement", "speed": "benchmarks", "suite": "suite"}, stream)


def suite_work(suite: Any, total: int) -> list[float] | None:
    """The suite's cells' expected costs in the order the engine runs them: its datasets' rows, smallest first
    (a fixed part per cell added); ``None`` when the count differs from ``total`` (the engine counted otherwise).

    Parameters
    ----------
    suite : wce_ref.compare.Suite
        The suite.
    total : int
        Its number of cells, as the engine counts them.

    Returns
    -------
    list of float or None
    """
    from . import datasets
    from .compare import cells

    rows = {}
    for c in (all_cells := cells(suite)):
        if c.dataset not in rows:
            rows[c.dataset] = getattr(datasets.info(c.dataset), "n_rows", 0) or 0
    work = sorted(rows[c.dataset] + 1000.0 for c in all_cells)
    return work if len(work) == total else None


class _LineBar:
    """What the compare engine's progress bar does, told to the run's line."""

    def __init__(self, line: ProgressLine) -> None:
        self.line = line

    def update(self, n: int = 1) -> None:
        self.line.advance("suite", n)

    def close(self) -> None:
        pass


@contextlib.contextmanager
def suite_progress(line: ProgressLine | None, suite: Any) -> Iterator[None]:
    """For the block, the compare engine reports its cells to ``line`` instead of drawing its own bar.

    The engine draws its bar through its module's ``_progress_bar(summary, show)``; that function is replaced for
    the block (and put back after), so the engine's code stays as it is. ``line`` ``None``: nothing changes.
    """
    if line is None:
        yield
        return
    from .compare.engine import _run

    def bar(summary: Any, show: bool) -> _LineBar | None:
        if not show:
            return None
        line.start("suite", summary.total, summary.already_done, work=suite_work(suite, summary.total))
        return _LineBar(line)

    saved = _run._progress_bar
    _run._progress_bar = bar
    try:
        yield
    finally:
        _run._progress_bar = saved


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}:{s:02d}"


def print_summary(done: dict[str, Any], out: Path) -> None:
    """The answers on one screen: agreement per framework, speed per framework, the suite's headline."""
    agreement = done.get("agreement", {})
    names = [*agreement.get("frameworks", {}), *done.get("speed", {}).get("ratios", {})]
    width = max([10, *map(len, names)]) + 1  # one column for every framework name, keras-tensorflow too
    print(f"\nAgreement with the oracle, float64 and float32 ({out / 'agreement.md'}):")
    for fw, s in agreement.get("frameworks", {}).items():
        builtins = f"; built-ins: {s['builtins_known']} of {s['builtins']} cells deviate as documented" if s[
            "builtins"] else ""  # fmt: skip
        cells = f"{s['cells']} cells, {s['failed']} failed; ours within {s['worst_ulp']:.3g} ULP"
        print(f"  {fw:<{width}} {cells}{builtins}")
    speed = done.get("speed", {})
    if speed.get("skipped"):
        print(f"\nSpeed: skipped ({speed['skipped']})")
    else:
        print(f"\nSpeed, ours / the framework's built-in, geometric mean (below 1: ours faster; {speed.get('report')})"
              ":")
        for fw, modes in speed.get("ratios", {}).items():
            print(f"  {fw:<{width}} " + ", ".join(f"{m} {r:.2f}x" for m, r in sorted(modes.items())))
    suite = done.get("suite", {})
    print(f"\nDoes weighting help? Suite `{SUITE}` ({suite.get('report')}):")
    for line in suite.get("headline", []):
        print(f"  {line}")
    print(f"\nReports: {out}/. The whole question: `wce compare default`; larger suites: `wce compare benchmark`, "
          "`multiclass`, `longtail`.")  # fmt: skip
