"""The interface every framework module implements, and the built-in descriptor."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _generic

__all__ = ["Backend", "Builtin", "FrameworkUnavailable", "NotSupported"]


class FrameworkUnavailable(ImportError):
    """A framework that was asked for cannot be imported."""


class NotSupported(Exception):
    """An implementation cannot express this input (a cell that does not exist)."""


@dataclass(frozen=True)
class Builtin:
    """A framework's own loss, called the way its documentation says, mapped to a reference loss.

    ``call(backend, reduction=..., **tensors)`` returns the framework's result;
    ``supports(kwargs, reduction)`` says whether the built-in can express a case
    (given the NumPy keyword arguments) at all; ``grad`` is False for
    value-only built-ins (scikit-learn's ``log_loss``).
    """

    name: str
    loss: str
    call: Callable[..., Any]
    supports: Callable[[dict[str, Any], str], bool]
    grad: bool = True
    note: str = ""


@dataclass
class Backend:
    """One framework: lazy import, tensors, autodiff, devices, dtypes, the losses and built-ins.

    Subclasses set :attr:`name` and :attr:`module`, and implement the hooks.
    Nothing imports the framework until :meth:`load` is called.
    """

    name: str = ""
    module: str = ""
    _mod: Any = field(default=None, repr=False)

    # ------------------------------------------------------------------ loading
    def load(self) -> Any:
        """Import the framework (once) or raise :class:`FrameworkUnavailable`."""
        if self._mod is None:
            try:
                self._mod = importlib.import_module(self.module)
            except Exception as exc:  # a broken install raises more than ImportError
                raise FrameworkUnavailable(
                    f"framework {self.name!r} cannot be imported ({type(exc).__name__}: {exc}); "
                    f"install it with pip install 'wce-ref[{self.name}]'"
                ) from exc
            self.configure()
        return self._mod

    def available(self) -> bool:
        try:
            self.load()
        except FrameworkUnavailable:
            return False
        return True

    def configure(self) -> None:
        """Framework settings for correctness (TF32 off, float64 on)."""

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

    def builtins(self) -> list[Builtin]:
        return []

    # ------------------------------------------------------------------ our losses
    def sigmoid_wce(self, logits, targets, **kw):
        return _generic.sigmoid_wce(self.ops, logits, targets, **kw)

    def softmax_wce(self, logits, labels, **kw):
        return _generic.softmax_wce(self.ops, logits, labels, **kw)

    def cost_sensitive_ce(self, logits, labels, cost_matrix, **kw):
        return _generic.cost_sensitive_ce(self.ops, logits, labels, cost_matrix, **kw)

    # ------------------------------------------------------------------ inputs
    def inputs(self, kwargs: dict[str, Any], float_args: tuple[str, ...], dtype: str, device: str) -> dict[str, Any]:
        """Convert a case's NumPy keyword arguments to this framework's tensors."""
        out = {}
        for key, value in kwargs.items():
            if value is None or isinstance(value, (int, float, str)) or key in ("ignore_index", "label_smoothing"):
                out[key] = value
            elif key in float_args:
                out[key] = self.tensor(np.asarray(value, dtype=np.float64), dtype, device)
            else:
                out[key] = self.tensor(np.asarray(value), None, device)
        return out
