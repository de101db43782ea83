"""``wce run``'s one progress line: every stage's cells on one bar, with an ETA that does not swing.

A stage's own counter (tqdm's) estimates the time left from its recent rate alone: when the cells' costs vary,
or when the cheap cells come first (the suite runs its smallest datasets first), that estimate swings by hours
within seconds. :class:`Eta` estimates the whole run instead, from each stage's cell count and a per-cell rate
that starts at a prior (:data:`PRIOR_SECONDS`, the stage's expected duration on 2 cores) and moves to the
measured rate as cells finish (a shrinkage estimate: the prior counts as :attr:`Eta.prior_cells` cells); the
stages not yet started are scaled by how much faster or slower than the priors this machine has been. The
shown ETA counts down between updates and moves towards a new estimate with a time constant
(:attr:`Eta.tau` seconds), so one slow cell or a stage's count becoming known moves it smoothly.

:class:`ProgressLine` draws the line on a terminal (redrawn in place; a plain line every 30 s when the output is
a file) and prints the stages' messages above it.
"""

from __future__ import annotations

import itertools
import math
import sys
import time
from dataclasses import dataclass
from typing import TextIO

#: a stage's expected duration on 2 cores, seconds (per installed framework where the stage is per framework): the
#: README's run on the project's loaded 2-core machine (agreement 4:11 and benchmarks 2:36 for four frameworks, the
#: suite 6:47); a faster machine shows in the first stage's cells and scales the rest
PRIOR_SECONDS = {"agreement": 60.0, "speed": 40.0, "suite": 400.0}
#: stages whose prior scales with the number of installed frameworks
PER_FRAMEWORK = {"agreement", "speed"}


@dataclass
class Stage:
    """One stage's plan and progress.

    Parameters
    ----------
    name : str
        The stage's name (``agreement``, ``speed``, ``suite``).
    seconds : float
        Its expected duration (the prior) before any of its cells ran.
    cells : int or None
        Its number of cells, known when it starts.
    done : int
        Cells finished, by this run or an earlier one.
    ran : int
        Cells finished by this run.
    elapsed : float
        Seconds this run spent in the stage up to its last finished cell.
    finished : bool
        The stage ended (or an earlier run finished it).
    work : list of float or None
        The cells' expected costs in the order they run (the finished ones first), e.g. the suite's dataset
        sizes; ``None``: every cell costs the same.
    """

    name: str
    seconds: float
    cells: int | None = None
    done: int = 0
    ran: int = 0
    elapsed: float = 0.0
    finished: bool = False
    started_at: float | None = None
    last_at: float | None = None
    work: list[float] | None = None
    _cum: list[float] | None = None

    def units(self, cells: int) -> float:
        """The expected cost of the stage's first ``cells`` cells (in cells when no costs were given)."""
        if self._cum is None:
            return float(cells)
        return self._cum[min(cells, len(self._cum) - 1)]


class Eta:
    """The run's time left, estimated over all its stages and smoothed.

    Parameters
    ----------
    stages : list of Stage
        In the order they run.
    prior_cells : float
        How many cells' worth of evidence a stage's prior rate counts as.
    tau : float
        The shown ETA's time constant in seconds: a new estimate is taken in at ``1 - exp(-dt / tau)``.
    """

    def __init__(self, stages: list[Stage], *, prior_cells: float = 10.0, tau: float = 30.0) -> None:
        if not stages:
            raise ValueError("stages: at least one stage is expected")
        if prior_cells <= 0 or tau <= 0:
            raise ValueError(f"prior_cells and tau must be positive; received {prior_cells!r} and {tau!r}")
        self.stages = {s.name: s for s in stages}
        self.prior_cells, self.tau = prior_cells, tau
        self._shown: float | None = None
        self._shown_at = 0.0

    def _stage(self, name: str) -> Stage:
        try:
            return self.stages[name]
        except KeyError:
            raise ValueError(f"stage: {name!r} is not one of {', '.join(self.stages)}") from None

    def start(self, name: str, cells: int, done: int = 0, now: float | None = None,
              work: list[float] | None = None) -> None:  # fmt: skip
        """The stage ``name`` starts with ``cells`` cells, ``done`` of them finished by an earlier run; ``work``:
        each cell's expected cost in run order (``cells`` positive numbers), when the costs differ."""
        if cells < 0 or not 0 <= done <= cells:
            raise ValueError(f"cells, done: 0 <= done <= cells is expected; received {cells!r}, {done!r}")
        if work is not None and (len(work) != cells or any(not w > 0 for w in work)):
            raise ValueError(f"work: {cells} positive costs (one per cell) are expected; received {len(work)}")
        s = self._stage(name)
        now = time.monotonic() if now is None else now
        s.cells, s.done, s.started_at, s.last_at, s.work = cells, done, now, now, work
        s._cum = None if work is None else [0.0, *itertools.accumulate(float(w) for w in work)]

    def advance(self, name: str, n: int = 1, now: float | None = None) -> None:
        """``n`` more cells of the stage ``name`` finished."""
        s = self._stage(name)
        now = time.monotonic() if now is None else now
        if s.started_at is None:
            raise ValueError(f"stage {name!r}: advance before start")
        s.done, s.ran = s.done + n, s.ran + n
        s.elapsed, s.last_at = now - s.started_at, now

    def finish(self, name: str, now: float | None = None) -> None:
        """The stage ``name`` ended (or was finished by an earlier run)."""
        s = self._stage(name)
        s.finished = True
        if s.started_at is not None:
            s.elapsed = (time.monotonic() if now is None else now) - s.started_at

    @staticmethod
    def _prior_rate(s: Stage) -> float:
        """The prior's seconds per unit of work."""
        return s.seconds / max(s.units(s.cells or 0), 1e-12) if s.cells else s.seconds

    @staticmethod
    def _ran_units(s: Stage) -> float:
        return s.units(s.done) - s.units(s.done - s.ran)

    def speed_factor(self) -> float:
        """This machine's time over the priors' for the cells run so far (1 before any), shrunk towards 1."""
        spent = sum(s.elapsed for s in self.stages.values() if s.ran)
        expected = sum(self._ran_units(s) * self._prior_rate(s) for s in self.stages.values() if s.ran)
        pseudo = 30.0  # seconds of evidence that the priors are right
        return (spent + pseudo) / (expected + pseudo)

    def remaining(self, now: float) -> float:
        """The raw estimate of the seconds left (not smoothed)."""
        factor = self.speed_factor()
        left = 0.0
        for s in self.stages.values():
            if s.finished:
                continue
            if s.cells is None:  # not started: its prior, at this machine's pace
                left += s.seconds * factor
                continue
            prior, pseudo = self._prior_rate(s) * factor, self.prior_cells * s.units(s.cells) / max(s.cells, 1)
            rate = (s.elapsed + pseudo * prior) / (self._ran_units(s) + pseudo)  # seconds per unit of work
            since = now - (s.last_at if s.last_at is not None else now)
            todo, under_way = s.units(s.cells) - s.units(s.done), s.units(s.done + 1) - s.units(s.done)
            left += max(0.0, todo * rate - min(since, under_way * rate))  # the cell under way counts down
        return left

    def eta(self, now: float | None = None) -> float:
        """The shown seconds left: counting down, moving towards :meth:`remaining` with time constant ``tau``."""
        now = time.monotonic() if now is None else now
        raw = self.remaining(now)
        if self._shown is None or all(s.finished for s in self.stages.values()):
            self._shown = raw
        else:
            dt = max(0.0, now - self._shown_at)
            countdown = max(0.0, self._shown - dt)
            self._shown = countdown + (1.0 - math.exp(-dt / self.tau)) * (raw - countdown)
        self._shown_at = now
        return self._shown

    def fraction(self, now: float | None = None) -> float:
        """The share of the run's expected work done, 0 to 1 (time spent over time spent plus time left)."""
        now = time.monotonic() if now is None else now
        spent = sum(s.elapsed if s.finished or s.last_at is None else now - s.started_at
                    for s in self.stages.values() if s.started_at is not None)  # fmt: skip
        left = self.remaining(now)
        return 1.0 if spent + left <= 0 else spent / (spent + left)


def clock(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour).

    >>> clock(75.4), clock(3725)
    ('1:15', '1:02:05')
    """
    h, rest = divmod(int(round(seconds)), 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressLine:
    """One line on ``stream`` for the whole run: a bar, each stage's cells and the ETA.

    Parameters
    ----------
    eta : Eta
        The estimator the stages report to.
    labels : dict
        Stage name -> the word shown on the line.
    stream : file, optional
        Where the line goes (default ``sys.stderr``).
    """

    def __init__(self, eta: Eta, labels: dict[str, str], stream: TextIO | None = None) -> None:
        self.eta, self.labels = eta, labels
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self._drawn_at = -math.inf
        self._width = 0

    def text(self, now: float | None = None) -> str:
        """The line, e.g. ``wce run  42% [########............]  agreement done, speed 12/40, suite  ...  left``."""
        now = time.monotonic() if now is None else now
        left, frac = self.eta.eta(now), self.eta.fraction(now)
        filled = int(frac * 20)
        parts = []
        for name, s in self.eta.stages.items():
            label = self.labels.get(name, name)
            parts.append(f"{label} done" if s.finished else f"{label} {s.done}/{s.cells}" if s.cells else label)
        return (f"wce run {frac:4.0%} [{'#' * filled}{'.' * (20 - filled)}]  {', '.join(parts)}  "
                f"{clock(now - self.started)} elapsed, about {clock(left)} left")  # fmt: skip

    def draw(self, force: bool = False) -> None:
        """Redraw the line (at most 5 times a second on a terminal, every 30 s as a plain line elsewhere)."""
        now = time.monotonic()
        if not force and now - self._drawn_at < (0.2 if self.tty else 30.0):
            return
        self._drawn_at = now
        line = self.text(now)
        if self.tty:
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Take the line off the terminal (before a message or the answers)."""
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0
            self._drawn_at = -math.inf

    def start(self, name: str, cells: int, done: int = 0, work: list[float] | None = None) -> None:
        self.eta.start(name, cells, done, work=work)
        self.draw(force=True)

    def advance(self, name: str, n: int = 1) -> None:
        self.eta.advance(name, n)
        self.draw()

    def finish(self, name: str) -> None:
        self.eta.finish(name)
        self.draw(force=True)
