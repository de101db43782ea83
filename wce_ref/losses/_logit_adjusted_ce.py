"""Logit-adjusted cross entropy (Menon et al., ICLR 2021) and its post-hoc form; ``tau = 1`` is balanced softmax.

The loss is :func:`~wce_ref.losses.softmax_wce` of the adjusted logits
``x + tau * log(prior)``: value and gradient are softmax_wce's, evaluated there
(the adjustment is a constant shift per class, so the gradient with respect to
the logits is the gradient with respect to the adjusted logits).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import (
    WCEInputError,
    as_logits,
    as_positive_vector,
    check_class_axis,
    check_number,
    compute_dtype,
)
from .._weights import _check_labels
from ._base import Case
from ._common import Softmax, out
from ._family import REQUIRED
from ._softmax_wce import SoftmaxWCE, nd_case

__all__ = ["LOSS", "logit_adjust", "logit_adjusted_ce", "logit_adjusted_ce_grad"]


def _log_priors(class_priors: Any, tau: Any, c: int, ct: np.dtype) -> tuple[np.ndarray, float]:
    """``tau * log(prior)`` per class in the compute dtype ``ct`` (the log taken in float64), and ``tau``."""
    tau = check_number(tau, "tau", low=0.0)
    prior = as_positive_vector(class_priors, name="class_priors", length=c, dtype=ct)
    if not (prior > 0).all():
        small = np.asarray(class_priors, dtype=np.float64).reshape(-1)[prior <= 0][0]
        raise WCEInputError(
            f"class_priors holds {small!r}, below the smallest positive {ct.name} "
            f"({float(np.finfo(ct).smallest_subnormal):.4g}), the dtype this computation runs in for these "
            f"logits; pass float64 logits or larger priors"
        )
    with np.errstate(over="ignore"):
        shift = (tau * np.log(prior.astype(np.float64))).astype(ct)
    if not np.isfinite(shift).all():
        raise WCEInputError(
            f"tau * log(class_priors) overflows {ct.name} for tau={tau!r}; use a smaller tau"
        )
    return shift, tau


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a + b = hi + lo`` exactly (Knuth's TwoSum; NumPy rounds each operation to nearest, without FMA)."""
    hi = a + b
    b_virtual = hi - a
    a_virtual = hi - b_virtual
    return hi, (a - a_virtual) + (b - b_virtual)


def row_relative(x: np.ndarray, offset: np.ndarray, what: str) -> np.ndarray:
    """``z = x + offset`` minus ``z`` at each row's arg-max: the same softmax, accurate to a few ULPs of the result.

    Rounding ``x + offset`` itself would cost about ``|z|`` ULPs in every probability (the rounding error of
    ``z`` is relative to ``|z|``, not to the differences the softmax depends on); the differences
    ``x_j - x_k`` and ``offset_j - offset_k`` are instead taken exactly (as ``hi + lo`` pairs) and rounded once.
    ``x`` is (M, C), ``offset`` broadcasts to it. A ``z`` or a difference beyond the dtype's range raises,
    naming ``what``.
    """
    offset = np.broadcast_to(offset, x.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        z = x + offset
        if x.size:
            rows = np.arange(x.shape[0])
            k = np.argmax(z, axis=1)
            hx, lx = _two_sum(x, -x[rows, k][:, None])
            ho, lo = _two_sum(offset, -offset[rows, k][:, None])
            z = (hx + ho) + (lx + lo)
    if not np.isfinite(z).all():
        raise WCEInputError(
            f"{what} overflows {x.dtype.name} (the value or its differences within a row), the dtype this "
            f"computation runs in for these logits; use float64 logits or a smaller adjustment"
        )
    return z


def within_range(x: np.ndarray, bound: float, factor: float = 1.0) -> bool:
    """A cheap sufficient test that ``factor * row_relative(x, offset)`` cannot overflow, for offsets whose
    differences are at most ``bound``: ``factor * (2 max|x| + bound)`` fits ``x.dtype``."""
    top = float(np.abs(x).max()) if x.size else 0.0
    return factor * (2 * top + bound) <= float(np.finfo(x.dtype).max)


def _relative(inp, shift, tau) -> np.ndarray:
    return row_relative(inp.x, shift, f"logits + tau * log(class_priors) for tau={tau!r}")


VALUE_DOC = r"""Logit-adjusted (weighted) cross entropy: cross entropy of ``logits + tau * log(class_priors)``.

    With class priors :math:`\pi_c` (the label frequencies of the training
    set) and a temperature :math:`\tau \ge 0`, the loss of a sample is the
    weighted softmax cross entropy (:func:`~wce_ref.softmax_wce`, with all its
    options) of the adjusted logits

    .. math::

        z_{ic} = x_{ic} + \tau \log \pi_c, \qquad
        \ell_i = -w_{y_i} \log \frac{e^{z_{i y_i}}}{\sum_{c} e^{z_{ic}}}
               = w_{y_i} \log\Bigl(1 + \sum_{c \ne y_i}
                 \Bigl(\frac{\pi_c}{\pi_{y_i}}\Bigr)^{\tau} e^{x_{ic} - x_{i y_i}}\Bigr)

    (Menon et al., "Long-tail learning via logit adjustment", ICLR 2021, eq. 10).
    Rare classes get a larger margin against frequent ones during training,
    while predictions use the plain logits: the model learns logits that
    estimate the balanced (class-prior-free) posterior. ``tau=1`` is the
    balanced softmax of Ren et al., "Balanced Meta-Softmax for Long-Tailed
    Visual Recognition", NeurIPS 2020; ``tau=0`` is :func:`~wce_ref.softmax_wce`.
    For the post-hoc correction of a model trained with plain cross entropy,
    see :func:`logit_adjust`.

    The priors must be strictly positive (a zero prior would be an infinite
    adjustment) but need not sum to 1: scaling every prior by a constant adds
    the same :math:`\tau \log k` to every logit of a row, which changes no
    softmax. The loss is convex in the logits and its gradient with respect to
    them is that of :func:`~wce_ref.softmax_wce` at :math:`z` (see
    :func:`logit_adjusted_ce_grad`).

    Parameters
    ----------
    logits : array_like of float, shape (N, C), (N, C, d1, ..., dk) or (C,)
        (C,) is one unbatched sample with a 0-d label, as ``torch.nn.functional.cross_entropy`` takes it.
    labels : array_like of int, shape (N,), (N, d1, ..., dk) or () with (C,) logits; or of float, the logits' shape
        Class indices in ``[0, C)`` (or ``ignore_index``), or probability rows.
    class_priors : array_like, shape (C,)
        Strictly positive class frequencies (need not sum to 1). In training
        (``LOSS.train``) they are the training label counts, an absent class
        counting as 1.
    tau : float, >= 0
        Temperature of the adjustment; 1 is balanced softmax. Negative values
        (which would favour the frequent classes) are rejected as a likely sign error.
    class_weights, sample_weight, reduction, label_smoothing, ignore_index, class_axis
        As for :func:`~wce_ref.softmax_wce` (the reductions are its reductions).
        An empty batch (N = 0) gives 0 for every reduction but ``none`` (PyTorch returns NaN for the means).

    Returns
    -------
    loss : scalar or ndarray of the labels' shape, in ``logits.dtype``

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import logit_adjusted_ce, softmax_wce
    >>> x = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    >>> y = np.array([0, 2])
    >>> prior = np.array([0.7, 0.2, 0.1])
    >>> float(logit_adjusted_ce(x, y, class_priors=prior))  # doctest: +ELLIPSIS
    0.2989...
    >>> float(softmax_wce(x + np.log(prior), y))  # the same: cross entropy of the adjusted logits  # doctest: +ELLIPSIS
    0.2989...
    >>> float(softmax_wce(x, y))  # unadjusted: the rare class 2 gets no extra margin  # doctest: +ELLIPSIS
    0.1609...
    """

GRAD_DOC = r"""Gradient of :func:`logit_adjusted_ce` with respect to the logits.

    The adjustment is a constant per class, so :math:`\partial z / \partial x`
    is the identity and the gradient is :func:`~wce_ref.softmax_wce_grad` at
    the adjusted logits :math:`z = x + \tau \log \pi`:

    .. math::

        \frac{\partial \ell_i}{\partial x_{ij}} = w_{y_i}\,\bigl(\operatorname{softmax}(z_i)_j - [j = y_i]\bigr)

    (with label smoothing or probability labels, softmax_wce_grad's general form).

    Parameters
    ----------
    logits, labels, class_priors, tau, class_weights, sample_weight, reduction, label_smoothing, ignore_index, \
class_axis
        As for :func:`logit_adjusted_ce`.

    Returns
    -------
    grad : ndarray of ``logits.dtype``, the logits' shape

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import logit_adjusted_ce_grad
    >>> logit_adjusted_ce_grad(np.zeros((1, 2)), np.array([1]), class_priors=[0.75, 0.25], reduction="sum")
    array([[ 0.75, -0.75]])
    """


class LogitAdjustedCE(SoftmaxWCE):
    """Weighted cross entropy of the adjusted logits ``x + tau * log(class_priors)``: the adjustment is its own."""

    name = "logit_adjusted_ce"
    class_name = "LogitAdjustedLoss"
    params = {"class_priors": REQUIRED, "tau": 1.0}
    arrays = float_arrays = ("class_priors",)
    memo_check = False  # the check tests each row for overflow of the adjusted logits
    value_doc, grad_doc = VALUE_DOC, GRAD_DOC

    def prepare(self, inp, *, class_priors, tau):
        shift, tau = _log_priors(class_priors, tau, inp.c, inp.x.dtype)
        return inp, {"tau": tau, "shift": shift}

    def check_more(self, inp, *, tau, shift):
        if not within_range(inp.x, 2 * float(np.abs(shift).max())):
            _relative(inp, shift, tau)  # the exact test, only where the cheap one cannot tell

    def softmax(self, inp, *, tau, shift):
        return Softmax(_relative(inp, shift, tau))

    def ops_logits(self, r, *, class_priors, tau):
        return r.x + float(tau) * r.ops.log(r.ops.cast(class_priors, r.x))[None, :]

    def exact_own(self, o, *, class_priors, tau):
        return {"shift": [o.MP.mpf(tau) * o.MP.log(p) for p in o.mp_array(class_priors)]}

    def exact_logits(self, o, x, y, *, shift):
        return np.array([x[j] + shift[j] for j in range(len(x))], dtype=object)


def logit_adjust(logits: Any, class_priors: Any, tau: float = 1.0, class_axis: int = 1) -> Any:
    r"""Post-hoc logit adjustment for prediction: ``logits - tau * log(class_priors)``.

    Menon et al. (ICLR 2021, eq. 9): a model trained with plain cross entropy
    on long-tailed data estimates :math:`p(y \mid x) \propto p(x \mid y)\,\pi_y`;
    subtracting :math:`\tau \log \pi_y` from its logits before the arg-max
    predicts with the balanced posterior instead, which lowers the balanced
    error. Use it on a model trained with :func:`~wce_ref.softmax_wce`, not on
    one trained with :func:`logit_adjusted_ce` (that one is adjusted already).

    The priors must be strictly positive and need not sum to 1 (a constant
    factor shifts every logit of a row by the same amount: the arg-max and the
    softmax do not change).

    Parameters
    ----------
    logits : array_like of float, shape (N, C) or (N, C, d1, ..., dk)
    class_priors : array_like, shape (C,)
        Strictly positive class frequencies of the training set.
    tau : float, >= 0
        Strength of the correction; 1 is the Bayes-optimal one for the balanced error.
    class_axis : int
        1 (default, PyTorch's layout) or -1 (channels last).

    Returns
    -------
    adjusted : ndarray of ``logits.dtype``, the logits' shape

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import logit_adjust
    >>> x = np.array([[1.0, 0.5], [2.0, 0.0]])
    >>> logit_adjust(x, [0.8, 0.2]).round(4)
    array([[1.2231, 2.1094],
           [2.2231, 1.6094]])
    >>> logit_adjust(x, [0.8, 0.2]).argmax(axis=1)  # the first sample now predicts the rare class
    array([1, 0])
    """
    x0 = as_logits(logits, min_ndim=2)
    axis = check_class_axis(class_axis, x0.ndim)
    c = x0.shape[axis]
    if c == 0:
        raise WCEInputError(f"logits has no classes (shape {x0.shape}, class_axis={class_axis})")
    ct = compute_dtype(x0.dtype)
    shift, tau = _log_priors(class_priors, tau, c, ct)
    bshape = (c,) + (1,) * (x0.ndim - 1 - axis)
    with np.errstate(over="ignore"):
        adjusted = x0.astype(ct) - shift.reshape(bshape)
    res = out(adjusted, x0.dtype)
    if not np.isfinite(np.asarray(res, dtype=np.float64)).all():
        raise WCEInputError(
            f"logits - tau * log(class_priors) overflows {x0.dtype.name} (tau={tau!r}); use a smaller tau "
            f"or wider logits"
        )
    return res


# --------------------------------------------------------------------------- agreement cases

NAME = "logit_adjusted_ce"


def _priors(rng, c, low=1e-3):
    p = np.geomspace(1.0, low, c) * rng.uniform(0.8, 1.2, size=c)
    return p / p.sum()


def _case(name, n=32, c=5, scale=3.0, *, weights=True, tau=1.0, labels=None, soft=False, large=False,
          priors=_priors, **extra):
    def build(rng):
        if large:
            x = rng.choice([-1e4, 1e4], size=(n, c)) * rng.uniform(0.5, 1.0, size=(n, c))
        else:
            x = rng.normal(size=(n, c)) * scale
        kw = {"logits": x, "labels": labels(rng, n, c) if labels else rng.integers(0, c, size=n)}
        kw["class_priors"] = priors(rng, c)
        kw["tau"] = tau
        kw["class_weights"] = rng.uniform(0.5, 3.0, size=c) if weights else None
        kw.update({k: (v(rng, n, c) if callable(v) else v) for k, v in extra.items()})
        if kw.get("ignore_index") is not None:
            kw["labels"] = np.where(np.arange(n) % 4 == 1, kw["ignore_index"], kw["labels"])
        return kw

    floats = ("logits", "class_priors", "class_weights", "sample_weight") + (("labels",) if soft else ())
    return Case(name, NAME, build, float_args=floats, tags=("large",) if large else ())


CASES = (
    _case("random_scale_0.1", scale=0.1),
    _case("random_scale_3", scale=3.0),
    _case("random_scale_30", scale=30.0),
    _case("logits_1e4", n=6, c=4, large=True),
    _case("n_1", n=1),
    _case("c_2", c=2),
    _case("no_weights", weights=False),
    _case("ignore_index", ignore_index=-100),
    _case("sample_weight", sample_weight=lambda rng, n, c: rng.uniform(0.0, 2.0, size=n)),
    _case("tau_0", tau=0.0),
    _case("tau_2", tau=2.0),
    _case("uniform_priors", priors=lambda rng, c: np.full(c, 0.25)),
    _case("rare_priors_1e-4", priors=lambda rng, c: _priors(rng, c, low=1e-4)),
    _case("label_smoothing", label_smoothing=0.1),
    _case("soft_labels", labels=lambda rng, n, c: rng.dirichlet(np.ones(c), size=n), soft=True),
    nd_case(NAME, {"class_priors": lambda rng, c: _priors(rng, c), "tau": 1.0}),
    nd_case(NAME, {"class_priors": lambda rng, c: _priors(rng, c), "tau": 1.5}, channels_last=True),
)


def _bench(n: int, c: int, rng: np.random.Generator) -> dict[str, Any]:
    return {
        "logits": rng.normal(scale=3.0, size=(n, c)),
        "labels": rng.integers(0, c, n),
        "class_priors": _priors(rng, c),
    }


def _train(y: np.ndarray, *, n_classes: int, tau: float = 1.0, class_weights: Any = None) -> dict[str, Any]:
    """The loss's arguments for training labels ``y``: the class priors are the label frequencies.

    A class absent from ``y`` counts as 1 (the prior must be positive; a count of 1 is the smallest
    the data could have shown), so its adjustment is large but finite.
    """
    y, k = _check_labels(y, n_classes)
    counts = np.maximum(np.bincount(y, minlength=k), 1).astype(np.float64)
    return {"class_priors": counts / counts.sum(), "tau": check_number(tau, "tau", low=0.0),
            "class_weights": class_weights}


LOSS = LogitAdjustedCE().loss(cases=CASES, bench=_bench, train=_train, helpers=(logit_adjust,))
logit_adjusted_ce, logit_adjusted_ce_grad = LOSS.value, LOSS.grad
