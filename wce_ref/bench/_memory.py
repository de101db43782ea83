"""Peak memory of one call of a benchmark: the allocator's statistics on a GPU, the resident set on a CPU.

CPU: Linux keeps the process's peak resident set (``VmHWM``) and lets a process
reset it to the current one by writing ``5`` to ``/proc/self/clear_refs``; the
peak of a call is then ``VmHWM - VmRSS`` measured around it. This counts every
allocator alike (NumPy's, PyTorch's, XLA's, TensorFlow's), which the frameworks'
own statistics do not on a CPU, at page granularity; memory an allocator keeps
cached from an earlier call is not counted again, so each call is measured
after its warm-up calls, the same way for ours and the built-ins. GPU: the
framework's peak-allocation counter (:meth:`Backend.memory`), reset before the
call where the framework allows it.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def _status() -> dict[str, int]:
    out = {}
    for line in _STATUS.read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            out[key] = int(value.split()[0]) * 1024
    return out


def rss_available() -> bool:
    """Whether the peak resident set can be reset here (Linux, writable ``clear_refs``)."""
    try:
        _CLEAR.write_text("5")
    except OSError:
        return False
    return {"VmRSS", "VmHWM"} <= set(_status())


def peak_bytes(fn: Callable[[], Any], backend: Any, device: str) -> tuple[int | None, str]:
    """``(bytes, method)``: the memory one call of ``fn`` needs beyond what was resident before it.

    ``None`` where nothing can measure it (the method then says why).
    """
    gc.collect()
    if device != "cpu":
        if not backend.reset_memory(device):
            return None, f"{backend.name} cannot reset its peak-memory statistics on {device}"
        base = backend.memory(device)
        fn()
        stats = backend.memory(device)
        if not stats:
            return None, f"no memory statistics for {device} in {backend.name}"
        return int(stats["peak_bytes"] - (base or {}).get("current_bytes", 0)), f"{backend.name} allocator peak"
    if not rss_available():
        return None, "peak RSS cannot be reset here (needs Linux /proc/self/clear_refs)"
    before = _status()["VmRSS"]
    _CLEAR.write_text("5")
    fn()
    return max(0, _status()["VmHWM"] - before), "peak RSS increase (VmHWM after reset)"
