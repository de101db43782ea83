"""Compatibility module: the reference losses now live in :mod:`wce_ref.losses`, one module per loss."""

from .losses import (  # noqa: F401
    cost_sensitive_ce,
    cost_sensitive_ce_grad,
    sigmoid_wce,
    sigmoid_wce_grad,
    softmax_wce,
    softmax_wce_grad,
)
