"""Binary (sigmoid) weighted cross entropy: positive and negative weights, soft targets, any shape."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _generic as g
from ._base import Case
from ._common import sigmoid_pair, softplus_pair
from ._sigmoid_family import SigmoidFamily

__all__ = ["LOSS", "SigmoidWCE", "sigmoid_wce", "sigmoid_wce_grad"]

VALUE_DOC = r"""Binary (sigmoid) cross entropy with separate positive and negative weights.

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

GRAD_DOC = r"""Gradient of :func:`sigmoid_wce` with respect to the logits.

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


class SigmoidWCE(SigmoidFamily):
    """sigmoid_wce's own part: the positive and negative weights, its elements, derivative, formula, exact form."""

    name = "sigmoid_wce"
    class_name = "WeightedBCEWithLogitsLoss"
    params = {"pos_weight": 1.0, "neg_weight": 1.0}
    annotations = {"pos_weight": "float | Any", "neg_weight": "float | Any"}
    arrays = ("pos_weight", "neg_weight")  # element-wise weights: checked and broadcast by the family
    value_doc, grad_doc = VALUE_DOC, GRAD_DOC

    def per_element(self, x, t, *, pos_weight, neg_weight):
        sp_pos, sp_neg = softplus_pair(x)
        return pos_weight * t * sp_neg + neg_weight * (1 - t) * sp_pos

    def element_grad(self, x, t, *, pos_weight, neg_weight):
        sig, sig_neg = sigmoid_pair(x)
        return neg_weight * (1 - t) * sig - pos_weight * t * sig_neg

    def ops_per_element(self, ops, x, t, *, pos_weight, neg_weight):
        sp_pos, sp_neg = g.softplus_pair(ops, x)
        return pos_weight * t * sp_neg + neg_weight * (1 - t) * sp_pos

    def exact_element(self, o, x, t, *, pos_weight, neg_weight):
        # -log sigmoid(x) = log(1 + exp(-x)); -log(1 - sigmoid(x)) = log(1 + exp(x))
        value = pos_weight * t * o.log1pexp(-x) + neg_weight * (1 - t) * o.log1pexp(x)
        return value, -pos_weight * t * o.sigmoid(-x) + neg_weight * (1 - t) * o.sigmoid(x)


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


LOSS = SigmoidWCE().loss(cases=CASES, bench=_bench)
sigmoid_wce, sigmoid_wce_grad = LOSS.value, LOSS.grad
