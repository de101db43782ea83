"""wce-ref: a reference implementation of weighted cross entropy and a benchmark suite.

The NumPy reference (this package's top level) defines every convention; the
framework implementations, the agreement matrix, the speed benchmarks and the
task suites are all checked against it.

Every registered loss's public functions (its value, its gradient and its
helpers, :func:`wce_ref.losses.exports`) are attributes of this package, also
those of a loss registered at run time; the names under ``TYPE_CHECKING`` and
in ``__all__`` spell out the built-in ones for readers, type checkers and ruff
(``tests/test_registries.py`` checks that they match the registry).
"""

from typing import TYPE_CHECKING

from . import losses
from ._validation import WCEInputError, WCETypeError
from ._weights import SCHEMES, batch_weights, class_weights, sample_weights

if TYPE_CHECKING:  # what losses.exports() sets below, spelled out for readers (tests/test_registries.py checks it)
    from .losses import (
        cost_sensitive_ce,
        cost_sensitive_ce_grad,
        ldam_ce,
        ldam_ce_grad,
        ldam_margins,
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

globals().update(losses.exports())
__getattr__ = losses.registry_getattr(__name__)


def __dir__() -> list[str]:
    return sorted({*globals(), *losses.exports()})


__version__ = "0.1.0"

__all__ = [  # the library's names, then the loss registry's exports (see the module docstring)
    "SCHEMES",
    "WCEInputError",
    "WCETypeError",
    "batch_weights",
    "class_weights",
    "losses",
    "sample_weights",
    "cost_sensitive_ce",
    "cost_sensitive_ce_grad",
    "ldam_ce",
    "ldam_ce_grad",
    "ldam_margins",
    "logit_adjust",
    "logit_adjusted_ce",
    "logit_adjusted_ce_grad",
    "poly1_ce",
    "poly1_ce_grad",
    "sigmoid_focal",
    "sigmoid_focal_grad",
    "sigmoid_wce",
    "sigmoid_wce_grad",
    "softmax_focal",
    "softmax_focal_grad",
    "softmax_wce",
    "softmax_wce_grad",
]
