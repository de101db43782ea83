"""The interface every framework module implements, and the built-in descriptor."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .. import losses as _losses
from ..losses import Builtin, _generic
from . import _device_check
from ._check_memo import CheckMemo

__all__ = ["Backend", "Builtin", "FrameworkUnavailable", "NotSupported"]


class FrameworkUnavailable(ImportError):
    """A framework that was asked for cannot be imported."""


class NotSupported(Exception):
    """An implementation cannot express this input (a cell that does not exist)."""


@dataclass
class Backend:
    """One framework: lazy import, tensors, autodiff, devices, dtypes, the losses and built-ins.

    Subclasses set :attr:`name` and :attr:`module`, and implement the hooks.
    Nothing imports the framework until :meth:`load` is called.
    """

    name: str = ""
    module: str = ""
    _mod: Any = field(default=None, repr=False)
    _configured: bool = field(default=False, repr=False)
    #: the argument checks already proven per signature (:mod:`~wce_ref.frameworks._check_memo`)
    check_memo: CheckMemo = field(default_factory=CheckMemo, repr=False)
    #: the NumPy reference itself: ``loss`` returns (value, analytic gradient), no built-ins are benchmarked
    reference: ClassVar[bool] = False
    #: :meth:`compile` is a real compiler (benchmarks time eager and compiled modes)
    has_compiler: ClassVar[bool] = True

    # ------------------------------------------------------------------ loading
    def lib(self) -> Any:
        """The framework module, imported once, none of its global settings changed (what front ends use)."""
        if self._mod is None:
            try:
                self._mod = importlib.import_module(self.module)
            except Exception as exc:  # a broken install raises more than ImportError
                raise FrameworkUnavailable(
                    f"framework {self.name!r} cannot be imported ({type(exc).__name__}: {exc}); "
                    f"install it with pip install 'wce-ref[{self.name}]'"
                ) from exc
        return self._mod

    def load(self) -> Any:
        """Import the framework and apply the measuring harness's settings (:meth:`configure`), once.

        The agreement matrix, the benchmarks and the suites call this; the user front ends
        (``wce_ref.torch`` ...) use :meth:`lib` and leave the framework's settings alone.
        """
        mod = self.lib()
        if not self._configured:
            self._configured = True
            self.configure()
        return mod

    def available(self) -> bool:
        try:
            self.load()
        except FrameworkUnavailable:
            return False
        return True

    def isolation(self) -> dict[str, str] | None:
        """The environment variables of a fresh process that can run this framework, where this one cannot
        (Keras fixes its backend at its first import); None (the default): it runs here. ``wce check`` runs
        such a framework's matrix in a process of its own (:mod:`wce_ref._isolation`)."""
        return None

    def installed(self) -> bool:
        """Whether the framework runs here or, where :meth:`isolation` says so, in a process of its own."""
        return self.available()

    def install_hint(self) -> str:
        """The pip command that installs this framework with the package."""
        return f"pip install 'wce-ref[{self.name}]'"

    def skip_reason(self) -> str:
        """Why this framework does not run in this process, for a command's "skipping" line."""
        if self.installed():
            return ("it runs in a process of its own (Keras fixes its backend at its first import); "
                    "`wce check` measures it there")
        return f"not installed ({self.install_hint()})"

    def configure(self) -> None:
        """The harness's settings for correctness (TF32 off, float64 on); never applied by the front ends."""

    def set_threads(self, threads: int) -> None:
        """Fix the framework's CPU thread count (no-op where the framework has no setting)."""

    def version(self) -> str:
        return str(getattr(self.load(), "__version__", "unknown"))

    # ------------------------------------------------------------------ hooks
    def devices(self) -> list[str]:
        return ["cpu"]

    def device_name(self, device: str) -> str:
        import platform

        return platform.processor() or platform.machine() if device == "cpu" else device

    def dtypes(self, device: str) -> list[str]:
        return ["float64", "float32", "float16", "bfloat16"]

    def tensor(self, a: Any, dtype: str | None, device: str) -> Any:
        """A framework tensor from NumPy data; ``dtype=None`` keeps integers as int64."""
        raise NotImplementedError

    def to_numpy(self, t: Any) -> np.ndarray:
        """A float64 (or integer) NumPy array from a framework tensor."""
        raise NotImplementedError

    def value_and_grad(self, fn: Callable[[Any], Any], logits: Any) -> tuple[np.ndarray, np.ndarray]:
        """``fn(logits)`` and the gradient of its sum with respect to ``logits``, via autodiff."""
        raise NotImplementedError

    def grad_fn(self, fn: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, Any]]:
        """``(x, *args) -> (fn(x, *args), d fn / d x)`` as framework tensors (no host copy), for benchmarks."""
        raise NotImplementedError

    def synchronize(self, result: Any) -> Any:
        """Block until ``result`` is computed (asynchronous dispatch)."""
        return result

    def compile(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The framework's compiler applied to ``fn`` (identity where there is none)."""
        return fn

    @property
    def ops(self) -> _generic.Ops:
        raise NotImplementedError

    def engine(self, X, y, Xv, yv, loss: str, static: dict[str, Any], params: list[np.ndarray], lr: float,
               l2: float) -> Any:
        """This framework's training engine (see :mod:`wce_ref.frameworks._engine`) on the given data."""
        raise NotSupported(f"framework {self.name!r} has no training engine")

    def memory(self, device: str) -> dict[str, int] | None:
        """Allocator statistics of ``device`` (peak bytes ...), where the framework keeps them; None otherwise."""
        return None

    def reset_memory(self, device: str) -> bool:
        """Reset the peak of :meth:`memory` to the current use; False where the framework cannot."""
        return False

    def own_builtins(self) -> list[Builtin]:
        """The built-ins this framework module defines itself."""
        return []

    def unavailable_builtins(self) -> list[tuple[str, str]]:
        """Built-ins of this framework's ecosystem that cannot be measured here: ``(name, why)``."""
        return []

    def builtins(self) -> list[Builtin]:
        """Every built-in of this framework: its module's and those the loss modules declare for it."""
        declared = [b for spec in _losses.LOSSES.values() for b in spec.builtins if b.framework == self.name]
        return [b for b in self.own_builtins() if b.loss in _losses.LOSSES] + declared

    # ------------------------------------------------------------------ our losses
    def is_tensor(self, value: Any) -> bool:
        """True for this framework's tensors (they are viewed on the host for the argument check)."""
        return False

    def host_view(self, t: Any) -> np.ndarray:
        """A NumPy view of a tensor's values for the argument check, or, where the values are not available
        (tracing, compilation), a :func:`~wce_ref._validation.shape_only` stand-in, so that only shapes and
        dtypes are checked."""
        return np.asarray(t)

    def shape_view(self, t: Any) -> np.ndarray:
        """A :func:`~wce_ref._validation.shape_only` stand-in for a tensor whose values are not read (traced or
        compiled code): its shape and its float or integer kind. :meth:`host_view` returns it while tracing."""
        raise NotImplementedError(f"{self.name}: tensors without a shape-only view")

    def on_host(self, t: Any) -> bool:
        """Whether a tensor's values can be read on the host without a copy (the check then reads them in place)."""
        return True

    def witness_rows(self, t: Any) -> np.ndarray:
        """Row indices (host int64) that witness every value check of a batch-shaped device tensor; see
        :mod:`wce_ref.frameworks._device_check`. Only called where :meth:`on_host` is False."""
        raise NotImplementedError(f"{self.name}: no device-side argument check")

    def take_rows(self, t: Any, rows: np.ndarray) -> Any:
        """``t[rows]`` along the leading axis, on the tensor's device."""
        raise NotImplementedError(f"{self.name}: no device-side argument check")

    def loss(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """The registered loss ``name`` on this framework's tensors, arguments as for the reference.

        The reference's own argument check runs first, on host views of the tensors, so bad input gets the
        reference's message before any framework operation; then the loss's framework formula runs.
        """
        spec, tensors, rest = self.prepare(name, args, kwargs)
        return spec.formula(self.ops, **tensors, **rest)

    def prepare(
        self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], *, values: bool = True
    ) -> tuple[Any, dict, dict]:
        """Bind and check the arguments of loss ``name``: ``(spec, tensors, other arguments)`` for its formula.

        ``values=False`` checks the tensors' shapes and dtypes only (compiled code: torch passes it under
        ``torch.compile``, as tracing does for JAX and TensorFlow); host arrays and numbers are always checked
        in full. Tensors on an accelerator are checked on a sub-batch of witness rows
        (:mod:`~wce_ref.frameworks._device_check`) rather than copied. On the host, a call whose configuration and
        shapes already passed the check is checked by a few reductions over its batch values
        (:mod:`~wce_ref.frameworks._check_memo`), with the full check wherever those cannot prove it passes.
        Framework modules may wrap this to keep it out of their compiler's graph (torch does).
        """
        spec = _losses.get(name)
        arrays, others = spec.split(spec.bind(args, kwargs))
        tensors = dict(arrays)
        keys = _device_check.batch_keys(self, arrays) if values else None
        if keys is not None:
            static = _device_check.check(self, spec, tensors, others, keys)
        else:
            views = {
                k: (self.host_view(v) if values else self.shape_view(v)) if self.is_tensor(v) else v
                for k, v in arrays.items()
            }  # Python numbers, NumPy arrays, lists: checked as they are, made tensors after the check
            static = self.check_memo.check(spec, views, others) if values else spec.check(**views, **others)
        for key, value in tensors.items():
            if isinstance(value, (list, tuple, np.ndarray)):
                try:
                    tensors[key] = self._from_host(value)
                except (ValueError, TypeError) as exc:  # a dtype the framework has no tensor of, named
                    raise type(exc)(f"{key}: {self.name} cannot hold {np.asarray(value).dtype} arrays ({exc})") from exc
        return spec, tensors, {**others, **static}

    def _from_host(self, value: Any) -> Any:
        arr = np.asarray(value)
        return self.tensor(arr, None, "cpu") if arr.dtype.kind in "iub" else self.tensor(arr, "float64", "cpu")

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("_") and name in _losses.LOSSES:
            return functools.partial(self.loss, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ------------------------------------------------------------------ inputs
    def inputs(self, kwargs: dict[str, Any], float_args: tuple[str, ...], dtype: str, device: str) -> dict[str, Any]:
        """Convert a case's NumPy keyword arguments to this framework's tensors."""
        out = {}
        for key, value in kwargs.items():
            if value is None or type(value) in (int, float, str, bool) or key in ("ignore_index", "label_smoothing"):
                out[key] = value
            elif key in float_args:
                out[key] = self.tensor(np.asarray(value, dtype=np.float64), dtype, device)
            else:
                out[key] = self.tensor(np.asarray(value), None, device)
        return out
