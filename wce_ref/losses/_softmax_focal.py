"""Multiclass softmax focal loss (Lin et al. 2017): class weights, ignore_index, sample weights, N-d inputs."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .._validation import check_number
from ._base import Builtin, Case
from ._family import SoftmaxFamily
from ._softmax_wce import nd_case

__all__ = ["LOSS", "softmax_focal", "softmax_focal_grad"]

VALUE_DOC = r"""Multiclass softmax focal loss with class weights (the alpha of the paper, per class).

    Lin, Goyal, Girshick, He and Dollár, "Focal Loss for Dense Object
    Detection", ICCV 2017 (arXiv:1708.02002), applied to a softmax over
    :math:`C` classes. With :math:`p_{ic} = \operatorname{softmax}(x_i)_c`,
    class-index labels :math:`y_i` and class weights :math:`w_c`:

    .. math::

        \ell_i = w_{y_i}\, (1 - p_{i y_i})^\gamma\, \bigl(-\log p_{i y_i}\bigr)

    :math:`1 - p_{iy}` is the probability mass of the other classes, summed
    without cancellation, so confident correct predictions keep their full
    relative accuracy. ``gamma=0`` is :func:`~wce_ref.softmax_wce` exactly (the
    same computation). Keras' ``CategoricalFocalCrossentropy(alpha=w)`` is this
    loss with ``class_weights=w`` and ``reduction="mean"``.

    Reductions follow :func:`~wce_ref.softmax_wce` (and
    ``torch.nn.functional.cross_entropy`` for N-d input): over the set
    :math:`V` of non-ignored positions with sample weights :math:`s_i`,

    .. math::

        \text{sum} = \sum_{i \in V} s_i \ell_i, \qquad
        \text{mean} = \frac{\sum_{i \in V} s_i \ell_i}{|V|}, \qquad
        \text{weighted\_mean} = \frac{\sum_{i \in V} s_i \ell_i}{\sum_{i \in V} s_i w_{y_i}}

    An empty batch gives 0 for every reduction but ``none``. float16 and
    bfloat16 inputs are computed in float32; float32 inputs in float64 when
    ``gamma > 0`` (the power multiplies the relative error of :math:`1 - p_y`
    by :math:`\gamma`); the result has the input's dtype.

    Parameters
    ----------
    logits : array_like of float, shape (N, C), (N, C, d1, ..., dk) or (C,)
        (C,) is one unbatched sample with a 0-d label, as ``torch.nn.functional.cross_entropy`` takes it.
    labels : array_like of int, shape (N,), (N, d1, ..., dk) or () with (C,) logits
        Class indices in ``[0, C)`` (or ``ignore_index``).
    gamma : float >= 0
        Focusing parameter; 0 gives weighted cross entropy.
    class_weights : array_like, shape (C,), optional
        Non-negative weight per class; ``None`` means all ones.
    sample_weight : array_like, shape (N,) or the labels' shape, optional
    reduction : {"none", "sum", "mean", "weighted_mean"}
    ignore_index : int, optional
        Label value whose positions are skipped.
    class_axis : int
        The axis of ``logits`` that holds the classes: 1 (default) or -1.

    Returns
    -------
    loss : scalar or ndarray of the labels' shape, in ``logits.dtype``

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import softmax_focal
    >>> x = np.array([[4.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    >>> y = np.array([0, 1])
    >>> softmax_focal(x, y, reduction="none").round(5).tolist()  # the easy first sample barely counts
    [1e-05, 2.29121]
    >>> w = [1.0, 3.0, 1.0]
    >>> float(softmax_focal(x, y, gamma=0.0, class_weights=w, reduction="weighted_mean"))  # = softmax_wce
    ... # doctest: +ELLIPSIS
    1.9951...
    """

GRAD_DOC = r"""Gradient of :func:`softmax_focal` with respect to the logits.

    With :math:`q = 1 - p_y`, :math:`L = -\log p_y` and
    :math:`\rho_j = p_j / q` for :math:`j \ne y` (:math:`\rho_y = 0`), the
    share of class :math:`j` in the mass of the other classes:

    .. math::

        \frac{\partial \ell}{\partial x_j} = w_y\, q^\gamma
            \Bigl[(p_j - [j = y]) + \gamma\, L\, p_y\, (\rho_j - [j = y])\Bigr]

    which equals :math:`w_y (p_j - [j = y]) (q^\gamma + \gamma q^{\gamma - 1} p_y L)`
    but never forms :math:`q^{\gamma - 1}`: it stays finite for
    :math:`0 < \gamma < 1` as :math:`p_y \to 1`. Every entry is a sum of terms
    of one sign, so no cancellation occurs. Times the sample weight, divided by
    the reduction's normaliser; ignored positions have a zero gradient; for
    ``"none"`` this is the gradient of the sum.

    Parameters
    ----------
    logits, labels, gamma, class_weights, sample_weight, reduction, ignore_index, class_axis
        As for :func:`softmax_focal`.

    Returns
    -------
    grad : ndarray of ``logits.dtype``, the logits' shape

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import softmax_focal_grad
    >>> softmax_focal_grad(np.zeros((1, 2)), np.array([1]), gamma=1.0, reduction="sum").round(5)
    array([[ 0.42329, -0.42329]])
    """


class SoftmaxFocal(SoftmaxFamily):
    """The focal loss's own part: ``gamma``, its rows, their gradient, formula and exact form."""

    name = "softmax_focal"
    class_name = "FocalLoss"
    params = {"gamma": 2.0}
    reduction = "mean"
    value_doc, grad_doc = VALUE_DOC, GRAD_DOC

    def prepare(self, inp, *, gamma):
        gamma = check_number(gamma, "gamma", low=0.0)
        if gamma and inp.dtype == np.float32:
            # (1 - p_y) ** gamma multiplies the relative error of 1 - p_y by gamma: float32 arithmetic ends up ~5
            # ULP off, so float32 input is computed in float64 (gamma = 0 keeps softmax_wce's computation)
            wide = {k: None if v is None else v.astype(np.float64) for k, v in (("x", inp.x), ("w", inp.w),
                                                                                ("sw", inp.sw))}
            inp = dataclasses.replace(inp, **wide)
        return inp, {"gamma": gamma}

    def rows(self, inp, sm, *, gamma):
        loss = inp.w_target * sm.nll(inp.y)  # softmax_wce's expression: gamma=0 is bit-identical
        return loss * sm.one_minus_p(inp.y) ** gamma if gamma else loss

    def row_grad(self, sm, y, *, gamma):
        grad = sm.probs_minus_onehot(y)
        if not gamma:
            return grad
        rows = sm.rows
        rest = sm.rest(y)  # (1 - p_y) (1 + s)
        q = rest / (1 + sm.s)
        p_y = np.where(y == sm.k, 1, sm.e[rows, y]) / (1 + sm.s)
        scaled = sm.e.copy()  # exp(x_j - m), 1 at the arg-max
        scaled[rows, sm.k] = 1
        scaled[rows, y] = 0
        rho = scaled / np.where(rest > 0, rest, 1)[:, None]  # p_j / (1 - p_y); 0 where the other classes underflow
        coef = gamma * sm.nll(y) * p_y
        focal = coef[:, None] * rho
        focal[rows, y] = -coef
        return (q**gamma)[:, None] * (grad + focal)

    def ops_per_row(self, r, *, gamma):
        """``(1 - p_y) ** gamma`` is ``exp(gamma * log(1 - p_y))`` (see :meth:`SoftmaxRows.log_one_minus_p`:
        cancellation-free, gradient 0 rather than NaN where the other classes underflow, finite for every
        gamma > 0); ``gamma == 0`` skips it (exactly 1, no ``0 * inf``)."""
        nll = r.nll_of()
        return nll * r.ops.exp(gamma * r.log_one_minus_p()) if gamma else nll

    def exact_row(self, o, nll, p, y, *, gamma):
        """The direct derivative: ``d l / d x_j = (p_j - [j = y]) (q^g + g q^(g-1) p_y L)``, ``q = 1 - p_y``."""
        gm = o.MP.mpf(gamma)
        q = o.fsum(p[j] for j in range(len(p)) if j != y)  # 1 - p_y, exactly (no 1 - p in 50 digits)
        qg = q**gm if gamma else o.MP.mpf(1)
        coef = qg + (gm * q ** (gm - 1) * p[y] * nll[y] if gamma and q else 0)
        return qg * nll[y], [coef * (p[j] - (1 if j == y else 0)) for j in range(len(p))]


# --------------------------------------------------------------------------- agreement cases

_FLOATS = ("logits", "class_weights", "sample_weight")


def _case(name, n=32, c=5, scale=3.0, *, gamma=2.0, weights=True, confident=False, **extra):
    def build(rng):
        x = rng.normal(size=(n, c)) * scale
        y = rng.integers(0, c, size=n)
        if confident:  # the label's logit far above the others: p_y -> 1 (gamma < 1 used to give NaN gradients)
            x[np.arange(n), y] += rng.uniform(6.0, 25.0, size=n)
            x = np.round(x * 8) / 8  # few-bit logits: x - max is exact (the oracle measures the loss, not x's rounding)
        kw = {"logits": x, "labels": y, "gamma": gamma}
        kw["class_weights"] = rng.uniform(0.5, 3.0, size=c) if weights else None
        kw.update({k: (v(rng, n, c) if callable(v) else v) for k, v in extra.items()})
        if kw.get("ignore_index") is not None:
            kw["labels"] = np.where(np.arange(n) % 4 == 1, kw["ignore_index"], kw["labels"])
        return kw

    return Case(name, "softmax_focal", build, float_args=_FLOATS)


def _large(rng):
    n, c = 6, 4
    x = rng.choice([-1e4, 1e4], size=(n, c)) * rng.uniform(0.5, 1.0, size=(n, c))
    return {
        "logits": x,
        "labels": rng.integers(0, c, size=n),
        "gamma": 2.0,
        "class_weights": rng.uniform(0.5, 2.0, size=c),
    }


def _channels_last():
    base = nd_case("softmax_focal", {"gamma": 1.5}, channels_last=True)

    def build(rng):  # no ignored pixels: Keras (channels last) can express it
        kw = base.build(rng)
        kw.pop("ignore_index")
        kw["labels"] = np.where(kw["labels"] < 0, 0, kw["labels"])
        return kw

    return Case(base.name, base.loss, build, float_args=base.float_args)


CASES = (
    _case("random_scale_0.1", scale=0.1),
    _case("random_scale_3", scale=3.0),
    _case("random_scale_30", scale=30.0),
    Case("logits_1e4", "softmax_focal", _large, float_args=("logits", "class_weights"), tags=("large",)),
    _case("gamma_0.5_confident", gamma=0.5, weights=False, confident=True),
    _case("gamma_0.25_confident_weighted", gamma=0.25, confident=True),
    _case("gamma_0", gamma=0.0),
    _case("no_weights", weights=False),
    _case("gamma_3", gamma=3.0),
    _case("n_1", n=1),
    _case("c_2", c=2),
    _case("ignore_index", ignore_index=-100),
    _case("sample_weight", sample_weight=lambda rng, n, c: rng.uniform(0.0, 2.0, size=n)),
    nd_case("softmax_focal", {"gamma": 2.0}),
    _channels_last(),
)


# --------------------------------------------------------------------------- the frameworks' own


def _keras_categorical_focal(
    backend, *, logits, labels, gamma=2.0, class_weights=None, sample_weight=None, reduction, class_axis=1
):
    import keras

    tf = backend.load()
    c = int(logits.shape[-1])
    # alpha: a scalar or one weight per class (Keras' docs; the default 0.25 would scale every loss), given as a
    # tensor in Keras' compute dtype (floatx) so that the call also traces under tf.function
    alpha = 1.0 if class_weights is None else tf.cast(class_weights, keras.backend.floatx())
    loss = keras.losses.CategoricalFocalCrossentropy(
        alpha=alpha,
        gamma=gamma,
        from_logits=True,
        reduction={"none": None, "sum": "sum"}.get(reduction, "sum_over_batch_size"),
    )
    onehot = tf.one_hot(tf.cast(labels, tf.int64), c, dtype=logits.dtype)
    sw = sample_weight
    if sw is not None and len(sw.shape) < len(labels.shape):  # (N,) over (N, d1, ...)
        sw = tf.broadcast_to(tf.reshape(sw, (-1,) + (1,) * (len(labels.shape) - 1)), labels.shape)
    return loss(onehot, logits, sample_weight=sw)


def _keras_categorical_supports(kw: dict[str, Any], reduction: str) -> bool:
    last = np.ndim(kw["logits"]) == 2 or kw.get("class_axis", 1) in (-1, np.ndim(kw["logits"]) - 1)
    plain = kw.get("class_weights") is None and kw.get("sample_weight") is None
    return last and kw.get("ignore_index") is None and (reduction != "weighted_mean" or plain)


BUILTINS = (
    Builtin(
        "keras.CategoricalFocalCrossentropy",
        "softmax_focal",
        _keras_categorical_focal,
        _keras_categorical_supports,
        note="keras.losses.CategoricalFocalCrossentropy(from_logits=True, alpha=class_weights or 1.0, gamma=) "
        "on one-hot labels; its reduction divides by the number of positions (our 'mean')",
        defaults="softmax_focal(x, y, gamma=2.0, class_weights=[0.25] * C, reduction='mean') "
        "(its alpha=0.25 scales every class)",
        framework="tensorflow",
    ),
)


def _bench(n: int, c: int, rng: np.random.Generator) -> dict[str, Any]:
    return {
        "logits": rng.normal(scale=3.0, size=(n, c)),
        "labels": rng.integers(0, c, n),
        "class_weights": rng.uniform(0.5, 5.0, c),
    }


def _train(y: np.ndarray, *, n_classes: int, class_weights: Any = None, gamma: float = 2.0) -> dict[str, Any]:
    return {"class_weights": class_weights, "gamma": gamma}


LOSS = SoftmaxFocal().loss(cases=CASES, builtins=BUILTINS, bench=_bench, train=_train)
softmax_focal, softmax_focal_grad = LOSS.value, LOSS.grad
