"""Multiclass softmax weighted cross entropy: class weights, label smoothing, ignore_index, N-d inputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Case
from ._family import SoftmaxFamily

__all__ = ["LOSS", "SoftmaxWCE", "softmax_wce", "softmax_wce_grad"]

VALUE_DOC = r"""Multiclass softmax cross entropy with class weights, label smoothing and ignore_index.

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
    count in no normaliser. With sample weights :math:`s_i` (1 by default), the
    reductions over the set :math:`V` of non-ignored samples are:

    .. math::

        \text{sum} = \sum_{i \in V} s_i \ell_i, \qquad
        \text{mean} = \frac{\sum_{i \in V} s_i \ell_i}{|V|}, \qquad
        \text{weighted\_mean} = \frac{\sum_{i \in V} s_i \ell_i}{\sum_{i \in V} s_i w_{y_i}}

    ``mean`` is the Keras / TensorFlow ``sample_weight`` convention (divide by
    the number of samples); ``weighted_mean`` is PyTorch's
    ``cross_entropy(weight=)`` convention (divide by the summed weights of the
    target classes, also for the smoothing term). For probability labels PyTorch
    divides by :math:`N` under both, and so does this function.

    N-d inputs: logits (N, C, d1, ..., dk) with labels (N, d1, ..., dk) — PyTorch's
    segmentation layout — are treated as :math:`N d_1 \cdots d_k` samples, with
    exactly ``torch.nn.functional.cross_entropy``'s reductions; ``class_axis=-1``
    takes channels-last logits (Keras, optax). An empty batch gives 0 for
    ``sum``, ``mean`` and ``weighted_mean`` (PyTorch returns NaN for the means).

    Parameters
    ----------
    logits : array_like of float, shape (N, C), (N, C, d1, ..., dk) or (C,)
        (C,) is one unbatched sample with a 0-d label, as ``torch.nn.functional.cross_entropy`` takes it.
    labels : array_like of int, shape (N,), (N, d1, ..., dk) or () with (C,) logits; or of float, the logits' shape
        Class indices in ``[0, C)`` (or ``ignore_index``), or probability rows.
    class_weights : array_like, shape (C,), optional
        Non-negative weight per class; ``None`` means all ones.
    sample_weight : array_like, shape (N,) or the labels' shape, optional
        Non-negative weight per sample (or per position), as Keras' ``sample_weight``.
    reduction : {"none", "sum", "mean", "weighted_mean"}
    label_smoothing : float in [0, 1]
    ignore_index : int, optional
        Label value whose samples are skipped (class-index labels only).
    class_axis : int
        The axis of ``logits`` that holds the classes: 1 (default) or -1.

    Returns
    -------
    loss : scalar or ndarray of the labels' shape
        In ``logits.dtype``.

    Raises
    ------
    WCEInputError
        For bad input, and for ``mean`` / ``weighted_mean`` when the normaliser
        is zero on a non-empty batch (every sample ignored, or every target
        weight zero): PyTorch returns NaN there.

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

GRAD_DOC = r"""Gradient of :func:`softmax_wce` with respect to the logits.

    Writing the per-sample loss as :math:`\ell_i = -\sum_c a_{ic} \log p_{ic}`
    (so :math:`a_{ic} = (1 - \varepsilon) w_{y_i} [c = y_i] + \varepsilon w_c / C`
    for class-index labels and :math:`a_{ic} = w_c q'_{ic}` for probability labels):

    .. math::

        \frac{\partial \ell_i}{\partial x_{ij}} = \Bigl(\sum_c a_{ic}\Bigr) p_{ij} - a_{ij}

    times the sample weight, divided by the reduction's normaliser, which does
    not depend on the logits. Ignored rows have a zero gradient; for ``"none"``
    this is the gradient of the sum.

    Parameters
    ----------
    logits, labels, class_weights, sample_weight, reduction, label_smoothing, ignore_index, class_axis
        As for :func:`softmax_wce`.

    Returns
    -------
    grad : ndarray of ``logits.dtype``, the logits' shape

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import softmax_wce_grad
    >>> softmax_wce_grad(np.zeros((1, 2)), np.array([1]), class_weights=[1.0, 3.0], reduction="sum")
    array([[ 1.5, -1.5]])
    """


class SoftmaxWCE(SoftmaxFamily):
    """Weighted cross entropy's own part: probability labels and label smoothing, whose class weights enter
    each class's term (so it writes the weighted rows), and the fused framework path.

    Losses that are cross entropy of transformed logits (logit adjustment, LDAM) subclass it and write the
    transformation (:meth:`softmax`, :meth:`ops_logits`, :meth:`exact_logits`)."""

    name = "softmax_wce"
    class_name = "WeightedCrossEntropyLoss"
    soft = True
    value_doc, grad_doc = VALUE_DOC, GRAD_DOC

    def rows(self, inp, sm, **own):
        if inp.soft:
            return (inp.q * inp.w * sm.nll_all()).sum(axis=1)
        loss = inp.w_target * sm.nll(inp.y)
        if inp.eps:
            smooth = (sm.nll_all() * inp.w).sum(axis=1)
            loss = (1 - inp.eps) * loss + (inp.eps / inp.c) * smooth
        return loss

    def grad_rows(self, inp, sm, **own):
        if inp.soft:
            a = inp.q * inp.w
            return a.sum(axis=1, keepdims=True) * sm.probs() - a
        grad = sm.probs_minus_onehot(inp.y)
        grad *= inp.w_target[:, None]
        if inp.eps:
            smooth = inp.w.sum() * sm.probs() - inp.w
            grad = (1 - inp.eps) * grad + (inp.eps / inp.c) * smooth
        return grad

    def ops_value(self, r, **own):
        ops = r.ops
        if r.soft:
            a = r.q if r.w is None else r.q * r.w
            return r.reduce(r.weigh(ops.sum(a * r.nll_all(), axis=1)))
        fused = None if r.eps or r.reduction == "none" else r.nll_label_total()
        if fused is not None:  # one custom-gradient node for the weighted sum (torch eager: the per-call cost)
            return r.finish(*fused)
        w_y = r.target_weights()
        nll = r.nll_label()
        per = nll if w_y is None else w_y * nll
        if r.eps:
            nll_all = r.nll_all()
            smooth = ops.sum(nll_all if r.w is None else nll_all * r.w, axis=1)
            per = (1 - r.eps) * per + (r.eps / r.c) * smooth
        return r.reduce(r.weigh(per))

    def exact_weighted_row(self, o, x, target, w, eps, **own):
        """``sum_c a_c (-log p_c)`` and its gradient ``(sum_c a_c) p - a`` with the row's coefficients ``a``."""
        c = len(x)
        if isinstance(target, int):
            a = [eps / c * w[j] for j in range(c)]
            a[target] += (1 - eps) * w[target]
        else:
            a = [w[j] * (target[j] * (1 - eps) + eps / c) for j in range(c)]
        nll, p = o.row_softmax(self.exact_logits(o, x, target, **own))
        total = o.fsum(a)
        return o.fsum(a[j] * nll[j] for j in range(c)), np.array([total * p[j] - a[j] for j in range(c)], dtype=object)


# --------------------------------------------------------------------------- agreement cases


def _logits(rng, n, c, scale):
    return rng.normal(size=(n, c)) * scale


def _labels(rng, n, c):
    return rng.integers(0, c, size=n)


def _soft_labels(rng, n, c):
    return rng.dirichlet(np.ones(c), size=n)


def _case(name, n=32, c=5, scale=3.0, *, weights=True, labels=None, soft=False, **extra):
    def build(rng):
        kw = {"logits": _logits(rng, n, c, scale)}
        kw["labels"] = labels(rng, n, c) if labels else _labels(rng, n, c)
        kw["class_weights"] = rng.uniform(0.5, 3.0, size=c) if weights else None
        kw.update({k: (v(rng, n, c) if callable(v) else v) for k, v in extra.items()})
        if kw.get("ignore_index") is not None and np.ndim(kw["labels"]) == 1:
            kw["labels"] = np.where(np.arange(n) % 4 == 1, kw["ignore_index"], kw["labels"])
        return kw

    floats = ("logits", "class_weights", "sample_weight") + (("labels",) if soft else ())
    return Case(name, "softmax_wce", build, float_args=floats)


def _large(rng):
    n, c = 6, 4
    x = rng.choice([-1e4, 1e4], size=(n, c)) * rng.uniform(0.5, 1.0, size=(n, c))
    return {"logits": x, "labels": _labels(rng, n, c), "class_weights": rng.uniform(0.5, 2.0, size=c)}


def _zero_weights(rng):
    n, c = 32, 5
    w = rng.uniform(0.5, 3.0, size=c)
    w[[1, 3]] = 0.0
    return {"logits": _logits(rng, n, c, 2.0), "labels": _labels(rng, n, c), "class_weights": w}


def nd_case(loss: str, extra: dict[str, Any] | None = None, *, channels_last: bool = False) -> Case:
    """A 4-d (N, C, H, W) segmentation-like case (or channels-last (N, H, W, C)) with ignored pixels."""

    def build(rng):
        n, c, h, w = 2, 4, 3, 5
        x = rng.normal(size=(n, c, h, w)) * 3.0
        y = rng.integers(0, c, size=(n, h, w))
        y = np.where(rng.uniform(size=(n, h, w)) < 0.15, -100, y)
        kw = {"logits": x, "labels": y, "class_weights": rng.uniform(0.5, 3.0, size=c), "ignore_index": -100}
        if channels_last:
            kw["logits"] = np.moveaxis(x, 1, -1)
            kw["class_axis"] = -1
        kw.update({k: (v(rng, c) if callable(v) else v) for k, v in (extra or {}).items()})
        return kw

    floats = ("logits", "class_weights", "sample_weight", "class_priors", "cost_matrix")
    return Case("nd_4d_channels_last" if channels_last else "nd_4d", loss, build, float_args=floats)


CASES = (
    _case("random_scale_0.1", scale=0.1),
    _case("random_scale_3", scale=3.0),
    _case("random_scale_30", scale=30.0),
    Case("logits_1e4", "softmax_wce", _large, float_args=("logits", "class_weights"), tags=("large",)),
    _case("n_1", n=1),
    _case("c_2", c=2),
    _case("c_1000", n=4, c=1000),
    _case("one_class_only", labels=lambda rng, n, c: np.full(n, 2)),
    Case("zero_class_weights", "softmax_wce", _zero_weights, float_args=("logits", "class_weights")),
    _case("no_weights", weights=False),
    _case("ignore_index", ignore_index=-100),
    _case("soft_labels", labels=_soft_labels, soft=True),
    _case("label_smoothing", label_smoothing=0.1),
    _case("label_smoothing_ignore_index", label_smoothing=0.2, ignore_index=-100),
    _case("soft_labels_smoothing", labels=_soft_labels, soft=True, label_smoothing=0.1),
    _case("sample_weight", sample_weight=lambda rng, n, c: rng.uniform(0.0, 2.0, size=n)),
    nd_case("softmax_wce", {"label_smoothing": 0.1}),
    nd_case("softmax_wce", channels_last=True),
)


def _bench(n: int, c: int, rng: np.random.Generator) -> dict[str, Any]:
    return {
        "logits": rng.normal(scale=3.0, size=(n, c)),
        "labels": rng.integers(0, c, n),
        "class_weights": rng.uniform(0.5, 5.0, c),
    }


def _train(y: np.ndarray, *, n_classes: int, class_weights: Any = None) -> dict[str, Any]:
    return {"class_weights": class_weights}


LOSS = SoftmaxWCE().loss(cases=CASES, bench=_bench, train=_train)
softmax_wce, softmax_wce_grad = LOSS.value, LOSS.grad
