r"""The sigmoid family as a template: each element-wise loss writes its own elements.

A sigmoid-family loss (any shape, one logit and one target in :math:`[0, 1]` per element) subclasses
:class:`SigmoidFamily` and writes only what is its own: its extra parameters (:attr:`SigmoidFamily.params`),
the validation of its scalar ones (:meth:`~SigmoidFamily.prepare`) and, where it needs another, its compute
dtype (:meth:`~SigmoidFamily.compute_dtype`), the per-element value :math:`\ell_j` and its analytic derivative
(:meth:`~SigmoidFamily.per_element`, :meth:`~SigmoidFamily.element_grad`), the framework formula of the same
elements (:meth:`~SigmoidFamily.ops_per_element`), their exact (mpmath) form
(:meth:`~SigmoidFamily.exact_element`), its docstrings and its cases. The template owns what the family shares,
once for each of the three implementations:

* NumPy: the argument check (finite logits, targets in :math:`[0, 1]` of the logits' shape, the reduction),
  the element-wise weights the loss declares in :attr:`~SigmoidFamily.arrays` (``pos_weight``, ``neg_weight``:
  non-negative, broadcast to the logits' shape as ``BCEWithLogitsLoss(pos_weight=)`` broadcasts), the sample
  weights :math:`s_j`, the reductions and the casts (:class:`SigmoidInputs`);
* the operations table: the same, over :class:`~wce_ref.losses._ops.Ops` (:meth:`SigmoidFamily.formula`,
  :func:`~wce_ref.losses._generic.reduce_elements`);
* the oracle: :func:`wce_ref.oracle.sigmoid_family`, which imports nothing from the losses.

With :math:`n` the number of elements, the value of every member is

.. math::

    \text{none}_j = s_j \ell_j, \qquad \text{sum} = \sum_j s_j \ell_j, \qquad \text{mean} = \frac{\text{sum}}{n}

(the sample weights do not change the divisor, as in PyTorch and Keras; an empty batch's ``mean`` is 0), and
the gradient of ``none`` is that of ``sum``. :meth:`SigmoidFamily.loss` builds the public value and gradient
functions (real signatures: ``logits, targets, *, <params>, sample_weight, reduction``), the check, the formula
and the exact form into one :class:`~wce_ref.losses.Loss` record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from inspect import Parameter
from typing import Any, ClassVar

import numpy as np

from .._validation import (
    REDUCTIONS_SIGMOID,
    as_broadcast_weights,
    as_logits,
    as_probabilities,
    check_reduction,
)
from .._validation import compute_dtype as _compute_dtype
from ._base import Builtin, Case, Loss
from ._common import out
from ._family import Template

__all__ = ["SigmoidFamily", "SigmoidInputs"]


@dataclass(eq=False)
class SigmoidInputs:
    """Validated inputs of a sigmoid-family loss: logits ``x`` and targets ``t`` in the compute dtype, sample
    weights ``sw`` broadcast to the logits' shape (or None), the reduction and the input's ``dtype``."""

    x: np.ndarray
    t: np.ndarray
    sw: np.ndarray | None
    reduction: str
    dtype: np.dtype

    def weigh(self, a: np.ndarray) -> np.ndarray:
        """Element-wise losses or derivatives times the sample weights."""
        return a if self.sw is None else a * self.sw

    def reduce(self, loss: np.ndarray) -> Any:
        """none / sum / mean of the (weighted) element-wise losses, in the input's dtype."""
        if self.reduction == "none":
            return out(loss, self.dtype)
        total = loss.sum()
        return out(total / loss.size if self.reduction == "mean" and loss.size else total, self.dtype)

    def grad(self, grad: np.ndarray) -> np.ndarray:
        """The (weighted) element-wise derivatives -> the gradient of the reduction, in the input's dtype."""
        if self.reduction == "mean" and grad.size:
            grad = grad / grad.size
        return out(grad, self.dtype)


class SigmoidFamily(Template):
    """A sigmoid-family loss: subclass it, set the class attributes and write the hooks marked *own*.

    Class attributes (beside :class:`~wce_ref.losses._family.Template`'s ``name``, ``params``, ``value_doc``,
    ``grad_doc``, ``class_name``, ``memo_check``): ``annotations`` (own parameter -> its annotation in the
    public signatures, ``Any`` by default) and ``arrays`` (the own parameters that are element-wise weights:
    checked and broadcast by the family, tensors in a framework, mpf arrays in the exact form).
    """

    annotations: ClassVar[dict[str, str]] = {}
    arrays: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ own hooks: NumPy
    def prepare(self, **own: Any) -> dict[str, Any]:
        """Validate the own scalar parameters (raise naming them); return them normalised."""
        return own

    def compute_dtype(self, dtype: np.dtype, **own: Any) -> np.dtype:
        """The dtype the NumPy reference computes in for logits of ``dtype`` (float32 for the half precisions)."""
        return _compute_dtype(dtype)

    def per_element(self, x: np.ndarray, t: np.ndarray, **own: Any) -> np.ndarray:
        r"""*Own*: each element's loss :math:`\ell_j` before the sample weights (own weights broadcast)."""
        raise NotImplementedError

    def element_grad(self, x: np.ndarray, t: np.ndarray, **own: Any) -> np.ndarray:
        r"""*Own*: :math:`\partial \ell_j / \partial x_j` before the sample weights."""
        raise NotImplementedError

    # ------------------------------------------------------------------ own hooks: the operations table
    def ops_per_element(self, ops: Any, x: Any, t: Any, **own: Any) -> Any:
        """*Own*: :meth:`per_element` over the operations table (``x`` in the compute dtype, ``t`` and the own
        weights cast to it)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ own hooks: the exact form
    def exact_element(self, o: Any, x: Any, t: Any, **own: Any) -> tuple[Any, Any]:
        r"""*Own*: :math:`(\ell, \partial \ell / \partial x)` of one element in mpmath (``o``: :mod:`wce_ref.oracle`;
        the own weights as this element's mpf entries)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the template
    def signature(self) -> list[Parameter]:
        """The public functions' parameters: ``logits, targets, *, <own>, sample_weight, reduction``."""
        pos, kw = Parameter.POSITIONAL_OR_KEYWORD, Parameter.KEYWORD_ONLY
        own = [Parameter(k, kw, default=d, annotation=self.annotations.get(k, "Any")) for k, d in self.params.items()]
        return [Parameter("logits", pos, annotation="Any"), Parameter("targets", pos, annotation="Any"), *own,
                Parameter("sample_weight", kw, default=None, annotation="Any"),
                Parameter("reduction", kw, default="mean", annotation="str")]

    def inputs(self, logits: Any, targets: Any, *, sample_weight: Any = None, reduction: str = "mean",
               convert: bool = True, **own: Any) -> tuple[SigmoidInputs, dict[str, Any]]:
        """The checked inputs and the own hooks' keywords; ``convert=False`` (the check alone) skips the copies
        of the logits and targets to the compute dtype."""
        x0 = as_logits(logits)
        dtype = x0.dtype
        reduction = check_reduction(reduction, REDUCTIONS_SIGMOID)
        own = self.prepare(**self.own(own))
        ct = self.compute_dtype(dtype, **own)
        t = as_probabilities(targets, shape=x0.shape, name="targets")
        for k in self.arrays:
            own[k] = as_broadcast_weights(own[k], name=k, shape=x0.shape, dtype=ct)
        sw = None if sample_weight is None else as_broadcast_weights(
            sample_weight, name="sample_weight", shape=x0.shape, dtype=ct
        )
        x, t = (x0.astype(ct), t.astype(ct)) if convert else (x0, t)
        return SigmoidInputs(x, t, sw, reduction, dtype), own

    def check(self, logits: Any, targets: Any, **kwargs: Any) -> dict[str, Any]:
        """Validate the arguments as the value does; return the normalised non-array ones."""
        inp, own = self.inputs(logits, targets, convert=False, **kwargs)
        return {"reduction": inp.reduction, **{k: own[k] for k in self.params if k not in self.arrays}}

    def value(self, logits: Any, targets: Any, **kwargs: Any) -> Any:
        """The NumPy reference: elements, sample weights, reduction."""
        inp, own = self.inputs(logits, targets, **kwargs)
        return inp.reduce(inp.weigh(self.per_element(inp.x, inp.t, **own)))

    def grad(self, logits: Any, targets: Any, **kwargs: Any) -> np.ndarray:
        """The analytic gradient: derivatives, sample weights, the reduction's divisor."""
        inp, own = self.inputs(logits, targets, **kwargs)
        return inp.grad(inp.weigh(self.element_grad(inp.x, inp.t, **own)))

    def formula(self, ops: Any, logits: Any, targets: Any, *, sample_weight: Any = None, reduction: str = "mean",
                **own: Any) -> Any:
        """The framework version over the operations table (arguments already checked)."""
        from ._generic import reduce_elements

        dtype = ops.dtype(logits)
        x = ops.compute(logits)
        own = self.own(own)
        own.update({k: ops.cast(own[k], x) for k in self.arrays})
        loss = self.ops_per_element(ops, x, ops.cast(targets, x), **own)
        if sample_weight is not None:
            loss = loss * ops.cast(sample_weight, x)
        return reduce_elements(ops, loss, reduction, dtype)

    def exact(self, logits: Any, targets: Any, *, sample_weight: Any = None, reduction: str = "mean",
              **own: Any) -> tuple[Any, Any]:
        """The exact value and gradient ``(value, grad)`` in mpmath (:func:`wce_ref.oracle.sigmoid_family`)."""
        from .. import oracle as o

        own = self.own(own)
        weights = {k: own.pop(k) for k in self.arrays}

        def element(x: Any, t: Any, **w: Any) -> tuple[Any, Any]:
            return self.exact_element(o, x, t, **w, **own)

        return o.sigmoid_family(element, logits, targets, weights=weights, sample_weight=sample_weight,
                                reduction=reduction)

    def loss(self, *, cases: tuple[Case, ...], builtins: tuple[Builtin, ...] = (),
             bench: Callable[..., dict[str, Any]] | None = None) -> Loss:
        """The :class:`~wce_ref.losses.Loss` record: the public functions built with their signatures."""
        value, grad = self.public_functions()
        arrays = ("logits", "targets", *self.arrays, "sample_weight")
        return Loss(name=self.name, class_name=self.class_name, family="sigmoid", value=value, grad=grad,
                    check=self.check, formula=self.formula, exact=self.exact, arrays=arrays, positional=2,
                    float_args=arrays, reductions=REDUCTIONS_SIGMOID, cases=cases, builtins=builtins, bench=bench,
                    bench_reduction="mean", memo_check=self.memo_check)
