"""The machine's limits, measured in the same run: memory bandwidth and float32 ``exp`` throughput.

CPU: both are measured with NumPy on ``threads`` threads at once (NumPy releases
the GIL inside ufuncs and copies), each thread on its own slice, best of
several repeats. Bandwidth counts bytes read + bytes written of a copy much
larger than the last-level cache; ``exp`` throughput uses per-thread arrays that
fit in L2, so it measures the arithmetic, not memory. GPU: a device-to-device
copy with PyTorch (or JAX), the floor being the bandwidth one.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Limits:
    device: str
    threads: int
    bandwidth_gbs: float  # achievable GB/s (read + write)
    exp_per_s: float | None  # float32 exp evaluations per second (CPU)
    method: str

    def floor_seconds(self, bytes_moved: float, exps: float) -> float:
        """The roofline floor: max(bytes / bandwidth, exps / exp throughput)."""
        t = bytes_moved / (self.bandwidth_gbs * 1e9)
        if self.exp_per_s:
            t = max(t, exps / self.exp_per_s)
        return t

    def as_dict(self) -> dict:
        return asdict(self)


def _parallel(fn, threads: int, repeats: int) -> float:
    best = float("inf")
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(repeats):
            start = time.perf_counter()
            list(pool.map(fn, range(threads)))
            best = min(best, time.perf_counter() - start)
    return best


def cpu_limits(threads: int | None = None, *, size_mb: int = 512, repeats: int = 7) -> Limits:
    threads = threads or os.cpu_count() or 1
    n = size_mb * (1 << 20) // 4
    src = np.ones(n, dtype=np.float32)
    dst = np.empty_like(src)
    chunks = np.array_split(np.arange(n), threads)
    bounds = [(c[0], c[-1] + 1) for c in chunks]

    def copy(i):
        a, b = bounds[i]
        np.copyto(dst[a:b], src[a:b])

    copy_t = _parallel(copy, threads, repeats)
    bandwidth = 2 * src.nbytes / copy_t / 1e9

    m = 1 << 15  # 128 KiB per thread: in L2
    xs = [np.linspace(-5, 5, m, dtype=np.float32) for _ in range(threads)]
    ys = [np.empty_like(x) for x in xs]
    inner = 200

    def exps(i):
        for _ in range(inner):
            np.exp(xs[i], out=ys[i])

    exp_t = _parallel(exps, threads, repeats)
    rates = {"numpy": threads * m * inner / exp_t}
    rates.update(_framework_exp_rates(threads, m, repeats))
    best = max(rates, key=rates.get)
    detail = ", ".join(f"{k} {v / 1e9:.2f} G/s" for k, v in sorted(rates.items(), key=lambda kv: -kv[1]))
    return Limits("cpu", threads, bandwidth, rates[best], f"numpy copy on {threads} threads; exp: fastest of {detail}")


def _framework_exp_rates(threads: int, m: int, repeats: int) -> dict[str, float]:
    """float32 exp throughput of the installed frameworks' vectorised exp, on in-cache data.

    The roofline must use the fastest exp the machine can run: XLA's and
    PyTorch's vectorised exp beat NumPy's.
    """
    import importlib.util

    rates: dict[str, float] = {}
    n, inner = m * threads, 50
    if importlib.util.find_spec("torch"):
        import torch

        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        x = torch.linspace(-5, 5, n)
        y = torch.empty_like(x)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(inner):
                torch.exp(x, out=y)
            best = min(best, time.perf_counter() - start)
        torch.set_num_threads(old)
        rates["torch"] = n * inner / best
    if importlib.util.find_spec("jax"):
        import jax
        import jax.numpy as jnp

        x = jnp.linspace(-5, 5, n, dtype=jnp.float32)
        # a compiled loop of exps (kept live by the accumulation) measures XLA's exp without dispatch overhead
        f = jax.jit(lambda v: jax.lax.fori_loop(0, inner, lambda i, a: a + jnp.exp(v + a * 0.0), jnp.zeros_like(v)))
        f(x).block_until_ready()
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            f(x).block_until_ready()
            best = min(best, time.perf_counter() - start)
        rates["jax (XLA)"] = n * inner / best
    return rates


def gpu_limits(*, size_mb: int = 1024, repeats: int = 20) -> Limits:
    import torch

    n = size_mb * (1 << 20) // 4
    src = torch.ones(n, dtype=torch.float32, device="cuda")
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        dst.copy_(src)
        end.record()
        torch.cuda.synchronize()
        best = min(best, start.elapsed_time(end) / 1e3)
    return Limits("cuda", 0, 2 * n * 4 / best / 1e9, None, "torch device-to-device copy")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()
