"""One benchmark per (framework, implementation, loss, direction, mode, dtype, device, N x C).

Inputs are built, moved to the device and compiled in ``make_callable``
(outside the timed region, with warm-up calls); the timed call includes the
synchronisation. ``extra_info`` carries everything the report needs.
"""

from __future__ import annotations

import os
import time

import pytest
from conftest import PROFILE, THREADS, _csv, limits_for, requested

from wce_ref import bench, frameworks
from wce_ref.losses import threads as numpy_threads

CASES = bench.enumerate_cases(
    requested(), profile=PROFILE, dtypes=_csv("WCE_BENCH_DTYPES"), devices=_csv("WCE_BENCH_DEVICES")
)
BUDGET_S = 0.4 if PROFILE == "quick" else 1.0


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_loss(benchmark, case: bench.BenchCase):
    fits, why = bench.fits_in_memory(case)
    if not fits:
        pytest.skip(f"does not fit in memory: {why}")
    limits = limits_for(case.device)
    frameworks.get(case.framework).set_threads(THREADS)
    fn = bench.make_callable(case)
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    rounds = int(min(50, max(3, BUDGET_S / max(once, 1e-6))))
    backend = frameworks.get(case.framework)
    benchmark.group = case.group
    benchmark.extra_info.update(
        case.as_dict(),
        version=backend.version(),
        device_name=backend.device_name(case.device) if case.device != "cpu" else bench.cpu_model(),
        threads=THREADS if case.device == "cpu" else None,
        numpy_threads=numpy_threads(),
        bytes_moved=case.bytes_moved(),
        exps=case.exps(),
        floor_s=limits.floor_seconds(case.bytes_moved(), case.exps() if case.device == "cpu" else 0),
        bandwidth_gbs=limits.bandwidth_gbs,
        exp_per_s=limits.exp_per_s,
        profile=PROFILE,
        pid=os.getpid(),
    )
    load_before = os.getloadavg()[0]  # other work on the machine: the report marks figures taken under load
    benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(load_before=load_before, load_after=os.getloadavg()[0])
    peak, method = bench.peak_bytes(fn, backend, case.device)  # after the timed rounds: allocators are warm
    benchmark.extra_info.update(peak_bytes=peak, memory_method=method)
