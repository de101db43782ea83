r"""Cross entropy weighted by a misclassification-cost matrix, ``cost[true, predicted]``.

Not written through the softmax-family template (:class:`~wce_ref.losses._family.SoftmaxFamily`): its
signature has a third positional array, ``cost_matrix`` (the template's is ``logits, labels, *, <own>, ...``
with two positional arrays), and no ``class_weights``, ``ignore_index``, probability labels or label
smoothing; and its row weight :math:`M_{y_i \hat y_i}` depends on the logits (the current prediction
:math:`\hat y_i`, a constant for the gradient), not on the label alone as the template's :math:`w_{y_i}`
does, and replaces :math:`w_{y_i}` in ``weighted_mean``'s normaliser (with its own message when that sum is 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import REDUCTIONS_SOFTMAX, WCEInputError, as_cost_matrix
from ._base import Case, Loss
from ._common import Softmax, check_softmax
from ._softmax_wce import nd_case

__all__ = ["LOSS", "cost_sensitive_ce", "cost_sensitive_ce_grad"]


def _prepare(logits, labels, cost_matrix, sample_weight, reduction, class_axis):
    inp = check_softmax(logits, labels, sample_weight=sample_weight, reduction=reduction, class_axis=class_axis,
                        allow_soft=False)
    cost = as_cost_matrix(cost_matrix, n_classes=inp.c, dtype=inp.x.dtype)
    sm = Softmax(inp.x)
    weight = cost[inp.y, sm.k]  # argmax ties resolve to the first index, as in every framework
    if inp.sw is not None:
        weight = weight * inp.sw
    if inp.reduction == "weighted_mean" and inp.x.shape[0] and weight.sum(dtype=np.float64) == 0:
        raise WCEInputError(
            "reduction='weighted_mean' divides by the sum of the samples' costs, which is 0 for these "
            "logits and labels (every sample's cost_matrix[true, predicted] entry is zero)"
        )
    return inp, sm, weight


def check(logits, labels, cost_matrix, *, sample_weight=None, reduction="mean", class_axis=1) -> dict[str, Any]:
    """Validate the arguments of :func:`cost_sensitive_ce`; return the normalised non-array ones."""
    inp = check_softmax(logits, labels, sample_weight=sample_weight, reduction=reduction, class_axis=class_axis,
                        allow_soft=False)
    as_cost_matrix(cost_matrix, n_classes=inp.c, dtype=inp.x.dtype)
    return {"reduction": inp.reduction, "class_axis": inp.class_axis}


def cost_sensitive_ce(
    logits: Any, labels: Any, cost_matrix: Any, *, sample_weight: Any = None, reduction: str = "mean",
    class_axis: int = 1,
) -> Any:
    r"""Cross entropy weighted by a misclassification-cost matrix.

    Each sample is weighted by the cost of the mistake the model currently
    makes on it, :math:`M_{y_i \hat y_i}` with :math:`\hat y_i = \arg\max_c x_{ic}`
    (ties go to the lowest index):

    .. math::

        \ell_i = -M_{y_i \hat y_i} \log p_{i y_i}

    so that confusing class :math:`a` for class :math:`b` can cost more than the
    reverse (Elkan, "The Foundations of Cost-Sensitive Learning", IJCAI 2001,
    for the cost matrix; the weighting of the log-loss by the current mistake's
    cost is this project's). The weight is a constant for the gradient. A cost
    matrix with a zero diagonal gives correctly classified samples zero loss;
    use a diagonal of ones to keep learning from them.

    Parameters
    ----------
    logits : array_like of float, shape (N, C), (N, C, d1, ..., dk) or (C,)
        (C,) is one unbatched sample with a 0-d label, as ``torch.nn.functional.cross_entropy`` takes it.
    labels : array_like of int, shape (N,), (N, d1, ..., dk) or () with (C,) logits
    cost_matrix : array_like, shape (C, C)
        Non-negative; row = true class, column = predicted class.
    sample_weight : array_like, shape (N,) or the labels' shape, optional
    reduction : {"none", "sum", "mean", "weighted_mean"}
        ``"mean"`` divides by the number of samples, ``"weighted_mean"`` by
        :math:`\sum_i s_i M_{y_i \hat y_i}`.
        An empty batch (N = 0) gives 0 for every reduction but ``none`` (PyTorch returns NaN for the means).
    class_axis : int
        1 (default, PyTorch's layout) or -1 (channels last).

    Returns
    -------
    loss : scalar or ndarray of the labels' shape, in ``logits.dtype``

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import cost_sensitive_ce
    >>> x = np.array([[2.0, 0.0], [1.0, 0.0]])
    >>> y = np.array([0, 1])             # the second sample is misclassified
    >>> M = np.array([[1.0, 1.0], [5.0, 1.0]])
    >>> cost_sensitive_ce(x, y, M, reduction="none").round(4)
    array([0.1269, 6.5663])
    """
    inp, sm, weight = _prepare(logits, labels, cost_matrix, sample_weight, reduction, class_axis)
    return inp.reduce(weight * sm.nll(inp.y), weight)


def cost_sensitive_ce_grad(
    logits: Any, labels: Any, cost_matrix: Any, *, sample_weight: Any = None, reduction: str = "mean",
    class_axis: int = 1,
) -> np.ndarray:
    r"""Gradient of :func:`cost_sensitive_ce` with respect to the logits.

    .. math::

        \frac{\partial \ell_i}{\partial x_{ij}} = M_{y_i \hat y_i}\,(p_{ij} - [j = y_i])

    divided by the reduction's normaliser (the cost weights are constants).

    Parameters
    ----------
    logits, labels, cost_matrix, sample_weight, reduction, class_axis
        As for :func:`cost_sensitive_ce`.

    Returns
    -------
    grad : ndarray of ``logits.dtype``, the logits' shape

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import cost_sensitive_ce_grad
    >>> cost_sensitive_ce_grad(np.zeros((1, 2)), np.array([1]), np.array([[1.0, 1.0], [4.0, 1.0]]))
    array([[ 2., -2.]])
    """
    inp, sm, weight = _prepare(logits, labels, cost_matrix, sample_weight, reduction, class_axis)
    return inp.grad(weight[:, None] * sm.probs_minus_onehot(inp.y), weight)


def formula(ops, logits, labels, cost_matrix, *, sample_weight=None, reduction="mean", class_axis=1):
    """Framework version of :func:`cost_sensitive_ce` over the operations table."""
    from ._generic import SoftmaxRows

    r = SoftmaxRows(ops, logits, labels, sample_weight=sample_weight, reduction=reduction, class_axis=class_axis)
    weight = ops.stop_gradient(ops.gather2(ops.cast(cost_matrix, r.x), r.y, r.k))
    if r.sw is not None:
        weight = weight * r.sw
    return r.reduce(weight * r.nll_of(), weight)


def exact(logits, labels, cost_matrix, *, sample_weight=None, reduction="mean", class_axis=1):
    """Exact :func:`cost_sensitive_ce` and its gradient: ``(value, grad)`` in mpmath."""
    from .. import oracle as o

    rows = o.Rows(logits, labels, class_axis, sample_weight)
    cost = o.mp_array(cost_matrix)
    a = np.empty((rows.m, rows.c), dtype=object)
    a.fill(o.MP.mpf(0))
    weights = []
    for i in range(rows.m):
        y = int(rows.labels[i])
        weights.append(cost[y, rows.argmax[i]])
        a[i, y] = weights[-1]
    per, grad = o.softmax_core(rows.x, a)
    norm = {"mean": max(rows.m, 1), "weighted_mean": o.fsum(wt * s for wt, s in zip(weights, rows.sw, strict=True))}
    return rows.finish(per, grad, reduction, norm.get(reduction, 1) if rows.m else 1)


# --------------------------------------------------------------------------- agreement cases


def _case(name, n=32, c=4, scale=3.0, *, large=False, sample=False):
    def build(rng):
        if large:
            x = rng.choice([-1e4, 1e4], size=(n, c)) * rng.uniform(0.5, 1.0, size=(n, c))
        else:
            x = rng.normal(size=(n, c)) * scale
        m = rng.uniform(0.5, 5.0, size=(c, c))
        np.fill_diagonal(m, 1.0)
        kw = {"logits": x, "labels": rng.integers(0, c, size=n), "cost_matrix": m}
        if sample:
            kw["sample_weight"] = rng.uniform(0.0, 2.0, size=n)
        return kw

    return Case(name, "cost_sensitive_ce", build, float_args=("logits", "cost_matrix", "sample_weight"))


def _nd_cost(rng, c):
    m = rng.uniform(0.5, 5.0, size=(c, c))
    np.fill_diagonal(m, 1.0)
    return m


def _nd():
    base = nd_case("cost_sensitive_ce", {"cost_matrix": _nd_cost})

    def build(rng):
        kw = base.build(rng)
        kw.pop("class_weights")
        kw.pop("ignore_index")
        kw["labels"] = np.where(kw["labels"] < 0, 0, kw["labels"])
        return kw

    return Case(base.name, base.loss, build, float_args=base.float_args)


CASES = (
    _case("random_scale_3"),
    _case("c_2", c=2),
    _case("logits_1e4", n=8, large=True),
    _case("sample_weight", sample=True),
    _nd(),
)


def _bench(n: int, c: int, rng: np.random.Generator) -> dict[str, Any]:
    m = rng.uniform(0.5, 5.0, size=(c, c))
    np.fill_diagonal(m, 1.0)
    return {"logits": rng.normal(scale=3.0, size=(n, c)), "labels": rng.integers(0, c, n), "cost_matrix": m}


def _train(y: np.ndarray, *, n_classes: int, cost_matrix: Any = None) -> dict[str, Any]:
    if cost_matrix is None:
        raise ValueError("cost_matrix: the cost_sensitive_ce loss needs a (C, C) cost matrix")
    return {"cost_matrix": cost_matrix}


LOSS = Loss(
    name="cost_sensitive_ce",
    class_name="CostSensitiveCrossEntropyLoss",
    family="softmax",
    value=cost_sensitive_ce,
    grad=cost_sensitive_ce_grad,
    check=check,
    formula=formula,
    exact=exact,
    arrays=("logits", "labels", "cost_matrix", "sample_weight"),
    positional=3,
    float_args=("logits", "cost_matrix", "sample_weight"),
    reductions=REDUCTIONS_SOFTMAX,
    cases=CASES,
    bench=_bench,
    bench_reduction="mean",
    train=_train,
)
