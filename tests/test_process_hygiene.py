"""Process hygiene: no process of a `wce compare --jobs 2` run survives its parent (kill -9, SIGTERM, Ctrl-C).

The run starts in its own session, so every process it starts (the parent, the
spawned workers, multiprocessing's resource tracker) shares that session id;
after the parent is stopped none of them may be alive 10 s later.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("imblearn")

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

ROOT = Path(__file__).resolve().parents[1]
# long enough that a run is still going when it is stopped: 240 cells of about 20 ms
SUITE = """datasets = ["synthetic_small"]
strategies = ["baseline", "wce_balanced", "ros", "rus"]
models = ["linear"]
[protocol]
folds = 3
repeats = 20
"""


def _session(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, pgrp, session, ...
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def _rows(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.Error:
        return 0


def _default_sigint() -> None:
    """Ctrl-C's default action in the run, as in a terminal: a test runner started in the background of a
    non-interactive shell has SIGINT ignored, and the run would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """A `--jobs 2` run, once both workers exist and cells are being stored."""
    (tmp_path / "hygiene.toml").write_text(SUITE)
    db = tmp_path / "h.sqlite"
    cmd = [sys.executable, "-m", "wce_ref", "compare", str(tmp_path / "hygiene.toml"), "--jobs", "2", "--quiet",
           "--db", str(db), "--out", str(tmp_path), "--no-report"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=_default_sigint)  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if len(_session(proc.pid)) >= 4 and _rows(db) >= 4:  # parent, resource tracker, 2 workers
            return proc, db
        time.sleep(0.05)
    proc.kill()
    _survivors(proc.pid, 0)
    pytest.fail(f"the run did not reach 2 busy workers: {proc.stderr.read().decode()[-2000:]}")


def _survivors(sid: int, seconds: float = 10.0) -> list[int]:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if not _session(sid):
            return []
        time.sleep(0.1)
    alive = _session(sid)
    for pid in alive:  # do not leave them behind for the next test
        os.kill(pid, signal.SIGKILL)
    return alive


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_no_process_of_the_run_survives_its_parent(how, tmp_path):
    proc, db = _start(tmp_path)
    if how == "SIGINT":  # Ctrl-C in a terminal: the whole foreground process group gets it
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(getattr(signal, how))
    try:
        _, raw = proc.communicate(timeout=60)  # drains stderr: a full pipe would block the run's exit
    finally:
        survivors = _survivors(proc.pid)
    assert survivors == [], f"still alive 10 s after {how} of the parent: {survivors}"
    if how == "SIGKILL":
        return
    err = raw.decode()
    assert "Traceback" not in err, err
    assert proc.returncode == (143 if how == "SIGTERM" else 130), err
    assert "run the same command again to resume" in err
    notice = "interrupted" if how == "SIGINT" else f"terminated by signal {signal.SIGTERM.value}"
    assert err.count(notice) == 1, err  # one notice, not the run's and the command line's
    with sqlite3.connect(db) as con:  # the run is recorded, with its end and the cells it stored
        ended, cells_run = con.execute("SELECT ended, cells_run FROM runs").fetchone()
    assert ended is not None and cells_run == _rows(db) > 0
