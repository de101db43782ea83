"""Poly-1 cross entropy (Leng et al., ICLR 2022): weighted cross entropy plus ``epsilon * (1 - p_y)``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_number
from ._base import Builtin, Case
from ._common import Softmax
from ._family import SoftmaxFamily
from ._softmax_wce import nd_case

__all__ = ["LOSS", "poly1_ce", "poly1_ce_grad"]

NAME = "poly1_ce"


def _series_terms(dtype: np.dtype) -> int:
    """Terms of ``sum_{k>=2} u^k / k`` for ``u <= 1/2`` to reach ``dtype``'s precision (58 for float64)."""
    return int(np.finfo(dtype).nmant) + 6


def _log_minus_u(nll: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``-log(1 - u) - u >= 0`` without cancellation, given ``nll = -log(1 - u)``.

    For ``u <= 1/2`` the series ``sum_{k>=2} u^k / k`` (positive terms, Horner); above, the difference loses
    at most a factor ``nll / (nll - u) <= 3.6`` in relative accuracy.
    """
    terms = _series_terms(u.dtype)
    small = np.minimum(u, 0.5)
    acc = np.full_like(u, 1.0 / terms)
    for k in range(terms - 1, 1, -1):
        acc = 1.0 / k + small * acc
    return np.where(u <= 0.5, small * small * acc, nll - u)


def _softmax(x: np.ndarray, eps: float) -> Softmax:
    """The softmax pieces of ``x``; for ``eps < 0`` with ``exp(x_j - m)`` corrected for the rounding of ``x_j - m``.

    For ``eps < 0`` a confident prediction's loss is about ``(1 - p_y)^2 / 2``, twice as sensitive to the
    rounding of ``x_j - m`` (about ``|x_j - m|`` ULPs in ``1 - p_y``) as cross entropy: the rounding error
    ``lo`` of ``x_j - m = hi + lo`` is taken exactly and ``exp(hi + lo) = exp(hi) (1 + lo)`` to first order.
    ``eps >= 0`` uses the plain pieces, so that ``epsilon=0`` is :func:`~wce_ref.softmax_wce` bit for bit.
    """
    sm = Softmax(x)
    if eps < 0 and x.size:
        from ._logit_adjusted_ce import _two_sum

        _, lo = _two_sum(x, -sm.m[:, None])
        sm.e += sm.e * lo  # zero at the arg-max stays zero
        sm.s = sm.e.sum(axis=1)
        sm.log1p_s = np.log1p(sm.s)
    return sm


VALUE_DOC = r"""Poly-1 loss: weighted cross entropy plus :math:`\varepsilon (1 - p_y)`.

    Leng et al., "PolyLoss: A Polynomial Expansion Perspective of
    Classification Loss Functions", ICLR 2022. Cross entropy is the series
    :math:`-\log p_t = \sum_{j \ge 1} (1 - p_t)^j / j`; Poly-1 perturbs the
    coefficient of the leading term by :math:`\varepsilon`:

    .. math::

        \ell_i = w_{y_i} \bigl[-\log p_{i y_i} + \varepsilon\,(1 - p_{i y_i})\bigr]

    with :math:`p_i = \operatorname{softmax}(x_i)` and class weights
    :math:`w`, reduced as :func:`~wce_ref.softmax_wce` reduces
    (``weighted_mean`` divides by :math:`\sum_i s_i w_{y_i}`). ``epsilon=0`` is
    :func:`~wce_ref.softmax_wce`.

    ``epsilon`` must be at least -1: :math:`\partial \ell / \partial p_y =
    -w (1/p_y + \varepsilon)` is negative for every :math:`p_y \in (0, 1)`
    exactly when :math:`\varepsilon \ge -1`, so the loss keeps decreasing to 0
    as the prediction becomes right; below -1 it would rise again near
    :math:`p_y = 1` and reward being less sure of the right class. The paper
    recommends 2 for ImageNet classification and -1 for detection and
    instance segmentation; ``optax.losses.poly_loss_cross_entropy`` defaults
    to 2.0, this function to 1.0 (pass ``epsilon=2.0`` to match optax).

    Numerics: :math:`1 - p_y` is summed from the other classes' probabilities
    (no cancellation), and for :math:`\varepsilon < 0` the loss is evaluated as
    :math:`(1 + \varepsilon)(1 - p_y) + (-\log p_y - (1 - p_y))`, both terms
    non-negative, the second from its series when :math:`p_y \ge 1/2`: a
    confident prediction with ``epsilon=-1`` has a loss near
    :math:`(1 - p_y)^2 / 2` that the direct formula would lose to cancellation.
    That loss is also twice as sensitive to the rounding of :math:`x_j - \max_k x_k`
    as cross entropy, so for :math:`\varepsilon < 0` the exponentials are
    corrected for that rounding (taken exactly); :math:`\varepsilon \ge 0`
    shares softmax_wce's pieces (``epsilon=0`` is softmax_wce bit for bit).

    Parameters
    ----------
    logits : array_like of float, shape (N, C), (N, C, d1, ..., dk) or (C,)
        (C,) is one unbatched sample with a 0-d label, as ``torch.nn.functional.cross_entropy`` takes it.
    labels : array_like of int, shape (N,), (N, d1, ..., dk) or () with (C,) logits
        Class indices in ``[0, C)`` (or ``ignore_index``).
    epsilon : float, >= -1
    class_weights, sample_weight, reduction, ignore_index, class_axis
        As for :func:`~wce_ref.softmax_wce`.
        An empty batch (N = 0) gives 0 for every reduction but ``none`` (PyTorch returns NaN for the means).

    Returns
    -------
    loss : scalar or ndarray of the labels' shape, in ``logits.dtype``

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import poly1_ce
    >>> x = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    >>> y = np.array([0, 2])
    >>> poly1_ce(x, y, reduction="none").round(4)  # cross entropy + (1 - p_y)
    array([0.3261, 0.293 ])
    >>> poly1_ce(x, y, epsilon=-1.0, reduction="none").round(4)  # about (1 - p_y)^2 / 2 as p_y -> 1
    array([0.0136, 0.011 ])
    """

GRAD_DOC = r"""Gradient of :func:`poly1_ce` with respect to the logits.

    Since :math:`\partial (1 - p_y) / \partial x_j = p_y (p_j - [j = y])`:

    .. math::

        \frac{\partial \ell_i}{\partial x_{ij}} = w_{y_i} (1 + \varepsilon\, p_{i y_i})\,\bigl(p_{ij} - [j = y_i]\bigr)

    divided by the reduction's normaliser. For :math:`\varepsilon < 0` the
    factor is taken as :math:`(1 + \varepsilon) - \varepsilon (1 - p_y)`, two
    non-negative terms.

    Parameters
    ----------
    logits, labels, epsilon, class_weights, sample_weight, reduction, ignore_index, class_axis
        As for :func:`poly1_ce`.

    Returns
    -------
    grad : ndarray of ``logits.dtype``, the logits' shape

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import poly1_ce_grad
    >>> poly1_ce_grad(np.zeros((1, 2)), np.array([1]), epsilon=2.0, reduction="sum")  # (1 + 2 * 0.5) * (p - e_y)
    array([[ 1., -1.]])
    """


class Poly1(SoftmaxFamily):
    """Poly-1's own part: ``epsilon``, its rows, their gradient, formula and exact form."""

    name = NAME
    class_name = "Poly1Loss"
    params = {"epsilon": 1.0}
    value_doc, grad_doc = VALUE_DOC, GRAD_DOC

    def prepare(self, inp, *, epsilon):
        return inp, {"epsilon": check_number(epsilon, "epsilon", low=-1.0)}

    def softmax(self, inp, *, epsilon):
        return _softmax(inp.x, epsilon)

    def per_row(self, sm, y, *, epsilon):
        """``-log p_y + eps (1 - p_y)`` per row, a sum of non-negative terms for every ``eps >= -1``."""
        nll = sm.nll(y)
        u = sm.one_minus_p(y)
        if epsilon >= 0:
            return nll + epsilon * u
        return (1 + epsilon) * u + _log_minus_u(nll, u)  # = nll + eps * u, with nll - u without cancellation

    def row_grad(self, sm, y, *, epsilon):
        if epsilon >= 0:
            factor = 1 + epsilon * np.where(y == sm.k, 1, sm.e[sm.rows, y]) / (1 + sm.s)
        else:
            factor = (1 + epsilon) - epsilon * sm.one_minus_p(y)
        return sm.probs_minus_onehot(y), factor

    def ops_per_row(self, r, *, epsilon):
        ops, eps = r.ops, float(epsilon)
        nll = r.nll_of()
        rest = ops.sum(ops.zero_at(r.e, r.y), axis=1)
        u = ops.where(r.y == r.k, rest, rest + 1) / (1 + r.s)  # 1 - p_y, no cancellation
        if eps >= 0:
            return nll + eps * u
        terms = _series_terms(np.dtype(np.float64))
        small = ops.where(u <= 0.5, u, u * 0)
        acc = small * 0 + 1.0 / terms
        for k in range(terms - 1, 1, -1):
            acc = 1.0 / k + small * acc
        return (1 + eps) * u + ops.where(u <= 0.5, small * small * acc, nll - u)

    def exact_row(self, o, nll, p, y, *, epsilon):
        eps = o.MP.mpf(epsilon)
        u = o.fsum(p[j] for j in range(len(p)) if j != y)  # 1 - p_y without cancellation
        if eps >= 0:
            value = nll[y] + eps * u
        else:  # nll - u = sum_{k>=2} u^k / k: a series below 1/2 (it may be far below nll's rounding)
            value = (1 + eps) * u + (_exact_log_minus_u(o, u) if u <= o.MP.mpf(0.5) else nll[y] - u)
        factor = (1 + eps) - eps * u
        return value, [-factor * u if j == y else factor * p[j] for j in range(len(p))]


def _exact_log_minus_u(o, u):
    """``sum_{k>=2} u^k / k`` in mpmath, to the oracle's precision."""
    g, term, k = o.MP.mpf(0), u, 1
    while True:
        k += 1
        term *= u
        g += term / k
        if term / k < g * o.MP.mpf(10) ** (-o.MP.dps - 5):
            return g


# --------------------------------------------------------------------------- the optax built-in


def _optax_poly(backend, *, logits, labels, class_weights=None, epsilon=1.0, reduction):
    """``optax.losses.poly_loss_cross_entropy`` on one-hot labels, times ``w[y]``, reduced by hand."""
    import jax
    import optax

    jnp = jax.numpy
    onehot = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    per = optax.losses.poly_loss_cross_entropy(logits, onehot, epsilon=epsilon)
    w = jnp.ones_like(per) if class_weights is None else class_weights[labels]
    per = per * w
    if reduction == "none":
        return per
    total = jnp.sum(per)
    if reduction == "sum":
        return total
    return total / (per.shape[0] if reduction == "mean" else jnp.sum(w))


def _optax_poly_supports(kw: dict[str, Any], reduction: str) -> bool:
    return np.ndim(kw["logits"]) == 2 and np.ndim(kw["labels"]) == 1


OPTAX_POLY = Builtin(
    "optax.poly_loss_cross_entropy",
    "poly1_ce",
    _optax_poly,
    _optax_poly_supports,
    note="optax.losses.poly_loss_cross_entropy(x, one_hot(y), epsilon=) * w[y], reduced by hand; optax's default "
    "epsilon is 2.0 (ours 1.0): poly1_ce(..., epsilon=2.0) reproduces it",
    defaults="poly1_ce(x, y, epsilon=2.0, reduction='none')",
    framework="jax",
)


# --------------------------------------------------------------------------- agreement cases

def _confident(rng, n, c):
    x = rng.normal(size=(n, c))
    y = rng.integers(0, c, size=n)
    x[np.arange(n), y] += rng.uniform(4.0, 12.0, size=n)
    return x, y


def _case(name, n=32, c=5, spread=3.0, *, weights=True, large=False, confident=False, **extra):
    def build(rng):
        if large:
            x = rng.choice([-1e4, 1e4], size=(n, c)) * rng.uniform(0.5, 1.0, size=(n, c))
            y = rng.integers(0, c, size=n)
        elif confident:
            x, y = _confident(rng, n, c)
        else:
            x, y = rng.normal(size=(n, c)) * spread, rng.integers(0, c, size=n)
        kw = {"logits": x, "labels": y, "class_weights": rng.uniform(0.5, 3.0, size=c) if weights else None}
        kw.update({k: (v(rng, n, c) if callable(v) else v) for k, v in extra.items()})
        if kw.get("ignore_index") is not None:
            kw["labels"] = np.where(np.arange(n) % 4 == 1, kw["ignore_index"], kw["labels"])
        return kw

    return Case(name, NAME, build, float_args=("logits", "class_weights", "sample_weight"),
                tags=("large",) if large else ())


CASES = (
    _case("random_scale_0.1", spread=0.1),
    _case("random_scale_3", spread=3.0),
    _case("random_scale_30", spread=30.0),
    _case("logits_1e4", n=6, c=4, large=True),
    _case("n_1", n=1),
    _case("c_2", c=2),
    _case("no_weights", weights=False),
    _case("ignore_index", ignore_index=-100),
    _case("sample_weight", sample_weight=lambda rng, n, c: rng.uniform(0.0, 2.0, size=n)),
    _case("epsilon_0", epsilon=0.0),
    _case("epsilon_2", epsilon=2.0),
    _case("epsilon_-1", epsilon=-1.0),
    _case("epsilon_-0.5_confident", confident=True, epsilon=-0.5),
    _case("epsilon_-1_confident", confident=True, epsilon=-1.0),
    _case("epsilon_-1_confident_n_1", n=1, confident=True, epsilon=-1.0),
    nd_case(NAME, {"epsilon": 2.0}),
    nd_case(NAME, {"epsilon": -1.0}, channels_last=True),
)


def _bench(n: int, c: int, rng: np.random.Generator) -> dict[str, Any]:
    return {
        "logits": rng.normal(scale=3.0, size=(n, c)),
        "labels": rng.integers(0, c, n),
        "class_weights": rng.uniform(0.5, 5.0, c),
    }


def _train(y: np.ndarray, *, n_classes: int, epsilon: float = 1.0, class_weights: Any = None) -> dict[str, Any]:
    """The loss's arguments for training: ``epsilon`` and the class weights (nothing depends on ``y``)."""
    return {"epsilon": check_number(epsilon, "epsilon", low=-1.0), "class_weights": class_weights}


LOSS = Poly1().loss(cases=CASES, builtins=(OPTAX_POLY,), bench=_bench, train=_train)
poly1_ce, poly1_ce_grad = LOSS.value, LOSS.grad
