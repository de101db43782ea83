"""wce-ref: a reference implementation of weighted cross entropy and a benchmark suite.

The NumPy reference (this package's top level) defines every convention; the
framework implementations, the agreement matrix, the speed benchmarks and the
task suites are all checked against it.
"""

from . import losses
from ._validation import WCEInputError, WCETypeError
from ._weights import SCHEMES, batch_weights, class_weights, sample_weights
from .losses import (
    cost_sensitive_ce,
    cost_sensitive_ce_grad,
    ldam_ce,
    ldam_ce_grad,
    logit_adjust,
    logit_adjusted_ce,
    logit_adjusted_ce_grad,
    poly1_ce,
    poly1_ce_grad,
    sigmoid_focal,
    sigmoid_focal_grad,
    sigmoid_wce,
    sigmoid_wce_grad,
    softmax_focal,
    softmax_focal_grad,
    softmax_wce,
    softmax_wce_grad,
)

__version__ = "0.1.0"

__all__ = [
    "SCHEMES",
    "WCEInputError",
    "WCETypeError",
    "batch_weights",
    "losses",
    "class_weights",
    "cost_sensitive_ce",
    "cost_sensitive_ce_grad",
    "ldam_ce",
    "ldam_ce_grad",
    "logit_adjust",
    "logit_adjusted_ce",
    "logit_adjusted_ce_grad",
    "poly1_ce",
    "poly1_ce_grad",
    "sample_weights",
    "sigmoid_focal",
    "sigmoid_focal_grad",
    "sigmoid_wce",
    "sigmoid_wce_grad",
    "softmax_focal",
    "softmax_focal_grad",
    "softmax_wce",
    "softmax_wce_grad",
]
