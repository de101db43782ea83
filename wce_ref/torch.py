"""PyTorch front end: every registered loss as a function on tensors and as a ``torch.nn.Module``.

A thin layer over the loss registry (:data:`wce_ref.losses.LOSSES`): each
function or module runs the reference's own argument check on the tensors
(the same messages as the NumPy reference) and then the loss module's
framework formula, the code the agreement matrix checks against the
high-precision oracle. Gradients come from autograd. ``softmax_wce`` (``WeightedCrossEntropyLoss``) with
class-index labels runs a fused kernel instead, value and gradient in one pass: C on CPU tensors
(:mod:`wce_ref.frameworks._torch_cpu`, which also checks the values once a configuration has passed the
check, so a training step pays microseconds for it), Triton on CUDA tensors.

>>> import torch
>>> from wce_ref.torch import WeightedCrossEntropyLoss, softmax_wce
>>> x = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]], requires_grad=True)
>>> y = torch.tensor([0, 2])
>>> loss = WeightedCrossEntropyLoss(class_weights=[1.0, 1.0, 4.0])   # reduction="weighted_mean"
>>> value = loss(x, y)
>>> round(float(value), 4), round(float(softmax_wce(x, y, class_weights=torch.tensor([1.0, 1.0, 4.0]))), 4)
(0.1556, 0.1556)
>>> value.backward(); x.grad.shape
torch.Size([2, 3])

Class names, constructor keyword arguments and ``forward``'s positional
arguments follow the reference functions: ``WeightedCrossEntropyLoss``
(:func:`wce_ref.softmax_wce`), ``WeightedBCEWithLogitsLoss``
(:func:`wce_ref.sigmoid_wce`), ``CostSensitiveCrossEntropyLoss``,
``FocalLoss`` (softmax focal), ``SigmoidFocalLoss``, ``LogitAdjustedLoss``,
``LDAMLoss``, ``Poly1Loss``; a loss registered later gets a module too
(:func:`loss_class`). Class weights, priors, counts and cost matrices are
registered buffers: ``.to(device)``, ``.half()``, ``state_dict()`` /
``load_state_dict()`` and ``copy.deepcopy`` behave as for built-in losses.
The recommended mode is ``torch.compile`` around the training step; the
argument check runs outside the compiled graph.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import torch

from . import frameworks as _frameworks
from . import losses as _losses
from ._frontend import loss_function as _loss_function

__all__ = ["loss_class", "loss_function"]


def _backend():
    return _frameworks.get("torch")


_backend().lib()  # torch's fused primitives and operations table, made here: never inside a torch.compile trace


def _call(name: str, *args: Any, **kwargs: Any) -> Any:
    return _backend().loss(name, *args, **kwargs)


def loss_function(name: str):
    """The registered loss ``name`` as a function of torch tensors (arguments as for the reference)."""
    return _loss_function("torch", name, label="PyTorch", backend=_backend)


class _LossModule(torch.nn.Module):
    """Base of the loss modules: configuration in ``__init__``, data in ``forward``."""

    loss_name: str = ""

    def __init__(self, **config: Any) -> None:
        super().__init__()
        spec = _losses.get(self.loss_name)
        unknown = sorted(set(config) - set(spec.config))
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword argument(s) {unknown}; "
                            f"it takes {list(spec.config)}")
        defaults = {k: p.default for k, p in inspect.signature(spec.value).parameters.items() if k in spec.config}
        self._static: dict[str, Any] = {}
        for key in spec.config:
            value = config.get(key, defaults.get(key))
            if key in spec.arrays and value is not None and not isinstance(value, (bool, int, float)):
                self.register_buffer(key, torch.as_tensor(value, dtype=None if torch.is_tensor(value) else
                                                          torch.get_default_dtype()))
            else:
                self._static[key] = value
        self._buffers_config = [k for k in spec.config if k not in self._static]

    def forward(self, *inputs: Any, sample_weight: Any = None) -> torch.Tensor:
        kwargs = dict(self._static)
        kwargs.update({k: getattr(self, k) for k in self._buffers_config})
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight
        return _call(self.loss_name, *inputs, **kwargs)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self._static.items() if v is not None)


@functools.cache
def loss_class(name: str) -> type[_LossModule]:
    """The ``torch.nn.Module`` class of the registered loss ``name`` (created once)."""
    spec = _losses.get(name)
    doc = (
        f"``torch.nn.Module`` of :func:`wce_ref.{name}`.\n\n"
        f"Constructor keyword arguments: {', '.join(spec.config)} (as for the reference); "
        f"``forward({', '.join(spec.inputs[:2])}, sample_weight=None)``.\n\n" + (spec.value.__doc__ or "")
    )
    return type(spec.front_name, (_LossModule,), {"loss_name": name, "__doc__": doc, "__module__": __name__})


def _by_class_name(attr: str) -> str | None:
    return next((n for n, s in _losses.LOSSES.items() if s.front_name == attr), None)


def __getattr__(attr: str) -> Any:
    if attr in _losses.LOSSES:
        return loss_function(attr)
    name = _by_class_name(attr)
    if name is not None:
        return loss_class(name)
    raise AttributeError(f"module 'wce_ref.torch' has no attribute {attr!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_losses.LOSSES, *(s.front_name for s in _losses.LOSSES.values())])
