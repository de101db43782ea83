"""The losses written once over a small table of framework operations.

Each framework module supplies an :class:`~wce_ref.losses._ops.Ops` object (its tensor primitives);
every loss module writes its framework version over it, with the same
conventions and the same cancellation-free formulas as its NumPy reference, so
that gradients come from the framework's own autodiff. float16 and bfloat16
inputs are computed in float32 and cast back, as in the reference.

Autodiff and subgradients: ``relu`` and ``abs`` have a derivative of 0 (torch,
TF) or an arbitrary side (JAX) at 0, which makes ``max(x, 0) + log1p(exp(-|x|))``
differentiate wrongly at ``x = 0`` (the true derivative of softplus there is
1/2). The formulas below use ``where(x > 0, ...)`` selections whose branches
are both finite, so every framework's autodiff gives the true derivative
everywhere, including at exactly 0 (a zero-initialised output layer).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._ops import Ops


class Dim:
    """A dimension known only when a traced graph runs (TF's unknown batch size): a scalar integer tensor.

    It stands in the shape tuples the formulas read (``Ops.shape``): reshapes take it
    (:func:`dims`), dimensions multiply (``size``), a total divided by it is divided
    by ``max(n, 1)`` (an empty batch's total is 0, the reference's value for an empty
    batch), and it compares unequal to 0: the formulas only ask "empty batch?" to
    avoid ``0 / 0``, which the division already avoids.
    """

    def __init__(self, t: Any, ops: Ops) -> None:
        self.t, self.ops = t, ops

    def __eq__(self, other: object) -> bool:
        if isinstance(other, int | np.integer) and other == 0:
            return False
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def _mul(self, other: Any) -> Dim:
        return Dim(self.t * (other.t if isinstance(other, Dim) else other), self.ops)

    __mul__ = __rmul__ = _mul

    def __rtruediv__(self, total: Any) -> Any:
        n = self.ops.cast(self.t, total)
        return total / self.ops.where(n > 0, n, n * 0 + 1)

    def __index__(self) -> int:
        raise TypeError("a dimension of a traced tensor is unknown until the graph runs (TF's None batch size)")


def dims(shape: Any) -> list[Any]:
    """A shape for ``reshape``: :class:`Dim` entries as their tensors."""
    return [d.t if isinstance(d, Dim) else d for d in shape]


def softplus_pair(ops: Ops, x: Any) -> tuple[Any, Any]:
    """``(softplus(x), softplus(-x))`` whose autodiff is exact everywhere, 0 included.

    A framework's fused ``Ops.softplus`` (one pass, derivative ``sigmoid(x)``, 1/2
    at 0) is used where it has one; otherwise the selections below.
    """
    fused = ops.softplus
    if fused is not None:
        return fused(x), fused(-x)
    pos = x > 0
    zero = x * 0
    tail = ops.log1p(ops.exp(ops.where(pos, -x, x)))  # log1p(exp(-|x|)), derivative taken from the x branch at 0
    return ops.where(pos, x, zero) + tail, ops.where(pos, zero, -x) + tail


def sigmoid_pair(ops: Ops, x: Any) -> tuple[Any, Any]:
    """``(sigmoid(x), sigmoid(-x))`` without overflow."""
    pos = x > 0
    e = ops.exp(ops.where(pos, -x, x))
    big = 1 / (1 + e)
    small = e * big
    return ops.where(pos, big, small), ops.where(pos, small, big)


def reduce_builtin(ops: Ops, per: Any, reduction: str, norm: Any) -> Any:
    """none / sum / (sum / ``norm``) of a built-in's per-sample losses, for the built-ins reduced by hand."""
    if reduction == "none":
        return per
    total = ops.sum(per)
    return total if reduction == "sum" else total / norm


def reduce_elements(ops: Ops, loss: Any, reduction: str, dtype: Any) -> Any:
    """none / sum / mean over every element (the sigmoid family's reductions)."""
    if reduction == "none":
        return ops.restore(loss, dtype)
    total = ops.sum(loss)
    n = ops.size(loss)
    return ops.restore(total if reduction == "sum" or n == 0 else total / n, dtype)


#: the softmax pieces of :class:`SoftmaxRows`, computed on first use
_PIECES = ("k", "m", "e", "s", "log1p_s")


class SoftmaxRows:
    """The framework counterpart of :class:`wce_ref.losses._common.SoftmaxInputs` plus the softmax pieces.

    Moves the class axis last, flattens positions into rows, and provides
    ``-log p`` of one class per row or of every class, ``log(1 - p)`` and the
    per-row weights and reduction, all cancellation-free as in the reference.
    """

    def __init__(self, ops: Ops, logits, labels, *, class_weights=None, sample_weight=None, reduction="weighted_mean",
                 label_smoothing=0.0, ignore_index=None, class_axis=1):
        self.ops, self.reduction = ops, reduction
        self.dtype = ops.dtype(logits)
        x = ops.compute(logits)
        shape = ops.shape(x)
        if class_axis != len(shape) - 1:
            x = ops.moveaxis(x, class_axis, -1)
        self.c = shape[class_axis]
        self.positions = tuple(ops.shape(x)[:-1])
        self.x = x if len(shape) == 2 else ops.reshape(x, (-1, self.c))  # (N, C) logits are the rows already
        self.m_rows = ops.shape(self.x)[0]
        self.w = None if class_weights is None else ops.cast(class_weights, self.x)
        self.eps = float(label_smoothing)
        self.soft = len(ops.shape(labels)) == len(shape)
        self.sw = None
        if sample_weight is not None:
            sw = ops.cast(sample_weight, self.x)
            if len(ops.shape(sw)) < len(self.positions):  # (N,) over (N, d1, ...): broadcast
                sw = ops.reshape(sw, (-1,) + (1,) * (len(self.positions) - 1))
                sw = sw * ops.reshape(self.x[:, 0] * 0 + 1, self.positions)  # ones of the positions' shape
            self.sw = ops.reshape(sw, (-1,))
        if self.soft:
            q = labels if class_axis == len(shape) - 1 else ops.moveaxis(labels, class_axis, -1)
            self.q = ops.reshape(ops.cast(q, self.x), (-1, self.c))
            if self.eps:
                self.q = self.q * (1 - self.eps) + self.eps / self.c
            self.valid = None
        else:
            y = ops.index(labels)
            y = y if len(ops.shape(y)) == 1 else ops.reshape(y, (-1,))
            self.valid = None if ignore_index is None else y != ignore_index
            self.y = y if self.valid is None else ops.where(self.valid, y, y * 0)

    def __getattr__(self, name: str) -> Any:
        # the softmax pieces are built on first use: the fused path (:meth:`nll_label`) needs none of them
        if name in _PIECES:
            self._pieces()
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _pieces(self) -> None:
        ops, x = self.ops, self.x
        self.k = ops.stop_gradient(ops.argmax(x, 1))
        self.m = ops.take(x, self.k)
        self.e = ops.zero_at(ops.exp(x - self.m[:, None]), self.k)
        self.s = ops.sum(self.e, axis=1)
        self.log1p_s = ops.log1p(self.s)

    def nll_of(self, cls=None):
        """``-log p`` of one class per row (the label by default).

        The ``m - x_c`` term is exactly 0 (a ``where``) at ``c = k``, so that
        autodiff does not accumulate ``+w - w`` there: that cancellation costs
        about ``|w| / |grad|`` ULPs when the loss is small.

        The same max-removed formula as the fused forward
        (:func:`~wce_ref.losses._ops.softmax_nll_forward`), written twice over the
        table on purpose; sharing one would change the numerics or the autodiff:

        * the max term: here exactly one, the arg-max ``k`` (under ``stop_gradient``),
          is left out of ``s``, because ``k``, ``e`` and ``s`` are the pieces the
          other formulas differentiate through (focal, Poly-1, LDAM); the fused
          forward's default (:meth:`~wce_ref.losses._ops.Ops.nll_max_pass`) leaves
          out every tied maximum with an equality mask and adds their count less
          one after the sum (one pass a compiler fuses, no arg-max). With ties the
          two sums add their ones in another order: the last bits differ. The mask
          here would change the autodiff at ties (autodiff spreads a row max's
          gradient over its ties); an arg-max there costs the fused path a pass.
        * the label term: here a ``where`` on the index ``c == k``, for autodiff;
          the fused forward needs none (its backward is hand-written) and keeps
          the plain ``m - x_y`` as a residual whose exact 0 marks the label at a
          maximum. The test cannot be the value ``m == x_c`` here: at a tie with
          ``c != k`` it would drop the ``+1`` / ``-1`` gradient of ``m - x_c``.
        """
        ops = self.ops
        cls = self.y if cls is None else cls
        return ops.where(cls == self.k, self.m * 0, self.m - ops.take(self.x, cls)) + self.log1p_s

    def nll_label(self):
        """``-log p`` of each row's label, through the framework's fused primitive where it has one.

        ``Ops.softmax_nll(x, y)`` (written once, :mod:`wce_ref.losses._ops`) computes
        the same cancellation-free value with a hand-written backward (``p - onehot(y)``, the ``1 - p_y`` term
        summed without cancellation): fewer passes over the logits and only the
        logits kept for the backward. A framework without a custom-gradient hook: :meth:`nll_of`.
        """
        fused = self.ops.softmax_nll(self.x, self.y)
        return self.nll_of() if fused is None else fused

    def nll_label_total(self):
        """``(sum_i r_i nll_i, r)`` with the row weights ``r`` (:meth:`row_weights`, sample weights excluded),
        through the framework's fused weighted sum (:meth:`Ops.softmax_nll_sum`); None where it has none or
        sample weights are given (they weigh the rows after the class weight, a rounding the sum would change).
        """
        if self.sw is not None or self.soft:
            return None
        weights = self.row_weights()
        total = self.ops.softmax_nll_sum(self.x, self.y, weights)
        return None if total is None else (total, weights)

    def nll_all(self):
        """``-log p`` of every class, (M, C)."""
        return self.ops.zero_at(self.m[:, None] - self.x, self.k) + self.log1p_s[:, None]

    def log_one_minus_p(self):
        """``log(1 - p_y)`` of each row's label as ``-softplus(log(e_y / rest))``: no cancellation, no overflow.

        ``e_y = exp(x_y - m)`` and ``rest`` is the sum of the other classes' terms,
        so ``1 - p_y = rest / (e_y + rest) = 1 / (1 + e_y / rest)``. Written as
        ``log(rest) - log1p(s)`` the value is exact too, but autodiff forms
        ``d log q / d x_j`` as the difference ``e_j / rest - e_j / (1 + s)``, which
        cancels when ``p_y`` is small (23 ULP measured in the focal gradient on
        logits of scale 30); written as ``-log1p(e_y / rest)`` the division's
        derivative ``e_y / rest**2`` overflows when ``p_y -> 1``. Here
        ``log e_y = x_y - m`` needs no exp and softplus has a derivative in (0, 1).
        Where ``rest`` underflows to 0 the result is ``-inf`` with a zero (not
        NaN) gradient.
        """
        ops = self.ops
        zero = self.m * 0
        at_max = self.y == self.k
        rest = ops.sum(ops.zero_at(self.e, self.y), axis=1)
        rest = ops.where(at_max, rest, rest + 1)  # the arg-max's term exp(0) = 1 is not in e
        ok = rest > 0
        log_rest = ops.where(ok, ops.log(ops.where(ok, rest, zero + 1)), zero)
        log_u = ops.where(at_max, zero, ops.take(self.x, self.y) - self.m) - log_rest  # log(e_y / rest)
        return ops.where(ok, -softplus_pair(ops, log_u)[0], zero - float("inf"))

    def target_weights(self):
        """Each row's target-class weight ``w[y]`` (computed once; ignored rows hold class 0's); None = all ones."""
        if "_w_y" not in self.__dict__:
            self._w_y = None if self.w is None else self.ops.gather(self.w, self.y)
        return self._w_y

    def row_weights(self):
        """Each row's target-class weight times its sample weight (0 on ignored rows); None = all ones."""
        ops = self.ops
        w = self.target_weights()
        if self.sw is not None:
            w = self.sw if w is None else w * self.sw
        if self.valid is not None:
            w = ops.where(self.valid, ops.cast(1.0, self.x) if w is None else w, self.x[:, 0] * 0)
        return w

    def weigh(self, per):
        """Per-row losses times the sample weights, zero on ignored rows."""
        ops = self.ops
        if self.sw is not None:
            per = per * self.sw
        return per if self.valid is None else ops.where(self.valid, per, per * 0)

    def reduce(self, per, weights=None):
        """Apply the reduction to per-row (already weighted) losses; ``weights`` divide ``weighted_mean``."""
        ops = self.ops
        if self.reduction == "none":
            return ops.restore(ops.reshape(per, self.positions), self.dtype)
        return self.finish(ops.sum(per), weights)

    def finish(self, total, weights=None):
        """Divide the summed loss ``total`` by the reduction's normaliser (not ``none``); cast it back."""
        ops = self.ops
        if self.reduction == "sum" or self.m_rows == 0:  # an empty batch: 0 (never 0 / 0)
            return ops.restore(total, self.dtype)
        if self.soft or (self.reduction == "mean" and self.valid is None):
            norm = self.m_rows
        elif self.reduction == "mean":
            norm = ops.count(self.valid, self.x)
        else:
            weights = self.row_weights() if weights is None else weights
            norm = self.m_rows if weights is None else ops.sum(weights)
        if isinstance(self.m_rows, Dim) and not isinstance(norm, Dim):  # a batch that may be empty: 0, not 0 / 0
            norm = ops.where(ops.cast(self.m_rows.t, total) > 0, norm, norm * 0 + 1)
        return ops.restore(total / norm, self.dtype)

