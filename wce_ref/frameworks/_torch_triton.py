r"""The fused Triton kernel of :func:`wce_ref.softmax_wce` for PyTorch: value and gradient in one pass.

The PyTorch front end and framework version (:meth:`TorchBackend.loss`) send ``softmax_wce`` on CUDA tensors
with class-index labels here, after the reference's argument check; CPU tensors take the C kernel
(:mod:`wce_ref.frameworks._torch_cpu`), probability labels and code
under ``torch.compile`` keep the operations-table formula. Where Triton cannot be imported the CUDA path falls
back to that formula too, with a warning that gives the reason (:func:`status`).

The kernels (:mod:`wce_ref.frameworks._triton_kernel`) compute, per row, the cancellation-free value of
:mod:`wce_ref.losses._ops` with class weights :math:`w`, label smoothing :math:`\varepsilon`, ``ignore_index``
and sample weights :math:`s_i`, and the gradient of the reduced loss in the same pass over the logits (the
gradient is computed in the forward and saved, as quack's and Liger-Kernel's cross entropy do):

.. math::

    L = \frac{1}{Z} \sum_{i \in V} s_i \ell_i, \qquad
    \frac{\partial L}{\partial x_{ij}} = \frac{s_i}{Z}\Bigl(\bigl(\textstyle\sum_c a_{ic}\bigr) p_{ij} - a_{ij}\Bigr),
    \qquad a_{ic} = (1 - \varepsilon) w_{y_i} [c = y_i] + \frac{\varepsilon}{C} w_c,

with :math:`Z` the reduction's normaliser (1 for ``sum`` and ``none``, :math:`|V|` for ``mean``,
:math:`\sum_{i \in V} s_i w_{y_i}` for ``weighted_mean``), computed on the device before the kernel (a pass
over the labels, no host synchronisation). The backward multiplies the saved gradient by the incoming one in
place, on the device, and skips every row whose factor is 1: ``loss.backward()`` reads and writes no
gradient byte twice. float32, float16 and bfloat16 logits are computed in float32, float64 in float64.

On the CPU the kernels run through Triton's interpreter when ``TRITON_INTERPRET=1`` is set before they are
imported (the tests and the agreement matrix's ``torch-triton`` rows do this); they are slow there and are
never used by the front end on CPU tensors.

References
----------
.. [1] M. Milakov and N. Gimelshein, "Online normalizer calculation for softmax", arXiv:1805.02867, 2018.
.. [2] W. Guo, T. Zadouri, T. Dao, quack (``quack/cross_entropy.py``), https://github.com/Dao-AILab/quack.
.. [3] LinkedIn, Liger-Kernel (``src/liger_kernel/ops/cross_entropy.py``), https://github.com/linkedin/Liger-Kernel.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..losses import Builtin
from ._base import NotSupported

__all__ = ["IMPL", "builtins", "dispatch", "softmax_wce", "status", "unavailable"]

#: the implementation's name in the agreement matrix and the benchmarks
IMPL = "torch-triton"
#: the widest class axis read into registers in one tile (wider rows: the two-pass looped kernel)
MAX_TILE = 8192
#: elements per program of the one-tile kernel (several rows per program when the class axis is narrow)
TILE_ELEMENTS = 4096
_FLOATS = {torch.float32, torch.float16, torch.bfloat16, torch.float64}
_REDUCTIONS = ("none", "sum", "mean", "weighted_mean")
_WARNED: set[str] = set()


@functools.cache
def _kernels() -> Any:
    """The kernel module, imported once (None where Triton cannot be imported; :func:`status` says why)."""
    if _blocked():
        return None
    try:
        from . import _triton_kernel
    except Exception:  # absent, or a broken install: the caller falls back and says why
        return None
    return _triton_kernel


@functools.cache
def status() -> tuple[bool, str]:
    """``(importable, description)``: Triton's version and mode, or why it cannot be used."""
    blocked = _blocked()
    if blocked:
        return False, blocked
    try:
        import triton
    except Exception as exc:
        return False, f"triton cannot be imported ({type(exc).__name__}: {exc}); pip install triton"
    if _kernels() is None:
        return False, f"triton {triton.__version__} imports but the kernels do not compile-import"
    mode = "interpreter (TRITON_INTERPRET=1)" if interpreting() else "compiled"
    return True, f"triton {triton.__version__}, {mode}"


def _blocked() -> str | None:
    """Why Triton must not be imported in this process (None: it may).

    TensorFlow and Triton each carry an LLVM that registers the same command-line options: importing Triton
    after TensorFlow aborts the whole process ("LLVM ERROR: inconsistency in registered CommandLine
    options"), which no ``except`` can catch. Triton imported first, then TensorFlow, works.
    """
    if "tensorflow" in sys.modules and "triton" not in sys.modules:
        return ("TensorFlow is loaded in this process, and importing Triton after it aborts the process (both "
                "register LLVM's command-line options); use the Triton kernel in a process without TensorFlow, "
                "e.g. wce check --frameworks torch")
    return None


def _could_run() -> bool:
    """Whether the kernel could run here at all (a CUDA device, or Triton's interpreter asked for), without
    importing Triton."""
    return os.environ.get("TRITON_INTERPRET") == "1" or torch.cuda.is_available()


def import_early() -> None:
    """Import Triton now, with torch, where the kernel could run (CUDA, or ``TRITON_INTERPRET=1``).

    Triton imported before TensorFlow lets both live in one process (the other order aborts it,
    :func:`_blocked`), so an agreement matrix of torch and TensorFlow still measures the kernel.
    """
    if _blocked() is None and _could_run():
        status()


def interpreting() -> bool:
    """Whether the kernels were imported under Triton's interpreter (they then run on CPU tensors)."""
    kernels = _kernels()
    if kernels is None:
        return False
    return type(kernels.wce_fwd_tile).__name__ == "InterpretedFunction"


def runs_on(device: torch.device | str) -> str | None:
    """None where the kernels can run on ``device``, else the reason they cannot."""
    ok, why = status()
    if not ok:
        return why
    kind = torch.device(device).type
    if kind == "cuda":
        return None if not interpreting() else "the kernels were imported under TRITON_INTERPRET=1 (CPU only)"
    if kind == "cpu":
        return None if interpreting() else "CPU tensors need Triton's interpreter: set TRITON_INTERPRET=1 first"
    return f"no Triton kernel for device type {kind!r}"


# ---------------------------------------------------------------------------------------------- the launcher


@dataclass(frozen=True)
class _Config:
    ignore_index: int | None
    per_row: bool  # reduction "none": one value per row, else one partial sum per program
    max_tile: int  # the widest class axis of the one-tile kernel (tests lower it to reach the looped one)


def _acc(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _plan(n_cols: int, max_tile: int) -> tuple[Any, int, int, int]:
    """``(kernel, BLOCK_M, BLOCK_C, num_warps)`` for a class axis of ``n_cols``."""
    kernels = _kernels()
    block_c = max(triton_next_pow2(n_cols), 2)
    if block_c <= max_tile:
        block_m = max(1, min(256, TILE_ELEMENTS // block_c))
        return kernels.wce_fwd_tile, block_m, block_c, min(8, max(1, block_m * block_c // 512))
    block_c = max_tile
    return kernels.wce_fwd_looped, 1, block_c, min(16, max(1, block_c // 256))


def triton_next_pow2(n: int) -> int:
    """The smallest power of 2 at least ``n`` (``triton.next_power_of_2`` without importing triton)."""
    return 1 << max(int(n) - 1, 0).bit_length()


def _launch(x: torch.Tensor, y: torch.Tensor, w: Tensor | None, sw: Tensor | None, norm: Tensor | None,
            coef: Tensor | None, cfg: _Config, want_grad: bool) -> tuple[Tensor, Tensor | None]:
    """Run the forward kernel on (M, C) rows: ``(values, grad)``, values per row or per program (``ACC``)."""
    n_rows, n_cols = x.shape
    acc = _acc(x.dtype)
    kernel, block_m, block_c, warps = _plan(n_cols, cfg.max_tile)
    programs = triton_cdiv(n_rows, block_m)
    values = torch.empty(n_rows if cfg.per_row else programs, dtype=acc, device=x.device)
    grad = torch.empty_like(x) if want_grad else x  # x: a dummy pointer, never written (WANT_GRAD=False)
    dummy = values
    kernel[(programs,)](
        x, y, dummy if w is None else w, dummy if sw is None else sw, dummy if norm is None else norm,
        dummy if coef is None else coef, values, grad, n_rows, n_cols, x.stride(0),
        0 if cfg.ignore_index is None else int(cfg.ignore_index),
        BLOCK_M=block_m, BLOCK_C=block_c, HAS_W=w is not None, HAS_SW=sw is not None,
        HAS_IGNORE=cfg.ignore_index is not None, HAS_NORM=norm is not None, HAS_EPS=coef is not None,
        PER_ROW=cfg.per_row, WANT_GRAD=want_grad, INTERP=interpreting(), ACC=_tl_dtype(acc), num_warps=warps,
    )
    return values, (grad if want_grad else None)


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _tl_dtype(dtype: torch.dtype) -> Any:
    import triton.language as tl

    return tl.float64 if dtype == torch.float64 else tl.float32


def _scale(grad: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``grad * g`` in place (``g`` a scalar or one factor per row), rows with factor 1 untouched."""
    n_rows, n_cols = grad.shape
    per_row = g.dim() > 0
    block_c = min(triton_next_pow2(n_cols), 1024)
    block_m = max(1, 4096 // block_c)
    _kernels().scale_rows[(triton_cdiv(n_rows, block_m),)](
        grad, g.contiguous(), n_rows, n_cols, grad.stride(0), PER_ROW=per_row, BLOCK_M=block_m, BLOCK_C=block_c,
        ACC=_tl_dtype(_acc(grad.dtype)),
    )
    return grad


class _FusedWCE(torch.autograd.Function):
    """The fused loss as one autograd node: the forward computes the gradient and saves it."""

    @staticmethod
    def forward(ctx, x, y, w, sw, norm, coef, cfg):
        want = ctx.needs_input_grad[0]
        values, grad = _launch(x, y, w, sw, norm, coef, cfg, want)
        if not cfg.per_row:
            values = values.sum() if norm is None else values.sum() / norm
        ctx.grad, ctx.inputs, ctx.cfg = grad, (x.detach(), y, w, sw, norm, coef), cfg
        ctx.x_version = x._version
        return values

    @staticmethod
    def backward(ctx, g):
        grad = ctx.grad
        ctx.grad = None  # spent: the next backward through this node (retain_graph=True) recomputes it
        if grad is None:
            x = ctx.inputs[0]
            if x._version != ctx.x_version:
                raise RuntimeError("softmax_wce (Triton): the logits were modified in place after the forward; "
                                   "a second backward through the loss cannot recompute its gradient")
            grad = _launch(*ctx.inputs, ctx.cfg, True)[1]
        return _scale(grad, g), None, None, None, None, None, None


# ---------------------------------------------------------------------------------------------- the entry


@functools.lru_cache(maxsize=64)
def _full(values: tuple[float, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A small constant tensor on ``device``, made once per value (no copy per call)."""
    return torch.tensor(values, dtype=dtype, device=device)


def _rows(logits: Tensor, labels: Tensor, class_axis: int,
          sample_weight: Any) -> tuple[Tensor, Tensor, Tensor | None, tuple[int, ...]]:
    """``(x (M, C) with unit class stride, labels (M,), sample weights (M,) or None, positions' shape)``."""
    x = logits.reshape(1, -1) if logits.dim() == 1 else torch.movedim(logits, class_axis % logits.dim(), -1)
    positions = tuple(x.shape[:-1]) if logits.dim() > 1 else ()
    x = x.reshape(-1, x.shape[-1])
    if x.stride(-1) != 1:
        x = x.contiguous()
    y = labels.reshape(-1)
    sw = None
    if sample_weight is not None:
        sw = torch.as_tensor(sample_weight, device=x.device)
        if sw.dim() < len(positions):
            sw = sw.reshape(sw.shape + (1,) * (len(positions) - sw.dim())).expand(positions)
        sw = sw.reshape(-1).to(_acc(x.dtype)).contiguous()
    return x, y.contiguous(), sw, positions


def _normaliser(reduction: str, y: Tensor, w: Tensor | None, sw: Tensor | None, ignore_index: int | None,
                acc: torch.dtype) -> Tensor | None:
    """The reduction's normaliser as a device scalar (None for ``sum`` and ``none``): no host synchronisation."""
    if reduction in ("sum", "none"):
        return None
    valid = None if ignore_index is None else y != ignore_index
    if reduction == "mean":
        if valid is None:
            return _full((float(y.numel()),), acc, y.device)[0]
        return valid.sum().to(acc)
    r = None if w is None else w.index_select(0, y if valid is None else torch.where(valid, y, 0))
    if sw is not None:
        r = sw if r is None else r * sw
    if valid is not None:
        r = valid.to(acc) if r is None else torch.where(valid, r, 0)
    return _full((float(y.numel()),), acc, y.device)[0] if r is None else r.sum()


def _check_kernel_args(logits: Any, labels: Any, reduction: str) -> None:
    """What the kernel adds to the reference's check: a float tensor, class-index labels, a known reduction."""
    if not isinstance(logits, torch.Tensor) or logits.dtype not in _FLOATS:
        kind = logits.dtype if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise TypeError(f"softmax_wce (Triton): logits must be a float16, bfloat16, float32 or float64 tensor; "
                        f"received {kind}")
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.dim() == logits.dim():
        raise TypeError("softmax_wce (Triton): labels must be a tensor of class indices (probability labels take "
                        "the operations-table path)")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"softmax_wce (Triton): reduction must be one of {_REDUCTIONS}; received {reduction!r}")
    why = runs_on(logits.device)
    if why is not None:
        raise RuntimeError(f"softmax_wce (Triton) cannot run on {logits.device}: {why}")


def softmax_wce(logits: Tensor, labels: Tensor, *, class_weights: Any = None, sample_weight: Any = None,
                reduction: str = "weighted_mean", label_smoothing: float = 0.0, ignore_index: int | None = None,
                class_axis: int = 1, max_tile: int = MAX_TILE) -> Tensor:
    """:func:`wce_ref.softmax_wce` through the fused Triton kernel (class-index labels).

    Parameters
    ----------
    logits, labels, class_weights, sample_weight, reduction, label_smoothing, ignore_index, class_axis
        As for :func:`wce_ref.softmax_wce`. The values are not checked here (the front ends run the
        reference's check first); a zero normaliser gives NaN, not an error.
    max_tile : int
        The widest class axis read in one tile; wider rows take the two-pass kernel (a power of 2).

    Returns
    -------
    torch.Tensor
        The loss in the logits' dtype: a scalar, or the positions' shape for ``reduction="none"``.
    """
    _check_kernel_args(logits, labels, reduction)
    if max_tile < 2 or max_tile & (max_tile - 1):
        raise ValueError(f"softmax_wce (Triton): max_tile must be a power of 2 (at least 2); received {max_tile}")
    x, y, sw, positions = _rows(logits, labels, class_axis, sample_weight)
    acc = _acc(x.dtype)
    if x.shape[0] == 0:  # an empty batch: 0 (the reference's convention), a gradient of zeros
        out = (x.sum(1) * 0).reshape(positions) if reduction == "none" else x.sum() * 0
        return out.to(logits.dtype)
    w = None if class_weights is None else torch.as_tensor(class_weights).to(device=x.device, dtype=acc)
    coef = None
    if label_smoothing:
        eps, c = float(label_smoothing), x.shape[1]
        coef = _full((1.0 - eps, eps / c, float(c)), acc, x.device)
        if w is not None:
            coef = torch.cat((coef[:2], w.sum().reshape(1)))
    cfg = _Config(None if ignore_index is None else int(ignore_index), reduction == "none", int(max_tile))
    norm = _normaliser(reduction, y, w, sw, cfg.ignore_index, acc)
    value = _FusedWCE.apply(x, y, w, sw, norm, coef, cfg)
    if reduction == "none":
        value = value.reshape(positions)
    return value.to(logits.dtype)


def dispatch(tensors: dict[str, Any], rest: dict[str, Any]) -> Any:
    """The fused kernel's result for checked ``softmax_wce`` arguments, or None for the formula's path.

    Taken for CUDA tensors with class-index labels in a float dtype, outside ``torch.compile``; where Triton
    cannot be used there, a warning (once per reason) says why and the formula runs.
    """
    logits, labels = tensors["logits"], tensors["labels"]
    if not (isinstance(logits, torch.Tensor) and logits.is_cuda) or torch.compiler.is_compiling():
        return None
    if logits.dtype not in _FLOATS or not isinstance(labels, torch.Tensor) or labels.is_floating_point():
        return None
    why = runs_on(logits.device)
    if why is not None:
        if why not in _WARNED:
            _WARNED.add(why)
            warnings.warn(f"wce_ref: softmax_wce on CUDA runs the unfused PyTorch formula: {why}",
                          RuntimeWarning, stacklevel=3)
        return None
    return softmax_wce(**tensors, **rest)


# ---------------------------------------------------------------------------------------------- the matrix


def _call(backend: Any, *, logits: Tensor, labels: Tensor, class_weights: Any = None, sample_weight: Any = None,
          reduction: str = "weighted_mean", label_smoothing: float = 0.0, ignore_index: int | None = None,
          class_axis: int = 1) -> Tensor:
    if runs_on(logits.device) is not None:
        raise NotSupported(runs_on(logits.device))
    return softmax_wce(logits, labels, class_weights=class_weights, sample_weight=sample_weight,
                       reduction=reduction, label_smoothing=label_smoothing, ignore_index=ignore_index,
                       class_axis=class_axis)


def _supports(kwargs: dict[str, Any], reduction: str) -> bool:
    return np.asarray(kwargs["labels"]).dtype.kind in "iu" and status()[0]


def _runs_on(device: str) -> bool:
    return runs_on(device) is None


def builtins() -> list[Builtin]:
    """The kernel as an implementation of the agreement matrix (a built-in row named :data:`IMPL`)."""
    return [Builtin(
        IMPL, "softmax_wce", _call, _supports,
        note="this project's fused Triton kernel (wce_ref/frameworks/_torch_triton.py), value and gradient in "
             "one pass; on CPU it runs through Triton's interpreter (TRITON_INTERPRET=1), on CUDA compiled",
        defaults="softmax_wce(x, y) with class-index labels", runs_on=_runs_on,
    )]


def unavailable() -> list[tuple[str, str]]:
    """``(IMPL, why)`` where the kernel cannot be measured here (for the matrix's 'not measured' list).

    Triton is not imported where it could not run (no CUDA device, interpreter off): asking costs no import.
    """
    if not _could_run():
        return [(IMPL, "no CUDA device, and Triton's interpreter is off (set TRITON_INTERPRET=1 to run it on CPU)")]
    ok, why = status()
    if not ok:
        return [(IMPL, why)]
    if not interpreting() and not torch.cuda.is_available():
        return [(IMPL, "no CUDA device, and Triton's interpreter is off (set TRITON_INTERPRET=1 to run it on CPU)")]
    return []

