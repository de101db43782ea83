"""Class-weight schemes: one weight per class from the class counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._validation import WCEInputError, WCETypeError

__all__ = ["SCHEMES", "class_weights", "batch_weights", "sample_weights"]


def _balanced(counts: np.ndarray, n: int, k: int, beta: float) -> np.ndarray:
    return n / (k * counts)


def _inverse(counts: np.ndarray, n: int, k: int, beta: float) -> np.ndarray:
    return 1.0 / counts


def _inverse_sqrt(counts: np.ndarray, n: int, k: int, beta: float) -> np.ndarray:
    return 1.0 / np.sqrt(counts)


def _effective_number(counts: np.ndarray, n: int, k: int, beta: float) -> np.ndarray:
    # (1 - beta) / (1 - beta**n), with -expm1(n * log(beta)) for 1 - beta**n (accurate for beta near 1)
    return -np.expm1(np.log(beta)) / -np.expm1(counts * np.log(beta))


def _enet(counts: np.ndarray, n: int, k: int, beta: float) -> np.ndarray:
    return 1.0 / np.log(1.02 + counts / n)


#: Registered weight schemes: name -> f(counts, n_samples, n_present_classes, beta).
SCHEMES: dict[str, Callable[[np.ndarray, int, int, float], np.ndarray]] = {
    "balanced": _balanced,
    "inverse": _inverse,
    "inverse_sqrt": _inverse_sqrt,
    "effective_number": _effective_number,
    "enet": _enet,
}

_NORMALIZE = (None, "sum", "classes")


#: the largest number of classes (and the bound on labels) a weight vector may have: 2**24 classes,
#: 128 MiB of float64 weights. A larger label is almost always a mistake (an id, a hash, a wrapped
#: negative), and checking it first keeps ``np.bincount`` from allocating memory in proportion to it.
MAX_CLASSES = 2**24


def _as_array(value: Any, name: str) -> np.ndarray:
    """``np.asarray(value)``, with NumPy's errors for ragged or odd input turned into one naming ``name``."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists: "inhomogeneous shape ..."
        what = "a ragged nested sequence" if "inhomogeneous" in str(exc) else f"{type(value).__name__} ({exc})"
        raise WCEInputError(f"{name} must be a rectangular array of numbers; received {what}") from None


def _check_n_classes(n_classes: Any) -> int:
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)):
        raise WCETypeError(f"n_classes must be a positive int; received {type(n_classes).__name__} {n_classes!r}")
    if not 1 <= n_classes <= MAX_CLASSES:
        raise WCEInputError(f"n_classes must be an int in [1, {MAX_CLASSES:,}]; received {n_classes!r}")
    return int(n_classes)


def _absent_classes(present: np.ndarray, k: int) -> list[int]:
    """Up to 10 classes of ``0 .. k-1`` missing from the sorted unique ``present`` (without an array of size k)."""
    candidates = np.arange(min(k, present.size + 10))
    return np.setdiff1d(candidates, present, assume_unique=True)[:10].tolist()


def _check_labels(labels: Any, n_classes: int | None, *, of_weights: bool = False) -> tuple[np.ndarray, int]:
    """Labels as int64 class indices and the number of classes; every check comes before any counting.

    ``of_weights``: the labels index a weight vector of length ``n_classes`` (``sample_weights``).
    Empty labels are an error either way: there is nothing to weight.
    """
    y = _as_array(labels, "labels")
    need = "sample_weights needs at least one label" if of_weights else "class weights need at least one sample"
    if y.size == 0 and y.ndim == 1:
        raise WCEInputError(f"labels is empty (received {np.asarray(labels).tolist()!r}): {need}")
    if not (np.issubdtype(y.dtype, np.integer) or y.dtype == bool):
        raise WCETypeError(f"labels must be integer class indices; received an array of dtype {y.dtype}")
    if y.ndim != 1:
        raise WCEInputError(f"labels must be one-dimensional; received shape {y.shape}")
    if of_weights:
        k = int(n_classes or 0)
        bound = f"[0, {k}) to index weights of length {k}"
    else:
        k = None if n_classes is None else _check_n_classes(n_classes)
        bound = f"[0, {k}) for n_classes={k}"
    if y.size == 0:  # shape (0, k) and the like
        raise WCEInputError(f"labels is empty (shape {y.shape}): {need}")
    lo, hi = int(y.min()), int(y.max())  # Python ints: uint64 labels near 2**64 do not wrap to negatives
    if lo < 0:
        raise WCEInputError(f"labels must be non-negative class indices; received {lo}")
    if k is None:
        if hi >= MAX_CLASSES:
            raise WCEInputError(f"labels must be class indices below {MAX_CLASSES:,}; received label {hi}")
        k = hi + 1
    elif hi >= k:
        raise WCEInputError(f"labels must lie in {bound}; received label {hi}")
    return y.astype(np.int64), k


def _check_options(scheme: Any, beta: Any, normalize: Any) -> float:
    """Validate ``scheme``, ``beta`` and ``normalize``; return ``beta`` as a float."""
    if not isinstance(scheme, str) or scheme not in SCHEMES:
        raise WCEInputError(f"scheme must be one of {sorted(SCHEMES)}; received {type(scheme).__name__} {scheme!r}")
    if normalize is not None and (not isinstance(normalize, str) or normalize not in _NORMALIZE):
        raise WCEInputError(f"normalize must be one of {_NORMALIZE}; received {type(normalize).__name__} {normalize!r}")
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, (int, float, np.integer, np.floating)):
        raise WCETypeError(f"beta must be a real number in [0, 1); received {type(beta).__name__} {beta!r}")
    beta_f = float(beta)
    if not 0.0 <= beta_f < 1.0:  # also rejects NaN
        raise WCEInputError(f"beta must lie in [0, 1); received {beta!r}")
    return beta_f


def class_weights(
    labels: Any,
    scheme: str = "balanced",
    *,
    n_classes: int | None = None,
    beta: float = 0.999,
    normalize: str | None = None,
) -> np.ndarray:
    r"""One weight per class, computed from the class counts of ``labels``.

    With :math:`n_c` samples of class :math:`c`, :math:`n` samples and :math:`K`
    classes:

    .. math::

        \text{balanced: } w_c = \frac{n}{K\, n_c} \qquad
        \text{inverse: } w_c = \frac{1}{n_c} \qquad
        \text{inverse\_sqrt: } w_c = \frac{1}{\sqrt{n_c}}

    .. math::

        \text{effective\_number: } w_c = \frac{1 - \beta}{1 - \beta^{n_c}} \qquad
        \text{enet: } w_c = \frac{1}{\ln(1.02 + n_c / n)}

    ``balanced`` is scikit-learn's ``compute_class_weight("balanced")``;
    ``effective_number`` is Cui et al. (CVPR 2019), "Class-Balanced Loss Based on
    Effective Number of Samples"; ``enet`` is Paszke et al. (2016), ENet.

    **Absent classes.** Without ``n_classes``, the classes are
    ``0 .. labels.max()`` and every one must occur: a class with no sample is an
    error. When ``n_classes`` is given (as for a mini-batch that may miss some
    classes), a class with no sample gets weight 0 (it has no sample to weight,
    so this changes no loss except a label-smoothing term), and :math:`K` in
    ``balanced`` counts the classes present.

    Parameters
    ----------
    labels : array_like of int, shape (n,)
        Class indices.
    scheme : {"balanced", "inverse", "inverse_sqrt", "effective_number", "enet"}
    n_classes : int, optional
        Number of classes; needed when some may be absent from ``labels``.
    beta : float in [0, 1)
        Parameter of ``effective_number``.
    normalize : {None, "sum", "classes"}
        Rescale so that the weights sum to 1 (``"sum"``) or to the number of
        classes (``"classes"``).

    Returns
    -------
    weights : ndarray of float64, shape (n_classes,)

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import class_weights
    >>> y = np.array([0] * 90 + [1] * 10)
    >>> class_weights(y)
    array([0.55555556, 5.        ])
    >>> class_weights(y, "effective_number", beta=0.99, normalize="classes").round(4)
    array([0.2768, 1.7232])
    """
    beta_f = _check_options(scheme, beta, normalize)
    y, k = _check_labels(labels, n_classes)
    if n_classes is None:
        present_classes = np.unique(y)
        if present_classes.size != k:
            raise WCEInputError(
                f"labels has no sample of class(es) {_absent_classes(present_classes, k)} below its largest label "
                f"{k - 1}; pass n_classes={k} to give absent classes weight 0"
            )
    counts = np.bincount(y, minlength=k).astype(np.float64)
    present = counts > 0
    w = np.zeros(k)
    if scheme == "effective_number" and beta_f == 0.0:
        w[present] = 1.0
    else:
        w[present] = SCHEMES[scheme](counts[present], y.size, int(present.sum()), beta_f)
    if normalize is not None:
        w = w / w.sum() * (1.0 if normalize == "sum" else k)
    return w


def batch_weights(
    labels: Any,
    n_classes: int,
    scheme: str = "balanced",
    *,
    beta: float = 0.999,
    normalize: str | None = None,
) -> np.ndarray:
    r"""Class weights recomputed from one mini-batch's own class counts.

    This is the "dynamic per-batch" weighting used in Keras training loops:
    before each step, :func:`class_weights` is applied to the batch's labels.
    ``n_classes`` is required because a batch may miss classes; absent classes
    get weight 0.

    .. math::

        w^{(b)}_c = \text{scheme}\bigl(n^{(b)}_c\bigr), \quad n^{(b)}_c = |\{i \in b : y_i = c\}|

    Parameters
    ----------
    labels : array_like of int, shape (batch_size,)
    n_classes : int
    scheme, beta, normalize
        As for :func:`class_weights`.

    Returns
    -------
    weights : ndarray of float64, shape (n_classes,)

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import batch_weights
    >>> batch_weights(np.array([0, 0, 0, 2]), n_classes=3)
    array([0.66666667, 0.        , 2.        ])
    """
    if n_classes is None:
        raise WCEInputError("n_classes is required for batch_weights: a batch may miss classes")
    return class_weights(labels, scheme, n_classes=n_classes, beta=beta, normalize=normalize)


def sample_weights(labels: Any, weights: Any) -> np.ndarray:
    r"""Per-sample weights :math:`s_i = w_{y_i}` from per-class weights.

    This is the form Keras' ``sample_weight=`` and scikit-learn's
    ``sample_weight=`` take.

    Parameters
    ----------
    labels : array_like of int, shape (n,)
    weights : array_like, shape (n_classes,)

    Returns
    -------
    ndarray of float64, shape (n,)

    Raises
    ------
    WCEInputError
        Empty labels (``n = 0``: nothing to weight), labels outside ``[0, n_classes)``, weights
        that are empty, negative or not finite.
    WCETypeError
        Labels that are not integers, weights that are not real numbers.

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import sample_weights
    >>> sample_weights(np.array([1, 0, 1]), np.array([0.5, 2.0]))
    array([2. , 0.5, 2. ])
    """
    w = _as_array(weights, "weights")
    if w.dtype.kind not in "biuf":  # strings, objects and complex numbers are not weights
        raise WCETypeError(f"weights must be real numbers; received an array of dtype {w.dtype}")
    if w.ndim != 1:
        raise WCEInputError(f"weights must be a vector of per-class weights; received shape {w.shape}")
    if w.size == 0:
        raise WCEInputError("weights is empty: it needs one weight per class")
    w = w.astype(np.float64)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise WCEInputError(f"weights must be finite and non-negative; received {float(w[i])!r} at index {i}")
    if w.size > MAX_CLASSES:
        raise WCEInputError(f"weights must have at most {MAX_CLASSES:,} entries; received {w.size:,}")
    y, _ = _check_labels(labels, w.size, of_weights=True)
    return w[y]
