"""The cost of a suite from its measured per-cell times, and its wall time projected onto a Dask cluster.

Every stored cell records the seconds its fit and scoring took (``row["seconds"]``).
From those: the number of cells, the CPU hours (one cell = one core, as the
runner limits every cell to one thread) and the wall time the same cells would
take on a cluster of ``N`` single-threaded workers, scheduled longest first.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..._validation import WCEInputError

#: seconds added to every cell on a cluster: Dask's documented per-task overhead is "somewhere
#: between 200 us and 1 ms" (docs.dask.org, best practices: "avoid very large graphs"); the upper end
DASK_TASK_OVERHEAD_S = 1e-3

#: cluster sizes projected by default
DEFAULT_WORKERS = (1, 8, 32, 128)


def _seconds(seconds: Any) -> np.ndarray:
    """Per-cell seconds as a 1-D float64 array: non-empty, finite, non-negative."""
    try:
        t = np.asarray(getattr(seconds, "to_numpy", lambda: seconds)(), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise WCEInputError(
            f"seconds: expected a sequence of per-cell seconds, got {type(seconds).__name__} ({exc})"
        ) from None
    if t.ndim != 1 or t.size == 0:
        raise WCEInputError(f"seconds: expected a non-empty 1-D sequence of per-cell seconds, got shape {t.shape}")
    bad = ~np.isfinite(t) | (t < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise WCEInputError(
            f"seconds: per-cell times must be finite and >= 0; {int(bad.sum())} are not (first at position {i}: "
            f"{float(t[i])!r})"
        )
    return t


def _workers(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise WCEInputError(f"workers: expected a positive whole number of workers, got {n!r}")
    return int(n)


def _overhead(overhead_s: Any) -> float:
    if not isinstance(overhead_s, int | float | np.number) or not np.isfinite(overhead_s) or overhead_s < 0:
        raise WCEInputError(f"overhead_s: expected a finite number of seconds >= 0, got {overhead_s!r}")
    return float(overhead_s)


def _lpt(desc: np.ndarray, workers: int) -> float:
    """Makespan of the longest-processing-time-first list schedule of ``desc`` (sorted descending)."""
    if workers >= desc.size:
        return float(desc[0])
    loads = [0.0] * workers
    for t in desc.tolist():
        heapq.heapreplace(loads, loads[0] + t)
    return max(loads)


def projected_wall_time(seconds: Any, workers: int, *, overhead_s: float = DASK_TASK_OVERHEAD_S) -> float:
    r"""Wall time of the cells on ``workers`` single-threaded workers, longest cell first.

    Each cell takes its measured time plus ``overhead_s`` (scheduling and
    transfer); cells go, longest first, to the worker that frees up first
    (Graham's LPT rule, within 4/3 of the optimal makespan; Graham, SIAM J.
    Appl. Math. 17, 1969). A cluster can always leave workers idle, so the
    result is the best LPT makespan over ``k <= workers`` workers; hence it is
    non-increasing in ``workers`` by construction:

    .. math::

        W(N) = \min_{k \le N} \mathrm{LPT}_k(t_1 + o, \dots, t_n + o), \qquad
        \max_i (t_i + o) \le W(N) \le \sum_i (t_i + o) = W(1).

    Parameters
    ----------
    seconds : sequence of float
        Measured seconds per cell (a list, array or pandas Series).
    workers : int
        Number of Dask workers, one thread each (as the runner runs every cell).
    overhead_s : float
        Seconds added to every cell; default :data:`DASK_TASK_OVERHEAD_S`.

    Returns
    -------
    float
        Projected wall time in seconds (no cluster start-up, no data transfer beyond ``overhead_s``).
    """
    n = _workers(workers)
    desc = np.sort(_seconds(seconds) + _overhead(overhead_s))[::-1]
    total, longest = float(desc.sum()), float(desc[0])
    best = _lpt(desc, n)
    k = min(n, desc.size) - 1
    # fewer workers can only help if their lower bound max(sum / k, longest) is below the best so far
    while k >= 1 and best > longest and total / k < best:
        best = min(best, _lpt(desc, k))
        k -= 1
    return best


def cpu_hours(seconds: Any) -> float:
    """Sum of the per-cell seconds in hours (each cell runs on one core)."""
    return float(_seconds(seconds).sum() / 3600.0)


@dataclass(frozen=True)
class SuiteCost:
    """What a suite cost, and what it would cost in wall time on a Dask cluster.

    ``wall_s`` is the measured wall time of the run when known (``None``
    otherwise); ``projected`` maps a number of workers to projected seconds.
    """

    cells: int
    cpu_hours: float
    mean_cell_s: float
    longest_cell_s: float
    overhead_s: float
    wall_s: float | None = None
    projected: dict[int, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """Markdown bullet lines for a report."""
        out = [
            f"- cells: {self.cells:,}; CPU time {self.cpu_hours:.2f} h "
            f"(mean {self.mean_cell_s:.2f} s, longest {self.longest_cell_s:.1f} s per cell)"
        ]
        if self.wall_s is not None:
            out.append(f"- measured wall time: {_hms(self.wall_s)}")
        for n, s in sorted(self.projected.items()):
            out.append(
                f"- projected on a Dask cluster of {n} single-threaded worker{'s' * (n > 1)}: {_hms(s)} "
                f"(longest cell first, {self.overhead_s * 1e3:g} ms overhead per cell)"
            )
        return out


def _hms(s: float) -> str:
    h, rest = divmod(int(round(s)), 3600)
    return f"{h} h {rest // 60:02d} min" if h else f"{rest // 60} min {rest % 60:02d} s"


def suite_cost(
    seconds: Any,
    *,
    workers: Iterable[int] = DEFAULT_WORKERS,
    overhead_s: float = DASK_TASK_OVERHEAD_S,
    wall_s: float | None = None,
) -> SuiteCost:
    """Cells, CPU hours and projected wall times of a suite from its per-cell seconds.

    Parameters
    ----------
    seconds : sequence of float
        Measured seconds per cell, e.g. ``store_frame["seconds"]``.
    workers : iterable of int
        Cluster sizes to project (see :func:`projected_wall_time`).
    overhead_s : float
        Seconds added to every cell on a cluster.
    wall_s : float, optional
        The measured wall time of the run, reported as is.
    """
    t = _seconds(seconds)
    if wall_s is not None and (not np.isfinite(wall_s) or wall_s < 0):
        raise WCEInputError(f"wall_s: expected a finite number of seconds >= 0, got {wall_s!r}")
    projected = {_workers(n): projected_wall_time(t, n, overhead_s=overhead_s) for n in workers}
    return SuiteCost(
        cells=int(t.size),
        cpu_hours=float(t.sum() / 3600.0),
        mean_cell_s=float(t.mean()),
        longest_cell_s=float(t.max()),
        overhead_s=_overhead(overhead_s),
        wall_s=None if wall_s is None else float(wall_s),
        projected=projected,
    )
