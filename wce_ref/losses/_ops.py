r"""The operations table the framework formulas are written over, with defaults, and the fused softmax NLL.

A framework module subclasses :class:`Ops` (as einops' backends subclass
their base): it names its array namespace (``xp``: ``torch``, ``jax.numpy``,
``keras.ops``) and writes only the primitives that differ from the defaults
below, plus, where it has one, its custom-gradient hook
(:meth:`Ops.custom_gradient`, a few lines around ``torch.autograd.Function``,
``jax.custom_vjp`` or ``tf.custom_gradient``).

The fused softmax NLL
---------------------
:meth:`Ops.softmax_nll` is :math:`-\log \operatorname{softmax}(x)_{i, y_i}`
of (M, C) logits with a hand-written backward, written once here
(:func:`softmax_nll_forward`, :func:`softmax_nll_backward`) over the table.
Forward, as the NumPy reference: :math:`(m - x_y) + \log(1 + s)` with the row
max :math:`m` and :math:`s = \sum_{j \ne k} e^{x_j - m}` (one max term
:math:`k` left out, so that a loss near 0 keeps its relative precision).
Backward: :math:`g\,(p_j - [j = y])` with :math:`p_j = e^{x_j - m} / (1 + s)`
and :math:`1 - p_y = r_y / (1 + s)`, where :math:`r_y = s` if :math:`y` holds
the max, else :math:`r_y = (1 + s) - e^{x_y - m} \ge 1` (at most a factor 2
of cancellation), so the label's gradient keeps its relative precision too.

Four steps are primitives a framework may specialise without changing the
math: :meth:`Ops.nll_max_pass` (by default the max term is removed with an
equality mask against the row max, ties counted, one pass a compiler fuses,
and the backward recomputes the exponentials from the logits),
:meth:`Ops.nll_exp` (the backward's exponentials), :meth:`Ops.nll_rest`
(:math:`r_y`) and :meth:`Ops.nll_grad` (the gradient's assembly). PyTorch's
eager mode specialises them: one max-with-index pass, the exponentials kept
for the backward (the max term zeroed, so :math:`r_y = (s - e_y) + 1`), and
scatters.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

__all__ = ["Ops", "softmax_nll_backward", "softmax_nll_forward", "softmax_nll_sum_backward", "softmax_nll_sum_forward"]


class Ops:
    """Primitives a framework provides; defaults over the array namespace :attr:`xp` where one serves.

    A subclass sets ``xp`` (in ``__init__``, the framework is imported lazily) and overrides what its
    namespace spells differently. ``None`` attributes are optional fused primitives a framework may supply.
    """

    xp: Any = None
    #: the custom-gradient hook takes constant arguments after ``y`` (``f(x, y, w)``): :meth:`softmax_nll_sum`
    #: is then fused too (torch); otherwise the formulas weigh and sum :meth:`softmax_nll`'s rows themselves
    hook_takes_constants: bool = False
    #: optional: ``softplus(x)`` in one pass with derivative ``sigmoid(x)`` (``None``: the generic selections)
    softplus: Callable[[Any], Any] | None = None

    # ------------------------------------------------------------------ element-wise and reductions
    def exp(self, x):
        return self.xp.exp(x)

    def log(self, x):
        return self.xp.log(x)

    def log1p(self, x):
        return self.xp.log1p(x)

    def relu(self, x):
        return self.xp.relu(x)

    def where(self, cond, a, b):
        return self.xp.where(cond, a, b)

    def sum(self, x, axis=None):
        return self.xp.sum(x, axis=axis)

    def argmax(self, x, axis):
        return self.xp.argmax(x, axis=axis)

    def row_max(self, x):
        """The maximum of each row of a (M, C) ``x``, shape (M, 1)."""
        return self.xp.max(x, axis=1, keepdims=True)

    def zeros_like(self, x):
        return self.xp.zeros_like(x)

    # ------------------------------------------------------------------ indexing
    def take(self, x, idx):
        """``x[i, idx[i]]`` for a (M, C) ``x``."""
        return self.xp.take_along_axis(x, idx[:, None], axis=1)[:, 0]

    def zero_at(self, x, idx):
        """``x`` with ``x[i, idx[i]] = 0``, differentiable in ``x``."""
        raise NotImplementedError

    def label_mask(self, idx, like):
        """Boolean (M, C) mask, True at ``[i, idx[i]]``, of ``like``'s shape and device."""
        raise NotImplementedError

    def gather(self, vec, idx):
        """``vec[idx]``."""
        return vec[idx]

    def gather2(self, mat, rows, cols):
        """``mat[rows[i], cols[i]]``."""
        return mat[rows, cols]

    def stop_gradient(self, x):
        raise NotImplementedError

    # ------------------------------------------------------------------ dtypes and shapes
    def cast(self, x, like):
        """A tensor or a Python number in ``like``'s dtype (and device), rounded once."""
        raise NotImplementedError

    def index(self, labels):
        """Integer labels as the framework's index dtype (int64)."""
        raise NotImplementedError

    def compute(self, x):
        """``x`` upcast to float32 if it is a half precision (the dtype the formulas compute in)."""
        raise NotImplementedError

    def restore(self, x, dtype):
        """A result cast back to the input's ``dtype``."""
        raise NotImplementedError

    def dtype(self, x):
        return x.dtype

    def shape(self, x) -> tuple[Any, ...]:
        return tuple(x.shape)

    def reshape(self, x, shape):
        return self.xp.reshape(x, shape)

    def moveaxis(self, x, source, destination):
        return self.xp.moveaxis(x, source, destination)

    def count(self, mask, like):
        """The number of True entries of ``mask`` as a scalar of ``like``'s dtype."""
        return self.cast(self.sum(mask), like)

    def size(self, x):
        """The number of elements (a :class:`~wce_ref.losses._generic.Dim` where a dimension is traced)."""
        return functools.reduce(operator.mul, self.shape(x), 1)

    # ------------------------------------------------------------------ the fused softmax NLL
    def custom_gradient(
        self, forward: Callable[..., tuple[Any, tuple[Any, ...]]], backward: Callable[..., Any]
    ) -> Callable[[Any, Any], Any] | None:
        """``f(x, y)`` with value ``forward(x, y)[0]`` and gradient in ``x`` ``backward(residuals, g)``.

        ``forward`` returns ``(value, residuals)``, a tuple of tensors; ``y`` (integer labels) gets no
        gradient. None (the default): the framework has no hook, and the formulas use autodiff.
        """
        return None

    def softmax_nll(self, x, y):
        """Fused ``-log softmax(x)[i, y_i]`` of (M, C) logits and (M,) labels, or None without a hook."""
        fused = self._fused("_softmax_nll", softmax_nll_forward, softmax_nll_backward)
        return None if fused is None else fused(x, y)

    def softmax_nll_sum(self, x, y, w):
        """Fused ``sum_i w_i * -log softmax(x)[i, y_i]`` (``w``: (M,) row weights, None for ones), or None.

        The same kernel as :meth:`softmax_nll`, with the weighting and the sum inside the custom gradient, so
        that eager autograd records one node instead of three; bit-identical to weighing and summing its rows.
        None where the hook takes no constants (:attr:`hook_takes_constants`) or there is no hook.
        """
        if not self.hook_takes_constants:
            return None
        fused = self._fused("_softmax_nll_sum", softmax_nll_sum_forward, softmax_nll_sum_backward)
        return None if fused is None else fused(x, y, w)

    def _fused(self, key: str, forward: Callable[..., Any], backward: Callable[..., Any]) -> Any:
        """The custom-gradient function of ``forward`` / ``backward`` over this table, made once (None: no hook)."""
        fused = self.__dict__.get(key)
        if fused is None:
            fused = self.custom_gradient(functools.partial(forward, self), functools.partial(backward, self))
            if fused is not None:
                self.__dict__[key] = fused
        return fused

    def prepare_fused(self) -> None:
        """Create the fused NLLs' custom-gradient functions now (a framework calls this outside any trace: a
        ``torch.autograd.Function`` class created while ``torch.compile`` traces is a new class on every call,
        and every call recompiles until the recompile limit)."""
        self._fused("_softmax_nll", softmax_nll_forward, softmax_nll_backward)
        if self.hook_takes_constants:
            self._fused("_softmax_nll_sum", softmax_nll_sum_forward, softmax_nll_sum_backward)

    def nll_max_pass(self, x) -> tuple[Any, Any, tuple[Any, ...]]:
        """``(m, s, saved)``: the row max (M, 1), ``s`` (M,) and what :meth:`nll_exp` needs in the backward.

        The max term is removed with an equality mask against the row max: tied maxima count 1 each, less
        the one left out. ``saved`` is ``(x, m)``: the backward recomputes the exponentials.
        """
        m = self.row_max(x)
        tie = x == m
        s = self.sum(self.where(tie, self.zeros_like(x), self.exp(x - m)), axis=1)
        return m, s + (self.sum(self.cast(tie, x), axis=1) - 1), (x, m)

    def nll_exp(self, saved: tuple[Any, ...]):
        """The backward's ``e = exp(x - m)`` (M, C) from :meth:`nll_max_pass`'s ``saved`` (1 at a max)."""
        x, m = saved
        return self.exp(x - m)

    def nll_rest(self, s, e_y, at_max, saved: tuple[Any, ...]):
        """``r_y = (1 - p_y)(1 + s)``, (M, 1): ``s`` where the label holds the max, else ``(1 + s) - e_y``."""
        return self.where(at_max, s, (1 + s) - e_y)

    def nll_grad(self, e, y, rest, scale, saved: tuple[Any, ...]):
        """The gradient ``scale * (e_j if j != y else -rest)``: ``rest`` and ``scale`` are (M, 1)."""
        return self.where(self.label_mask(y, e), -rest, e) * scale


def softmax_nll_forward(ops: Ops, x: Any, y: Any) -> tuple[Any, tuple[Any, ...]]:
    r"""The fused NLL's forward: :math:`\ell_i = (m_i - x_{i y_i}) + \log(1 + s_i)`.

    The autodiff path writes the same formula in
    :meth:`~wce_ref.losses._generic.SoftmaxRows.nll_of`, which says why the two are not one function (the
    tied maxima are removed from :math:`s` differently, and that one selects the label term for autodiff).

    Parameters
    ----------
    ops : Ops
        The framework's operations table.
    x : tensor (M, C)
        Logits, in the compute dtype.
    y : tensor (M,)
        Integer labels in ``[0, C)``.

    Returns
    -------
    value : tensor (M,)
        :math:`-\log \operatorname{softmax}(x_i)_{y_i}`; exactly :math:`\log(1 + s_i)` where :math:`y_i`
        holds the row max :math:`m_i`.
    residuals : tuple of tensors
        ``(s, y, d, *saved)`` for :func:`softmax_nll_backward`, with ``d = m - x_y`` (M,): exactly 0 where
        the label holds the row max (the difference of two finite floats is 0 only when they are equal).
    """
    m, s, saved = ops.nll_max_pass(x)
    d = m[:, 0] - ops.take(x, y)  # exactly 0 where the label holds the row max: the value is then log1p(s)
    return d + ops.log1p(s), (s, y, d, *saved)


def softmax_nll_backward(ops: Ops, residuals: tuple[Any, ...], g: Any) -> Any:
    r"""The fused NLL's backward: :math:`\partial \sum_i g_i \ell_i / \partial x_{ij} = g_i (p_{ij} - [j = y_i])`.

    With :math:`p_{ij} = e_{ij} / (1 + s_i)`, :math:`e_{ij} = e^{x_{ij} - m_i}`, and the label's entry
    :math:`-g_i r_i / (1 + s_i)`, :math:`r_i = (1 - p_{i y_i})(1 + s_i)` summed without cancellation
    (:meth:`Ops.nll_rest`).

    Parameters
    ----------
    ops : Ops
        The framework's operations table.
    residuals : tuple of tensors
        What :func:`softmax_nll_forward` returned.
    g : tensor (M,)
        The cotangent of the value.

    Returns
    -------
    tensor (M, C)
        The gradient with respect to the logits.
    """
    s, y, d, *saved = residuals
    at_max = (d == 0)[:, None]  # the label holds the row max: r_y = s
    e = ops.nll_exp(tuple(saved))
    rest = ops.nll_rest(s[:, None], ops.take(e, y)[:, None], at_max, tuple(saved))
    return ops.nll_grad(e, y, rest, (g / (1 + s))[:, None], tuple(saved))


def softmax_nll_sum_forward(ops: Ops, x: Any, y: Any, w: Any) -> tuple[Any, tuple[Any, ...]]:
    """:func:`softmax_nll_forward`'s rows weighed by ``w`` (None: ones) and summed: ``(total, (w, *residuals))``."""
    value, residuals = softmax_nll_forward(ops, x, y)
    return ops.sum(value if w is None else w * value), (w, *residuals)


def softmax_nll_sum_backward(ops: Ops, residuals: tuple[Any, ...], g: Any) -> Any:
    """:func:`softmax_nll_backward` with each row's cotangent ``g * w_i`` (``g``: the total's, a scalar)."""
    w, *rest = residuals
    s = rest[0]
    return softmax_nll_backward(ops, tuple(rest), ops.zeros_like(s) + g if w is None else g * w)
