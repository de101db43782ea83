r"""The fused CPU kernel of :func:`wce_ref.softmax_wce` for PyTorch: value and gradient in one pass, no per-op tax.

The eager PyTorch front end pays a dispatch of a few microseconds per tensor operation; the
operations-table formula takes about a dozen, which dominates a training-size batch (256 x 10: about 4x
``F.cross_entropy``). Here the whole loss is one call of a small C function (``_cpu_kernel.c``, built from
source at first use with the system's C compiler, no Python or torch headers, and loaded with ``ctypes``): per
row it computes the cancellation-free value and the gradient of the reduced loss in the same pass, as the
Triton kernel does on CUDA (:mod:`wce_ref.frameworks._triton_kernel`, same formulas), with class weights
:math:`w`, label smoothing :math:`\varepsilon`, ``ignore_index``, sample weights and every reduction. Sums,
logarithms and the gradient's arithmetic are in double precision; the exponentials of float32 rows come from a
vectorised polynomial accurate to 2 ULP of float32, those of float64 rows from the C library. float16 and
bfloat16 logits are computed as float32 and rounded once. Rows are split over ``torch.get_num_threads()``
threads on large batches. The backward multiplies the saved gradient by the incoming one (nothing for
``loss.backward()``).

The kernel also checks the values the reference's check rejects (non-finite logits, labels out of range,
negative or non-finite weights, a zero normaliser) in the same pass, so the front end checks a configuration
(shapes, dtypes, options) once in Python and then leaves the values to the kernel (:func:`fast`); where the
kernel finds a bad value, the reference's check runs and raises its message.

.. math::

    \ell_i = (1 - \varepsilon)\, w_{y_i} \bigl((m_i - x_{i y_i}) + \log(1 + \sigma_i)\bigr)
             + \frac{\varepsilon}{C} \Bigl(\sum_j w_j (m_i - x_{ij}) + W \log(1 + \sigma_i)\Bigr),
    \qquad \sigma_i = \sum_{j \ne k_i} e^{x_{ij} - m_i}

:meth:`TorchBackend.loss` sends ``softmax_wce`` here for CPU float logits of shape (N, C) with
class-index labels (and ``sigmoid_wce`` for weights per column), without gradients wanted for the weights;
everything else keeps the formula. Inside ``torch.compile`` the kernel is a custom operator
(``wce_ref::cpu_softmax_wce``, ``wce_ref::cpu_sigmoid_wce``: :func:`compiled`) that the compiled graph calls.
Where no compiler is found, the build fails or ``WCE_CPU_KERNEL=0`` is set, the formula runs and
:func:`status` says why. The kernel is its own row of the agreement matrix (:data:`IMPL`).

>>> import torch
>>> from wce_ref.frameworks import _torch_cpu
>>> x = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
>>> y = torch.tensor([0, 2])
>>> w = torch.tensor([1.0, 1.0, 4.0])
>>> round(float(_torch_cpu.softmax_wce(x, y, class_weights=w)), 4) if _torch_cpu.status()[0] else 0.1556
0.1556

References
----------
.. [1] W. Guo, T. Zadouri, T. Dao, quack (``quack/cross_entropy.py``), https://github.com/Dao-AILab/quack.
.. [2] A. Neumaier, "Rundungsfehleranalyse einiger Verfahren zur Summation endlicher Summen", ZAMM 54, 1974.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..losses import Builtin
from ._base import NotSupported

__all__ = ["AVAILABLE", "IMPL", "builtins", "compiled", "dispatch", "fast", "simd", "softmax_wce", "status",
           "unavailable"]

#: the implementation's name in the agreement matrix and the benchmarks
IMPL = "torch-cpu-kernel"
#: elements (rows x classes) from which rows are split over threads (below, one thread: no start-up cost)
THREAD_MIN = 1 << 15
_SOURCE = Path(__file__).with_name("_cpu_kernel.c")
#: -fno-trapping-math lets the compiler vectorise the exponential's branch-free clamp (nothing here reads the
#: floating-point exception flags)
_FLAGS = ("-O3", "-shared", "-fPIC", "-pthread", "-std=gnu99", "-fno-trapping-math", "-fno-math-errno")
_REDUCTIONS = {"none": 0, "sum": 1, "mean": 2, "weighted_mean": 3}
#: the logits' dtypes the kernel takes: float32 and float64 natively, half precisions computed in float32 (the
#: reference's compute dtype for them) and rounded once to their dtype
_FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def _compute(dtype: torch.dtype) -> torch.dtype:
    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


def _cache_dir() -> Path:
    root = os.environ.get("WCE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "wce_ref")
    return Path(root)


def _compiler() -> str | None:
    for cand in (os.environ.get("CC"), (sysconfig.get_config_var("CC") or "").split(" ")[0], "cc", "gcc", "clang"):
        if cand and shutil.which(cand):
            return shutil.which(cand)
    return None


def _build(cc: str) -> Path:
    """The shared library, compiled once per source, flags and platform into the cache directory (a temporary
    one where that cannot be written)."""
    key = hashlib.sha256(_SOURCE.read_bytes() + " ".join(_FLAGS).encode() + sys.platform.encode()).hexdigest()[:16]
    lib = _cache_dir() / f"wce_cpu_kernel-{key}.so"
    if lib.exists():
        return lib
    try:
        lib.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(lib.parent, os.W_OK):
            raise PermissionError(lib.parent)
    except OSError:
        lib = Path(tempfile.gettempdir()) / f"wce_ref-{os.getuid() if hasattr(os, 'getuid') else 0}" / lib.name
        if lib.exists():
            return lib
        lib.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=lib.parent)
    os.close(fd)
    try:
        proc = subprocess.run([cc, *_FLAGS, str(_SOURCE), "-o", tmp, "-lm"], capture_output=True, text=True,
                              timeout=120)
        if proc.returncode != 0:
            raise OSError(f"{Path(cc).name} failed: {proc.stderr.strip()[-400:]}")
        os.replace(tmp, lib)  # atomic: a concurrent build leaves one complete library
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return lib


@functools.cache
def _load() -> tuple[Any, str]:
    """``(the loaded library or None, why)``, built and loaded once per process."""
    if os.environ.get("WCE_CPU_KERNEL", "1") == "0":
        return None, "WCE_CPU_KERNEL=0 is set"
    cc = _compiler()
    if cc is None:
        return None, "no C compiler found (cc, gcc or clang; or set CC)"
    try:
        lib = ctypes.CDLL(str(_build(cc)))
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"the C kernel could not be built or loaded: {exc}"
    p, i32, i64, f64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_double
    lib.wce_softmax.argtypes = [i32, p, i64, i64, i64, p, p, p, i32, i64, f64, i32, p, p, i32]
    lib.wce_sigmoid.argtypes = [i32, p, p, i64, i64, p, p, p, i32, p, p, i32]
    lib.wce_softmax.restype = lib.wce_sigmoid.restype = lib.wce_simd.restype = i32
    lib.wce_use_simd.argtypes = [i32]
    return lib, f"built with {Path(cc).name}"


def status() -> tuple[bool, str]:
    """``(usable, why)``: whether the C kernel is built and loaded here, and how (or why not)."""
    global AVAILABLE
    fn, why = _load()
    AVAILABLE = fn is not None
    return fn is not None, why


def simd(on: bool | None = None) -> bool:
    """Whether float32 ``softmax_wce`` rows without label smoothing run the kernel's AVX2 path (x86-64 with AVX2
    and FMA); ``on`` turns it on or off first (the tests compare it with the portable path)."""
    lib, _ = _load()
    if lib is None:
        return False
    if on is not None:
        lib.wce_use_simd(int(on))
    return bool(lib.wce_simd())


def _ptr(t: Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


class _Rejected(ValueError):
    """The kernel met a value the reference's check rejects: the caller runs that check for its message."""


def _threads(elements: int) -> int:
    return torch.get_num_threads() if elements >= THREAD_MIN else 1


def _softmax_run(x: Tensor, y: Tensor, w: Tensor | None, sw: Tensor | None, ignore_index: int | None, eps: float,
                 reduction: str, want_grad: bool) -> tuple[Tensor, Tensor | None]:
    """One ``softmax_wce`` kernel call on (N, C) rows with unit class stride: ``(value or rows' values, grad)``."""
    n, c = x.shape
    out = torch.empty(n if reduction == "none" else (), dtype=x.dtype)
    grad = torch.empty((n, c), dtype=x.dtype) if want_grad else None
    rc = _load()[0].wce_softmax(x.dtype == torch.float64, x.data_ptr(), n, c, x.stride(0), y.data_ptr(), _ptr(w),
                                _ptr(sw), ignore_index is not None, 0 if ignore_index is None else ignore_index, eps,
                                _REDUCTIONS[reduction], out.data_ptr(), _ptr(grad), _threads(n * c))
    if rc == 1:
        raise _Rejected("softmax_wce (C kernel): a value the argument check rejects (non-finite logits, a label "
                        "out of range, a negative or non-finite weight, or a zero normaliser); "
                        "wce_ref.torch.softmax_wce names it")
    if rc != 0:
        raise MemoryError(f"softmax_wce (C kernel): out of memory for a scratch row of {c} classes")
    return out, grad


def _sigmoid_run(x: Tensor, t: Tensor, wp: Tensor, wn: Tensor, sw: Tensor | None, reduction: str,
                 want_grad: bool) -> tuple[Tensor, Tensor | None]:
    """One ``sigmoid_wce`` kernel call on contiguous elements (weights per column of the last axis)."""
    k = x.shape[-1]
    out = torch.empty(x.shape if reduction == "none" else (), dtype=x.dtype)
    grad = torch.empty_like(x) if want_grad else None
    rc = _load()[0].wce_sigmoid(x.dtype == torch.float64, x.data_ptr(), t.data_ptr(), x.numel() // k, k,
                                wp.data_ptr(), wn.data_ptr(), _ptr(sw), _REDUCTIONS[reduction], out.data_ptr(),
                                _ptr(grad), _threads(x.numel()))
    if rc == 1:
        raise _Rejected("sigmoid_wce (C kernel): a value the argument check rejects (non-finite logits, targets "
                        "outside [0, 1], a negative or non-finite weight); wce_ref.torch.sigmoid_wce names it")
    if rc != 0:
        raise MemoryError(f"sigmoid_wce (C kernel): out of memory for a scratch row of {k} elements")
    return out, grad


class _CKernel(torch.autograd.Function):
    """A kernel as one autograd node: ``run(x, *args, want_grad)`` computes the value and the gradient of the
    (reduced) loss in the forward; the backward multiplies the kept gradient by the incoming one. The other
    arguments travel as one tuple (none of them wants a gradient; fewer arguments, less per-call work)."""

    @staticmethod
    def forward(ctx, x, run, args):
        out, grad = run(x, *args, ctx.needs_input_grad[0])
        ctx.grad, ctx.inputs, ctx.x_version = grad, (run, x.detach(), args), x._version
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        grad, ctx.grad = ctx.grad, None  # spent: a second backward (retain_graph=True) recomputes it
        if grad is None:
            run, x, args = ctx.inputs
            if x._version != ctx.x_version:
                raise RuntimeError("the C kernel: the logits were modified in place after the forward; a second "
                                   "backward through the loss cannot recompute its gradient")
            grad = run(x, *args, True)[1]
        if g.dim() > 0:  # reduction "none": one factor per row (softmax) or element (sigmoid)
            grad.mul_(g.reshape(g.shape + (1,) * (grad.dim() - g.dim())))
        elif float(g) != 1.0:
            grad.mul_(g)
        return grad, None, None


def _as_rows_arg(v: Any, n: int, dtype: torch.dtype) -> Tensor | None | bool:
    """A weight argument as a contiguous CPU tensor of ``dtype`` (None for None); False where it must take the
    formula (a gradient wanted for it, or not a plain CPU tensor of ``n`` entries)."""
    if v is None:
        return None
    if not isinstance(v, Tensor) or v.requires_grad or v.device.type != "cpu" or v.dim() != 1 or v.shape[0] != n:
        return False
    return v.to(dtype).contiguous()


def _as_column_weights(v: Any, k: int, dtype: torch.dtype) -> Tensor | bool:
    """``pos_weight`` / ``neg_weight`` as k column weights (a number, a 0-d, (1,) or (k,) CPU tensor); False
    where the formula must run (other broadcasts, a gradient wanted)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return torch.full((k,), float(v), dtype=dtype) if torch.compiler.is_compiling() else _filled(float(v), k, dtype)
    if not isinstance(v, Tensor) or v.requires_grad or v.device.type != "cpu" or v.dim() > 1:
        return False
    if v.numel() == 1:
        return v.to(dtype).reshape(1).expand(k).contiguous()
    return v.to(dtype).contiguous() if v.shape == (k,) else False


@functools.lru_cache(maxsize=64)
def _filled(value: float, k: int, dtype: torch.dtype) -> Tensor:
    return torch.full((k,), value, dtype=dtype)  # read only by the kernel: shared between calls


def _float_input(x: Tensor) -> Tensor:
    """The kernel's view of float logits: float32 or float64 (half precisions cast: autograd casts back)."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _eligible(x: Any, min_dim: int, max_dim: int) -> bool:
    return (isinstance(x, Tensor) and x.device.type == "cpu" and x.dtype in _FLOATS and min_dim <= x.dim() <= max_dim
            and x.numel() > 0)


# ---------------------------------------------------------------------------------------------- softmax_wce


def softmax_wce(logits: Tensor, labels: Tensor, *, class_weights: Tensor | None = None,
                sample_weight: Tensor | None = None, reduction: str = "weighted_mean", label_smoothing: float = 0.0,
                ignore_index: int | None = None) -> Tensor:
    """:func:`wce_ref.softmax_wce` through the C kernel: (N, C) float CPU logits, class indices.

    The kernel checks the values the reference's check rejects and raises :class:`ValueError` for them (the
    front end's message names the value). Raises :class:`RuntimeError` where the kernel is not available
    (:func:`status`) and :class:`TypeError` for arguments it does not take.
    """
    ok, why = status()
    if not ok:
        raise RuntimeError(f"softmax_wce (C kernel) is not available: {why}")
    if not isinstance(logits, Tensor) or logits.dtype not in _FLOATS or logits.dim() != 2 or logits.is_cuda:
        kind = f"{logits.dtype} {tuple(logits.shape)} on {logits.device}" if isinstance(logits, Tensor) else type(
            logits).__name__
        raise TypeError(f"softmax_wce (C kernel): logits must be an (N, C) float CPU tensor; received {kind}")
    n, c = logits.shape
    if not isinstance(labels, Tensor) or labels.is_floating_point() or tuple(labels.shape) != (n,):
        raise TypeError(f"softmax_wce (C kernel): labels must be {n} class indices; received "
                        f"{labels.dtype if isinstance(labels, Tensor) else type(labels).__name__}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"softmax_wce (C kernel): reduction must be one of {list(_REDUCTIONS)}; received "
                         f"{reduction!r}")
    ct = _compute(logits.dtype)
    w, sw = _as_rows_arg(class_weights, c, ct), _as_rows_arg(sample_weight, n, ct)
    if w is False or sw is False:
        raise TypeError("softmax_wce (C kernel): class_weights and sample_weight must be 1-D CPU tensors of C and "
                        "N entries without requires_grad")
    return _softmax_apply(logits, labels, w, sw, ignore_index=ignore_index, label_smoothing=label_smoothing,
                          reduction=reduction)


def _node(x: Tensor, run: Any, op: Any, args: tuple) -> Tensor:
    """The kernel ``run`` on ``(x, *args)`` as one autograd node: :class:`_CKernel` eagerly, its custom operator
    ``op`` inside ``torch.compile`` (see :func:`compiled`)."""
    if torch.compiler.is_compiling():
        return op(x, *args, x.requires_grad and torch.is_grad_enabled())[0]
    return _CKernel.apply(x, run, args)


def _softmax_apply(logits: Tensor, labels: Tensor, w: Tensor | None, sw: Tensor | None, *,
                   ignore_index: int | None, label_smoothing: float, reduction: str) -> Tensor:
    """The autograd node on arguments already known to be the kernel's (no check here: the hot path)."""
    x = _float_input(logits)
    x = x if x.stride(1) == 1 and x.stride(0) >= x.shape[1] else x.contiguous()
    y = labels if labels.dtype == torch.int64 and labels.is_contiguous() else labels.to(torch.int64).contiguous()
    ignore = None if ignore_index is None else int(ignore_index)
    out = _node(x, _softmax_run, _softmax_op, (y, w, sw, ignore, float(label_smoothing), reduction))
    return out if out.dtype == logits.dtype else out.to(logits.dtype)


def _softmax_args(tensors: dict[str, Any], rest: dict[str, Any]) -> dict[str, Any] | None:
    """The kernel's arguments for checked ``softmax_wce`` arguments it takes; None where the formula runs."""
    x, y = tensors["logits"], tensors["labels"]
    if not _eligible(x, 2, 2) or rest.get("class_axis", 1) not in (1, -1):
        return None
    if not isinstance(y, Tensor) or y.is_floating_point() or y.dim() != 1:
        return None
    (n, c), ct = x.shape, _compute(x.dtype)
    w, sw = _as_rows_arg(tensors.get("class_weights"), c, ct), _as_rows_arg(tensors.get("sample_weight"), n, ct)
    if w is False or sw is False:
        return None
    return {"logits": x, "labels": y, "w": w, "sw": sw, "ignore_index": rest.get("ignore_index"),
            "label_smoothing": rest.get("label_smoothing", 0.0), "reduction": rest.get("reduction", "weighted_mean")}


# ---------------------------------------------------------------------------------------------- sigmoid_wce


def _sigmoid_apply(logits: Tensor, targets: Tensor, wp: Tensor, wn: Tensor, sw: Tensor | None, *,
                   reduction: str) -> Tensor:
    x = _float_input(logits).contiguous()
    t = targets.to(x.dtype).contiguous()
    out = _node(x, _sigmoid_run, _sigmoid_op, (t, wp, wn, sw, reduction))
    return out if out.dtype == logits.dtype else out.to(logits.dtype)


def _sigmoid_args(tensors: dict[str, Any], rest: dict[str, Any]) -> dict[str, Any] | None:
    """The kernel's arguments for checked ``sigmoid_wce`` arguments it takes: logits of at least one axis,
    targets of their shape, weights per column of the last axis, sample weights of the logits' shape."""
    x, t = tensors["logits"], tensors["targets"]
    if not _eligible(x, 1, 64) or rest.get("reduction", "mean") not in ("none", "sum", "mean"):
        return None
    if not isinstance(t, Tensor) or t.shape != x.shape or t.device.type != "cpu" or t.requires_grad:
        return None
    k, ct = x.shape[-1], _compute(x.dtype)
    wp = _as_column_weights(tensors.get("pos_weight", 1.0), k, ct)
    wn = _as_column_weights(tensors.get("neg_weight", 1.0), k, ct)
    sw = tensors.get("sample_weight")
    if sw is not None:
        if not isinstance(sw, Tensor) or sw.shape != x.shape or sw.requires_grad or sw.device.type != "cpu":
            return None
        sw = sw.to(ct).contiguous()
    if wp is False or wn is False:
        return None
    return {"logits": x, "targets": t, "wp": wp, "wn": wn, "sw": sw, "reduction": rest.get("reduction", "mean")}


# ---------------------------------------------------------------------------------------------- the front end

#: per loss: the kernel's arguments from checked ones, the call, and the keyword arguments of the fast path
_KERNELS = {
    "softmax_wce": (_softmax_args, _softmax_apply,
                    frozenset({"class_weights", "sample_weight", "class_axis", "ignore_index", "label_smoothing",
                               "reduction"})),
    "sigmoid_wce": (_sigmoid_args, _sigmoid_apply, frozenset({"pos_weight", "neg_weight", "sample_weight",
                                                              "reduction"})),
}
#: how many configurations :func:`fast` remembers (then it starts again)
MEMO_SIZE = 256
#: per configuration that passed the reference's check and the kernel: how to turn a call into the kernel's
_PASSED: dict[tuple, tuple[str, dict[str, Any]]] = {}


def _inputs(name: str) -> tuple[str, str]:
    return ("logits", "labels") if name == "softmax_wce" else ("logits", "targets")


def _bind(name: str, args: tuple, kwargs: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]] | None:
    """``(logits, labels or targets, the other keyword arguments)`` of a call, positional or by keyword; None
    for any other form (the general path binds it)."""
    first, second = _inputs(name)
    if len(args) == 2:
        return (args[0], args[1], kwargs) if first not in kwargs and second not in kwargs else None
    if len(args) == 1 and second in kwargs and first not in kwargs:
        rest = dict(kwargs)
        return args[0], rest.pop(second), rest
    if not args and first in kwargs and second in kwargs:
        rest = dict(kwargs)
        return rest.pop(first), rest.pop(second), rest
    return None


def dispatch(name: str, tensors: dict[str, Any], rest: dict[str, Any], call: tuple[tuple, dict] | None = None) -> Any:
    """The kernel's result for checked arguments of loss ``name`` it takes, or None for the formula's path.

    ``call``, the ``(args, kwargs)`` the arguments were checked from, is remembered for :func:`fast`.
    """
    kernel = _KERNELS.get(name)
    if kernel is None or _load()[0] is None:
        return None
    args = kernel[0](tensors, rest)
    if args is None:
        return None
    try:
        out = kernel[1](**args)
    except _Rejected:  # a value the check let through but the kernel does not take: the formula decides
        return None
    key = None if call is None else _key(name, *call)
    if key is not None:
        if len(_PASSED) >= MEMO_SIZE:
            _PASSED.clear()
        _PASSED[key] = (name, {k: v for k, v in rest.items() if k not in tensors})
    return out


def _key(name: str, args: tuple, kwargs: dict[str, Any]) -> tuple | None:
    """A call's configuration (the loss, shapes, dtypes, devices and the other arguments' values), or None off
    the fast path."""
    kernel, bound = _KERNELS.get(name), _bind(name, args, kwargs)
    if kernel is None or bound is None or not kernel[2].issuperset(bound[2]):
        return None
    x, y, kwargs = bound
    if not (isinstance(x, Tensor) and isinstance(y, Tensor)):
        return None
    parts: list[Any] = [name, x.shape, x.dtype, x.device, y.shape, y.dtype, y.device]
    for k in sorted(kwargs):
        v = kwargs[k]
        if isinstance(v, Tensor):
            if v.requires_grad:
                return None
            parts.append((k, v.shape, v.dtype, v.device))
        elif v is None or type(v) in (bool, int, float, str):
            parts.append((k, v))
        else:
            return None
    return tuple(parts)


def fast(name: str, args: tuple, kwargs: dict[str, Any]) -> Tensor | None:
    """Loss ``name`` of ``(*args, **kwargs)`` through the kernel where its configuration passed before, else None.

    A configuration (:func:`_key`) is remembered once the reference's full check and the kernel have both
    passed on it (:func:`dispatch`); a later call with the same shapes, dtypes and options skips the Python
    check: the kernel checks the values the check would (finite logits, labels in range or ``ignore_index``,
    targets in [0, 1], finite non-negative weights, a non-zero normaliser) in the same pass, and where one fails
    this returns None, so that the caller runs the reference's check, which raises its message.
    """
    if not _PASSED or torch.compiler.is_compiling():
        return None
    key = _key(name, args, kwargs)
    passed = None if key is None else _PASSED.get(key)
    if passed is None:
        return None
    kernel = _KERNELS[name]
    x, y, rest = _bind(name, args, kwargs)
    first, second = _inputs(name)
    checked = {first: x, second: y, **rest, **passed[1]}  # the check's normalised options (defaults filled in)
    tensors = {k: v for k, v in checked.items() if k not in passed[1]}
    kernel_args = kernel[0](tensors, passed[1])
    if kernel_args is None:
        return None
    try:
        return kernel[1](**kernel_args)
    except _Rejected:
        return None


# ---------------------------------------------------------------------------------------------- torch.compile
# Inside a compiled graph the kernel is a custom operator: opaque to the compiler, which calls it between its own
# kernels; its fake implementation gives the compiler the outputs' shapes. The value and the gradient come out
# of one call (the gradient empty where none is wanted); the backward multiplies the gradient by the incoming
# one. :func:`_node` calls it after the eager path's argument preparation. Which calls take it is decided on
# shapes, dtypes, devices and options only (traceable). The values are not checked in Python under
# torch.compile, but the kernel checks them in its pass: a bad one raises the reference's
# message (its check runs then, on the rejected call's arguments).


def _reference_message(name: str, arrays: dict[str, Tensor | None], options: dict[str, Any]) -> None:
    """Run the reference's check on the kernel's arguments (the kernel rejected a value): it raises its message."""
    from .. import losses

    spec = losses.get(name)
    spec.value(**{k: v.detach().double().numpy() for k, v in arrays.items() if v is not None}, **options)


@torch.library.custom_op("wce_ref::cpu_softmax_wce", mutates_args=())
def _softmax_op(x: Tensor, y: Tensor, w: Tensor | None, sw: Tensor | None, ignore_index: int | None, eps: float,
                reduction: str, want_grad: bool) -> tuple[Tensor, Tensor]:
    try:
        out, grad = _softmax_run(x, y, w, sw, ignore_index, eps, reduction, want_grad)
    except _Rejected:
        _reference_message("softmax_wce", {"logits": x, "labels": y.detach().clone(), "class_weights": w,
                                           "sample_weight": sw},
                           {"ignore_index": ignore_index, "label_smoothing": eps, "reduction": reduction})
        raise
    return out, x.new_empty((0,)) if grad is None else grad


@_softmax_op.register_fake
def _softmax_op_fake(x, y, w, sw, ignore_index, eps, reduction, want_grad):
    return x.new_empty(x.shape[:1] if reduction == "none" else ()), x.new_empty(x.shape if want_grad else (0,))


@torch.library.custom_op("wce_ref::cpu_sigmoid_wce", mutates_args=())
def _sigmoid_op(x: Tensor, t: Tensor, wp: Tensor, wn: Tensor, sw: Tensor | None, reduction: str,
                want_grad: bool) -> tuple[Tensor, Tensor]:
    try:
        out, grad = _sigmoid_run(x, t, wp, wn, sw, reduction, want_grad)
    except _Rejected:
        _reference_message("sigmoid_wce", {"logits": x, "targets": t, "pos_weight": wp, "neg_weight": wn,
                                           "sample_weight": sw}, {"reduction": reduction})
        raise
    return out, x.new_empty((0,)) if grad is None else grad


@_sigmoid_op.register_fake
def _sigmoid_op_fake(x, t, wp, wn, sw, reduction, want_grad):
    return x.new_empty(x.shape if reduction == "none" else ()), x.new_empty(x.shape if want_grad else (0,))


def _op_setup(ctx, inputs, output):
    ctx.save_for_backward(output[1])
    ctx.rows = inputs[-2] == "none" and inputs[0].dim() != len(output[0].shape)  # softmax "none": one g per row
    ctx.n_rest = len(inputs) - 1


def _op_backward(ctx, g, _g_grad):
    (grad,) = ctx.saved_tensors
    return (grad * (g[:, None] if ctx.rows else g), *([None] * ctx.n_rest))


for _op in ("wce_ref::cpu_softmax_wce", "wce_ref::cpu_sigmoid_wce"):
    torch.library.register_autograd(_op, _op_backward, setup_context=_op_setup)


#: whether the kernel is built and loaded: set outside compiled code (:func:`status`), read inside it
AVAILABLE = False


def compiled(name: str, tensors: dict[str, Any], rest: dict[str, Any]) -> Tensor | None:
    """Loss ``name`` on checked arguments inside ``torch.compile`` through the kernel's custom operator, or None
    where the formula runs (the kernel not loaded, arguments it does not take). Traceable: it looks at shapes,
    dtypes, devices and options, never at values."""
    kernel = _KERNELS.get(name)
    if kernel is None or not AVAILABLE:
        return None
    args = kernel[0](tensors, rest)
    return None if args is None else kernel[1](**args)


# ---------------------------------------------------------------------------------------------- the matrix


def _softmax_call(backend: Any, *, logits: Tensor, labels: Tensor, class_weights: Any = None,
                  sample_weight: Any = None, reduction: str = "weighted_mean", label_smoothing: float = 0.0,
                  ignore_index: int | None = None, class_axis: int = 1) -> Tensor:
    tensors = {"logits": logits, "labels": labels, "class_weights": class_weights, "sample_weight": sample_weight}
    args = _softmax_args(tensors, {"class_axis": class_axis, "ignore_index": ignore_index,
                                   "label_smoothing": label_smoothing, "reduction": reduction})
    if args is None:
        raise NotSupported("the C kernel takes (N, C) float CPU logits with class-index labels")
    return _softmax_apply(**args)


def _sigmoid_call(backend: Any, *, logits: Tensor, targets: Tensor, pos_weight: Any = 1.0, neg_weight: Any = 1.0,
                  sample_weight: Any = None, reduction: str = "mean") -> Tensor:
    tensors = {"logits": logits, "targets": targets, "pos_weight": pos_weight, "neg_weight": neg_weight,
               "sample_weight": sample_weight}
    args = _sigmoid_args(tensors, {"reduction": reduction})
    if args is None:
        raise NotSupported("the C kernel takes float CPU logits of at least one axis, targets and sample weights of "
                           "their shape, weights per column of the last axis")
    return _sigmoid_apply(**args)


def _softmax_supports(kwargs: dict[str, Any], reduction: str) -> bool:
    return np.asarray(kwargs["labels"]).dtype.kind in "iu" and np.ndim(kwargs["logits"]) == 2 and status()[0]


def _sigmoid_supports(kwargs: dict[str, Any], reduction: str) -> bool:
    x = np.asarray(kwargs["logits"])
    k = x.shape[-1] if x.ndim else 0

    def column(v: Any) -> bool:
        return np.ndim(v) == 0 or np.shape(v) in ((1,), (k,))

    sw = kwargs.get("sample_weight")
    return (x.ndim >= 1 and x.size > 0 and column(kwargs.get("pos_weight", 1.0))
            and column(kwargs.get("neg_weight", 1.0)) and (sw is None or np.shape(sw) == x.shape) and status()[0])


def _runs_on(device: str) -> bool:
    return device == "cpu"


def builtins() -> list[Builtin]:
    """The kernel as implementations of the agreement matrix (rows named :data:`IMPL`, one per loss)."""
    where = "what eager PyTorch runs for it on CPU tensors"
    return [
        Builtin(IMPL, "softmax_wce", _softmax_call, _softmax_supports,
                note=f"this project's fused C kernel (wce_ref/frameworks/_torch_cpu.py, _cpu_kernel.c), value and "
                     f"gradient in one pass; {where} ((N, C) logits, class-index labels)",
                defaults="softmax_wce(x, y) with class-index labels", runs_on=_runs_on),
        Builtin(IMPL, "sigmoid_wce", _sigmoid_call, _sigmoid_supports,
                note=f"this project's fused C kernel (wce_ref/frameworks/_torch_cpu.py, _cpu_kernel.c), value and "
                     f"gradient in one pass; {where} (weights per column of the last axis)",
                defaults="sigmoid_wce(x, t)", runs_on=_runs_on),
    ]


def unavailable() -> list[tuple[str, str]]:
    """``(IMPL, why)`` where the kernel cannot be measured here (for the matrix's 'not measured' list)."""
    ok, why = status()
    return [] if ok else [(IMPL, why)]
