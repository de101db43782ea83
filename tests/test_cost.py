"""A suite's cost from its per-cell times and its projected wall time on a Dask cluster."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from wce_ref._validation import WCEInputError
from wce_ref.compare.engine._cost import cpu_hours, projected_wall_time, suite_cost


@pytest.fixture
def seconds():
    rng = np.random.default_rng(0)
    return rng.lognormal(0.0, 1.0, 300)  # cell times are skewed: a few slow samplers, many quick cells


def _best_schedule(times: list[float], workers: int) -> float:
    """The optimal makespan by brute force (tiny inputs only)."""
    return min(
        max(sum(t for t, w in zip(times, assign, strict=True) if w == k) for k in range(workers))
        for assign in itertools.product(range(workers), repeat=len(times))
    )


def test_one_worker_is_the_sum(seconds):
    assert projected_wall_time(seconds, 1, overhead_s=0.0) == pytest.approx(seconds.sum())
    assert projected_wall_time(seconds, 1, overhead_s=0.5) == pytest.approx(seconds.sum() + 0.5 * seconds.size)


def test_more_workers_than_cells_is_the_longest_cell(seconds):
    assert projected_wall_time(seconds, seconds.size, overhead_s=0.0) == pytest.approx(seconds.max())
    assert projected_wall_time(seconds, 10**6, overhead_s=0.25) == pytest.approx(seconds.max() + 0.25)


def test_monotone_in_workers_and_between_the_bounds(seconds):
    walls = [projected_wall_time(seconds, n) for n in range(1, 80)]
    assert all(b <= a for a, b in itertools.pairwise(walls))
    for n, w in enumerate(walls, start=1):
        assert w >= max(seconds.sum() / n, seconds.max()) - 1e-9


def test_close_to_the_optimal_schedule():
    rng = np.random.default_rng(1)
    for _ in range(20):
        times = rng.integers(1, 30, 7).astype(float).tolist()
        opt = _best_schedule(times, 3)
        got = projected_wall_time(times, 3, overhead_s=0.0)
        assert opt <= got <= 4 / 3 * opt + 1e-9  # Graham's LPT bound


def test_accepts_a_pandas_series_and_reports(seconds):
    pd = pytest.importorskip("pandas")
    cost = suite_cost(pd.Series(seconds), workers=(1, 16), wall_s=seconds.sum() / 2)
    assert cost.cells == 300
    assert cost.cpu_hours == pytest.approx(seconds.sum() / 3600) == pytest.approx(cpu_hours(seconds))
    assert cost.longest_cell_s == pytest.approx(seconds.max())
    assert cost.projected[1] > cost.projected[16] >= seconds.sum() / 16
    text = "\n".join(cost.lines())
    assert "cells: 300" in text and "16 single-threaded workers" in text and "measured wall time" in text


@pytest.mark.parametrize(
    ("seconds", "workers", "message"),
    [
        ([], 2, r"seconds: expected a non-empty 1-D sequence .* shape \(0,\)"),
        ([1.0, -2.0], 2, r"seconds: .* finite and >= 0; 1 are not \(first at position 1: -2.0\)"),
        ([1.0, float("nan")], 2, r"seconds: .* 1 are not \(first at position 1: nan\)"),
        (["slow"], 2, r"seconds: expected a sequence of per-cell seconds, got list"),
        ([1.0], 0, r"workers: expected a positive whole number of workers, got 0"),
        ([1.0], 2.5, r"workers: .* got 2.5"),
    ],
)
def test_bad_input_is_named(seconds, workers, message):
    with pytest.raises(WCEInputError, match=message):
        projected_wall_time(seconds, workers)


def test_bad_overhead_is_named():
    with pytest.raises(WCEInputError, match=r"overhead_s: expected a finite number of seconds >= 0, got -1"):
        projected_wall_time([1.0], 1, overhead_s=-1)
