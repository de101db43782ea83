r"""The softmax family as a template (imbalanced-learn's ``base.py`` for samplers): each loss writes its own rows.

A softmax-family loss subclasses :class:`SoftmaxFamily` and writes only what is its own: its extra parameters
(:attr:`SoftmaxFamily.params`), their validation (:meth:`~SoftmaxFamily.prepare`), the per-row value
:math:`\ell_i` and its analytic gradient (:meth:`~SoftmaxFamily.per_row`, :meth:`~SoftmaxFamily.row_grad`),
the framework formula of the same rows (:meth:`~SoftmaxFamily.ops_per_row`), their exact (mpmath) form
(:meth:`~SoftmaxFamily.exact_row`), its docstrings and its cases. The template owns what the family shares,
once for each of the three implementations:

* NumPy: the argument check (:func:`~wce_ref.losses._common.check_softmax`: layout, ``class_axis``, N-d
  inputs, ``ignore_index``, labels, weights), the class weight of the target :math:`w_{y_i}`, the sample
  weights :math:`s_i`, the reductions and their normalisers (:class:`~wce_ref.losses._common.SoftmaxInputs`);
* the operations table: the same, over :class:`~wce_ref.losses._generic.SoftmaxRows`;
* the oracle: :func:`wce_ref.oracle.softmax_family`, which imports nothing from the losses.

With :math:`V` the non-ignored positions, the value of every member is

.. math::

    \text{sum} = \sum_{i \in V} s_i w_{y_i} \ell_i, \qquad
    \text{mean} = \frac{\text{sum}}{|V|}, \qquad
    \text{weighted\_mean} = \frac{\text{sum}}{\sum_{i \in V} s_i w_{y_i}}

and :meth:`SoftmaxFamily.loss` builds the public value and gradient functions (real signatures:
``logits, labels, *, <params>, class_weights, sample_weight, reduction, [label_smoothing,] ignore_index,
class_axis``), the check, the formula and the exact form into one :class:`~wce_ref.losses.Loss` record.

``cost_sensitive_ce`` is not a member: a third positional array (the cost matrix), no class weights, and a row
weight that depends on the prediction (see :mod:`wce_ref.losses._cost_sensitive_ce`). The element-wise losses
have their own template, :class:`~wce_ref.losses._sigmoid_family.SigmoidFamily`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from inspect import Parameter
from typing import Any, ClassVar

import numpy as np

from .._validation import REDUCTIONS_SOFTMAX
from ._base import Builtin, Case, Loss
from ._common import Softmax, SoftmaxInputs, check_softmax

__all__ = ["REQUIRED", "SoftmaxFamily", "Template", "public"]

#: the default of a required keyword parameter (``class_priors``)
REQUIRED = Parameter.empty
#: the annotations of the family's parameters in the public signatures (the others: ``Any``)
_TYPES = {"reduction": "str", "label_smoothing": "float", "ignore_index": "int | None", "class_axis": "int"}


class Template:
    """What the family templates share: the public function's ``name``, the own keyword parameters ``params``
    (-> defaults, in the signature's order, :data:`REQUIRED` for none), the public docstrings ``value_doc`` /
    ``grad_doc`` and what the :class:`~wce_ref.losses.Loss` record takes beside (``class_name``,
    ``memo_check``); :meth:`own` fills in the defaults. Subclassed by :class:`SoftmaxFamily` and
    :class:`~wce_ref.losses._sigmoid_family.SigmoidFamily`.
    """

    name: ClassVar[str] = ""
    params: ClassVar[dict[str, Any]] = {}
    value_doc: ClassVar[str] = ""
    grad_doc: ClassVar[str] = ""
    class_name: ClassVar[str] = ""
    memo_check: ClassVar[bool] = True

    def own(self, own: dict[str, Any]) -> dict[str, Any]:
        """The own parameters with their defaults filled in (a required one missing: Python's TypeError)."""
        missing = [k for k, d in self.params.items() if d is REQUIRED and k not in own]
        if missing:
            raise TypeError(f"{self.name}() missing required keyword-only argument(s): {missing}")
        return {**{k: d for k, d in self.params.items() if d is not REQUIRED}, **own}

    def public_functions(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """The public value and gradient functions: the family's ``signature()``, ``value`` / ``grad`` and the
        docstrings, in the loss module's namespace (:func:`public`)."""
        module, params = type(self).__module__, self.signature()
        return (public(self.name, params, self.value, self.value_doc, module),
                public(self.name + "_grad", params, self.grad, self.grad_doc, module, "np.ndarray"))


class SoftmaxFamily(Template):
    """A softmax-family loss: subclass it, set the class attributes and write the hooks marked *own*.

    Class attributes: ``name`` (the public function's), ``params`` (own keyword parameters -> defaults, in the
    signature's order, :data:`REQUIRED` for none), ``arrays`` / ``float_arrays`` (which of them are arrays /
    float arrays: tensors in a framework), ``reduction`` (the default), ``soft`` (probability labels and
    ``label_smoothing`` accepted), ``value_doc`` / ``grad_doc`` (the public docstrings) and what the
    :class:`~wce_ref.losses.Loss` record takes beside (``class_name``, ``memo_check``).
    """

    arrays: ClassVar[tuple[str, ...]] = ()
    float_arrays: ClassVar[tuple[str, ...]] = ()
    reduction: ClassVar[str] = "weighted_mean"
    soft: ClassVar[bool] = False

    # ------------------------------------------------------------------ own hooks: NumPy
    def prepare(self, inp: SoftmaxInputs, **own: Any) -> tuple[SoftmaxInputs, dict[str, Any]]:
        """Validate the own parameters (raise naming them); return the inputs (possibly widened) and what the
        other hooks receive as keywords (by default the parameters as given)."""
        return inp, own

    def check_more(self, inp: SoftmaxInputs, **own: Any) -> None:
        """Checks of the check alone that the value finds on its way (an overflow of transformed logits)."""

    def softmax(self, inp: SoftmaxInputs, **own: Any) -> Softmax:
        """The softmax pieces the rows are computed from (of transformed logits where the loss transforms)."""
        return Softmax(inp.x)

    def per_row(self, sm: Softmax, y: np.ndarray, **own: Any) -> np.ndarray:
        r"""*Own*: each row's loss :math:`\ell_i` (M,) before the class and sample weights."""
        raise NotImplementedError

    def row_grad(self, sm: Softmax, y: np.ndarray, **own: Any) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        r"""*Own*: :math:`\partial \ell_i / \partial x_{ij}` (M, C), a fresh array (weighed in place), or a pair
        ``(g, f)`` meaning ``g * f[:, None]`` (a per-row factor, applied with the class weight in one product)."""
        raise NotImplementedError

    def rows(self, inp: SoftmaxInputs, sm: Softmax, **own: Any) -> np.ndarray:
        """Each row's loss times its target's class weight (a loss whose weights enter otherwise overrides it)."""
        return inp.w_target * self.per_row(sm, inp.y, **own)

    def grad_rows(self, inp: SoftmaxInputs, sm: Softmax, **own: Any) -> np.ndarray:
        """:meth:`row_grad` times each row's target class weight."""
        grad = self.row_grad(sm, inp.y, **own)
        if isinstance(grad, tuple):
            grad, factor = grad
            grad *= (inp.w_target * factor)[:, None]
        else:
            grad *= inp.w_target[:, None]
        return grad

    # ------------------------------------------------------------------ own hooks: the operations table
    def ops_logits(self, r: Any, **own: Any) -> Any:
        """The (M, C) logits the softmax pieces of ``r`` are taken from (a transformation of ``r.x``)."""
        return r.x

    def ops_per_row(self, r: Any, **own: Any) -> Any:
        """*Own*: :meth:`per_row` over the operations table (``r``: :class:`~wce_ref.losses._generic.SoftmaxRows`)."""
        raise NotImplementedError

    def ops_value(self, r: Any, **own: Any) -> Any:
        """The reduced loss: :meth:`ops_per_row` times the class and sample weights, reduced."""
        per = self.ops_per_row(r, **own)
        w_y = r.target_weights()
        return r.reduce(r.weigh(per if w_y is None else w_y * per))

    # ------------------------------------------------------------------ own hooks: the exact form
    def exact_own(self, o: Any, **own: Any) -> dict[str, Any]:
        """The own parameters as the exact hooks take them (``o``: :mod:`wce_ref.oracle`), computed once."""
        return own

    def exact_logits(self, o: Any, x: np.ndarray, y: int, **own: Any) -> np.ndarray:
        """One row's logits (mpf) as the loss's softmax takes them (a transformation of ``x``)."""
        return x

    def exact_row(self, o: Any, nll: np.ndarray, p: np.ndarray, y: int, **own: Any) -> tuple[Any, np.ndarray]:
        r"""*Own*: :math:`(\ell, \partial \ell / \partial x)` of one row in mpmath, from its exact
        :math:`-\log p` and :math:`p` (``o.row_softmax``) and its label."""
        raise NotImplementedError

    def exact_weighted_row(self, o: Any, x: np.ndarray, target: Any, w: np.ndarray, eps: Any,
                           **own: Any) -> tuple[Any, np.ndarray]:
        """One row's exact loss and gradient times its class weight (``target``: a label, or ``q`` when soft)."""
        nll, p = o.row_softmax(self.exact_logits(o, x, target, **own))
        value, grad = self.exact_row(o, nll, p, target, **own)
        return w[target] * value, w[target] * np.asarray(grad, dtype=object)

    # ------------------------------------------------------------------ the template
    def _family_params(self) -> list[Parameter]:
        kw = Parameter.KEYWORD_ONLY
        tail = [("class_weights", None), ("sample_weight", None), ("reduction", self.reduction)]
        tail += [("label_smoothing", 0.0)] if self.soft else []
        tail += [("ignore_index", None), ("class_axis", 1)]
        return [Parameter(k, kw, default=d, annotation=_TYPES.get(k, "Any")) for k, d in tail]

    def signature(self) -> list[Parameter]:
        """The public functions' parameters: ``logits, labels, *, <own>, <the family's>``."""
        pos, kw = Parameter.POSITIONAL_OR_KEYWORD, Parameter.KEYWORD_ONLY
        own = [Parameter(k, kw, default=d, annotation="float" if isinstance(d, float) else "Any")
               for k, d in self.params.items()]
        logits, labels = (Parameter(k, pos, annotation="Any") for k in ("logits", "labels"))
        return [logits, labels, *own, *self._family_params()]

    def inputs(self, logits: Any, labels: Any, *, class_weights: Any = None, sample_weight: Any = None,
               reduction: str | None = None, label_smoothing: float = 0.0, ignore_index: int | None = None,
               class_axis: int = 1, **own: Any) -> tuple[SoftmaxInputs, dict[str, Any]]:
        """The checked inputs and the own hooks' keywords (what every entry point starts from)."""
        inp = check_softmax(logits, labels, class_weights=class_weights, sample_weight=sample_weight,
                            reduction=self.reduction if reduction is None else reduction,
                            label_smoothing=label_smoothing, ignore_index=ignore_index, class_axis=class_axis,
                            allow_soft=self.soft)
        return self.prepare(inp, **self.own(own))

    def check(self, logits: Any, labels: Any, **kwargs: Any) -> dict[str, Any]:
        """Validate the arguments as the value does; return the normalised non-array ones."""
        inp, own = self.inputs(logits, labels, **kwargs)
        self.check_more(inp, **own)
        static = {"reduction": inp.reduction, "ignore_index": inp.ignore_index, "class_axis": inp.class_axis}
        static.update({"label_smoothing": inp.eps} if self.soft else {})
        return {**static, **{k: own[k] for k in self.params if k not in self.arrays}}

    def value(self, logits: Any, labels: Any, **kwargs: Any) -> Any:
        """The NumPy reference: rows, weights, reduction."""
        inp, own = self.inputs(logits, labels, **kwargs)
        return inp.reduce(inp.weigh(self.rows(inp, self.softmax(inp, **own), **own)))

    def grad(self, logits: Any, labels: Any, **kwargs: Any) -> np.ndarray:
        """The analytic gradient: rows, weights, the reduction's normaliser, the logits' layout."""
        inp, own = self.inputs(logits, labels, **kwargs)
        return inp.grad(inp.weigh(self.grad_rows(inp, self.softmax(inp, **own), **own)))

    def formula(self, ops: Any, logits: Any, labels: Any, *, class_weights: Any = None, sample_weight: Any = None,
                reduction: str | None = None, label_smoothing: float = 0.0, ignore_index: int | None = None,
                class_axis: int = 1, **own: Any) -> Any:
        """The framework version over the operations table (arguments already checked)."""
        from ._generic import SoftmaxRows

        r = SoftmaxRows(ops, logits, labels, class_weights=class_weights, sample_weight=sample_weight,
                        reduction=self.reduction if reduction is None else reduction,
                        label_smoothing=label_smoothing, ignore_index=ignore_index, class_axis=class_axis)
        own = self.own(own)
        r.x = self.ops_logits(r, **own)  # before the softmax pieces, which are built on first use
        return self.ops_value(r, **own)

    def exact(self, logits: Any, labels: Any, *, class_weights: Any = None, sample_weight: Any = None,
              reduction: str | None = None, label_smoothing: float = 0.0, ignore_index: int | None = None,
              class_axis: int = 1, **own: Any) -> tuple[Any, Any]:
        """The exact value and gradient ``(value, grad)`` in mpmath (:func:`wce_ref.oracle.softmax_family`)."""
        from .. import oracle as o

        own = self.exact_own(o, **self.own(own))
        eps = o.MP.mpf(label_smoothing)

        def row(x: np.ndarray, target: Any, w: np.ndarray) -> tuple[Any, np.ndarray]:
            return self.exact_weighted_row(o, x, target, w, eps, **own)

        return o.softmax_family(row, logits, labels, class_weights=class_weights, sample_weight=sample_weight,
                                reduction=self.reduction if reduction is None else reduction,
                                ignore_index=ignore_index, class_axis=class_axis)

    def loss(self, *, cases: tuple[Case, ...], builtins: tuple[Builtin, ...] = (),
             bench: Callable[..., dict[str, Any]] | None = None, bench_reduction: str | None = None,
             train: Callable[..., dict[str, Any]] | None = None,
             helpers: tuple[Callable[..., Any], ...] = ()) -> Loss:
        """The :class:`~wce_ref.losses.Loss` record: the public functions built with their signatures."""
        value, grad = self.public_functions()
        floats = ("logits", *self.float_arrays, "class_weights", "sample_weight")
        return Loss(name=self.name, class_name=self.class_name, family="softmax", value=value, grad=grad,
                    check=self.check, formula=self.formula, exact=self.exact,
                    arrays=("logits", "labels", *self.arrays, "class_weights", "sample_weight"), positional=2,
                    float_args=floats, reductions=REDUCTIONS_SOFTMAX, cases=cases, builtins=builtins, bench=bench,
                    bench_reduction=bench_reduction or self.reduction, train=train, helpers=helpers,
                    memo_check=self.memo_check)


def public(name: str, params: list[Parameter], impl: Callable[..., Any], doc: str, module: str,
           returns: str = "Any") -> Callable[..., Any]:
    """A function ``name(<params>)`` calling ``impl`` with its arguments by keyword, docstring ``doc``.

    Written out and compiled, as :mod:`dataclasses` writes ``__init__``: a real signature (Python's own
    messages for a wrong call, no binding cost) in the namespace of ``module`` (its doctests are found there).
    """
    defaults = {f"_d_{p.name}": p.default for p in params if p.default is not Parameter.empty}
    text = ", ".join(p.name if p.default is Parameter.empty else f"{p.name}=_d_{p.name}" for p in params
                     if p.kind is Parameter.POSITIONAL_OR_KEYWORD)
    text += ", *, " + ", ".join(f"{p.name}=_d_{p.name}" if p.default is not Parameter.empty else p.name
                                for p in params if p.kind is Parameter.KEYWORD_ONLY)
    call = ", ".join(f"{p.name}={p.name}" for p in params)
    src = (f"def __make(_impl, {', '.join(defaults)}):\n"
           f"    def {name}({text}):\n        return _impl({call})\n    return {name}\n")
    namespace: dict[str, Any] = {}
    glb = sys.modules[module].__dict__ if module in sys.modules else {"__name__": module}
    exec(compile(src, f"<wce_ref.losses: {name}>", "exec"), glb, namespace)  # noqa: S102 - our own text
    fn = namespace["__make"](impl, **defaults)
    fn.__doc__, fn.__module__, fn.__qualname__ = doc, module, name
    fn.__annotations__ = {**{p.name: p.annotation for p in params}, "return": returns}
    return fn
