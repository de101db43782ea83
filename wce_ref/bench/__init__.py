"""Speed benchmarks of weighted cross entropy: grid, machine limits (roofline), reports.

>>> from wce_ref.bench import BenchCase
>>> BenchCase("torch", "ours", "softmax_wce", "fwd", "eager", "float32", "cpu", 1024, 2).bytes_moved()
16384
"""

from __future__ import annotations

from ._cases import FULL_SIZES, QUICK_SIZES, BenchCase, enumerate_cases, fits_in_memory, make_callable
from ._memory import peak_bytes
from ._probe import Limits, cpu_limits, cpu_model, gpu_limits

__all__ = [
    "peak_bytes",
    "FULL_SIZES",
    "QUICK_SIZES",
    "BenchCase",
    "Limits",
    "cpu_limits",
    "cpu_model",
    "enumerate_cases",
    "fits_in_memory",
    "gpu_limits",
    "make_callable",
]
