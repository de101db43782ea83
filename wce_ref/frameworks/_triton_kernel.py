r"""The Triton kernels of the fused weighted softmax cross entropy (imported lazily: it needs ``triton``).

One program handles a block of rows. Per row :math:`i` with logits :math:`x_{ij}`, label :math:`y_i`, class
weights :math:`w_j` (:math:`W = \sum_j w_j`), label smoothing :math:`\varepsilon` over :math:`C` classes and
the scale :math:`t_i = s_i / Z` (sample weight over the reduction's normaliser), it computes, as the NumPy
reference and :mod:`wce_ref.losses._ops` do, without cancellation:

.. math::

    m_i = \max_j x_{ij}, \quad \sigma_i = \sum_{j \ne k_i} e^{x_{ij} - m_i}, \quad
    \ell_i = (1 - \varepsilon)\, w_{y_i} \bigl((m_i - x_{i y_i}) + \log(1 + \sigma_i)\bigr)
             + \frac{\varepsilon}{C} \Bigl(\sum_j w_j (m_i - x_{ij}) + W \log(1 + \sigma_i)\Bigr)

(:math:`k_i` the first arg-max: one maximal term is left out of :math:`\sigma_i`, so that a loss near 0 keeps
its relative precision; every :math:`m_i - x_{ij} \ge 0`), and the gradient of :math:`\sum_i s_i \ell_i / Z`

.. math::

    g_{ij} = t_i \Bigl((1 - \varepsilon)\, w_{y_i} (p_{ij} - [j = y_i])
             + \frac{\varepsilon}{C} (W p_{ij} - w_j)\Bigr), \qquad p_{ij} = \frac{e^{x_{ij} - m_i}}{1 + \sigma_i},

with the label's :math:`p_{i y_i} - 1 = -r_i / (1 + \sigma_i)`, :math:`r_i = \sigma_i` where the label holds
a maximum, else :math:`(1 + \sigma_i) - e^{x_{i y_i} - m_i}` (at most a factor 2 of cancellation).

Rows whose class axis fits one tile (``BLOCK_C >= C``) are read once into registers, several rows per
program (:func:`wce_fwd_tile`): value and gradient in one pass, the gradient written once, as quack's
``cross_entropy`` and Liger-Kernel's ``cross_entropy`` compute it in the forward. Wider rows
(:func:`wce_fwd_looped`, one row per program) take the max and :math:`\sigma` in one pass with the online
normaliser of Milakov & Gimelshein, keeping the left-out maximal term out of the rescaled sum, and a second
pass writes the gradient. Arithmetic is in ``ACC`` (float32 for float32 and half-precision inputs, float64
for float64); the gradient is rounded once to the input's dtype.

References
----------
.. [1] M. Milakov and N. Gimelshein, "Online normalizer calculation for softmax", arXiv:1805.02867, 2018.
.. [2] W. Guo, T. Zadouri, T. Dao, quack (``quack/cross_entropy.py``), https://github.com/Dao-AILab/quack.
.. [3] LinkedIn, Liger-Kernel (``src/liger_kernel/ops/cross_entropy.py``), https://github.com/linkedin/Liger-Kernel.
"""

from __future__ import annotations

import triton
import triton.language as tl
from triton.language.extra import libdevice

__all__ = ["scale_rows", "wce_fwd_looped", "wce_fwd_tile"]


@triton.jit
def _log1p(s, INTERP: tl.constexpr):
    """``log(1 + s)`` for ``s >= 0``: libdevice's on a GPU; under the interpreter (no libdevice) Goldberg's
    ``log(u) * s / (u - 1)``, ``u = 1 + s``, accurate to a few ULP with numpy's correctly rounded log."""
    if INTERP:
        u = 1.0 + s
        out = tl.where(u == 1.0, s, tl.log(u) * (s / tl.where(u == 1.0, 1.0, u - 1.0)))
    else:
        out = libdevice.log1p(s)
    return out


@triton.jit
def _row_meta(Y, W, SW, NORM, rows, rmask, ignore_index,
              HAS_W: tl.constexpr, HAS_SW: tl.constexpr, HAS_IGNORE: tl.constexpr, HAS_NORM: tl.constexpr,
              ACC: tl.constexpr):
    """Per row: the label (0 where ignored), validity, the target weight and sample weight, the gradient scale."""
    y = tl.load(Y + rows, mask=rmask, other=0)
    valid = rmask
    if HAS_IGNORE:
        valid = valid & (y != ignore_index)
    y = tl.where(valid, y, 0)
    ones = tl.full(rows.shape, 1.0, ACC)
    w_y = ones
    if HAS_W:
        w_y = tl.load(W + y, mask=valid, other=0.0).to(ACC)
    sw = ones
    if HAS_SW:
        sw = tl.load(SW + rows, mask=rmask, other=0.0).to(ACC)
    scale = sw
    if HAS_NORM:
        scale = sw / tl.load(NORM).to(ACC)
    return y, valid, w_y, sw, tl.where(valid, scale, 0.0)


@triton.jit
def _load(X, rows, cols, stride, rmask, n_cols, ACC: tl.constexpr):
    """A (rows, cols) tile in ``ACC``: ``-inf`` beyond the class axis, 0 on rows past the batch."""
    cmask = cols < n_cols
    ptrs = X + rows[:, None].to(tl.int64) * stride + cols[None, :]
    x = tl.load(ptrs, mask=rmask[:, None] & cmask[None, :], other=float("-inf")).to(ACC)
    return tl.where(rmask[:, None], x, 0.0), cmask


@triton.jit
def _grad(e, inv, rest, at_label, cols, cmask, w_y, scale, W, w_tile, one_m_eps, eps_c, HAS_EPS: tl.constexpr):
    """The gradient tile: ``scale * ((1 - eps) w_y (p - onehot) + eps / C (W p - w))``, the label's term
    ``-rest * inv`` (no cancellation)."""
    p = e * inv[:, None]
    hard = tl.where(at_label, -(rest * inv)[:, None], p) * w_y[:, None]
    if HAS_EPS:
        hard = one_m_eps * hard + eps_c * (W * p - w_tile[None, :])
    return tl.where(cmask[None, :], hard * scale[:, None], 0.0)


@triton.jit
def _value(d, lse, smooth, w_y, sw, valid, W, one_m_eps, eps_c, HAS_EPS: tl.constexpr):
    """Per-row ``sw * l`` (0 on ignored rows), the reference's order of operations."""
    per = w_y * (d + lse)
    if HAS_EPS:
        per = one_m_eps * per + eps_c * (smooth + W * lse)
    return tl.where(valid, per * sw, 0.0)


@triton.jit
def _store_value(LOSS, v, rows, rmask, PER_ROW: tl.constexpr):
    """Per-row values (``reduction='none'``), else this program's partial sum (summed by the caller)."""
    if PER_ROW:
        tl.store(LOSS + rows, v, mask=rmask)
    else:
        tl.store(LOSS + tl.program_id(0), tl.sum(v, 0))


@triton.jit
def _consts(COEF, HAS_EPS: tl.constexpr, ACC: tl.constexpr):
    """``(W, 1 - eps, eps / C)`` from ``COEF`` (computed once per call by the caller, in ``ACC``); unused
    without label smoothing."""
    one = tl.cast(1.0, ACC)
    W_sum, one_m_eps, eps_c = one, one, one - one
    if HAS_EPS:
        one_m_eps = tl.load(COEF).to(ACC)
        eps_c = tl.load(COEF + 1).to(ACC)
        W_sum = tl.load(COEF + 2).to(ACC)
    return W_sum, one_m_eps, eps_c


@triton.jit
def wce_fwd_tile(X, Y, W, SW, NORM, COEF, LOSS, G, n_rows, n_cols, stride, ignore_index,
                 BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr, HAS_W: tl.constexpr, HAS_SW: tl.constexpr,
                 HAS_IGNORE: tl.constexpr, HAS_NORM: tl.constexpr, HAS_EPS: tl.constexpr, PER_ROW: tl.constexpr,
                 WANT_GRAD: tl.constexpr, INTERP: tl.constexpr, ACC: tl.constexpr):
    """Value and gradient of ``BLOCK_M`` rows whose ``C <= BLOCK_C`` classes fit one tile: one read, one write."""
    rows = tl.program_id(0).to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    rmask = rows < n_rows
    cols = tl.arange(0, BLOCK_C)
    y, valid, w_y, sw, scale = _row_meta(Y, W, SW, NORM, rows, rmask, ignore_index,
                                         HAS_W, HAS_SW, HAS_IGNORE, HAS_NORM, ACC)
    W_sum, one_m_eps, eps_c = _consts(COEF, HAS_EPS, ACC)
    x, cmask = _load(X, rows, cols, stride, rmask, n_cols, ACC)
    m = tl.max(x, 1)
    k = tl.min(tl.where(x == m[:, None], cols[None, :], BLOCK_C), 1)  # the first arg-max, left out of s
    e = tl.exp(x - m[:, None])
    s = tl.sum(tl.where(cols[None, :] == k[:, None], 0.0, e), 1)
    at_label = cols[None, :] == y[:, None]
    d = m - tl.sum(tl.where(at_label, x, 0.0), 1)  # exactly 0 where the label holds a maximum
    lse = _log1p(s, INTERP)
    w_tile = tl.full([BLOCK_C], 1.0, ACC)
    if HAS_W:
        w_tile = tl.load(W + cols, mask=cmask, other=0.0).to(ACC)
    smooth = tl.zeros([BLOCK_M], ACC)
    if HAS_EPS:
        smooth = tl.sum(tl.where(cmask[None, :], m[:, None] - x, 0.0) * w_tile[None, :], 1)
    _store_value(LOSS, _value(d, lse, smooth, w_y, sw, valid, W_sum, one_m_eps, eps_c, HAS_EPS), rows, rmask,
                 PER_ROW)
    if WANT_GRAD:
        rest = tl.where(d == 0.0, s, (1.0 + s) - tl.sum(tl.where(at_label, e, 0.0), 1))
        g = _grad(e, 1.0 / (1.0 + s), rest, at_label, cols, cmask, w_y, scale, W_sum, w_tile, one_m_eps, eps_c,
                  HAS_EPS)
        ptrs = G + rows[:, None] * stride + cols[None, :]
        tl.store(ptrs, g.to(G.dtype.element_ty), mask=rmask[:, None] & cmask[None, :])


@triton.jit
def _online_pass(X, row, stride, y, n_cols, BLOCK_C: tl.constexpr, ACC: tl.constexpr):
    """One pass over a wide row: ``(m, s, x_y)``, the online normaliser with one maximal term left out."""
    rows = tl.full([1], 0, tl.int64) + row
    rmask = rows >= 0
    m = tl.full([1], float("-inf"), ACC)
    s = tl.zeros([1], ACC)
    x_y = tl.zeros([1], ACC)
    for c0 in range(0, n_cols, BLOCK_C):
        cols = c0 + tl.arange(0, BLOCK_C)
        x, cmask = _load(X, rows, cols, stride, rmask, n_cols, ACC)
        bm = tl.max(x, 1)
        bk = tl.min(tl.where(x == bm[:, None], cols[None, :], n_cols), 1)
        new_m = tl.maximum(m, bm)
        up = bm > m  # this tile holds a new maximum: its first one leaves the sum, the old one joins it
        alpha = tl.exp(m - new_m)  # 0 on the first tile (m = -inf)
        e = tl.exp(x - new_m[:, None])
        e = tl.where((cols[None, :] == bk[:, None]) & up[:, None], 0.0, e)
        s = s * alpha + tl.where(up, alpha, 0.0) + tl.sum(e, 1)
        m = new_m
        x_y += tl.sum(tl.where(cols[None, :] == y[:, None], x, 0.0), 1)
    return m, s, x_y


@triton.jit
def wce_fwd_looped(X, Y, W, SW, NORM, COEF, LOSS, G, n_rows, n_cols, stride, ignore_index,
                   BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr, HAS_W: tl.constexpr, HAS_SW: tl.constexpr,
                   HAS_IGNORE: tl.constexpr, HAS_NORM: tl.constexpr, HAS_EPS: tl.constexpr, PER_ROW: tl.constexpr,
                   WANT_GRAD: tl.constexpr, INTERP: tl.constexpr, ACC: tl.constexpr):
    """One wide row per program (``BLOCK_M = 1``): the online pass, then a pass for the gradient (and the
    smoothing sum, which needs the final max)."""
    row = tl.program_id(0).to(tl.int64)
    rows = tl.full([1], 0, tl.int64) + row
    rmask = rows < n_rows
    y, valid, w_y, sw, scale = _row_meta(Y, W, SW, NORM, rows, rmask, ignore_index,
                                         HAS_W, HAS_SW, HAS_IGNORE, HAS_NORM, ACC)
    W_sum, one_m_eps, eps_c = _consts(COEF, HAS_EPS, ACC)
    m, s, x_y = _online_pass(X, row, stride, y, n_cols, BLOCK_C, ACC)
    d = m - x_y
    lse = _log1p(s, INTERP)
    inv = 1.0 / (1.0 + s)
    rest = tl.where(d == 0.0, s, (1.0 + s) - tl.exp(-d))
    smooth = tl.zeros([1], ACC)
    if HAS_EPS or WANT_GRAD:
        for c0 in range(0, n_cols, BLOCK_C):
            cols = c0 + tl.arange(0, BLOCK_C)
            x, cmask = _load(X, rows, cols, stride, rmask, n_cols, ACC)
            w_tile = tl.full([BLOCK_C], 1.0, ACC)
            if HAS_W:
                w_tile = tl.load(W + cols, mask=cmask, other=0.0).to(ACC)
            if HAS_EPS:
                smooth += tl.sum(tl.where(cmask[None, :], m[:, None] - x, 0.0) * w_tile[None, :], 1)
            if WANT_GRAD:
                e = tl.exp(x - m[:, None])
                g = _grad(e, inv, rest, cols[None, :] == y[:, None], cols, cmask, w_y, scale, W_sum, w_tile,
                          one_m_eps, eps_c, HAS_EPS)
                tl.store(G + rows[:, None] * stride + cols[None, :], g.to(G.dtype.element_ty),
                         mask=rmask[:, None] & cmask[None, :])
    _store_value(LOSS, _value(d, lse, smooth, w_y, sw, valid, W_sum, one_m_eps, eps_c, HAS_EPS), rows, rmask,
                 PER_ROW)


@triton.jit
def scale_rows(G, F, n_rows, n_cols, stride, PER_ROW: tl.constexpr, BLOCK_M: tl.constexpr,
               BLOCK_C: tl.constexpr, ACC: tl.constexpr):
    """``G[i, :] *= f_i`` in place (``f`` per row, or one scalar), skipping every row whose factor is 1.

    The backward of the fused loss: for ``loss.backward()`` the factor is 1 and no gradient byte is read or
    written, with no host synchronisation (the factor is read on the device).
    """
    rows = tl.program_id(0).to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    rmask = rows < n_rows
    if PER_ROW:
        f = tl.load(F + rows, mask=rmask, other=1.0).to(ACC)
    else:
        f = tl.zeros([BLOCK_M], ACC) + tl.load(F).to(ACC)
    need = rmask & (f != 1.0)
    if tl.max(need.to(tl.int32), 0) > 0:
        for c0 in range(0, n_cols, BLOCK_C):
            cols = c0 + tl.arange(0, BLOCK_C)
            mask = need[:, None] & (cols < n_cols)[None, :]
            ptrs = G + rows[:, None] * stride + cols[None, :]
            g = tl.load(ptrs, mask=mask, other=0.0)
            tl.store(ptrs, (g.to(ACC) * f[:, None]).to(G.dtype.element_ty), mask=mask)
