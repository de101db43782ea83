"""Keras 3 front end: every registered loss as a ``keras.losses.Loss``, on the backend Keras runs on.

A thin layer over the loss registry (:data:`wce_ref.losses.LOSSES`) and the
registered Keras framework of this process's backend (``keras-tensorflow``,
``keras-jax``, ``keras-torch``; :mod:`wce_ref.frameworks._keras`): a loss
object maps Keras' call and shape conventions onto the reference's (below),
and the framework runs the reference's own argument check on host views of
the inputs (NumPy values when eager, shape-only stand-ins under
``tf.function`` / ``jax.jit``, so bad input gets the reference's message
before any Keras operation), then the loss module's framework formula over
``keras.ops``: the code ``wce check`` measures against the high-precision
oracle on every installed Keras backend. Gradients come from the backend's
autodiff.

>>> import numpy as np
>>> from wce_ref.keras import WeightedCrossEntropyLoss
>>> y_true = np.array([0, 2])                                 # class indices (or shape (N, 1))
>>> y_pred = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])    # logits, never probabilities
>>> loss = WeightedCrossEntropyLoss(class_weights=[1.0, 1.0, 4.0])   # reduction="weighted_mean"
>>> round(float(loss(y_true, y_pred)), 4)                     # divides by the summed weights, 1 + 4
0.1556
>>> round(float(WeightedCrossEntropyLoss(class_weights=[1.0, 1.0, 4.0], reduction="mean")(y_true, y_pred)), 4)
0.3889

Classes (one per registered loss, named as in the PyTorch front end):
``WeightedCrossEntropyLoss`` (:func:`wce_ref.softmax_wce`),
``WeightedBCEWithLogitsLoss`` (:func:`wce_ref.sigmoid_wce`),
``CostSensitiveCrossEntropyLoss`` (:func:`wce_ref.cost_sensitive_ce`),
``FocalLoss`` (:func:`wce_ref.softmax_focal`), ``SigmoidFocalLoss``,
``LogitAdjustedLoss``, ``LDAMLoss``, ``Poly1Loss``; a loss registered later
gets a class on first access (``wce_ref.keras.<ClassName>`` or
:func:`loss_class`). ``wce_ref.keras.<loss name>`` is the loss as a function
of Keras tensors with the reference's own signature (logits first).

Conventions that differ from Keras' built-in losses, on purpose:

- ``y_pred`` holds **logits** (there is no ``from_logits`` switch).
- The reduction is the reference's (its ``reduction`` argument, default and
  meaning), not Keras' ``"sum_over_batch_size"``; the reference's ``"mean"`` is
  Keras' ``"sum_over_batch_size"`` (divide by the number of samples, sample
  weights or not), ``"weighted_mean"`` divides by the summed weights (see each
  class). ``sample_weight`` is the reference's ``sample_weight``.
- Class-index labels shaped ``(N, 1)`` (Keras' sparse labels) are squeezed to
  ``(N,)`` (generally: a trailing axis of 1 after the logits' positions);
  element-wise (sigmoid) targets of shape ``(N,)`` with ``(N, 1)`` logits are
  expanded (and the reverse), and a ``sample_weight`` of shape ``(N,)`` with
  ``(N, K)`` logits weights whole samples, as Keras does.
- ``class_axis`` defaults to ``-1`` (Keras' channels-last layout), which is the
  reference's default ``1`` for ``(N, C)`` logits.
- The result has the logits' dtype, except that float16 / bfloat16 logits (mixed
  precision) are first upcast to the loss's ``dtype`` (float32), as Keras' losses do.
- Keras masks are not applied (use ``ignore_index`` or ``sample_weight``).

Every class is registered with ``keras.saving.register_keras_serializable``
(package ``"wce_ref"``) when this module is imported (a loss registered later:
when its class is first created); ``get_config`` stores the array arguments as
lists, so a compiled model survives ``model.save("m.keras")`` /
``keras.models.load_model("m.keras")``.

float64 on the JAX backend needs JAX's 64-bit mode (``JAX_ENABLE_X64=1``);
without it JAX holds float32 and int32 only.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

try:
    import keras
except ImportError as _exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        f"wce_ref.keras needs Keras 3 with a backend ({type(_exc).__name__}: {_exc}); "
        "install it with pip install 'wce-ref[tensorflow]' (Keras on TensorFlow), 'wce-ref[keras,jax]' or "
        "'wce-ref[keras,torch]' (with KERAS_BACKEND=jax or torch)"
    ) from _exc

from . import frameworks as _frameworks
from . import losses as _losses
from ._frontend import loss_function as _loss_function
from .frameworks._base import Backend
from .frameworks._keras import is_tensor, no_autograph

__all__ = ["KerasLoss", "loss_class", "loss_function"]

_HALF = ("float16", "bfloat16")


def _dtype_name(dtype: Any) -> str:
    return keras.backend.standardize_dtype(dtype)


def _is_tensor(value: Any) -> bool:
    return is_tensor(keras, value)


def _backend() -> Backend:
    """The registered framework of the backend this Keras runs on (``keras-tensorflow``, ``keras-jax`` ...)."""
    return _frameworks.get(f"keras-{keras.backend.backend()}")


def loss_function(name: str) -> Callable[..., Any]:
    """The registered loss ``name`` as a function of Keras tensors, with the reference's signature (logits first)."""
    return _loss_function("keras", name, label="Keras (``keras.ops``)", backend=_backend)


# --------------------------------------------------------------------------- Keras' shape conventions


def _shape_of(value: Any) -> tuple[Any, ...] | None:
    if value is None:
        return None
    if _is_tensor(value):
        return tuple(value.shape)
    try:
        return np.shape(value)
    except ValueError:  # ragged lists: left to the reference's check
        return None


def _matches(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


def _squeeze_last(value: Any) -> Any:
    return keras.ops.squeeze(value, axis=-1) if _is_tensor(value) else np.asarray(value)[..., 0]


def _expand_last(value: Any, times: int = 1) -> Any:
    for _ in range(times):
        value = keras.ops.expand_dims(value, -1) if _is_tensor(value) else np.asarray(value)[..., None]
    return value


def _keras_layout(spec: _losses.Loss, logits: Any, labels: Any, sample_weight: Any, class_axis: Any) -> tuple:
    """Keras' label and sample-weight shapes mapped onto the reference's (see the module docstring)."""
    xs, ys, ws = _shape_of(logits), _shape_of(labels), _shape_of(sample_weight)
    if xs is None or ys is None or not xs:
        return labels, sample_weight
    if spec.family == "softmax":
        if not isinstance(class_axis, int) or not -len(xs) <= class_axis < len(xs):
            return labels, sample_weight  # the reference's check names the problem
        axis = class_axis % len(xs)
        positions = xs[:axis] + xs[axis + 1:]
        if len(ys) == len(xs) and ys[-1] == 1 and xs[axis] != 1 and _matches(ys[:-1], positions):
            labels = _squeeze_last(labels)  # sparse labels (N, 1) -> (N,)
        if (ws and 0 < len(ws) < len(positions) and None in positions and _is_tensor(sample_weight)
                and _matches(ws, positions[: len(ws)])):
            # per-sample weights over an N-d batch of unknown size: broadcast here (the formula needs np.ones)
            sw = _expand_last(sample_weight, len(positions) - len(ws))
            sample_weight = sw * keras.ops.ones_like(keras.ops.cast(labels, _dtype_name(sw.dtype)))
        return labels, sample_weight
    if len(ys) == len(xs) - 1 and xs[-1] == 1 and _matches(ys, xs[:-1]):
        labels = _expand_last(labels)  # targets (N,) with logits (N, 1)
    elif len(ys) == len(xs) + 1 and ys[-1] == 1 and _matches(ys[:-1], xs):
        labels = _squeeze_last(labels)  # targets (N, 1) with logits (N,)
    if ws and 0 < len(ws) < len(xs) and _matches(ws, xs[: len(ws)]):
        sample_weight = _expand_last(sample_weight, len(xs) - len(ws))  # one weight per sample, Keras' meaning
    return labels, sample_weight


# --------------------------------------------------------------------------- the loss classes


def _data_args(spec: _losses.Loss) -> tuple[str, str]:
    """The reference's two data arguments: (logits, labels or targets)."""
    return spec.arrays[0], spec.arrays[1]


def _config_params(spec: _losses.Loss) -> dict[str, inspect.Parameter]:
    """The constructor's keyword arguments: the reference's, less the data and ``sample_weight``."""
    return {k: p for k, p in inspect.signature(spec.value).parameters.items() if k in spec.config}


def _defaults(spec: _losses.Loss) -> dict[str, Any]:
    out = {}
    for key, p in _config_params(spec).items():
        out[key] = -1 if key == "class_axis" else (None if p.default is inspect.Parameter.empty else p.default)
    return out


def _to_config(value: Any) -> Any:
    """A JSON-friendly copy: arrays as (nested) lists, NumPy scalars as Python numbers."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value


def _host_config(value: Any) -> Any:
    """A constructor's array argument kept on the host: tensors and lists become NumPy arrays; anything
    NumPy cannot convert is kept as given, so that the reference's check names it at the first call."""
    if _is_tensor(value):
        return keras.ops.convert_to_numpy(value)
    if isinstance(value, list | tuple):
        try:
            return np.asarray(value)
        except (ValueError, TypeError):
            return value
    return value


class KerasLoss(keras.losses.Loss):
    """Base of the loss classes: the reference's keyword arguments in ``__init__``, data in ``__call__``.

    Subclasses set :attr:`loss_name` (see :func:`loss_class`). A call
    ``loss(y_true, y_pred, sample_weight=None)`` is the reference function
    ``f(y_pred, y_true, sample_weight=sample_weight, **config)``, reduction
    included: Keras' ``reduction`` machinery is not used.

    >>> import numpy as np
    >>> from wce_ref.keras import WeightedBCEWithLogitsLoss
    >>> loss = WeightedBCEWithLogitsLoss(pos_weight=3.0, reduction="sum")
    >>> y_true = np.array([[1.0], [0.0], [1.0]])               # (N, 1) or (N,)
    >>> y_pred = np.array([[2.0], [-1.0], [0.5]])              # logits
    >>> round(float(loss(y_true, y_pred)), 3)
    2.116
    >>> round(float(loss(y_true[:, 0], y_pred)), 3)            # Keras' (N,) targets with (N, 1) logits
    2.116
    >>> type(loss).from_config(loss.get_config()).get_config() == loss.get_config()
    True
    """

    loss_name: ClassVar[str] = ""

    def __init__(self, *, name: str | None = None, dtype: Any = None, **config: Any) -> None:
        spec = _losses.get(self.loss_name)
        params = _config_params(spec)
        unknown = sorted(set(config) - set(params))
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword argument(s) {unknown}; "
                            f"it takes {[*params, 'name', 'dtype']}")
        values = {**_defaults(spec), **config}
        missing = [k for k, p in params.items() if p.default is inspect.Parameter.empty and values[k] is None]
        if missing:
            raise TypeError(f"{type(self).__name__}() missing required keyword argument(s) {missing}")
        self._config = {k: (_host_config(v) if k in spec.arrays else v) for k, v in values.items()}
        self._dtype_arg = dtype
        super().__init__(name=name, reduction=None, dtype=dtype)
        self.reduction = self._config.get("reduction")  # the reference's reduction, for display

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        with keras.name_scope(self.name):
            return no_autograph(keras, self.call)(y_true, y_pred, sample_weight)

    def call(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        spec = _losses.get(self.loss_name)
        if sample_weight is not None and "sample_weight" not in spec.arrays:
            raise TypeError(f"{type(self).__name__} (wce_ref.{self.loss_name}) takes no sample_weight")
        logits, labels = (np.asarray(v) if isinstance(v, int | float | bool | np.generic) else v
                          for v in (y_pred, y_true))
        logits = self._widen(logits)
        labels, sample_weight = _keras_layout(spec, logits, labels, sample_weight, self._config.get("class_axis"))
        x_name, y_name = _data_args(spec)
        kwargs = {x_name: logits, y_name: labels, **self._config}
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight
        return _backend().loss(self.loss_name, **kwargs)

    def _widen(self, logits: Any) -> Any:
        """Half-precision logits computed in the loss's dtype when that is wider (Keras' mixed precision)."""
        target = _dtype_name(self.dtype)
        if target in _HALF or target not in ("float32", "float64"):
            return logits
        if _is_tensor(logits) and _dtype_name(logits.dtype) in _HALF:
            return keras.ops.cast(logits, target)
        if isinstance(logits, np.ndarray) and logits.dtype == np.float16:
            return logits.astype(target)
        return logits

    def get_config(self) -> dict[str, Any]:
        config = {"name": self.name, **{k: _to_config(v) for k, v in self._config.items()}}
        if self._dtype_arg is not None:
            config["dtype"] = self._dtype_arg if isinstance(self._dtype_arg, str) else self.dtype
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> KerasLoss:
        return cls(**config)


_REDUCTION_TEXT = {
    "none": "``\"none\"``: the per-{unit} losses, no reduction.",
    "sum": "``\"sum\"``: the sum of the (sample-weighted) losses.",
    "mean": "``\"mean\"``: the sum divided by the number of {units}{ignored}, whatever the sample weights: "
    "Keras' ``\"sum_over_batch_size\"``.",
    "weighted_mean": "``\"weighted_mean\"``: the sum divided by the summed weights of the samples (each one's "
    "class or cost weight times its sample weight: PyTorch's ``cross_entropy(weight=)`` convention), so that "
    "weights change the balance, not the scale; Keras' ``\"sum_over_batch_size\"`` divides by the batch size "
    "instead, its ``\"mean_with_sample_weight\"`` by the summed sample weights alone.",
}


def _example(spec: _losses.Loss, class_name: str) -> list[str]:
    """A doctest: the loss built with its required arguments (the benchmark's values) in ``model.compile``."""
    c = 3
    required = [k for k, p in _config_params(spec).items() if p.default is inspect.Parameter.empty]
    values = spec.bench(4, c, np.random.default_rng(0)) if spec.bench is not None else {}
    args = []
    for key in required:
        value = np.asarray(values.get(key))
        value = value.round(2) if value.dtype.kind == "f" else value
        args.append(f"{key}={_to_config(value)!r}")
    labels = ("class indices, shape (N,) or (N, 1)" if spec.family == "softmax"
              else "targets in [0, 1], the logits' shape")
    return [
        "Examples",
        "--------",
        ">>> import keras",
        f">>> from wce_ref.keras import {class_name}",
        f">>> loss = {class_name}({', '.join(args)})",
        f">>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense({c})])  # logits, no activation",
        f">>> model.compile(optimizer=\"adam\", loss=loss)  # y: {labels}",
        ">>> type(keras.losses.deserialize(keras.losses.serialize(loss))) is type(loss)",
        "True",
    ]


def _class_doc(spec: _losses.Loss, class_name: str) -> str:
    """The numpydoc docstring of a loss's class: the call, the reductions, the parameters, notes, an example."""
    x_name, y_name = _data_args(spec)
    summary = (inspect.getdoc(spec.value) or "").split("\n\n")[0]
    if spec.family == "softmax":
        units = {"unit": "sample (per-position)", "units": "samples (positions of N-d inputs)",
                 "ignored": "; the non-ignored ones with ``ignore_index``" if "ignore_index" in spec.config else ""}
    else:
        units = {"unit": "element", "units": "elements", "ignored": ""}
    return "\n".join([
        f"Keras loss of :func:`wce_ref.{spec.name}`: {summary[:1].lower()}{summary[1:]}",
        "",
        f"Called Keras-style, ``loss(y_true, y_pred, sample_weight=None)``: ``y_true`` is the reference's "
        f"``{y_name}`` and ``y_pred`` its ``{x_name}``, always **logits** (raw scores; there is no "
        f"``from_logits`` switch); ``sample_weight`` is the reference's ``sample_weight``. The formula, "
        f"its gradient and the exact conventions are those of :func:`wce_ref.{spec.name}`.",
        "",
        f"The reduction is the reference's, default ``{_defaults(spec).get('reduction')!r}``, not Keras' "
        "``\"sum_over_batch_size\"``:",
        "",
        *(f"- {_REDUCTION_TEXT.get(r, f'``{r!r}``: as for the reference.').format(**units)}"
          for r in spec.reductions),
        "",
        *_parameter_lines(spec),
        "",
        *_note_lines(spec),
        "",
        "See Also",
        "--------",
        f"wce_ref.{spec.name} : the NumPy reference (the formula).",
        f"wce_ref.keras.{spec.name} : the same loss as a function of Keras tensors, reference signature.",
        "",
        *_example(spec, class_name),
    ])


def _parameter_lines(spec: _losses.Loss) -> list[str]:
    """The class docstring's Parameters section: the reference's keywords, Keras' ``name`` and ``dtype``."""
    defaults = _defaults(spec)
    lines = ["Parameters", "----------"]
    for key, p in _config_params(spec).items():
        kind = "list or array" if key in spec.arrays else "as for the reference"
        req = "required" if p.default is inspect.Parameter.empty else f"default ``{defaults[key]!r}``"
        note = " (Keras' channels-last layout; the reference's default is 1, the same for (N, C) logits)" \
            if key == "class_axis" else ""
        lines += [f"{key} : {kind}, {req}{note}", f"    As for :func:`wce_ref.{spec.name}`."]
    return lines + [
        "name : str, optional",
        "    Keras' loss name.",
        "dtype : str, optional",
        "    Keras' loss dtype (``floatx()`` by default): float16 / bfloat16 logits are computed in it; "
        "float32 and float64 logits keep their dtype.",
    ]


def _note_lines(spec: _losses.Loss) -> list[str]:
    """The class docstring's Notes: how Keras' label and sample-weight shapes map onto the reference's."""
    if spec.family == "softmax":
        note = ("Class-index labels with a trailing axis of 1, Keras' sparse labels ``(N, 1)`` for ``(N, C)`` "
                "logits, are squeezed to ``(N,)``; probability rows have the logits' shape.")
    else:
        note = ("Targets of shape ``(N,)`` with logits ``(N, 1)`` are expanded to ``(N, 1)`` (and ``(N, 1)`` "
                "targets squeezed for ``(N,)`` logits); a ``sample_weight`` matching the logits' leading axes "
                "(``(N,)`` for ``(N, K)`` logits) weights whole samples, as in Keras.")
    return ["Notes", "-----", note]


@functools.cache
def loss_class(name: str) -> type[KerasLoss]:
    """The ``keras.losses.Loss`` class of the registered loss ``name`` (created and registered once)."""
    spec = _losses.get(name)
    class_name = spec.front_name
    cls = type(class_name, (KerasLoss,), {"loss_name": name, "__doc__": _class_doc(spec, class_name),
                                          "__module__": __name__, "__qualname__": class_name})
    globals().setdefault(class_name, cls)  # a module attribute (its doctest runs with the module's)
    return keras.saving.register_keras_serializable(package="wce_ref", name=class_name)(cls)


def _by_class_name(attr: str) -> str | None:
    return next((n for n, s in _losses.LOSSES.items() if s.front_name == attr), None)


def __getattr__(attr: str) -> Any:
    if attr in _losses.LOSSES:
        return loss_function(attr)
    name = _by_class_name(attr)
    if name is not None:
        return loss_class(name)
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_losses.LOSSES, *(s.front_name for s in _losses.LOSSES.values())])


for _name in list(_losses.LOSSES):  # registered for keras.models.load_model as soon as this module is imported
    __all__.append(loss_class(_name).__name__)
