"""Poly-1 cross entropy (Leng et al., ICLR 2022): weighted cross entropy plus ``epsilon * (1 - p_y)``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import REDUCTIONS_SOFTMAX, check_number
from ._base import Builtin, Case, Loss
from ._common import Softmax, check_softmax
from ._generic import SoftmaxRows
from ._softmax_wce import nd_case

__all__ = ["LOSS", "poly1_ce", "poly1_ce_grad"]


def _prepare(logits, labels, epsilon, class_weights, sample_weight, reduction, ignore_index, class_axis):
    inp = check_softmax(logits, labels, class_weights=class_weights, sample_weight=sample_weight,
                        reduction=reduction, ignore_index=ignore_index, class_axis=class_axis, allow_soft=False)
    return inp, check_number(epsilon, "epsilon", low=-1.0)


def check(logits, labels, *, epsilon=1.0, class_weights=None, sample_weight=None, reduction="weighted_mean",
          ignore_index=None, class_axis=1) -> dict[str, Any]:
    """Validate the arguments of :func:`poly1_ce`; return the normalised non-array ones."""
    inp, eps = _prepare(logits, labels, epsilon, class_weights, sample_weight, reduction, ignore_index, class_axis)
    return {"reduction": inp.reduction, "ignore_index": inp.ignore_index, "class_axis": inp.class_axis,
            "epsilon": eps}


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


def _per_row(sm: Softmax, y: np.ndarray, eps: float) -> np.ndarray:
    """``-log p_y + eps (1 - p_y)`` per row, a sum of non-negative terms for every ``eps >= -1``."""
    nll = sm.nll(y)
    u = sm.one_minus_p(y)
    if eps >= 0:
        return nll + eps * u
    return (1 + eps) * u + _log_minus_u(nll, u)  # = nll + eps * u, with nll - u taken without cancellation


def poly1_ce(
    logits: Any,
    labels: Any,
    *,
    epsilon: float = 1.0,
    class_weights: Any = None,
    sample_weight: Any = None,
    reduction: str = "weighted_mean",
    ignore_index: int | None = None,
    class_axis: int = 1,
) -> Any:
    r"""Poly-1 loss: weighted cross entropy plus :math:`\varepsilon (1 - p_y)`.

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
    inp, eps = _prepare(logits, labels, epsilon, class_weights, sample_weight, reduction, ignore_index, class_axis)
    per = inp.w_target * _per_row(_softmax(inp.x, eps), inp.y, eps)
    return inp.reduce(inp.weigh(per))


def poly1_ce_grad(
    logits: Any,
    labels: Any,
    *,
    epsilon: float = 1.0,
    class_weights: Any = None,
    sample_weight: Any = None,
    reduction: str = "weighted_mean",
    ignore_index: int | None = None,
    class_axis: int = 1,
) -> np.ndarray:
    r"""Gradient of :func:`poly1_ce` with respect to the logits.

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
    inp, eps = _prepare(logits, labels, epsilon, class_weights, sample_weight, reduction, ignore_index, class_axis)
    sm = _softmax(inp.x, eps)
    if eps >= 0:
        p_y = np.where(inp.y == sm.k, 1, sm.e[sm.rows, inp.y]) / (1 + sm.s)
        factor = 1 + eps * p_y
    else:
        factor = (1 + eps) - eps * sm.one_minus_p(inp.y)
    grad = sm.probs_minus_onehot(inp.y)
    grad *= (inp.w_target * factor)[:, None]
    return inp.grad(inp.weigh(grad))


def formula(ops, logits, labels, *, epsilon=1.0, class_weights=None, sample_weight=None, reduction="weighted_mean",
            ignore_index=None, class_axis=1):
    """Framework version of :func:`poly1_ce` over the operations table (the same cancellation-free pieces)."""
    r = SoftmaxRows(ops, logits, labels, class_weights=class_weights, sample_weight=sample_weight,
                    reduction=reduction, ignore_index=ignore_index, class_axis=class_axis)
    eps = float(epsilon)
    nll = r.nll_of()
    rest = ops.sum(ops.zero_at(r.e, r.y), axis=1)
    u = ops.where(r.y == r.k, rest, rest + 1) / (1 + r.s)  # 1 - p_y, no cancellation
    if eps >= 0:
        per = nll + eps * u
    else:
        terms = _series_terms(np.dtype(np.float64))
        small = ops.where(u <= 0.5, u, u * 0)
        acc = small * 0 + 1.0 / terms
        for k in range(terms - 1, 1, -1):
            acc = 1.0 / k + small * acc
        per = (1 + eps) * u + ops.where(u <= 0.5, small * small * acc, nll - u)
    if r.w is not None:
        per = r.target_weights() * per
    return r.reduce(r.weigh(per))


def exact(logits, labels, *, epsilon=1.0, class_weights=None, sample_weight=None, reduction="weighted_mean",
          ignore_index=None, class_axis=1):
    """Exact :func:`poly1_ce` and its gradient: ``(value, grad)`` in mpmath."""
    from .. import oracle as o

    mp = o.MP
    rows = o.Rows(logits, labels, class_axis, sample_weight)
    c = rows.c
    w = o.mp_array(np.ones(c) if class_weights is None else class_weights)
    eps = mp.mpf(epsilon)
    per = np.empty(rows.m, dtype=object)
    per.fill(mp.mpf(0))
    grad = np.empty((rows.m, c), dtype=object)
    grad.fill(mp.mpf(0))
    valid = [rows.labels[i] != ignore_index for i in range(rows.m)]
    for i in range(rows.m):
        if not valid[i]:
            continue
        y = int(rows.labels[i])
        nll, p = o.row_softmax(rows.x[i])
        u = o.fsum(p[j] for j in range(c) if j != y)  # 1 - p_y without cancellation
        if eps >= 0:
            per[i] = w[y] * (nll[y] + eps * u)
        else:  # nll - u = sum_{k>=2} u^k / k: a series below 1/2 (it may be far below nll's rounding)
            if u <= mp.mpf(0.5):
                g, term, k = mp.mpf(0), u, 1
                while True:
                    k += 1
                    term *= u
                    g += term / k
                    if term / k < g * mp.mpf(10) ** (-mp.dps - 5):
                        break
            else:
                g = nll[y] - u
            per[i] = w[y] * ((1 + eps) * u + g)
        factor = w[y] * ((1 + eps) - eps * u)
        for j in range(c):
            grad[i, j] = -factor * u if j == y else factor * p[j]
    if reduction in ("none", "sum") or rows.m == 0:
        norm = 1
    elif reduction == "mean":
        norm = sum(valid)
    else:
        norm = o.fsum(w[int(rows.labels[i])] * rows.sw[i] for i in range(rows.m) if valid[i])
    return rows.finish(per, grad, reduction, norm)


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

NAME = "poly1_ce"


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


LOSS = Loss(
    name=NAME,
    class_name="Poly1Loss",
    family="softmax",
    value=poly1_ce,
    grad=poly1_ce_grad,
    check=check,
    formula=formula,
    exact=exact,
    arrays=("logits", "labels", "class_weights", "sample_weight"),
    positional=2,
    float_args=("logits", "class_weights", "sample_weight"),
    reductions=REDUCTIONS_SOFTMAX,
    cases=CASES,
    builtins=(OPTAX_POLY,),
    bench=_bench,
    bench_reduction="weighted_mean",
    train=_train,
)
