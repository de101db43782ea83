"""Keras 3: our losses over ``keras.ops``, one registered framework per Keras backend.

Keras fixes its backend at its first import (``KERAS_BACKEND``, else
``keras.json``), so a process holds Keras on one backend only. Each backend is
therefore a framework of its own (``keras-tensorflow``, ``keras-jax``,
``keras-torch``): the one this process's Keras runs on is measured here; the
others report, through :meth:`KerasBackend.isolation`, the environment of a
fresh process that can run them, and ``wce check`` runs their matrix there
(:mod:`wce_ref._isolation`). Keras tensors on a backend are that backend's own
tensors, so devices, tensors, autodiff and compilation are the backend
framework's (its registered :class:`~wce_ref.frameworks.Backend`); what is
Keras' is the operations table (:class:`KerasOps`, what differs from
:class:`~wce_ref.losses._ops.Ops` over ``keras.ops``) and the argument check's
view of Keras tensors (``KerasTensor``, ``keras.Variable``, traced values).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._validation import shape_only
from ..losses._generic import Dim, dims
from ..losses._ops import Ops
from ._base import Backend, FrameworkUnavailable

__all__ = ["KerasBackend", "KerasJax", "KerasOps", "KerasTensorFlow", "KerasTorch", "process_backend"]

_HALF = ("float16", "bfloat16")


def process_backend() -> str:
    """The backend Keras runs on in this process: the imported Keras' own, else what its import would choose.

    Keras reads ``KERAS_BACKEND``, else the ``"backend"`` of ``$KERAS_HOME/keras.json`` (``~/.keras``), else
    uses ``"tensorflow"``; nothing is imported here.
    """
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        return str(keras.backend.backend())
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    try:
        return str(json.loads((home / "keras.json").read_text()).get("backend", "tensorflow"))
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def is_tensor(keras: Any, value: Any) -> bool:
    """Keras' tensors: a ``KerasTensor``, a ``keras.Variable`` or the backend's tensor."""
    return isinstance(value, keras.KerasTensor | keras.Variable) or keras.ops.is_tensor(value)


def _is_traced(keras: Any, t: Any) -> bool:
    """True when ``t``'s values do not exist yet (a KerasTensor, a TF graph tensor, a JAX tracer)."""
    if isinstance(t, keras.KerasTensor):
        return True
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return not (tf.executing_eagerly() and hasattr(t, "numpy"))
    if backend == "jax":
        import jax

        return isinstance(t, jax.core.Tracer)
    try:  # other backends (torch, numpy): a tensor whose values cannot be read is traced
        keras.ops.convert_to_numpy(t)
    except Exception:
        return True
    return False


def no_autograph(keras: Any, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` left as written when a ``tf.function`` (Keras' train step included) traces it: AutoGraph would
    rewrite the library's Python (slower tracing, nothing to gain: its branches are on static values)."""
    if keras.backend.backend() != "tensorflow":
        return fn
    import tensorflow as tf

    return tf.autograph.experimental.do_not_convert(fn)


class KerasOps(Ops):
    """The :class:`~wce_ref.losses._ops.Ops` table over ``keras.ops`` (any Keras 3 backend): what differs.

    Python operators on the tensors (``x > 0``, ``a & b``, ``1 - t``, ``m[:, None]``) are the backend
    tensors' own. Shapes are tuples of ints, with :class:`~wce_ref.losses._generic.Dim` for a dimension a
    traced TF graph does not know. No custom-gradient hook: the formulas use the backend's autodiff.
    """

    def __init__(self, keras: Any) -> None:
        self.keras = keras
        self.k = self.xp = keras.ops

    @property
    def int_dtype(self) -> str:
        """int64, or int32 where JAX runs without 64-bit mode."""
        if self.keras.backend.backend() == "jax":
            import jax

            return "int64" if jax.config.jax_enable_x64 else "int32"
        return "int64"

    def argmax(self, x, axis):
        # -0.0 counts as 0.0 (NumPy's and the reference's argmax; Keras' puts -0.0 below +0.0): first index wins
        x = self.k.where(x == 0, self.k.zeros_like(x), x)
        return self.k.cast(self.k.argmax(x, axis=axis), self.int_dtype)

    def take(self, x, idx):
        return self.k.take_along_axis(x, self.k.expand_dims(idx, 1), axis=1)[:, 0]

    def zero_at(self, x, idx):
        return x * (1 - self.k.one_hot(idx, self.shape(x)[-1], dtype=self.dtype(x)))

    def gather(self, vec, idx):
        return self.k.take(vec, idx, axis=0)

    def gather2(self, mat, rows, cols):
        c = self.shape(mat)[1]
        return self.k.take(self.k.reshape(mat, (-1,)), rows * c + self.k.cast(cols, self.dtype(rows)))

    def stop_gradient(self, x):
        return self.k.stop_gradient(x)

    def cast(self, x, like):
        dtype = self.dtype(like)
        if is_tensor(self.keras, x):
            return self.k.cast(x, dtype)
        arr = np.asarray(x)  # Python numbers and NumPy arrays: rounded once, by NumPy, to like's dtype
        if dtype == "bfloat16":
            import ml_dtypes

            arr = arr.astype(ml_dtypes.bfloat16)
        else:
            arr = arr.astype(dtype)
        return self.k.convert_to_tensor(arr, dtype=dtype)

    def index(self, labels):
        return self.k.cast(labels, self.int_dtype)

    def compute(self, x):
        return self.k.cast(x, "float32") if self.dtype(x) in _HALF else x

    def restore(self, x, dtype):
        return self.k.cast(x, dtype)

    def dtype(self, x):
        return self.keras.backend.standardize_dtype(x.dtype)

    def shape(self, x):
        dims_ = tuple(self.k.shape(x))
        if None in dims_:  # a KerasTensor's unknown dimension has no tensor to stand for it
            raise TypeError(
                f"wce_ref.keras losses compute on tensors (eagerly, in tf.function / jax.jit, in model.fit); "
                f"received a symbolic KerasTensor of shape {dims_} with unknown dimensions"
            )
        return tuple(d if isinstance(d, int) else Dim(d, self) for d in dims_)

    def reshape(self, x, shape):
        return self.k.reshape(x, dims(shape))

    def count(self, mask, like):
        return self.k.sum(self.k.cast(mask, self.dtype(like)))


class KerasBackend(Backend):
    """Keras on one backend (:attr:`keras_backend`): Keras' operations table and tensor checks; devices,
    tensors, autodiff and compilation are the backend framework's (its registered backend, :attr:`native`)."""

    #: the Keras backend (``KERAS_BACKEND``) and the registered framework whose tensors it computes on
    keras_backend: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__(name=f"keras-{self.keras_backend}", module="keras")
        self._ops: KerasOps | None = None

    @property
    def native(self) -> Backend:
        from . import get

        return get(self.keras_backend)

    def isolation(self) -> dict[str, str] | None:
        """``{"KERAS_BACKEND": ...}`` where this process's Keras runs on another backend (see the module)."""
        if process_backend() == self.keras_backend:
            return None
        return {"KERAS_BACKEND": self.keras_backend, **({"JAX_ENABLE_X64": "1"} if self.keras_backend == "jax" else {})}

    def lib(self) -> Any:
        if self._mod is None and self.isolation() is not None:
            raise FrameworkUnavailable(
                f"framework {self.name!r} needs Keras on the {self.keras_backend} backend, and Keras in this process "
                f"runs on {process_backend()!r} (fixed at its first import): set KERAS_BACKEND={self.keras_backend} "
                f"before Keras is imported (`wce check` runs it in a process of its own)"
            )
        self.native.lib()  # the backend framework first: its own message if it is missing
        try:
            return super().lib()
        except FrameworkUnavailable as exc:
            raise FrameworkUnavailable(f"{exc.args[0].split('; install')[0]}; install it with "
                                       f"{self.install_hint()}") from exc.__cause__

    def install_hint(self) -> str:
        return f"pip install 'wce-ref[keras,{self.keras_backend}]'"

    def installed(self) -> bool:
        """Runs here, or, where it runs in a process of its own, Keras and its backend are installed."""
        if self.isolation() is None:
            return self.available()
        return all(importlib.util.find_spec(m) is not None for m in ("keras", self.native.module))

    def configure(self) -> None:
        self.native.load()  # the harness's settings: TF32 off, JAX's 64-bit mode

    def set_threads(self, threads: int) -> None:
        self.native.set_threads(threads)

    def version(self) -> str:
        return f"{self.load().__version__} on {self.keras_backend} {self.native.version()}"

    def devices(self) -> list[str]:
        return self.native.devices()

    def device_name(self, device: str) -> str:
        return self.native.device_name(device)

    def dtypes(self, device: str) -> list[str]:
        return self.native.dtypes(device)

    def tensor(self, a: Any, dtype: str | None, device: str) -> Any:
        return self.native.tensor(a, dtype, device)

    def _from_host(self, value: Any) -> Any:
        # lists and NumPy arrays keep their own dtype (a list of floats is float64, as in the reference);
        # the formulas cast weights to the compute dtype, rounding once
        arr = np.asarray(value)
        if arr.dtype.kind == "u" and arr.dtype.itemsize >= 4:  # checked labels or weights: int64 holds them (the
            arr = arr.astype(np.int64)  # torch backend has no uint32 / uint64 tensors)
        return self.lib().ops.convert_to_tensor(arr)

    def to_numpy(self, t: Any) -> np.ndarray:
        a = self.lib().ops.convert_to_numpy(t)
        return a.astype(np.float64) if a.dtype.kind not in "iub" else a

    def value_and_grad(self, fn: Callable[[Any], Any], logits: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.native.value_and_grad(fn, logits)

    def grad_fn(self, fn: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, Any]]:
        return self.native.grad_fn(fn)

    def synchronize(self, result: Any) -> Any:
        return self.native.synchronize(result)

    def compile(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self.native.compile(fn) if self.has_compiler else fn

    def memory(self, device: str) -> dict[str, int] | None:
        return self.native.memory(device)

    def reset_memory(self, device: str) -> bool:
        return self.native.reset_memory(device)

    @property
    def ops(self) -> KerasOps:
        if self._ops is None:
            self._ops = KerasOps(self.lib())
        return self._ops

    def loss(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """As :meth:`Backend.loss`; inside ``tf.function`` the library's Python runs as written (no AutoGraph)."""
        return no_autograph(self.lib(), super().loss)(name, *args, **kwargs)

    def is_tensor(self, value: Any) -> bool:
        return is_tensor(self.lib(), value)

    def shape_view(self, t: Any) -> np.ndarray:
        dtype = self.ops.dtype(t)
        return shape_only(tuple(t.shape), np.float32 if dtype in _HALF else np.dtype(dtype))

    def host_view(self, t: Any) -> np.ndarray:
        keras = self.lib()
        if isinstance(t, keras.Variable):
            t = t.value
        if _is_traced(keras, t):  # inside tf.function / jax.jit: shapes and dtypes only
            return self.shape_view(t)
        if self.ops.dtype(t) in _HALF:
            t = keras.ops.cast(t, "float32")
        return keras.ops.convert_to_numpy(t)


class KerasTensorFlow(KerasBackend):
    keras_backend = "tensorflow"


class KerasJax(KerasBackend):
    keras_backend = "jax"


class KerasTorch(KerasBackend):
    keras_backend = "torch"
    has_compiler = False  # torch.compile of keras.ops: not what a Keras user runs (Keras' torch trainer is eager)
