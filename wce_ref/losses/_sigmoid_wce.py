"""Binary (sigmoid) weighted cross entropy: positive and negative weights, soft targets, any shape."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import (
    REDUCTIONS_SIGMOID,
    as_broadcast_weights,
    as_logits,
    as_probabilities,
    check_reduction,
    compute_dtype,
)
from . import _generic as g
from ._base import Case, Loss
from ._common import out, sigmoid_pair, softplus_pair

__all__ = ["LOSS", "sigmoid_wce", "sigmoid_wce_grad"]


def _prepare(logits, targets, pos_weight, neg_weight, sample_weight, reduction, convert=True):
    """Validated inputs; ``convert=False`` (the check alone) skips the copies to the compute dtype."""
    x0 = as_logits(logits)
    dtype = x0.dtype
    ct = compute_dtype(dtype)
    reduction = check_reduction(reduction, REDUCTIONS_SIGMOID)
    t = as_probabilities(targets, shape=x0.shape, name="targets")
    t = t.astype(ct) if convert else t
    pw = as_broadcast_weights(pos_weight, name="pos_weight", shape=x0.shape, dtype=ct)
    nw = as_broadcast_weights(neg_weight, name="neg_weight", shape=x0.shape, dtype=ct)
    sw = None if sample_weight is None else as_broadcast_weights(
        sample_weight, name="sample_weight", shape=x0.shape, dtype=ct
    )
    return (x0.astype(ct) if convert else x0), t, pw, nw, sw, reduction, dtype


def check(logits, targets, *, pos_weight=1.0, neg_weight=1.0, sample_weight=None, reduction="mean") -> dict[str, Any]:
    """Validate the arguments of :func:`sigmoid_wce`; return the normalised non-array ones."""
    return {"reduction": _prepare(logits, targets, pos_weight, neg_weight, sample_weight, reduction, convert=False)[5]}


def sigmoid_wce(
    logits: Any,
    targets: Any,
    *,
    pos_weight: float | Any = 1.0,
    neg_weight: float | Any = 1.0,
    sample_weight: Any = None,
    reduction: str = "mean",
) -> Any:
    r"""Binary (sigmoid) cross entropy with separate positive and negative weights.

    For a logit :math:`x`, a (possibly soft) target :math:`t \in [0, 1]` and
    weights :math:`w_+` (``pos_weight``) and :math:`w_-` (``neg_weight``):

    .. math::

        \ell(x, t) = -\bigl(w_+\, t \log \sigma(x) + w_-\, (1 - t) \log(1 - \sigma(x))\bigr)
                   = w_+\, t\, \operatorname{softplus}(-x) + w_-\, (1 - t)\, \operatorname{softplus}(x)

    With :math:`w_- = 1` this is TensorFlow's
    ``tf.nn.weighted_cross_entropy_with_logits(pos_weight=w_+)`` and PyTorch's
    ``BCEWithLogitsLoss(pos_weight=w_+)``; with :math:`w_+ = w,\ w_- = 1 - w` it
    is the form :math:`-(w y \log p + (1 - w)(1 - y) \log(1 - p))` used in
    practitioners' write-ups. ``sample_weight`` multiplies each element's loss,
    as ``BCEWithLogitsLoss(weight=)`` and Keras' ``sample_weight`` do.

    Parameters
    ----------
    logits : array_like of float, any shape (0-d included)
        Raw scores. Any floating dtype; the result has the same dtype.
    targets : array_like, same shape as ``logits``
        Targets in :math:`[0, 1]` (hard 0/1 labels or soft labels).
    pos_weight, neg_weight : float or array_like broadcastable to ``logits``
        Non-negative weights of the positive and negative terms; a vector of
        length K weights the K columns of the last axis (multi-label), as
        ``BCEWithLogitsLoss(pos_weight=)`` broadcasts; shapes such as (1, K),
        (N, K) and (1,) broadcast too.
    sample_weight : array_like broadcastable to ``logits``, optional
        Non-negative weight of each element (or of each sample, shape (N, 1)).
    reduction : {"none", "sum", "mean"}
        ``"mean"`` divides by the number of elements (the sample weights do
        not change the divisor, as in PyTorch and Keras). On an empty batch
        ``"sum"`` and ``"mean"`` are 0, ``"none"`` is empty.

    Returns
    -------
    loss : scalar or ndarray
        A scalar of ``logits.dtype``, or the element-wise losses for ``"none"``.

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import sigmoid_wce
    >>> x = np.array([2.0, -1.0, 0.5])
    >>> y = np.array([1.0, 0.0, 1.0])
    >>> float(sigmoid_wce(x, y, pos_weight=3.0, reduction="sum"))  # doctest: +ELLIPSIS
    2.1162...
    >>> # neg_weight=1 is TensorFlow's weighted_cross_entropy_with_logits
    >>> sigmoid_wce(x, y, pos_weight=3.0, reduction="none").round(4)
    array([0.3808, 0.3133, 1.4222])
    """
    x, t, pw, nw, sw, reduction, dtype = _prepare(logits, targets, pos_weight, neg_weight, sample_weight, reduction)
    sp_pos, sp_neg = softplus_pair(x)
    loss = pw * t * sp_neg + nw * (1 - t) * sp_pos
    if sw is not None:
        loss = loss * sw
    if reduction == "none":
        return out(loss, dtype)
    total = loss.sum()
    return out(total / loss.size if reduction == "mean" and loss.size else total, dtype)


def sigmoid_wce_grad(
    logits: Any,
    targets: Any,
    *,
    pos_weight: float | Any = 1.0,
    neg_weight: float | Any = 1.0,
    sample_weight: Any = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Gradient of :func:`sigmoid_wce` with respect to the logits.

    .. math::

        \frac{\partial \ell}{\partial x} = -w_+\, t\, \sigma(-x) + w_-\, (1 - t)\, \sigma(x)

    times the sample weight, divided by the number of elements for
    ``reduction="mean"``. For ``"none"`` this is the gradient of the sum. At
    :math:`x = 0` it is :math:`w_-(1 - t)/2 - w_+ t / 2`.

    Parameters
    ----------
    logits, targets, pos_weight, neg_weight, sample_weight, reduction
        As for :func:`sigmoid_wce`.

    Returns
    -------
    grad : ndarray of ``logits.dtype``, shape of ``logits``

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import sigmoid_wce_grad
    >>> sigmoid_wce_grad(np.array([0.0, 0.0]), np.array([1.0, 0.0]), pos_weight=2.0, reduction="sum")
    array([-1. ,  0.5])
    """
    x, t, pw, nw, sw, reduction, dtype = _prepare(logits, targets, pos_weight, neg_weight, sample_weight, reduction)
    sig, sig_neg = sigmoid_pair(x)
    grad = nw * (1 - t) * sig - pw * t * sig_neg
    if sw is not None:
        grad = grad * sw
    if reduction == "mean" and grad.size:
        grad = grad / grad.size
    return out(grad, dtype)


def formula(ops, logits, targets, *, pos_weight=1.0, neg_weight=1.0, sample_weight=None, reduction="mean"):
    """Framework version of :func:`sigmoid_wce` over the operations table."""
    dtype = ops.dtype(logits)
    x = ops.compute(logits)
    t, pw, nw = (ops.cast(v, x) for v in (targets, pos_weight, neg_weight))
    sp_pos, sp_neg = g.softplus_pair(ops, x)
    loss = pw * t * sp_neg + nw * (1 - t) * sp_pos
    if sample_weight is not None:
        loss = loss * ops.cast(sample_weight, x)
    return g.reduce_elements(ops, loss, reduction, dtype)


def exact(logits, targets, *, pos_weight=1.0, neg_weight=1.0, sample_weight=None, reduction="mean"):
    """Exact :func:`sigmoid_wce` and its gradient: ``(value, grad)`` in mpmath."""
    from .. import oracle as o

    x = o.mp_array(logits)
    t = o.mp_array(targets)
    pw = np.broadcast_to(o.mp_array(pos_weight), x.shape)
    nw = np.broadcast_to(o.mp_array(neg_weight), x.shape)
    sw = np.broadcast_to(o.mp_array(1.0 if sample_weight is None else sample_weight), x.shape)
    per = np.empty(x.shape, dtype=object)
    grad = np.empty(x.shape, dtype=object)
    for idx in np.ndindex(x.shape):
        xi, ti = x[idx], t[idx]
        # -log sigmoid(x) = log(1 + exp(-x)); -log(1 - sigmoid(x)) = log(1 + exp(x))
        per[idx] = sw[idx] * (pw[idx] * ti * o.log1pexp(-xi) + nw[idx] * (1 - ti) * o.log1pexp(xi))
        grad[idx] = sw[idx] * (-pw[idx] * ti * o.sigmoid(-xi) + nw[idx] * (1 - ti) * o.sigmoid(xi))
    return o.reduce(per, grad, reduction, max(x.size, 1) if reduction == "mean" else 1)


# --------------------------------------------------------------------------- agreement cases

_FLOATS = ("logits", "targets", "pos_weight", "neg_weight", "sample_weight")


def _case(name, shape=(64,), scale=3.0, *, soft=False, pos=3.0, neg=1.0, pos_shape=None, sample=False, zero=False):
    def build(rng):
        x = rng.normal(size=shape) * scale
        if zero:
            x = np.where(rng.uniform(size=shape) < 0.5, 0.0, x)  # exactly-zero logits: autodiff's weak spot
        t = rng.uniform(size=shape) if soft else (rng.uniform(size=shape) < 0.3).astype(np.float64)
        pw = rng.uniform(0.5, 5.0, size=pos_shape) if pos_shape is not None else pos
        kw = {"logits": x, "targets": t, "pos_weight": pw, "neg_weight": neg}
        if sample:
            kw["sample_weight"] = rng.uniform(0.0, 2.0, size=shape)
        return kw

    return Case(name, "sigmoid_wce", build, float_args=_FLOATS)


def _large(rng):
    x = rng.choice([-1e4, 1e4], size=16) * rng.uniform(0.5, 1.0, size=16)
    t = (rng.uniform(size=16) < 0.5).astype(np.float64)
    t[:2] = (x[:2] < 0).astype(np.float64)  # at least two confidently wrong samples: losses ~1e4
    return {"logits": x, "targets": t, "pos_weight": 2.0, "neg_weight": 0.5}


CASES = (
    _case("random_scale_0.1", scale=0.1),
    _case("random_scale_3", scale=3.0),
    _case("random_scale_30", scale=30.0),
    Case("logits_1e4", "sigmoid_wce", _large, float_args=_FLOATS, tags=("large",)),
    _case("soft_targets", soft=True),
    _case("n_1", shape=(1,)),
    _case("scalar_0d", shape=()),
    _case("multilabel_per_column_pos_weight", shape=(16, 6), pos_shape=(6,), neg=0.7),
    _case("pos_weight_1xK", shape=(8, 5), pos_shape=(1, 5)),
    _case("pos_weight_NxK", shape=(8, 5), pos_shape=(8, 5)),
    _case("pos_weight_1", shape=(8, 5), pos_shape=(1,)),
    _case("nd_3d_per_class", shape=(4, 3, 5), pos_shape=(5,)),
    _case("zero_logits", shape=(32,), zero=True),
    _case("sample_weight", shape=(16, 3), sample=True),
    _case("practitioner_w_1-w", pos=0.9, neg=0.1),
)


def _bench(n: int, c: int, rng: np.random.Generator) -> dict[str, Any]:
    return {
        "logits": rng.normal(scale=3.0, size=(n, c)),
        "targets": (rng.random((n, c)) < 0.1).astype(np.float64),
        "pos_weight": np.full(c, 9.0),
        "neg_weight": np.ones(c),
    }


LOSS = Loss(
    name="sigmoid_wce",
    class_name="WeightedBCEWithLogitsLoss",
    family="sigmoid",
    value=sigmoid_wce,
    grad=sigmoid_wce_grad,
    check=check,
    formula=formula,
    exact=exact,
    arrays=("logits", "targets", "pos_weight", "neg_weight", "sample_weight"),
    positional=2,
    float_args=_FLOATS,
    reductions=REDUCTIONS_SIGMOID,
    cases=CASES,
    bench=_bench,
    bench_reduction="mean",
)
