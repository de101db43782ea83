"""NumPy building blocks shared by the reference losses: stable softmax pieces, softplus, validated inputs.

Numerical approach
------------------
Every quantity is written as a sum of non-negative terms so that no
catastrophic cancellation occurs, whatever the scale of the logits:

* ``softplus(x) = max(x, 0) + log1p(exp(-|x|))``
* ``-log_softmax(x)_c = (m - x_c) + log1p(sum_{j != k} exp(x_j - m))`` where
  ``k`` is the row's arg-max and ``m = x_k``, so the log-sum-exp is exact to a
  few ULPs even for ``|x| = 1e4``.
* ``1 - p_c`` is ``(1 + sum_{j not in {k, c}} exp(x_j - m)) / (1 + s)`` (or
  ``s / (1 + s)`` at the arg-max), never a subtraction.

float16 and bfloat16 inputs are computed in float32 and the result is cast back
to the input dtype. float32 and float64 compute natively.

Softmax-family losses take logits of shape (N, C) or (N, C, d1, ..., dk) with
labels (N, d1, ..., dk) (PyTorch's layout), channels-last logits through
``class_axis=-1``, or one unbatched sample (C,) with a 0-d label; :class:`SoftmaxInputs` moves the class axis last and
flattens every position into a row, so each loss is written once for (M, C).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import (
    REDUCTIONS_SOFTMAX,
    ShapeOnly,
    WCEInputError,
    as_class_labels,
    as_logits,
    as_probabilities,
    as_sample_weight,
    as_weights,
    check_class_axis,
    check_ignore_index,
    check_label_smoothing,
    check_reduction,
    compute_dtype,
)


def out(value: Any, dtype: np.dtype) -> Any:
    """Cast a result to the input dtype; 0-d results become NumPy scalars.

    A result beyond the range of a half-precision dtype rounds to infinity, as
    it does in every framework (the computation itself ran in float32).
    """
    with np.errstate(over="ignore"):
        res = np.asarray(value).astype(dtype, copy=False)
    return res[()] if res.ndim == 0 else res


def softplus_pair(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(softplus(x), softplus(-x))`` without cancellation."""
    tail = np.log1p(np.exp(-np.abs(x)))
    return np.maximum(x, 0) + tail, np.maximum(-x, 0) + tail


def sigmoid_pair(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(sigmoid(x), sigmoid(-x))`` without overflow."""
    e = np.exp(-np.abs(x))
    big = 1 / (1 + e)
    small = e * big
    pos = x >= 0
    return np.where(pos, big, small), np.where(pos, small, big)


#: logits per row block of the NumPy reference: ~1 MiB of float32, so a block's passes stay in cache
BLOCK_ELEMENTS = 1 << 18
#: below this many logits one block on the calling thread is faster than a thread pool
PARALLEL_MIN = 1 << 17


def threads() -> int:
    """Threads of the NumPy reference: ``WCE_NUM_THREADS``, else the CPUs this process may use.

    NumPy's ufuncs release the GIL on large arrays, so row blocks computed on
    several threads run in parallel; the results are identical to one thread
    (each row is computed by exactly one block).
    """
    env = os.environ.get("WCE_NUM_THREADS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise WCEInputError(f"WCE_NUM_THREADS must be a positive integer; received {env!r}") from None
        if n < 1:
            raise WCEInputError(f"WCE_NUM_THREADS must be a positive integer; received {env!r}")
        return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@functools.cache
def _pool(n: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=n, thread_name_prefix="wce-ref")


def row_blocks(n_rows: int, n_cols: int, work: Callable[[int, int], None]) -> None:
    """Run ``work(lo, hi)`` over row blocks of a (n_rows, n_cols) array, on :func:`threads` threads."""
    step = max(1, BLOCK_ELEMENTS // max(n_cols, 1))
    bounds = [(lo, min(lo + step, n_rows)) for lo in range(0, n_rows, step)]
    n = threads()
    if n == 1 or len(bounds) < 2 or n_rows * n_cols < PARALLEL_MIN:
        for lo, hi in bounds:
            work(lo, hi)
        return
    for f in [_pool(n).submit(work, lo, hi) for lo, hi in bounds]:
        f.result()  # re-raises a block's exception


class Softmax:
    """Stable pieces of a row-wise softmax of a (M, C) array.

    ``e[i, j] = exp(x[i, j] - m[i])`` for ``j != k[i]`` and ``0`` at the
    arg-max ``k[i]``; ``s[i] = e[i].sum()``, so the row's log-sum-exp is
    ``m + log1p(s)``. Computed in cache-sized row blocks on :func:`threads`
    threads, into preallocated arrays, with one exponential pass.
    """

    def __init__(self, x: np.ndarray) -> None:
        x = np.ascontiguousarray(x)  # the flat indices below assume C order (an N-d input's rows may be a view)
        n, c = x.shape
        self.x = x
        self.rows = np.arange(n)
        self.k = np.zeros(n, dtype=np.int64)
        self.m = np.zeros(n, dtype=x.dtype)
        self.e = np.empty_like(x)
        self.s = np.zeros(n, dtype=x.dtype)
        if x.size:
            row_blocks(n, c, self._block)
        self.log1p_s = np.log1p(self.s)

    def _block(self, lo: int, hi: int) -> None:
        xb, e, c = self.x[lo:hi], self.e[lo:hi], self.x.shape[1]
        k = np.argmax(xb, axis=1)
        flat = np.arange(hi - lo) * c + k
        m = xb.reshape(-1)[flat]
        self.k[lo:hi], self.m[lo:hi] = k, m
        np.subtract(xb, m[:, None], out=e)
        np.exp(e, out=e)
        e.reshape(-1)[flat] = 0  # flat indices: much faster than e[rows, k] = 0
        e.sum(axis=1, out=self.s[lo:hi])

    def flat(self, cls: np.ndarray) -> np.ndarray:
        """Flat indices of ``(i, cls[i])`` in a C-contiguous (M, C) array."""
        return self.rows * self.x.shape[1] + cls

    def at(self, a: np.ndarray, cls: np.ndarray) -> np.ndarray:
        """``a[i, cls[i]]`` of a C-contiguous (M, C) array ``a``."""
        return np.ascontiguousarray(a).reshape(-1)[self.flat(cls)]

    def nll(self, cls: np.ndarray) -> np.ndarray:
        """``-log softmax(x)[i, cls[i]]`` for one class per row."""
        return (self.m - self.at(self.x, cls)) + self.log1p_s

    def nll_all(self) -> np.ndarray:
        """``-log softmax(x)`` for every class, shape (M, C)."""
        return (self.m[:, None] - self.x) + self.log1p_s[:, None]

    def probs(self) -> np.ndarray:
        """``softmax(x)``, shape (M, C)."""
        d = 1 + self.s
        p = self.e / d[:, None]
        p.reshape(-1)[self.flat(self.k)] = 1 / d
        return p

    def rest(self, cls: np.ndarray) -> np.ndarray:
        """``1 - p[i, cls[i]]`` times ``1 + s``: the scaled mass of the other classes, summed without cancellation."""
        e_cls = self.e[self.rows, cls]
        others = self.e.copy()
        others[self.rows, cls] = 0
        total = others.sum(axis=1)
        return np.where(cls == self.k, total, total + 1) if e_cls.size else total

    def one_minus_p(self, cls: np.ndarray) -> np.ndarray:
        """``1 - softmax(x)[i, cls[i]]`` without cancellation."""
        return self.rest(cls) / (1 + self.s)

    def probs_minus_onehot(self, cls: np.ndarray) -> np.ndarray:
        """``softmax(x) - onehot(cls)`` with the ``1 - p`` term computed without cancellation.

        One pass over the exponentials, in row blocks on :func:`threads` threads.
        """
        res = np.empty_like(self.e)
        c = self.x.shape[1]

        def block(lo: int, hi: int) -> None:
            r = np.arange(hi - lo) * c
            d = 1 + self.s[lo:hi]
            p = np.divide(self.e[lo:hi], d[:, None], out=res[lo:hi]).reshape(-1)
            k, y = r + self.k[lo:hi], r + cls[lo:hi]
            p[k] = 1 / d
            p_y = p[y]
            p[y] = -np.where(k == y, self.s[lo:hi] / d, 1 - p_y)

        if self.e.size:
            row_blocks(self.x.shape[0], c, block)
        return res


@dataclass(eq=False)
class SoftmaxInputs:
    """Validated inputs of a softmax-family loss, flattened to rows.

    ``x`` (M, C) in the compute dtype; class-index labels ``y`` (M,) with
    ignored positions mapped to class 0 and ``valid`` False, or probability rows
    ``q`` (M, C); class weights ``w`` (C,); per-row sample weights ``sw`` (M,)
    or None; ``shape`` is the shape of the per-position output (``none``).
    """

    x: np.ndarray
    dtype: np.dtype
    shape: tuple[int, ...]
    reduction: str
    w: np.ndarray
    valid: np.ndarray
    sw: np.ndarray | None
    y: np.ndarray | None = None
    q: np.ndarray | None = None
    eps: float = 0.0
    ignore_index: int | None = None
    class_axis: int = 1
    weighted: bool = False

    @property
    def soft(self) -> bool:
        return self.q is not None

    @property
    def c(self) -> int:
        return self.x.shape[1]

    def static(self) -> dict[str, Any]:
        """The normalised non-array arguments (what framework versions take from the check)."""
        return {
            "reduction": self.reduction,
            "label_smoothing": self.eps,
            "ignore_index": self.ignore_index,
            "class_axis": self.class_axis,
        }

    @property
    def w_y(self) -> np.ndarray:
        """Each row's target-class weight (0 for ignored rows), times its sample weight."""
        w = self.w_target
        return w if self.sw is None else w * self.sw

    @functools.cached_property
    def w_target(self) -> np.ndarray:
        """Each row's target-class weight, 0 for ignored rows (no sample weight)."""
        w = self.w[self.y]
        return w if self.ignore_index is None else np.where(self.valid, w, 0).astype(self.x.dtype)

    def weigh(self, per: np.ndarray) -> np.ndarray:
        """Per-row losses (M,) or gradient rows (M, C) times the sample weights, zero on ignored rows."""
        col = (slice(None),) + (None,) * (per.ndim - 1)
        if not self.valid.all():
            per = np.where(self.valid[col], per, 0)
        return per if self.sw is None else per * self.sw[col]

    def normaliser(self, weights: np.ndarray | None = None) -> Any:
        """What a reduction divides the summed loss by (``weights``: each row's weight for ``weighted_mean``)."""
        if self.reduction in ("none", "sum") or self.x.shape[0] == 0:
            return 1
        if self.q is not None:  # PyTorch divides by N for probability targets, with or without weights
            return self.x.shape[0]
        if self.reduction == "mean":
            denom = self.valid.sum()
            what = "the number of non-ignored samples"
        else:
            denom = (self.w_y if weights is None else weights).sum(dtype=np.float64)
            what = "the sum of the non-ignored samples' weights"
        if denom == 0:
            raise WCEInputError(
                f"reduction={self.reduction!r} divides by {what}, which is 0 for these labels "
                f"(every sample ignored or every target weight zero); use reduction='sum' for such a batch"
            )
        return denom

    def check_normaliser(self, *arrays: Any) -> None:
        """Raise now (not as a NaN later) if the reduction's normaliser is 0 and the values are known."""
        if not any(isinstance(a, ShapeOnly) for a in arrays):
            self.normaliser()

    def reduce(self, per: np.ndarray, weights: np.ndarray | None = None) -> Any:
        """Apply the reduction to per-row losses (already weighted); ``none`` restores the positions' shape."""
        if self.reduction == "none":
            return out(per.reshape(self.shape), self.dtype)
        return out(per.sum() / self.normaliser(weights), self.dtype)

    def grad(self, g: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Gradient rows (M, C) of the summed loss -> the gradient of the reduction, in the logits' layout."""
        norm = self.normaliser(weights)
        if norm != 1:
            g /= np.asarray(norm, dtype=g.dtype) if g.dtype.kind == "f" else norm  # g is this call's own buffer
        full = g.reshape(*self.shape, self.c)
        return out(np.moveaxis(full, -1, self.class_axis), self.dtype)


def _class_axis(class_axis: Any, ndim: int) -> int:
    """``class_axis`` as an index; 1-d logits (C,) are classes only, named by the default 1, by -1 or by 0."""
    if ndim == 1 and not isinstance(class_axis, bool) and isinstance(class_axis, (int, np.integer)):
        if class_axis in (-1, 0, 1):
            return 0
        raise WCEInputError(
            f"class_axis must be 1, -1 or 0 for 1-d logits (C,), one unbatched sample; received {class_axis}"
        )
    return check_class_axis(class_axis, ndim)


def check_softmax(
    logits: Any,
    labels: Any,
    *,
    class_weights: Any = None,
    sample_weight: Any = None,
    reduction: str = "weighted_mean",
    label_smoothing: float = 0.0,
    ignore_index: int | None = None,
    class_axis: int = 1,
    allow_soft: bool = True,
) -> SoftmaxInputs:
    """Validate the common arguments of a softmax-family loss (the same check runs for every framework).

    Logits of shape (C,) are one unbatched sample, as ``torch.nn.functional.cross_entropy`` takes them:
    a 0-d class label (or (C,) probabilities), a 0-d sample weight, a 0-d ``none`` result.
    """
    x0 = as_logits(logits, min_ndim=1)
    axis = _class_axis(class_axis, x0.ndim)
    if x0.shape[axis] == 0:
        raise WCEInputError(f"logits has no classes (shape {x0.shape}, class_axis={class_axis})")
    dtype = x0.dtype
    ct = compute_dtype(dtype)
    red = check_reduction(reduction, REDUCTIONS_SOFTMAX)
    eps = check_label_smoothing(label_smoothing)
    ignore = check_ignore_index(ignore_index)
    xl = np.moveaxis(x0, axis, -1)
    c = xl.shape[-1]
    positions = xl.shape[:-1]
    x = xl.reshape(-1, c).astype(ct, copy=False)
    w = np.ones(c, dtype=ct) if class_weights is None else as_weights(
        class_weights, name="class_weights", length=c, allow_scalar=False, dtype=ct
    )
    sw = as_sample_weight(sample_weight, shape=positions, dtype=ct)
    sw = None if sw is None else np.ascontiguousarray(sw).reshape(-1)
    common = dict(x=x, dtype=dtype, shape=positions, reduction=red, w=w, sw=sw, eps=eps, ignore_index=ignore,
                  class_axis=axis, weighted=class_weights is not None)
    lab = np.asarray(labels) if isinstance(labels, np.ndarray) else labels
    if allow_soft and np.ndim(lab) == x0.ndim:
        if ignore is not None:
            raise WCEInputError(
                f"ignore_index is only supported for class-index labels; received ignore_index={ignore} "
                f"with probability labels of shape {np.shape(lab)} (PyTorch rejects this combination too)"
            )
        q = as_probabilities(lab, shape=x0.shape, name="labels")
        q = np.moveaxis(q, axis, -1).reshape(-1, c).astype(ct)
        if eps:
            q = q * (1 - eps) + eps / c
        return SoftmaxInputs(**common, valid=np.ones(x.shape[0], dtype=bool), q=q)
    what = f"logits of shape {x0.shape} with the class axis {axis} removed"
    y = as_class_labels(lab, shape=positions, n_classes=c, ignore_index=ignore, what=what).reshape(-1)
    valid = (y != ignore) if ignore is not None else np.ones(y.shape, dtype=bool)
    inp = SoftmaxInputs(**common, valid=valid, y=np.where(valid, y, 0))
    inp.check_normaliser(logits, labels, class_weights, sample_weight)  # a zero divisor is an error, never a NaN
    return inp
