"""`wce run`'s one progress line (wce_ref._eta): an ETA over all stages that does not swing (issue 24).

The synthetic run below is what made the suite's own counter swing from 6:47:05 to 16:52 within 15 s: a stage's
cells whose costs vary (a log-normal spread), a suite that runs its cheapest cells first (their cost grows tenfold
over the stage), a benchmark stage whose count is known only when it starts, and a machine twice as slow as the
priors. The shown ETA must hold still where a per-stage rate estimate (tqdm's) swings.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from wce_ref import _eta

#: (stage, cells, mean seconds per cell, cost growth over the stage): the machine is 2x slower than the priors
STAGES = [("agreement", 300, 0.25, 1.0), ("speed", 40, 2.0, 1.0), ("suite", 330, 0.7, 10.0)]
PRIORS = {"agreement": 40.0, "speed": 35.0, "suite": 110.0}


def _work(n: int, growth: float) -> np.ndarray:
    """The cells' expected costs (the suite's dataset sizes): growing ``growth``-fold over the stage."""
    return np.geomspace(1.0, growth, n)


def _events(seed: int = 0) -> list[tuple[float, str, str]]:
    """(time, stage, 'start' | 'cell' | 'finish') of the synthetic run."""
    rng = np.random.default_rng(seed)
    t, out = 0.0, []
    for name, n, mean, growth in STAGES:
        out.append((t, name, "start"))
        scale = _work(n, growth)
        costs = rng.lognormal(0.0, 0.8, n) * scale
        for cost in costs * (mean * n / costs.sum()):
            t += cost
            out.append((t, name, "cell"))
        out.append((t, name, "finish"))
    return out


def _replay(events, every: float = 1.0, costs: bool = True) -> tuple[list[float], list[float], list[float], float]:
    """The shown ETA, tqdm's (the current stage's cells left over its mean rate so far) and the true time left,
    sampled every ``every`` seconds of the run; ``costs``: the stages tell the cells' expected costs (the suite
    does: its dataset sizes; the noise around them is unknown)."""
    eta = _eta.Eta([_eta.Stage(name, PRIORS[name]) for name, *_ in STAGES])
    total = events[-1][0]
    cells = {name: n for name, n, *_ in STAGES}
    work = {name: list(_work(n, growth)) if costs and growth != 1 else None for name, n, _, growth in STAGES}
    shown, naive, truth, i, t = [], [], [], 0, 0.0
    current = {"name": None, "start": 0.0, "done": 0}
    while t < total:
        while i < len(events) and events[i][0] <= t:
            when, name, what = events[i]
            if what == "start":
                eta.start(name, cells[name], now=when, work=work[name])
                current.update(name=name, start=when, done=0)
            elif what == "cell":
                eta.advance(name, now=when)
                current["done"] += 1
            else:
                eta.finish(name, now=when)
            i += 1
        shown.append(eta.eta(t))
        done = current["done"]
        rate = (t - current["start"]) / done if done else float("nan")
        naive.append((cells[current["name"]] - done) * rate)
        truth.append(total - t)
        t += every
    return shown, naive, truth, total


def _swing(values: list[float], window: int = 15) -> float:
    """The largest change of the predicted end (now + ETA) within ``window`` samples, over the time then left."""
    end = np.array(values) + np.arange(len(values))
    worst = 0.0
    for k in range(len(end) - window):
        seg = end[k : k + window + 1]
        seg = seg[np.isfinite(seg)]
        if len(seg):
            worst = max(worst, (seg.max() - seg.min()) / max(values[k], 60.0))
    return worst


@pytest.mark.parametrize("costs", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_shown_eta_holds_still_where_a_stage_counter_swings(seed, costs):
    shown, naive, truth, total = _replay(_events(seed), costs=costs)
    assert _swing(naive) > 1.0  # the run is hard: the per-stage counter moves its end by more than the time left
    assert _swing(shown) < (0.2 if costs else 0.3)  # ours: within 15 s, the end moves by a fraction of the time left


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_shown_eta_is_near_the_truth_once_half_the_run_is_done(seed):
    shown, _, truth, total = _replay(_events(seed))
    half = len(shown) // 2
    for k in range(half, len(shown) - 30):  # the last half minute: a second off is a large ratio
        assert truth[k] / 2.0 <= shown[k] <= truth[k] * 2.0, (k, shown[k], truth[k])
    assert shown[-1] <= 30.0


def test_an_earlier_runs_cells_count_as_done_and_finished_stages_as_nothing_left():
    eta = _eta.Eta([_eta.Stage("agreement", 40.0), _eta.Stage("suite", 100.0)])
    eta.finish("agreement", now=0.0)  # finished by an earlier run
    eta.start("suite", 100, done=90, now=0.0)  # 90 of its cells stored before
    assert eta.remaining(0.0) == pytest.approx(10 * 100.0 / 100)  # 10 cells at the prior's 1 s
    eta.advance("suite", 10, now=5.0)
    eta.finish("suite", now=5.0)
    assert eta.eta(5.0) == 0.0 and eta.fraction(5.0) == 1.0


def test_bad_events_are_errors_naming_the_argument():
    eta = _eta.Eta([_eta.Stage("suite", 10.0)])
    with pytest.raises(ValueError, match="stage: 'agreement' is not one of suite"):
        eta.start("agreement", 3)
    with pytest.raises(ValueError, match="cells, done"):
        eta.start("suite", 3, done=4)
    with pytest.raises(ValueError, match="advance before start"):
        eta.advance("suite")
    with pytest.raises(ValueError, match="stages"):
        _eta.Eta([])


def test_the_line_shows_every_stage_and_a_file_gets_plain_lines():
    stream = io.StringIO()
    line = _eta.ProgressLine(_eta.Eta([_eta.Stage("agreement", 10.0), _eta.Stage("speed", 10.0)]),
                             {"agreement": "agreement", "speed": "benchmarks"}, stream)  # fmt: skip
    line.start("agreement", 4)
    line.advance("agreement", 4)
    line.finish("agreement")
    text = stream.getvalue()
    assert "\r" not in text and text.endswith("\n")  # not a terminal: no carriage returns
    last = text.splitlines()[-1]
    assert last.startswith("wce run ") and "agreement done, benchmarks" in last and "left" in last
    assert len(text.splitlines()) == 2  # the start and the finish; the cell in between is throttled (30 s)


def test_expected_costs_make_the_cheap_cells_first_no_surprise():
    """Without the cells' costs the cheapest-first suite is underestimated at mid-run; with them it is not."""
    events = _events(0)
    with_costs, _, truth, _ = _replay(events, costs=True)
    without, *_ = _replay(events, costs=False)
    k = len(truth) * 3 // 4  # well into the suite
    assert abs(with_costs[k] - truth[k]) < abs(without[k] - truth[k])
    assert truth[k] / 1.5 <= with_costs[k] <= truth[k] * 1.5
