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

try:
    import mpmath
except ImportError as exc:  # pragma: no cover - exercised only without mpmath
    raise ImportError("wce_ref.oracle needs mpmath: pip install 'wce-ref[test]' (or pip install mpmath)") from exc

__all__ = ["DPS", "ErrorStats", "error_stats", "sigmoid_wce", "softmax_wce", "cost_sensitive_ce", "to_float64", "ulp"]

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


# --------------------------------------------------------------------------- exact losses


def _sum(values) -> Any:
    return _MP.fsum(list(values))


def _log1pexp(x) -> Any:
    """log(1 + exp(x)) exactly enough for any x."""
    return x + _MP.log1p(_MP.exp(-x)) if x > 0 else _MP.log1p(_MP.exp(x))


def _sigmoid(x) -> Any:
    return 1 / (1 + _MP.exp(-x))


def _reduce(per: np.ndarray, grad: np.ndarray, reduction: str, norm) -> tuple[Any, np.ndarray]:
    if reduction == "none":
        return per, grad
    total = _sum(per.reshape(-1))
    return total / norm, grad / norm


def sigmoid_wce(logits, targets, *, pos_weight=1.0, neg_weight=1.0, reduction="mean") -> tuple[Any, np.ndarray]:
    """Exact :func:`wce_ref.sigmoid_wce` and its gradient: ``(value, grad)``."""
    x = _mp_array(logits)
    t = _mp_array(targets)
    pw = np.broadcast_to(_mp_array(pos_weight), x.shape)
    nw = np.broadcast_to(_mp_array(neg_weight), x.shape)
    per = np.empty(x.shape, dtype=object)
    grad = np.empty(x.shape, dtype=object)
    for idx in np.ndindex(x.shape):
        xi, ti = x[idx], t[idx]
        # -log sigmoid(x) = log(1 + exp(-x)); -log(1 - sigmoid(x)) = log(1 + exp(x))
        per[idx] = pw[idx] * ti * _log1pexp(-xi) + nw[idx] * (1 - ti) * _log1pexp(xi)
        grad[idx] = -pw[idx] * ti * _sigmoid(-xi) + nw[idx] * (1 - ti) * _sigmoid(xi)
    return _reduce(per, grad, reduction, x.size if reduction == "mean" else 1)


def _row_nll(row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``-log softmax(row)`` and ``softmax(row)`` of one row of mpf."""
    k = max(range(len(row)), key=lambda j: row[j])
    m = row[k]
    ex = [_MP.exp(v - m) for v in row]
    rest = _sum(ex[j] for j in range(len(row)) if j != k)
    lse_minus_m = _MP.log1p(rest)  # log(sum exp(x - m)), exact for tiny ``rest``
    total = 1 + rest
    nll = np.array([(m - v) + lse_minus_m for v in row], dtype=object)
    p = np.array([e / total for e in ex], dtype=object)
    return nll, p


def _coefficients(n, c, labels, w, label_smoothing, ignore_index):
    """Per-class coefficients a_ic of the loss sum_c a_ic (-log p_ic), and the valid mask."""
    eps = _MP.mpf(label_smoothing)
    lab = np.asarray(labels)
    a = np.empty((n, c), dtype=object)
    a.fill(_MP.mpf(0))
    if lab.ndim == 2:
        q = _mp_array(lab)
        for i in range(n):
            for j in range(c):
                a[i, j] = w[j] * (q[i, j] * (1 - eps) + eps / c)
        return a, np.ones(n, dtype=bool)
    valid = np.ones(n, dtype=bool) if ignore_index is None else lab != ignore_index
    for i in range(n):
        if not valid[i]:
            continue
        for j in range(c):
            a[i, j] = eps / c * w[j]
        a[i, int(lab[i])] += (1 - eps) * w[int(lab[i])]
    return a, valid


def _softmax_core(x: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, c = x.shape
    per = np.empty(n, dtype=object)
    grad = np.empty((n, c), dtype=object)
    for i in range(n):
        nll, p = _row_nll(x[i])
        per[i] = _sum(a[i, j] * nll[j] for j in range(c))
        total_a = _sum(a[i])
        for j in range(c):
            grad[i, j] = total_a * p[j] - a[i, j]
    return per, grad


def softmax_wce(
    logits, labels, *, class_weights=None, reduction="weighted_mean", label_smoothing=0.0, ignore_index=None
) -> tuple[Any, np.ndarray]:
    """Exact :func:`wce_ref.softmax_wce` and its gradient: ``(value, grad)``."""
    x = _mp_array(logits)
    n, c = x.shape
    w = _mp_array(np.ones(c) if class_weights is None else class_weights)
    a, valid = _coefficients(n, c, labels, w, label_smoothing, ignore_index)
    per, grad = _softmax_core(x, a)
    lab = np.asarray(labels)
    if reduction in ("none", "sum"):
        norm = 1
    elif lab.ndim == 2:
        norm = n
    elif reduction == "mean":
        norm = int(valid.sum())
    else:
        norm = _sum(w[int(lab[i])] for i in range(n) if valid[i])
    return _reduce(per, grad, reduction, norm)


def cost_sensitive_ce(logits, labels, cost_matrix, *, reduction="mean") -> tuple[Any, np.ndarray]:
    """Exact :func:`wce_ref.cost_sensitive_ce` and its gradient: ``(value, grad)``."""
    x = _mp_array(logits)
    n, c = x.shape
    cost = _mp_array(cost_matrix)
    lab = np.asarray(labels)
    a = np.empty((n, c), dtype=object)
    a.fill(_MP.mpf(0))
    weights = []
    for i in range(n):
        pred = int(np.argmax(np.asarray(logits, dtype=np.float64)[i]))
        weights.append(cost[int(lab[i]), pred])
        a[i, int(lab[i])] = weights[-1]
    per, grad = _softmax_core(x, a)
    norm = {"mean": n, "weighted_mean": _sum(weights)}.get(reduction, 1)
    return _reduce(per, grad, reduction, norm)
