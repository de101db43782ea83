"""High-precision oracle for every loss and gradient, and ULP error measurement.

The oracle evaluates the mathematical definitions with :mod:`mpmath` at
``DPS`` significant decimal digits (default 50, about 166 bits), from the exact
values of the inputs as the implementation under test received them (already
rounded to its dtype). Results are returned as NumPy object arrays of
``mpmath.mpf``.

Error measure
-------------
For an implementation result ``got`` (any float dtype) and the exact value
``exact``, :func:`error_stats` reports

* ``max_abs``: :math:`\\max_i |got_i - exact_i|`;
* ``max_rel``: :math:`\\max_i |got_i - exact_i| / \\max(|exact_i|, \\text{tiny})`;
* ``max_ulp``: the error in units in the last place of the dtype,
  *relative to the largest exact magnitude of the array*:

  .. math::

      \\text{ulp error} = \\frac{\\max_i |got_i - exact_i|}{\\operatorname{ulp}_{\\text{dtype}}(\\max_j |exact_j|)}

  For a scalar (a reduced loss) this is the usual ULP distance. For an array
  (a gradient, or per-sample losses) it is the norm-wise ULP error: gradients
  contain entries such as :math:`p_c - q_c` whose exact value may be far below
  the array's scale, where no floating-point algorithm can deliver a small
  element-wise relative error, so element-wise ULPs would measure the problem's
  conditioning, not the implementation. ``ulp`` of a value below the dtype's
  smallest normal is the subnormal spacing, so results that underflow to zero
  count as exact.

``mpmath`` is an optional dependency (extra ``test``); importing this module
without it raises an ImportError that says how to install it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._exact_forms import EXACT as _EXACT

try:
    import mpmath
except ImportError as exc:  # pragma: no cover - exercised only without mpmath
    raise ImportError("wce_ref.oracle needs mpmath: pip install 'wce-ref[test]' (or pip install mpmath)") from exc

__all__ = [
    "DPS",
    "MP",
    "ErrorStats",
    "Rows",
    "error_stats",
    "fsum",
    "mp_array",
    "reduce",
    "sigmoid_family",
    "softmax_core",
    "softmax_family",
    "to_float64",
    "ulp",
]

DPS = 50
_MP = mpmath.MPContext()
_MP.dps = DPS

# (mantissa bits after the point, minimum normal exponent) per dtype name
_FORMATS = {"float64": (52, -1022), "float32": (23, -126), "float16": (10, -14), "bfloat16": (7, -126)}


def _mp_array(a: Any) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    out = np.empty(arr.shape, dtype=object)
    flat = out.reshape(-1)
    for i, v in enumerate(arr.reshape(-1)):
        flat[i] = _MP.mpf(float(v))
    return out


def to_float64(exact: np.ndarray) -> np.ndarray:
    """Round an object array of mpf to float64."""
    return np.vectorize(float, otypes=[np.float64])(exact) if np.ndim(exact) else np.float64(float(exact))


def ulp(x: Any, dtype: Any) -> np.ndarray:
    """Unit in the last place of ``|x|`` in ``dtype`` (subnormal spacing below the normal range)."""
    bits, emin = _FORMATS[_name(dtype)]
    x = np.abs(np.asarray(x, dtype=np.float64))
    _, e = np.frexp(x)  # x = f * 2**e with f in [0.5, 1)
    return np.ldexp(1.0, np.maximum(e - 1, emin) - bits)


def _name(dtype: Any) -> str:
    return dtype if isinstance(dtype, str) else np.dtype(dtype).name


def _max_finite(dtype: Any) -> float:
    bits, _ = _FORMATS[_name(dtype)]
    emax = {"float64": 1023, "float32": 127, "float16": 15, "bfloat16": 127}[_name(dtype)]
    return float(np.ldexp(2.0 - 2.0**-bits, emax))


@dataclass(frozen=True)
class ErrorStats:
    """Errors of one result against the oracle."""

    max_abs: float
    max_rel: float
    max_ulp: float

    def as_dict(self) -> dict[str, float]:
        return {"max_abs": self.max_abs, "max_rel": self.max_rel, "max_ulp": self.max_ulp}


def error_stats(got: Any, exact: np.ndarray, dtype: Any) -> ErrorStats:
    """Compare ``got`` with the oracle's ``exact`` (see the module docstring).

    The difference is taken in double-double arithmetic (``exact = hi + lo``), so
    that float64 results are measured well below one ULP.
    """
    got64 = np.asarray(np.asarray(got).astype(np.float64), dtype=np.float64)
    exact = np.asarray(exact, dtype=object)
    hi = np.asarray(to_float64(exact))
    lo = np.asarray(to_float64(exact - hi.astype(object)) if exact.ndim else float(exact - _MP.mpf(float(hi))))
    if got64.shape != hi.shape:
        raise ValueError(f"result shape {got64.shape} differs from the oracle's {hi.shape}")
    # an exact value beyond the dtype's range is correctly rounded to +-inf
    overflow = np.abs(hi) > _max_finite(dtype)
    matched_inf = overflow & np.isinf(got64) & (np.sign(got64) == np.sign(hi))
    if not (np.isfinite(got64) | matched_inf).all():
        return ErrorStats(float("inf"), float("inf"), float("inf"))
    got64 = np.where(matched_inf, hi, got64)
    lo = np.where(matched_inf, 0.0, lo)
    err = np.abs((got64 - hi) - lo)
    tiny = np.finfo(np.float64).tiny
    max_abs = float(err.max()) if err.size else 0.0
    rel = err / np.maximum(np.abs(hi), tiny)
    scale = float(np.abs(hi).max()) if hi.size else 0.0
    return ErrorStats(max_abs, float(rel.max()) if rel.size else 0.0, max_abs / float(ulp(scale, dtype)))


# --------------------------------------------------------------------------- tools for the exact losses
# Each loss module writes its exact form with these (``wce_ref.losses.<name>.exact``).

MP = _MP


def mp_array(a: Any) -> np.ndarray:
    """An object array of mpf holding the exact values of ``a`` (as float64)."""
    return _mp_array(a)


def fsum(values) -> Any:
    """Exact sum of mpf values."""
    return _MP.fsum(list(values))


def log1pexp(x) -> Any:
    """log(1 + exp(x)) exactly enough for any x."""
    return x + _MP.log1p(_MP.exp(-x)) if x > 0 else _MP.log1p(_MP.exp(x))


def sigmoid(x) -> Any:
    return 1 / (1 + _MP.exp(-x))


def reduce(per: np.ndarray, grad: np.ndarray, reduction: str, norm) -> tuple[Any, np.ndarray]:
    """Reduce exact per-element losses and gradients (``none`` keeps them)."""
    if reduction == "none":
        return per, grad
    total = fsum(per.reshape(-1))
    return total / norm, grad / norm


def sigmoid_family(
    element: Any,
    logits: Any,
    targets: Any,
    *,
    weights: dict[str, Any] | None = None,
    sample_weight: Any = None,
    reduction: str = "mean",
) -> tuple[Any, np.ndarray]:
    r"""The exact value and gradient of a sigmoid-family (element-wise) loss from the exact form of one element.

    The family's part, written once here (independently of :mod:`wce_ref.losses`): the broadcast of the
    element-wise weights and of the sample weights :math:`s` to the logits' shape, and the reductions

    .. math::

        \text{sum} = \sum_j s_j \ell_j, \qquad \text{mean} = \frac{\text{sum}}{n}

    over the :math:`n` elements (``mean`` of an empty batch is 0).

    Parameters
    ----------
    element : callable
        ``element(x, t, **w) -> (value, grad)``: one element's loss and its derivative in mpmath, from its logit
        ``x`` and target ``t`` (mpf) and its entries of ``weights`` (mpf).
    logits, targets : array_like
        As the loss takes them (the targets of the logits' shape).
    weights : dict of name -> array_like, optional
        The loss's element-wise weights (``pos_weight``), each broadcast to the logits' shape.
    sample_weight, reduction
        As the loss takes them.

    Returns
    -------
    value : mpf, or object array of the logits' shape for ``none``
    grad : object array of the logits' shape
    """
    x, t = _mp_array(logits), _mp_array(targets)
    ws = {k: np.broadcast_to(_mp_array(v), x.shape) for k, v in (weights or {}).items()}
    sw = np.broadcast_to(_mp_array(1.0 if sample_weight is None else sample_weight), x.shape)
    per = np.empty(x.shape, dtype=object)
    grad = np.empty(x.shape, dtype=object)
    for idx in np.ndindex(x.shape):
        value, g = element(x[idx], t[idx], **{k: w[idx] for k, w in ws.items()})
        per[idx], grad[idx] = sw[idx] * value, sw[idx] * g
    return reduce(per, grad, reduction, max(x.size, 1) if reduction == "mean" else 1)


def row_softmax(row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``-log softmax(row)`` and ``softmax(row)`` of one row of mpf."""
    k = max(range(len(row)), key=lambda j: row[j])
    m = row[k]
    ex = [_MP.exp(v - m) for v in row]
    rest = fsum(ex[j] for j in range(len(row)) if j != k)
    lse_minus_m = _MP.log1p(rest)  # log(sum exp(x - m)), exact for tiny ``rest``
    total = 1 + rest
    nll = np.array([(m - v) + lse_minus_m for v in row], dtype=object)
    p = np.array([e / total for e in ex], dtype=object)
    return nll, p


def softmax_core(x: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row ``sum_c a_ic (-log p_ic)`` and its gradient ``(sum_c a_ic) p_i - a_i`` for coefficients ``a``."""
    n, c = x.shape
    per = np.empty(n, dtype=object)
    grad = np.empty((n, c), dtype=object)
    for i in range(n):
        nll, p = row_softmax(x[i])
        per[i] = fsum(a[i, j] * nll[j] for j in range(c))
        total_a = fsum(a[i])
        for j in range(c):
            grad[i, j] = total_a * p[j] - a[i, j]
    return per, grad


class Rows:
    """Softmax-family inputs flattened to rows, exactly: ``x`` (M, C) of mpf, ``labels`` (M,) or ``q`` (M, C).

    :meth:`finish` applies the sample weights, reduces, and puts the gradient
    back into the logits' layout.
    """

    def __init__(self, logits: Any, labels: Any, class_axis: int = 1, sample_weight: Any = None) -> None:
        x = np.asarray(logits, dtype=np.float64)
        self.axis = class_axis % x.ndim
        xl = np.moveaxis(x, self.axis, -1)
        self.c = xl.shape[-1]
        self.positions = xl.shape[:-1]
        self.x = _mp_array(xl.reshape(-1, self.c))
        self.m = self.x.shape[0]
        lab = np.asarray(labels)
        self.soft = lab.ndim == x.ndim
        if self.soft:
            self.q = _mp_array(np.moveaxis(lab, self.axis, -1).reshape(-1, self.c))
            self.labels = None
        else:
            self.labels = lab.reshape(-1).astype(np.int64)
        sw = np.ones(self.positions) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        sw = sw.reshape(sw.shape + (1,) * (len(self.positions) - sw.ndim))
        self.sw = _mp_array(np.broadcast_to(sw, self.positions).reshape(-1))
        self.argmax = [int(np.argmax(r)) for r in xl.reshape(-1, self.c)] if self.c else []

    def finish(self, per: np.ndarray, grad: np.ndarray, reduction: str, norm: Any) -> tuple[Any, np.ndarray]:
        per = per * self.sw
        grad = grad * self.sw[:, None]
        value, g = reduce(per, grad, reduction, norm)
        if reduction == "none":
            value = value.reshape(self.positions)
        g = np.moveaxis(g.reshape(*self.positions, self.c), -1, self.axis)
        return value, g


def softmax_family(
    row: Any,
    logits: Any,
    labels: Any,
    *,
    class_weights: Any = None,
    sample_weight: Any = None,
    reduction: str = "weighted_mean",
    ignore_index: int | None = None,
    class_axis: int = 1,
) -> tuple[Any, np.ndarray]:
    r"""The exact value and gradient of a softmax-family loss from the exact form of one row.

    The family's part, written once here (independently of :mod:`wce_ref.losses`): the layout (:class:`Rows`),
    ``ignore_index``, the sample weights :math:`s_i` and the reductions over the non-ignored rows :math:`V`,
    ``mean`` dividing by :math:`|V|` (by :math:`M` for probability labels) and ``weighted_mean`` by
    :math:`\sum_{i \in V} s_i w_{y_i}` (by :math:`M` for probability labels).

    Parameters
    ----------
    row : callable
        ``row(x_i, target_i, w) -> (value, grad)``: one row's loss (class weights ``w`` applied) and its
        gradient (C,) in mpmath, from its logits ``x_i`` (C,) of mpf and its label (an int) or probability
        row (C,) of mpf; called for the non-ignored rows only (the others are 0).
    logits, labels, class_weights, sample_weight, reduction, ignore_index, class_axis
        As the loss takes them.

    Returns
    -------
    value : mpf, or object array of the labels' shape for ``none``
    grad : object array of the logits' shape
    """
    rows = Rows(logits, labels, class_axis, sample_weight)
    w = _mp_array(np.ones(rows.c) if class_weights is None else class_weights)
    per = np.full(rows.m, _MP.mpf(0), dtype=object)
    grad = np.full((rows.m, rows.c), _MP.mpf(0), dtype=object)
    valid = [rows.soft or rows.labels[i] != ignore_index for i in range(rows.m)]
    for i in range(rows.m):
        if valid[i]:
            per[i], grad[i] = row(rows.x[i], rows.q[i] if rows.soft else int(rows.labels[i]), w)
    if reduction in ("none", "sum") or rows.m == 0:
        norm = 1
    elif rows.soft:
        norm = rows.m
    elif reduction == "mean":
        norm = sum(valid)
    else:
        norm = fsum(w[int(rows.labels[i])] * rows.sw[i] for i in range(rows.m) if valid[i])
    return rows.finish(per, grad, reduction, norm)


def __getattr__(name: str) -> Any:
    """``oracle.<loss>`` is the exact form of a registered loss (``oracle.softmax_wce(...) -> (value, grad)``).

    The forms come from :data:`wce_ref._exact_forms.EXACT`, which :func:`wce_ref.losses.register` fills: this
    module imports nothing from the losses it checks.
    """
    if name in _EXACT:
        return _EXACT[name]
    raise AttributeError(f"module 'wce_ref.oracle' has no attribute {name!r}")
