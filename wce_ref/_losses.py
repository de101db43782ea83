"""NumPy reference implementations of weighted cross entropy and their gradients.

Numerical approach
------------------
Every quantity is written as a sum of non-negative terms so that no
catastrophic cancellation occurs, whatever the scale of the logits:

* ``softplus(x) = max(x, 0) + log1p(exp(-|x|))``
* ``-log_softmax(x)_c = (m - x_c) + log1p(sum_{j != k} exp(x_j - m))`` where
  ``k`` is the row's arg-max and ``m = x_k``, so the log-sum-exp is exact to a
  few ULPs even for ``|x| = 1e4``.
* In the gradient, ``1 - p_k`` for the arg-max class is computed as
  ``s / (1 + s)`` with ``s = sum_{j != k} exp(x_j - m)`` instead of by
  subtraction.

float16 and bfloat16 inputs are computed in float32 and the result is cast back
to the input dtype. float32 and float64 compute natively.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import (
    REDUCTIONS_SIGMOID,
    REDUCTIONS_SOFTMAX,
    WCEInputError,
    as_class_labels,
    as_cost_matrix,
    as_logits,
    as_probabilities,
    as_weights,
    check_label_smoothing,
    check_reduction,
    compute_dtype,
)

__all__ = [
    "sigmoid_wce",
    "sigmoid_wce_grad",
    "softmax_wce",
    "softmax_wce_grad",
    "cost_sensitive_ce",
    "cost_sensitive_ce_grad",
]


# --------------------------------------------------------------------------- helpers


def _out(value: np.ndarray, dtype: np.dtype) -> Any:
    """Cast a result to the input dtype; 0-d results become NumPy scalars.

    A result beyond the range of a half-precision dtype rounds to infinity, as
    it does in every framework (the computation itself ran in float32).
    """
    with np.errstate(over="ignore"):
        out = np.asarray(value).astype(dtype, copy=False)
    return out[()] if out.ndim == 0 else out


class _Softmax:
    """Stable pieces of a row-wise softmax of a (N, C) array.

    ``e[i, j] = exp(x[i, j] - m[i])`` for ``j != k[i]`` and ``0`` at the
    arg-max ``k[i]``; ``s[i] = e[i].sum()``, so the row's log-sum-exp is
    ``m + log1p(s)``.
    """

    def __init__(self, x: np.ndarray) -> None:
        n = x.shape[0]
        self.x = x
        self.rows = np.arange(n)
        self.k = np.argmax(x, axis=1)
        self.m = x[self.rows, self.k]
        e = x - self.m[:, None]
        np.exp(e, out=e)
        e[self.rows, self.k] = 0
        self.e = e
        self.s = e.sum(axis=1)
        self.log1p_s = np.log1p(self.s)

    def nll(self, cls: np.ndarray) -> np.ndarray:
        """``-log softmax(x)[i, cls[i]]`` for one class per row."""
        return (self.m - self.x[self.rows, cls]) + self.log1p_s

    def nll_all(self) -> np.ndarray:
        """``-log softmax(x)`` for every class, shape (N, C)."""
        return (self.m[:, None] - self.x) + self.log1p_s[:, None]

    def probs(self) -> np.ndarray:
        """``softmax(x)``, shape (N, C)."""
        d = 1 + self.s
        p = self.e / d[:, None]
        p[self.rows, self.k] = 1 / d
        return p

    def probs_minus_onehot(self, cls: np.ndarray) -> np.ndarray:
        """``softmax(x) - onehot(cls)`` with the 1 - p term computed without cancellation."""
        p = self.probs()
        p_cls = p[self.rows, cls]
        one_minus = np.where(cls == self.k, self.s / (1 + self.s), 1 - p_cls)
        p[self.rows, cls] = -one_minus
        return p


def _softplus_pair(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(softplus(x), softplus(-x))`` without cancellation."""
    tail = np.log1p(np.exp(-np.abs(x)))
    return np.maximum(x, 0) + tail, np.maximum(-x, 0) + tail


def _sigmoid_pair(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(sigmoid(x), sigmoid(-x))`` without overflow."""
    e = np.exp(-np.abs(x))
    big = 1 / (1 + e)
    small = e * big
    pos = x >= 0
    return np.where(pos, big, small), np.where(pos, small, big)


# --------------------------------------------------------------------------- sigmoid


def _sigmoid_setup(logits, targets, pos_weight, neg_weight, reduction):
    x0 = as_logits(logits, ndim=(1, 2))
    dtype = x0.dtype
    ct = compute_dtype(dtype)
    reduction = check_reduction(reduction, REDUCTIONS_SIGMOID)
    t = as_probabilities(targets, shape=x0.shape, name="targets").astype(ct)
    width = x0.shape[-1]
    pw = as_weights(pos_weight, name="pos_weight", length=width, dtype=ct)
    nw = as_weights(neg_weight, name="neg_weight", length=width, dtype=ct)
    return x0.astype(ct), t, pw, nw, reduction, dtype


def sigmoid_wce(
    logits: Any,
    targets: Any,
    *,
    pos_weight: float | Any = 1.0,
    neg_weight: float | Any = 1.0,
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
    practitioners' write-ups.

    Parameters
    ----------
    logits : array_like of float, shape (N,) or (N, K)
        Raw scores. Any floating dtype; the result has the same dtype.
    targets : array_like, same shape as ``logits``
        Targets in :math:`[0, 1]` (hard 0/1 labels or soft labels).
    pos_weight, neg_weight : float or array_like of shape (K,)
        Non-negative weights of the positive and negative terms; a vector gives
        one weight per column (multi-label).
    reduction : {"none", "sum", "mean"}
        ``"mean"`` divides by the number of elements :math:`N K`.

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
    x, t, pw, nw, reduction, dtype = _sigmoid_setup(logits, targets, pos_weight, neg_weight, reduction)
    sp_pos, sp_neg = _softplus_pair(x)
    loss = pw * t * sp_neg + nw * (1 - t) * sp_pos
    if reduction == "none":
        return _out(loss, dtype)
    total = loss.sum()
    return _out(total / loss.size if reduction == "mean" else total, dtype)


def sigmoid_wce_grad(
    logits: Any,
    targets: Any,
    *,
    pos_weight: float | Any = 1.0,
    neg_weight: float | Any = 1.0,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Gradient of :func:`sigmoid_wce` with respect to the logits.

    .. math::

        \frac{\partial \ell}{\partial x} = -w_+\, t\, \sigma(-x) + w_-\, (1 - t)\, \sigma(x)

    divided by :math:`N K` for ``reduction="mean"``. For ``"none"`` this is the
    gradient of the sum.

    Parameters
    ----------
    logits, targets, pos_weight, neg_weight, reduction
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
    x, t, pw, nw, reduction, dtype = _sigmoid_setup(logits, targets, pos_weight, neg_weight, reduction)
    sig, sig_neg = _sigmoid_pair(x)
    grad = nw * (1 - t) * sig - pw * t * sig_neg
    if reduction == "mean":
        grad = grad / grad.size
    return _out(grad, dtype)


# --------------------------------------------------------------------------- softmax


class _SoftmaxProblem:
    """Validated inputs of :func:`softmax_wce` and the per-class coefficients.

    The loss of sample :math:`i` is :math:`\\sum_c a_{ic}\\,(-\\log p_{ic})`, so
    its gradient is :math:`(\\sum_c a_{ic})\\,p_i - a_i`.
    """

    def __init__(self, logits, labels, class_weights, reduction, label_smoothing, ignore_index):
        x0 = as_logits(logits, ndim=(2,))
        self.dtype = x0.dtype
        ct = compute_dtype(self.dtype)
        n, c = x0.shape
        self.reduction = check_reduction(reduction, REDUCTIONS_SOFTMAX)
        self.eps = check_label_smoothing(label_smoothing)
        if class_weights is None:
            self.w = np.ones(c, dtype=ct)
        else:
            self.w = as_weights(class_weights, name="class_weights", length=c, allow_scalar=False, dtype=ct)
        if ignore_index is not None and (
            isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer))
        ):
            raise WCEInputError(f"ignore_index must be an int or None; received {ignore_index!r}")
        lab = np.asarray(labels)
        self.soft = lab.ndim == 2
        self.x = x0.astype(ct, copy=False)  # never written to
        self.n, self.c = n, c
        if self.soft:
            if ignore_index is not None:
                raise WCEInputError(
                    f"ignore_index is only supported for class-index labels; received ignore_index={ignore_index} "
                    f"with probability labels of shape {lab.shape} (PyTorch rejects this combination too)"
                )
            self.q = as_probabilities(lab, shape=(n, c), name="labels").astype(ct)
            if self.eps:
                self.q = self.q * (1 - self.eps) + self.eps / c
            self.valid = np.ones(n, dtype=bool)
        else:
            y = as_class_labels(lab, n_samples=n, n_classes=c, ignore_index=ignore_index)
            self.valid = (y != ignore_index) if ignore_index is not None else np.ones(n, dtype=bool)
            self.y = np.where(self.valid, y, 0)
            self.w_y = np.where(self.valid, self.w[self.y], 0).astype(ct)
        self.sm = _Softmax(self.x)

    def normaliser(self) -> Any:
        """What a reduction divides the summed loss by."""
        if self.reduction in ("none", "sum"):
            return 1
        if self.soft:  # PyTorch divides by N for probability targets, with or without weights
            return self.n
        if self.reduction == "mean":
            denom = self.valid.sum()
            what = "the number of non-ignored samples"
        else:
            denom = self.w_y.sum(dtype=np.float64)
            what = "the sum of the non-ignored samples' target-class weights"
        if denom == 0:
            raise WCEInputError(
                f"reduction={self.reduction!r} divides by {what}, which is 0 for these labels "
                f"(every sample ignored or every target weight zero); use reduction='sum' for such a batch"
            )
        return denom

    def per_sample(self) -> np.ndarray:
        sm = self.sm
        if self.soft:
            return (self.q * self.w * sm.nll_all()).sum(axis=1)
        loss = self.w_y * sm.nll(self.y)
        if self.eps:
            smooth = (sm.nll_all() * self.w).sum(axis=1)
            loss = (1 - self.eps) * loss + (self.eps / self.c) * np.where(self.valid, smooth, 0)
        return np.where(self.valid, loss, 0)

    def grad_sum(self) -> np.ndarray:
        sm = self.sm
        if self.soft:
            a = self.q * self.w
            return a.sum(axis=1, keepdims=True) * sm.probs() - a
        g = sm.probs_minus_onehot(self.y)
        g *= self.w_y[:, None]
        if self.eps:
            smooth = self.w.sum() * sm.probs() - self.w
            g = (1 - self.eps) * g + (self.eps / self.c) * smooth
        if not self.valid.all():
            g[~self.valid] = 0
        return g


def softmax_wce(
    logits: Any,
    labels: Any,
    *,
    class_weights: Any = None,
    reduction: str = "weighted_mean",
    label_smoothing: float = 0.0,
    ignore_index: int | None = None,
) -> Any:
    r"""Multiclass softmax cross entropy with class weights, label smoothing and ignore_index.

    With :math:`\log p_{ic} = \operatorname{log\_softmax}(x_i)_c`, class weights
    :math:`w_c`, :math:`C` classes and label smoothing :math:`\varepsilon`,
    the loss of a sample with class-index label :math:`y_i` is (PyTorch's
    ``cross_entropy(weight=w, label_smoothing=eps)``):

    .. math::

        \ell_i = -(1 - \varepsilon)\, w_{y_i} \log p_{i y_i}
                 - \frac{\varepsilon}{C} \sum_{c=1}^{C} w_c \log p_{ic}

    and, for a probability label row :math:`q_i` (smoothed to
    :math:`q'_{ic} = (1 - \varepsilon) q_{ic} + \varepsilon / C`):

    .. math::

        \ell_i = -\sum_{c=1}^{C} w_c\, q'_{ic} \log p_{ic}

    Samples whose label equals ``ignore_index`` have :math:`\ell_i = 0` and
    count in no normaliser. The reductions over the set :math:`V` of
    non-ignored samples are:

    .. math::

        \text{sum} = \sum_{i \in V} \ell_i, \qquad
        \text{mean} = \frac{\sum_{i \in V} \ell_i}{|V|}, \qquad
        \text{weighted\_mean} = \frac{\sum_{i \in V} \ell_i}{\sum_{i \in V} w_{y_i}}

    ``mean`` is the Keras / TensorFlow ``sample_weight`` convention (divide by
    the number of samples); ``weighted_mean`` is PyTorch's
    ``cross_entropy(weight=)`` convention (divide by the summed weights of the
    target classes, also for the smoothing term). For probability labels PyTorch
    divides by :math:`N` under both, and so does this function.

    Parameters
    ----------
    logits : array_like of float, shape (N, C)
    labels : array_like of int, shape (N,), or of float, shape (N, C)
        Class indices in ``[0, C)`` (or ``ignore_index``), or probability rows.
    class_weights : array_like, shape (C,), optional
        Non-negative weight per class; ``None`` means all ones.
    reduction : {"none", "sum", "mean", "weighted_mean"}
    label_smoothing : float in [0, 1]
    ignore_index : int, optional
        Label value whose samples are skipped (class-index labels only).

    Returns
    -------
    loss : scalar or ndarray of shape (N,)
        In ``logits.dtype``.

    Raises
    ------
    WCEInputError
        For bad input, and for ``mean`` / ``weighted_mean`` when the normaliser
        is zero (every sample ignored, or every target weight zero): PyTorch
        returns NaN there.

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import softmax_wce
    >>> x = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    >>> y = np.array([0, 2])
    >>> w = [1.0, 1.0, 4.0]
    >>> float(softmax_wce(x, y, class_weights=w))  # PyTorch: divide by 1 + 4  # doctest: +ELLIPSIS
    0.1555...
    >>> float(softmax_wce(x, y, class_weights=w, reduction="mean"))  # Keras: divide by 2  # doctest: +ELLIPSIS
    0.3889...
    """
    prob = _SoftmaxProblem(logits, labels, class_weights, reduction, label_smoothing, ignore_index)
    loss = prob.per_sample()
    if prob.reduction == "none":
        return _out(loss, prob.dtype)
    return _out(loss.sum() / prob.normaliser(), prob.dtype)


def softmax_wce_grad(
    logits: Any,
    labels: Any,
    *,
    class_weights: Any = None,
    reduction: str = "weighted_mean",
    label_smoothing: float = 0.0,
    ignore_index: int | None = None,
) -> np.ndarray:
    r"""Gradient of :func:`softmax_wce` with respect to the logits.

    Writing the per-sample loss as :math:`\ell_i = -\sum_c a_{ic} \log p_{ic}`
    (so :math:`a_{ic} = (1 - \varepsilon) w_{y_i} [c = y_i] + \varepsilon w_c / C`
    for class-index labels and :math:`a_{ic} = w_c q'_{ic}` for probability labels):

    .. math::

        \frac{\partial \ell_i}{\partial x_{ij}} = \Bigl(\sum_c a_{ic}\Bigr) p_{ij} - a_{ij}

    divided by the reduction's normaliser, which does not depend on the logits.
    Ignored rows have a zero gradient; for ``"none"`` this is the gradient of
    the sum.

    Parameters
    ----------
    logits, labels, class_weights, reduction, label_smoothing, ignore_index
        As for :func:`softmax_wce`.

    Returns
    -------
    grad : ndarray of ``logits.dtype``, shape (N, C)

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import softmax_wce_grad
    >>> softmax_wce_grad(np.zeros((1, 2)), np.array([1]), class_weights=[1.0, 3.0], reduction="sum")
    array([[ 1.5, -1.5]])
    """
    prob = _SoftmaxProblem(logits, labels, class_weights, reduction, label_smoothing, ignore_index)
    g = prob.grad_sum()
    norm = prob.normaliser()
    if norm != 1:
        g /= norm
    return _out(g, prob.dtype)


# --------------------------------------------------------------------------- cost matrix


def _cost_setup(logits, labels, cost_matrix, reduction):
    x0 = as_logits(logits, ndim=(2,))
    dtype = x0.dtype
    ct = compute_dtype(dtype)
    n, c = x0.shape
    reduction = check_reduction(reduction, REDUCTIONS_SOFTMAX)
    y = as_class_labels(labels, n_samples=n, n_classes=c)
    cost = as_cost_matrix(cost_matrix, n_classes=c, dtype=ct)
    sm = _Softmax(x0.astype(ct))
    weight = cost[y, sm.k]  # argmax ties resolve to the first index, as in every framework
    if reduction == "mean":
        norm = n
    elif reduction == "weighted_mean":
        norm = weight.sum(dtype=np.float64)
        if norm == 0:
            raise WCEInputError(
                "reduction='weighted_mean' divides by the sum of the samples' costs, which is 0 for these "
                "logits and labels (every sample's cost_matrix[true, predicted] entry is zero)"
            )
    else:
        norm = 1
    return sm, y, weight, norm, reduction, dtype


def cost_sensitive_ce(logits: Any, labels: Any, cost_matrix: Any, *, reduction: str = "mean") -> Any:
    r"""Cross entropy weighted by a misclassification-cost matrix.

    Each sample is weighted by the cost of the mistake the model currently
    makes on it, :math:`M_{y_i \hat y_i}` with :math:`\hat y_i = \arg\max_c x_{ic}`
    (ties go to the lowest index):

    .. math::

        \ell_i = -M_{y_i \hat y_i} \log p_{i y_i}

    so that confusing class :math:`a` for class :math:`b` can cost more than the
    reverse. The weight is a constant for the gradient. Note that a cost matrix
    with a zero diagonal gives correctly classified samples zero loss; use a
    diagonal of ones to keep learning from them.

    Parameters
    ----------
    logits : array_like of float, shape (N, C)
    labels : array_like of int, shape (N,)
    cost_matrix : array_like, shape (C, C)
        Non-negative; row = true class, column = predicted class.
    reduction : {"none", "sum", "mean", "weighted_mean"}
        ``"mean"`` divides by :math:`N`, ``"weighted_mean"`` by
        :math:`\sum_i M_{y_i \hat y_i}`.

    Returns
    -------
    loss : scalar or ndarray of shape (N,), in ``logits.dtype``

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
    sm, y, weight, norm, reduction, dtype = _cost_setup(logits, labels, cost_matrix, reduction)
    loss = weight * sm.nll(y)
    if reduction == "none":
        return _out(loss, dtype)
    return _out(loss.sum() / norm, dtype)


def cost_sensitive_ce_grad(logits: Any, labels: Any, cost_matrix: Any, *, reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`cost_sensitive_ce` with respect to the logits.

    .. math::

        \frac{\partial \ell_i}{\partial x_{ij}} = M_{y_i \hat y_i}\,(p_{ij} - [j = y_i])

    divided by the reduction's normaliser (the cost weights are constants).

    Parameters
    ----------
    logits, labels, cost_matrix, reduction
        As for :func:`cost_sensitive_ce`.

    Returns
    -------
    grad : ndarray of ``logits.dtype``, shape (N, C)

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import cost_sensitive_ce_grad
    >>> cost_sensitive_ce_grad(np.zeros((1, 2)), np.array([1]), np.array([[1.0, 1.0], [4.0, 1.0]]))
    array([[ 2., -2.]])
    """
    sm, y, weight, norm, reduction, dtype = _cost_setup(logits, labels, cost_matrix, reduction)
    return _out(weight[:, None] * sm.probs_minus_onehot(y) / norm, dtype)
