"""PyTorch's custom-gradient hook (imported once torch is: see :meth:`TorchBackend.lib`).

:func:`custom_gradient` wraps a forward and a backward written over the
operations table (the fused softmax NLL of :mod:`wce_ref.losses._ops`) into a
``torch.autograd.Function``. It lives in a module of its own because defining
the class needs torch, which ``wce_ref.frameworks._torch`` imports lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["custom_gradient"]


def custom_gradient(forward: Callable[..., tuple[Any, tuple[Any, ...]]],
                    backward: Callable[..., Any]) -> Callable[..., Any]:
    """``f(x, y, *consts)`` with value ``forward(x, y, *consts)[0]`` and gradient in ``x`` ``backward(residuals, g)``.

    ``forward`` returns ``(value, residuals)``; the residuals (tensors, or None) are saved with
    ``ctx.save_for_backward``. ``y`` (integer labels) and the constants (row weights) get no gradient. Works
    eagerly and under ``torch.compile``.
    """

    class Fused(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, *consts):
            value, residuals = forward(x, *consts)
            ctx.save_for_backward(*residuals)
            ctx.n_consts = len(consts)
            return value

        @staticmethod
        def backward(ctx, g):
            return backward(ctx.saved_tensors, g), *(None for _ in range(ctx.n_consts))

    return Fused.apply
