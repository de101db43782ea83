"""pytest-benchmark configuration for the loss benchmarks.

Environment: ``WCE_BENCH_PROFILE`` (quick | full), ``WCE_FRAMEWORKS``
(comma-separated; default every installed framework), ``WCE_BENCH_THREADS``
(CPU threads for every framework and for the probe; default all cores),
``WCE_BENCH_DEVICES`` (e.g. ``cpu`` or ``cuda``), ``WCE_BENCH_DTYPES``. The NumPy reference
uses ``WCE_NUM_THREADS`` row-block threads, by default the frameworks' count.
The machine's limits are measured once per session and saved in the JSON's
``machine_info["wce_limits"]``.
"""

from __future__ import annotations

import os
import sys

import pytest

from wce_ref import bench, frameworks


def _csv(name: str) -> list[str] | None:
    raw = os.environ.get(name)
    return [s.strip() for s in raw.split(",") if s.strip()] if raw else None


def requested() -> list[str]:
    names = _csv("WCE_FRAMEWORKS")
    if names:
        return [frameworks.resolve(n) for n in names]
    return [n for n in frameworks.names() if frameworks.get(n).available()]


THREADS = int(os.environ.get("WCE_BENCH_THREADS", os.cpu_count() or 1))
os.environ.setdefault("WCE_NUM_THREADS", str(THREADS))  # the NumPy reference's row-block threads: the same count
PROFILE = os.environ.get("WCE_BENCH_PROFILE", "quick")
_limits: dict[str, bench.Limits] = {}


def limits_for(device: str) -> bench.Limits:
    if device not in _limits:
        _limits[device] = bench.cpu_limits(THREADS) if device == "cpu" else bench.gpu_limits()
    return _limits[device]


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["wce_limits"] = {d: lim.as_dict() for d, lim in _limits.items()}
    machine_info["wce_cpu_model"] = bench.cpu_model()
    machine_info["wce_threads"] = THREADS
    machine_info["wce_profile"] = PROFILE
    machine_info["wce_loadavg"] = list(os.getloadavg())  # other work on the machine at the end of the run
    versions = {}
    for name in requested():
        try:
            versions[name] = frameworks.get(name).version()
        except frameworks.FrameworkUnavailable:
            pass
    machine_info["wce_versions"] = versions


class _Progress:
    """WCE_BENCH_PROGRESS=1: a tqdm bar on stderr; =lines: a ``wce-bench-progress DONE/TOTAL`` line per benchmark
    (read by `wce run`'s progress line)."""

    def __init__(self):
        self.bar = None
        self.lines: list[int] | None = None  # done, total

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session):
        mode = os.environ.get("WCE_BENCH_PROGRESS")
        if mode == "lines":
            self.lines = [0, len(session.items)]
            print(f"wce-bench-progress 0/{len(session.items)}", file=sys.stderr, flush=True)
        elif mode == "1":
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=len(session.items), desc="bench", unit="bench", file=sys.stderr, dynamic_ncols=True)

    def pytest_runtest_logfinish(self, nodeid, location):
        if self.bar is not None:
            self.bar.update(1)
        if self.lines is not None:
            self.lines[0] += 1
            print(f"wce-bench-progress {self.lines[0]}/{self.lines[1]}", file=sys.stderr, flush=True)

    def pytest_sessionfinish(self, session):
        if self.bar is not None:
            self.bar.close()


def pytest_configure(config):
    config.pluginmanager.register(_Progress(), "wce-bench-progress")
