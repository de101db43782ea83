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
                    backward: Callable[..., Any]) -> Callable[[Any, Any], Any]:
    """``f(x, y)`` with value ``forward(x, y)[0]`` and gradient in ``x`` ``backward(residuals, g)``.

    ``forward`` returns ``(value, residuals)``; the residuals are saved with ``ctx.save_for_backward``.
    ``y`` (integer labels) gets no gradient. Works eagerly and under ``torch.compile``.
    """

    class Fused(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            value, residuals = forward(x, y)
            ctx.save_for_backward(*residuals)
            return value

        @staticmethod
        def backward(ctx, g):
            return backward(ctx.saved_tensors, g), None

    return Fused.apply
