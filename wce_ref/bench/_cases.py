"""The benchmark grid and the timed callables.

One benchmark = (framework, implementation, loss, direction, mode, dtype,
device, N, C). ``ours`` is this project's loss in that framework; a built-in
is the framework's own loss for the same convention (registered in the
framework module). Inputs are created, moved to the device and the compiled
function is traced before timing; the timed callable includes the
synchronisation that asynchronous dispatch needs.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .. import frameworks, losses

#: (N, C) of the full grid; (N, C) of the quick profile (a representative subset)
FULL_SIZES = [
    (256, 10),  # a training-size batch: what the per-call cost (argument check, dispatch) weighs
    (1024, 2),
    (16384, 2),
    (262144, 2),
    (1048576, 2),
    (1024, 32),
    (16384, 32),
    (262144, 32),
    (1048576, 32),
    (65536, 1000),
]
QUICK_SIZES = [(16384, 2), (262144, 32)]
#: the losses of the speed targets, measured at every size of the full grid; every other registered loss is
#: measured at :data:`LOSS_SIZES` (a loss is one module: it joins the grid without a line here)
HEADLINE_LOSSES = ("sigmoid_wce", "softmax_wce")
LOSS_SIZES = [(16384, 32), (262144, 32)]
#: built-ins whose reduction is the reference's ``weighted_mean`` / ``mean`` (the speed targets compare to these)
SAME_CONVENTION = {
    "torch.cross_entropy",
    "torch.bce_with_logits",
    "tf.sparse_softmax_cross_entropy",
    "tf.weighted_cross_entropy_with_logits",
    "optax.softmax_cross_entropy",
    "optax.sigmoid_binary_cross_entropy",
}
QUICK_LOSSES = ("softmax_wce",)
#: this project's kernels that are matrix rows of their own but what "ours" already runs in the benchmarks (a
#: second row would time the same code): the C kernel is eager PyTorch's softmax_wce on CPU tensors
OWN_KERNELS = frozenset({"torch-cpu-kernel"})
DIRECTIONS = ("fwd", "fwd+bwd")
MODES = ("eager", "compiled")
#: the memory a single benchmark may use, as a multiple of the logits' size, checked against free memory
MEMORY_FACTOR = 8


@dataclass(frozen=True)
class BenchCase:
    framework: str
    impl: str  # "ours" or a built-in's name
    loss: str
    direction: str
    mode: str
    dtype: str
    device: str
    n: int
    c: int

    @property
    def id(self) -> str:
        parts = (self.framework, self.impl, self.loss, self.direction, self.mode, self.dtype, self.device)
        return "-".join(parts) + f"-{self.n}x{self.c}"

    @property
    def group(self) -> str:
        return f"{self.loss} {self.direction} {self.dtype} {self.device} {self.n}x{self.c}"

    def itemsize(self) -> int:
        return {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2}[self.dtype]

    def bytes_moved(self) -> int:
        """Minimum traffic: read logits (+ labels or targets), write the gradient for fwd+bwd."""
        s = self.itemsize()
        logits = self.n * self.c * s
        labels = self.n * 8 if losses.get(self.loss).family == "softmax" else self.n * self.c * s
        out = logits if self.direction == "fwd+bwd" else 0
        return logits + labels + out

    def exps(self) -> int:
        """exp evaluations of a fused implementation: one per logit (softplus: one exp + one log1p each)."""
        return self.n * self.c * (2 if losses.get(self.loss).family == "sigmoid" else 1)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _builtin_for(backend, loss: str):
    """The framework's built-ins for this loss that express its benchmark inputs at its benchmark reduction."""
    from ..agreement import applicable

    spec = losses.get(loss)
    probe = spec.bench(8, 2, np.random.default_rng(0))
    return [b for b in backend.builtins() if b.loss == loss and b.grad and b.name not in OWN_KERNELS
            and applicable(b, probe, spec.bench_reduction)]


def benchmarked_losses(profile: str) -> tuple[str, ...]:
    """Every registered loss with benchmark inputs (full grid), or the quick profile's losses."""
    if profile == "quick":
        return QUICK_LOSSES
    return tuple(name for name, spec in losses.LOSSES.items() if spec.bench is not None)


def enumerate_cases(
    names: list[str], *, profile: str = "quick", dtypes: list[str] | None = None, devices: list[str] | None = None
) -> list[BenchCase]:
    wanted_losses = benchmarked_losses(profile)
    out = []
    for name in names:
        backend = frameworks.get(name)
        devs = [d for d in backend.devices() if devices is None or d in devices]
        for device in devs:
            supported = backend.dtypes(device)
            wanted = dtypes or (["float32"] if profile == "quick" or device == "cpu" else ["float32", "bfloat16"])
            for dtype in [d for d in wanted if d in supported]:
                for loss in wanted_losses:
                    sizes = QUICK_SIZES if profile == "quick" else FULL_SIZES if loss in HEADLINE_LOSSES else LOSS_SIZES
                    builtins = [b.name for b in _builtin_for(backend, loss) if b.runs_on is None or b.runs_on(device)]
                    if profile == "quick":  # the built-ins with the same (PyTorch) convention only
                        builtins = [b for b in builtins if b in SAME_CONVENTION]
                    impls = ["ours", *builtins] if not backend.reference else ["ours"]
                    modes = MODES if backend.has_compiler else ("eager",)
                    for impl, direction, mode, (n, c) in itertools.product(impls, DIRECTIONS, modes, sizes):
                        if backend.reference and dtype != "float32" and profile == "quick":
                            continue
                        out.append(BenchCase(name, impl, loss, direction, mode, dtype, device, n, c))
    return out


def fits_in_memory(case: BenchCase) -> tuple[bool, str]:
    need = case.n * case.c * max(case.itemsize(), 4) * MEMORY_FACTOR
    if case.device == "cpu":
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            return True, ""
    else:
        import torch

        avail = torch.cuda.mem_get_info()[0] if torch.cuda.is_available() else 0
    if need > avail:
        return False, f"needs about {need / 2**30:.1f} GiB, {avail / 2**30:.1f} GiB free on {case.device}"
    return True, ""


def make_callable(case: BenchCase, seed: int = 0) -> Callable[[], Any]:
    """The timed zero-argument callable (inputs prepared, compiled and warmed)."""
    rng = np.random.default_rng(seed)
    backend = frameworks.get(case.framework)
    backend.load()
    spec = losses.get(case.loss)
    kw = spec.bench(case.n, case.c, rng)
    reduction = spec.bench_reduction
    if backend.reference:  # the NumPy reference: its value, or value + analytic gradient
        x = kw["logits"].astype(np.float32)
        other = {k: (v.astype(np.float32) if v.dtype.kind == "f" else v) for k, v in kw.items() if k != "logits"}
        if case.direction == "fwd":
            return lambda: spec.value(x, reduction=reduction, **other)
        return lambda: (spec.value(x, reduction=reduction, **other), spec.grad(x, reduction=reduction, **other))
    float_args = spec.float_args
    tensors = backend.inputs(kw, float_args, case.dtype, case.device)
    logits = tensors.pop("logits")
    names = sorted(k for k, v in tensors.items() if not isinstance(v, (int, float)))
    consts = {k: v for k, v in tensors.items() if k not in names}
    args = [tensors[k] for k in names]  # passed as arguments: compilers must not fold them into constants
    if case.impl == "ours":

        def fn(x, *a):
            return backend.loss(case.loss, x, reduction=reduction, **dict(zip(names, a, strict=True)), **consts)
    else:
        (builtin,) = [b for b in backend.builtins() if b.name == case.impl and b.loss == case.loss]

        def fn(x, *a):
            return builtin.call(backend, logits=x, reduction=reduction, **dict(zip(names, a, strict=True)), **consts)

    f = fn if case.direction == "fwd" else backend.grad_fn(fn)
    if case.mode == "compiled":
        f = backend.compile(f)
    sync = backend.synchronize  # asynchronous dispatch: every framework module says how to wait

    def run():
        return sync(f(logits, *args))

    for _ in range(3):  # compile / first-call work outside the timed region
        run()
    return run
