"""PyTorch: our losses on torch tensors, and torch's own cross entropy built-ins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import shape_only
from ..losses._ops import Ops
from ._base import Backend, Builtin
from ._engine import Engine, objective


class _TorchOps(Ops):
    """The operations table over ``torch``; eager mode specialises the fused NLL's steps (see ``Ops``)."""

    hook_takes_constants = True  # torch.autograd.Function takes the row weights: Ops.softmax_nll_sum is fused

    def __init__(self, torch: Any, fused: Any) -> None:
        self.t = self.xp = torch
        self.fused = fused  # wce_ref.frameworks._torch_fused, imported outside any torch.compile trace

    def sum(self, x, axis=None):
        return x.sum() if axis is None else x.sum(dim=axis)

    def argmax(self, x, axis):
        return self.t.argmax(x, dim=axis)

    def row_max(self, x):
        return x.amax(1, keepdim=True)

    def index(self, labels):
        return labels.long()

    def gather(self, vec, idx):
        return vec.index_select(0, idx)  # a few microseconds less than vec[idx] per call

    def take(self, x, idx):
        return x.gather(1, idx[:, None])[:, 0]

    def zero_at(self, x, idx):
        return x.scatter(1, idx[:, None], 0.0)

    def label_mask(self, idx, like):
        return self.t.arange(like.shape[1], device=like.device)[None, :] == idx[:, None]

    def stop_gradient(self, x):
        return x.detach()

    def cast(self, x, like):
        return self.t.as_tensor(x, dtype=like.dtype, device=like.device)

    def compute(self, x):
        return x.float() if x.dtype in (self.t.float16, self.t.bfloat16) else x

    def restore(self, x, dtype):
        return x if x.dtype == dtype else x.to(dtype)

    def size(self, x):
        return x.numel()

    def softplus(self, x):
        """Fused softplus; above 40 it returns ``x`` (the rest, ``exp(-40)``, is below float64's half ULP)."""
        return self.t.nn.functional.softplus(x, threshold=40.0)

    def custom_gradient(self, forward, backward):
        return self.fused.custom_gradient(forward, backward)

    # eager: one max-with-index pass, the exponentials kept for the backward, scatters; compiled: the defaults
    def nll_max_pass(self, x):
        if self.t.compiler.is_compiling():
            return super().nll_max_pass(x)
        m, k = x.max(1)
        e = self.t.sub(x, m[:, None]).exp_()
        e.scatter_(1, k[:, None], 0.0)  # the max term left out of s (and 0 in e: its gradient is set below)
        return m[:, None], e.sum(1), (e, k)

    def nll_exp(self, saved):
        return saved[0] if _eager(saved) else super().nll_exp(saved)

    def nll_rest(self, s, e_y, at_max, saved):
        if not _eager(saved):
            return super().nll_rest(s, e_y, at_max, saved)
        return self.t.where(at_max, s, (s - e_y) + 1)  # the kept e is 0 at the max: its term, 1, added last

    def nll_grad(self, e, y, rest, scale, saved):
        if not _eager(saved):
            return super().nll_grad(e, y, rest, scale, saved)
        grad = e * scale
        grad.scatter_(1, saved[1][:, None], scale)  # p_k = 1 / (1 + s) at the max
        return grad.scatter_(1, y[:, None], -scale * rest)


#: the losses with a fused kernel (wce_ref.frameworks._torch_cpu; softmax_wce on CUDA: _torch_triton)
_FUSED = frozenset({"softmax_wce", "sigmoid_wce"})


def _eager(saved: tuple[Any, ...]) -> bool:
    """Whether the fused NLL's residuals are the eager path's ``(e, k)`` (else the default ``(x, m)``)."""
    return not saved[1].is_floating_point()


def _reduction(reduction: str) -> str:
    return {"weighted_mean": "mean"}.get(reduction, reduction)


def _ce(backend, *, logits, labels, class_weights=None, reduction, label_smoothing=0.0, ignore_index=None):
    kw = {"weight": class_weights, "reduction": _reduction(reduction), "label_smoothing": float(label_smoothing)}
    if ignore_index is not None:
        kw["ignore_index"] = ignore_index
    return backend.load().nn.functional.cross_entropy(logits, labels, **kw)


def _ce_supports(kw: dict[str, Any], reduction: str) -> bool:
    # 'mean' (divide by N under class weights) has no torch spelling
    return reduction != "mean" or kw.get("class_weights") is None or np.ndim(kw["labels"]) == 2


def _bce(backend, *, logits, targets, pos_weight, neg_weight, reduction):
    # pos_weight/neg_weight and weight=neg_weight give w+ t sp(-x) + w- (1-t) sp(x); both must be tensors
    torch = backend.load()
    pw, nw = (torch.as_tensor(v, dtype=logits.dtype, device=logits.device) for v in (pos_weight, neg_weight))
    return torch.nn.functional.binary_cross_entropy_with_logits(
        logits, targets, weight=nw, pos_weight=pw / nw, reduction=reduction
    )


def _bce_supports(kw: dict[str, Any], reduction: str) -> bool:
    return bool(np.all(np.asarray(kw["neg_weight"]) > 0))


class TorchEngine(Engine):
    """Eager autograd with ``torch.optim.Adam``."""

    def setup(self, X, y, Xv, yv, params):
        import torch

        self.torch, self.ops = torch, self.backend.ops
        self.X, self.Xv = torch.from_numpy(X), torch.from_numpy(Xv)
        self.y, self.yv = torch.from_numpy(y), torch.from_numpy(yv)
        self.p = [torch.tensor(p, requires_grad=True) for p in params]
        self.opt = torch.optim.Adam(self.p, lr=self.lr)

    def _arrays(self, arrays):
        return {k: self.torch.from_numpy(np.asarray(v)) for k, v in arrays.items()}

    def step(self, idx, arrays):
        x, y = (self.X, self.y) if idx is None else (self.X[idx], self.y[idx])
        self.opt.zero_grad(set_to_none=True)
        objective(self.ops, self.loss, self.static, self.p, x, y, self._arrays(arrays), self.l2).backward()
        self.opt.step()

    def val_loss(self, arrays):
        with self.torch.no_grad():
            return float(
                objective(self.ops, self.loss, self.static, self.p, self.Xv, self.yv, self._arrays(arrays), 0.0)
            )

    def params(self):
        return [p.detach().numpy().copy() for p in self.p]


class TorchBackend(Backend):
    def __init__(self) -> None:
        super().__init__(name="torch", module="torch")
        self._fused: Any = None
        self._ops: _TorchOps | None = None
        self._kernels: tuple[Any, Any] | None = None

    def configure(self) -> None:
        torch = self._mod
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    def set_threads(self, threads: int) -> None:
        self.lib().set_num_threads(threads)

    def devices(self) -> list[str]:
        return ["cpu", "cuda"] if self.lib().cuda.is_available() else ["cpu"]

    def device_name(self, device: str) -> str:
        torch = self.lib()
        return torch.cuda.get_device_name(0) if device == "cuda" else super().device_name(device)

    def tensor(self, a: Any, dtype: str | None, device: str) -> Any:
        torch = self.lib()
        if dtype is None:
            return torch.as_tensor(np.asarray(a), device=device)
        return torch.as_tensor(np.asarray(a, dtype=np.float64), device=device).to(getattr(torch, dtype))

    def prepare(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], **kw: Any) -> tuple[Any, dict, dict]:
        """The argument check runs outside ``torch.compile``'s graph; the formula inside.

        Under ``torch.compile`` the tensors' shapes and dtypes are checked, not their values (as under
        ``jax.jit`` and ``tf.function``): reading the values would cost a pass over them, and on a GPU a
        synchronisation, on every call of the compiled code.
        """
        torch = self.lib()
        if torch.compiler.is_compiling():
            return torch.compiler.disable(self._prepare_shapes)(name, args, kwargs)
        return super().prepare(name, args, kwargs, **kw)

    def _prepare_shapes(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, dict, dict]:
        if name in _FUSED:
            self.kernels()[0].status()  # the C kernel built and loaded here, outside the trace
        return super().prepare(name, args, kwargs, values=False)

    def loss(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if name not in _FUSED:
            spec, tensors, rest = self.prepare(name, args, kwargs)
            return spec.formula(self.ops, **tensors, **rest)
        if self.lib().compiler.is_compiling():  # the C kernel as a custom operator on CPU tensors, else the formula
            spec, tensors, rest = self.prepare(name, args, kwargs)
            out = self.kernels()[0].compiled(name, tensors, rest)
            return spec.formula(self.ops, **tensors, **rest) if out is None else out
        cpu, triton = self.kernels()  # the fused kernels: C on the CPU, Triton on CUDA (softmax_wce)
        out = cpu.fast(name, args, kwargs)  # a configuration that passed before: the kernel checks the values
        if out is not None:
            return out
        spec, tensors, rest = self.prepare(name, args, kwargs)
        if getattr(tensors["logits"], "is_cuda", False):
            out = triton.dispatch(tensors, rest) if name == "softmax_wce" else None
        else:
            out = cpu.dispatch(name, tensors, rest, call=(args, kwargs))
        return spec.formula(self.ops, **tensors, **rest) if out is None else out

    def kernels(self) -> tuple[Any, Any]:
        """The modules of the fused ``softmax_wce`` kernels: ``(_torch_cpu, _torch_triton)``."""
        if self._kernels is None:
            from . import _torch_cpu, _torch_triton

            self._kernels = (_torch_cpu, _torch_triton)
        return self._kernels

    def on_host(self, t: Any) -> bool:
        return t.device.type == "cpu"

    def witness_rows(self, t: Any) -> np.ndarray:
        torch = self.lib()
        flat = t.detach().reshape(t.shape[0], -1)
        if flat.dtype == torch.bool:
            flat = flat.to(torch.uint8)
        lo, hi = torch.aminmax(flat, dim=1)  # per row, one pass; NaN propagates
        if flat.is_floating_point():
            bad = ~(torch.isfinite(lo) & torch.isfinite(hi))
            rows = [lo.argmin(), hi.argmax(), (hi.float() - lo.float()).argmax(), bad.to(torch.uint8).argmax()]
        else:  # the two smallest and two largest distinct values: a bad label beside an out-of-range ignore_index
            gmin, gmax = lo.min(), hi.max()
            lo2 = torch.where(flat > gmin, flat, gmax).amin(dim=1)
            hi2 = torch.where(flat < gmax, flat, gmin).amax(dim=1)
            rows = [lo.argmin(), hi.argmax(), lo2.argmin(), hi2.argmax()]
        return torch.stack(rows).cpu().numpy()

    def take_rows(self, t: Any, rows: np.ndarray) -> Any:
        torch = self.lib()
        return t.detach().index_select(0, torch.as_tensor(rows, device=t.device))

    def is_tensor(self, value: Any) -> bool:
        return isinstance(value, self.lib().Tensor)

    def shape_view(self, t: Any) -> np.ndarray:
        return shape_only(tuple(t.shape), np.float32 if t.is_floating_point() else np.int64)

    def host_view(self, t: Any) -> np.ndarray:
        torch = self.lib()
        if torch.compiler.is_compiling():
            return self.shape_view(t)
        t = t.detach()
        if t.dtype in (torch.bfloat16, torch.float16):
            t = t.float()
        return t.numpy() if t.device.type == "cpu" else t.cpu().numpy()

    def to_numpy(self, t: Any) -> np.ndarray:
        torch = self.lib()
        t = t.detach().cpu()
        return t.to(torch.float64).numpy() if t.is_floating_point() else t.numpy()

    def value_and_grad(self, fn: Callable[[Any], Any], logits: Any) -> tuple[np.ndarray, np.ndarray]:
        x = logits.detach().clone().requires_grad_(True)
        out = fn(x)
        (grad,) = self.lib().autograd.grad(out, x, grad_outputs=self.lib().ones_like(out))
        return self.to_numpy(out), self.to_numpy(grad)

    def grad_fn(self, fn: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, Any]]:
        torch = self.lib()

        def value_and_grad(x, *args):
            x = x.detach().requires_grad_(True)
            out = fn(x, *args)
            (grad,) = torch.autograd.grad(out, x)
            return out, grad

        return value_and_grad

    def synchronize(self, result: Any) -> Any:
        torch = self.lib()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return result

    def compile(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self.lib().compile(fn, dynamic=False)

    def lib(self) -> Any:
        if self._fused is not None:  # the hot path: every argument check calls this several times
            return self._mod
        mod = super().lib()
        if self._fused is None:  # torch's fused primitives: a module that needs torch at import
            from . import _torch_fused, _torch_triton

            self._fused = _torch_fused
            _torch_triton.import_early()
            self._ops = _TorchOps(mod, _torch_fused)
            self._ops.prepare_fused()  # its autograd.Functions, created here: never inside a torch.compile trace
        return mod

    @property
    def ops(self) -> _TorchOps:
        if self._ops is None:  # one table: it holds the fused NLL's autograd.Function, created once
            self._ops = _TorchOps(self.lib(), self._fused)
        return self._ops

    def engine(self, *args: Any, **kwargs: Any) -> Engine:
        return TorchEngine(self, *args, **kwargs)

    def memory(self, device: str) -> dict[str, int] | None:
        torch = self.lib()
        if device == "cuda" and torch.cuda.is_available():
            return {
                "peak_bytes": int(torch.cuda.max_memory_allocated()),
                "current_bytes": int(torch.cuda.memory_allocated()),
            }
        return None

    def reset_memory(self, device: str) -> bool:
        torch = self.lib()
        if device == "cuda" and torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return True
        return False

    def unavailable_builtins(self) -> list[tuple[str, str]]:
        from . import _torch_cpu, _torch_triton

        missing = _torch_triton.unavailable() + _torch_cpu.unavailable()
        try:
            import torchvision.ops  # noqa: F401
        except Exception as exc:  # absent, or built for another torch ('operator torchvision::nms does not exist')
            return [
                (
                    "torchvision.ops.sigmoid_focal_loss",
                    f"torchvision does not import beside torch {self.version()} ({type(exc).__name__}); every "
                    "torchvision release on PyPI needs torch >= 2.14 here. Its defaults (alpha=0.25, gamma=2, "
                    "reduction='none') are sigmoid_focal(x, t, alpha=0.25, reduction='none')",
                )
            ] + missing
        return missing

    def own_builtins(self) -> list[Builtin]:
        try:  # the fused kernel's module imports torch; without torch this list is metadata only
            from . import _torch_cpu, _torch_triton

            fused = _torch_triton.builtins() + _torch_cpu.builtins()
        except ModuleNotFoundError as exc:
            if exc.name != "torch":
                raise
            fused = []
        return [
            Builtin(
                "torch.cross_entropy",
                "softmax_wce",
                _ce,
                _ce_supports,
                note="F.cross_entropy(weight=, label_smoothing=, ignore_index=); 'weighted_mean' is its 'mean'",
                defaults="softmax_wce(x, y) (its 'mean' with weight= is our 'weighted_mean')",
            ),
            Builtin(
                "torch.bce_with_logits",
                "sigmoid_wce",
                _bce,
                _bce_supports,
                note="F.binary_cross_entropy_with_logits(pos_weight=w+/w-, weight=w-)",
                defaults="sigmoid_wce(x, t) (pos_weight=p: sigmoid_wce(x, t, pos_weight=p))",
            ),
            *fused,  # this project's fused kernels, rows of their own in the matrix
        ]
