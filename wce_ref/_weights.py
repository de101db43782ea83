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


def _check_labels(labels: Any, n_classes: int | None) -> tuple[np.ndarray, int]:
    y = np.asarray(labels)
    if not (np.issubdtype(y.dtype, np.integer) or y.dtype == bool):
        raise WCETypeError(f"labels must be integer class indices; received an array of dtype {y.dtype}")
    if y.ndim != 1:
        raise WCEInputError(f"labels must be one-dimensional; received shape {y.shape}")
    if y.size == 0:
        raise WCEInputError("labels is empty: class weights need at least one sample")
    y = y.astype(np.int64)
    if y.min() < 0:
        raise WCEInputError(f"labels must be non-negative class indices; received {int(y.min())}")
    if n_classes is None:
        k = int(y.max()) + 1
    else:
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
            raise WCEInputError(f"n_classes must be a positive int; received {n_classes!r}")
        k = int(n_classes)
        if y.max() >= k:
            raise WCEInputError(f"labels must lie in [0, {k}) for n_classes={k}; received label {int(y.max())}")
    return y, k


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
    if scheme not in SCHEMES:
        raise WCEInputError(f"scheme must be one of {sorted(SCHEMES)}; received {scheme!r}")
    if normalize not in _NORMALIZE:
        raise WCEInputError(f"normalize must be one of {_NORMALIZE}; received {normalize!r}")
    try:
        beta_f = float(beta)
    except (TypeError, ValueError):
        raise WCETypeError(f"beta must be a number in [0, 1); received {beta!r}") from None
    if not 0.0 <= beta_f < 1.0:
        raise WCEInputError(f"beta must lie in [0, 1); received {beta!r}")
    y, k = _check_labels(labels, n_classes)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    present = counts > 0
    if n_classes is None and not present.all():
        missing = np.flatnonzero(~present).tolist()
        raise WCEInputError(
            f"labels has no sample of class(es) {missing[:10]} below its largest label {k - 1}; "
            f"pass n_classes={k} to give absent classes weight 0"
        )
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

    Examples
    --------
    >>> import numpy as np
    >>> from wce_ref import sample_weights
    >>> sample_weights(np.array([1, 0, 1]), np.array([0.5, 2.0]))
    array([2. , 0.5, 2. ])
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1:
        raise WCEInputError(f"weights must be a vector of per-class weights; received shape {w.shape}")
    y, _ = _check_labels(labels, len(w))
    return w[y]
