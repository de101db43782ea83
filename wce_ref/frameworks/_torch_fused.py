r"""PyTorch's fused loss primitives (imported once torch is: see :meth:`TorchBackend.lib`).

``SoftmaxNLL``: the fused softmax NLL as a ``torch.autograd.Function``.

Forward, as the reference: :math:`(m - x_y) + \log(1 + s)` with the row max
:math:`m` and :math:`s = \sum_{j \ne k} e^{x_j - m}` (the max term left out,
so that a loss near 0 keeps its relative precision). Backward:
:math:`g\,(p_j - [j = y])` with :math:`p_j = e^{x_j - m} / (1 + s)` and
:math:`1 - p_y = r_y / (1 + s)`, :math:`r_y = s` where :math:`y` holds the
max, else :math:`(1 + s) - e^{x_y - m} \ge 1` (at most a factor 2 of
cancellation), so the label's gradient keeps its relative precision too.

Eager: one max-with-index pass, an in-place exponential, a scatter that
removes the max term, and the exponentials kept for the backward. Under
``torch.compile``: the max term is removed with an equality mask against
the row max (ties counted in floating point), which Inductor fuses into
one pass, and the backward recomputes the exponentials from the logits.
"""

from __future__ import annotations

import torch


class SoftmaxNLL(torch.autograd.Function):
    """``-log softmax(x)[i, y_i]`` of (M, C) logits and (M,) int64 labels; the module's docstring has the math."""

    @staticmethod
    def forward(ctx, x, y):
        if torch.compiler.is_compiling():
            m = x.amax(1, keepdim=True)
            tie = x == m
            s = torch.where(tie, 0.0, torch.exp(x - m)).sum(1) + (tie.to(x.dtype).sum(1) - 1)
            x_y = x.gather(1, y[:, None])
            ctx.save_for_backward(x, m, s, y)
            ctx.recompute = True
            return torch.where(x_y == m, 0.0, m - x_y)[:, 0] + torch.log1p(s)
        m, k = x.max(1)
        e = torch.sub(x, m[:, None]).exp_()
        e.scatter_(1, k[:, None], 0.0)
        s = e.sum(1)
        x_y = x.gather(1, y[:, None])[:, 0]
        ctx.save_for_backward(e, s, k, y)
        ctx.recompute = False
        return torch.where(y == k, 0.0, m - x_y) + torch.log1p(s)

    @staticmethod
    def backward(ctx, g):
        if ctx.recompute:  # the compiled forward's residuals
            x, m, s, y = ctx.saved_tensors
            d = (1 + s)[:, None]
            e = torch.exp(x - m)
            at_y = torch.arange(x.shape[1], device=x.device)[None, :] == y[:, None]
            rest = torch.where(x.gather(1, y[:, None]) == m, s[:, None], d - e.gather(1, y[:, None]))
            return torch.where(at_y, -rest, e) * (g[:, None] / d), None
        e, s, k, y = ctx.saved_tensors
        scale = (g / (1 + s))[:, None]
        grad = e * scale
        grad.scatter_(1, k[:, None], scale)
        rest = torch.where(y == k, s, (s - e.gather(1, y[:, None])[:, 0]) + 1)
        return grad.scatter_(1, y[:, None], -scale * rest[:, None]), None
