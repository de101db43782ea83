"""The three losses written once, over a small table of framework operations.

Each framework module supplies an :class:`Ops` object (its tensor primitives);
the functions here build the losses from them with the same conventions and the
same cancellation-free formulas as the NumPy reference (see
``wce_ref._losses``), so that gradients come from the framework's own autodiff.
float16 and bfloat16 inputs are computed in float32 and cast back, as in the
reference.
"""

from __future__ import annotations

from typing import Any, Protocol


class Ops(Protocol):
    """Primitives a framework provides; ``T`` is its tensor type."""

    def exp(self, x): ...
    def log1p(self, x): ...
    def abs(self, x): ...
    def relu(self, x): ...
    def where(self, cond, a, b): ...
    def sum(self, x, axis=None): ...
    def argmax(self, x, axis): ...
    def take(self, x, idx): ...  # x[i, idx[i]] for a (N, C) x
    def zero_at(self, x, idx): ...  # x with x[i, idx[i]] = 0 (differentiable in x)
    def gather(self, vec, idx): ...  # vec[idx]
    def gather2(self, mat, rows, cols): ...  # mat[rows[i], cols[i]]
    def stop_gradient(self, x): ...
    def cast(self, x, like): ...
    def compute(self, x): ...  # upcast half precision to float32
    def restore(self, x, dtype): ...
    def dtype(self, x): ...
    def count(self, mask, like): ...  # number of True as a scalar of like's dtype
    def size(self, x) -> int: ...


def _reduce(ops: Ops, per_sample: Any, reduction: str, norm: Any) -> Any:
    if reduction == "none":
        return per_sample
    total = ops.sum(per_sample)
    return total if reduction == "sum" else total / norm


def _softmax_parts(ops: Ops, x: Any) -> tuple[Any, Any, Any]:
    """Return ``(nll_of, nll_all)``: ``-log softmax(x)`` for one class per row, and for every class.

    With ``k`` the row's arg-max and ``m = x[k]``: ``-log p_c = (m - x_c) + log1p(s)``,
    ``s = sum_{j != k} exp(x_j - m)``. The ``m - x_c`` term is written as exactly 0
    (a ``where``) at ``c = k``, so that autodiff does not accumulate ``+w - w`` there:
    that cancellation costs about ``|w| / |grad|`` ULPs when the loss is small.
    """
    k = ops.stop_gradient(ops.argmax(x, 1))
    m = ops.take(x, k)
    zero = ops.cast(0.0, x)
    log1p_s = ops.log1p(ops.sum(ops.zero_at(ops.exp(x - m[:, None]), k), axis=1))

    def nll_of(cls):
        return ops.where(cls == k, zero, m - ops.take(x, cls)) + log1p_s

    def nll_all():
        return ops.zero_at(m[:, None] - x, k) + log1p_s[:, None]

    return nll_of, nll_all


def sigmoid_wce(ops: Ops, logits, targets, *, pos_weight=1.0, neg_weight=1.0, reduction="mean"):
    """Framework version of :func:`wce_ref.sigmoid_wce`."""
    dtype = ops.dtype(logits)
    x = ops.compute(logits)
    t, pw, nw = (ops.cast(v, x) for v in (targets, pos_weight, neg_weight))
    tail = ops.log1p(ops.exp(-ops.abs(x)))
    loss = pw * t * (ops.relu(-x) + tail) + nw * (1 - t) * (ops.relu(x) + tail)
    return ops.restore(_reduce(ops, loss, reduction, ops.size(loss)), dtype)


def softmax_wce(
    ops: Ops, logits, labels, *, class_weights=None, reduction="weighted_mean", label_smoothing=0.0, ignore_index=None
):
    """Framework version of :func:`wce_ref.softmax_wce`."""
    dtype = ops.dtype(logits)
    x = ops.compute(logits)
    n, c = x.shape
    w = None if class_weights is None else ops.cast(class_weights, x)
    nll_of, nll_all_fn = _softmax_parts(ops, x)
    eps = float(label_smoothing)
    if len(labels.shape) == 2:  # probability rows
        q = ops.cast(labels, x)
        if eps:
            q = q * (1 - eps) + eps / c
        a = q if w is None else q * w
        per = ops.sum(a * nll_all_fn(), axis=1)
        return ops.restore(_reduce(ops, per, reduction, n), dtype)
    valid = None if ignore_index is None else labels != ignore_index
    y = labels if valid is None else ops.where(valid, labels, labels * 0)
    w_y = ops.cast(1.0, x) + 0 * ops.cast(y, x) if w is None else ops.gather(w, y)
    if valid is not None:
        w_y = ops.where(valid, w_y, w_y * 0)
    per = w_y * nll_of(y)
    if eps:
        nll_all = nll_all_fn()
        smooth = ops.sum(nll_all if w is None else nll_all * w, axis=1)
        if valid is not None:
            smooth = ops.where(valid, smooth, smooth * 0)
        per = (1 - eps) * per + (eps / c) * smooth
    if reduction == "mean":
        norm = n if valid is None else ops.count(valid, x)
    else:
        norm = ops.sum(w_y)
    return ops.restore(_reduce(ops, per, reduction, norm), dtype)


def cost_sensitive_ce(ops: Ops, logits, labels, cost_matrix, *, reduction="mean"):
    """Framework version of :func:`wce_ref.cost_sensitive_ce`."""
    dtype = ops.dtype(logits)
    x = ops.compute(logits)
    n = x.shape[0]
    nll_of, _ = _softmax_parts(ops, x)
    pred = ops.stop_gradient(ops.argmax(x, 1))
    weight = ops.stop_gradient(ops.gather2(ops.cast(cost_matrix, x), labels, pred))
    per = weight * nll_of(labels)
    norm = ops.sum(weight) if reduction == "weighted_mean" else n
    return ops.restore(_reduce(ops, per, reduction, norm), dtype)
