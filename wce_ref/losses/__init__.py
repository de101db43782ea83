"""The loss layer: one module per loss, one registry line each.

To add a loss, write ``wce_ref/losses/_<name>.py`` defining a :class:`Loss`
record (see ``_softmax_wce.py``) and add one ``register`` line below (and its
names to the imports): the agreement matrix, ``wce check``, the benchmark grid,
the training engines, the strategies and the framework front ends
(``wce_ref.torch``, ``wce_ref.keras``, ``wce_ref.jax``, ``wce_ref.tensorflow``)
pick it up from :data:`LOSSES`. :func:`register` also works at run time.
"""

from __future__ import annotations

from . import (
    _cost_sensitive_ce,
    _ldam_ce,
    _logit_adjusted_ce,
    _poly1_ce,
    _sigmoid_focal,
    _sigmoid_wce,
    _softmax_focal,
    _softmax_wce,
)
from ._base import LOSSES, Builtin, Case, Loss, get, names, register, round_to, unregister
from ._common import threads
from ._cost_sensitive_ce import cost_sensitive_ce, cost_sensitive_ce_grad
from ._ldam_ce import ldam_ce, ldam_ce_grad, ldam_margins
from ._logit_adjusted_ce import logit_adjust, logit_adjusted_ce, logit_adjusted_ce_grad
from ._poly1_ce import poly1_ce, poly1_ce_grad
from ._sigmoid_focal import sigmoid_focal, sigmoid_focal_grad
from ._sigmoid_wce import sigmoid_wce, sigmoid_wce_grad
from ._softmax_focal import softmax_focal, softmax_focal_grad
from ._softmax_wce import softmax_wce, softmax_wce_grad

register(_sigmoid_wce.LOSS)
register(_softmax_wce.LOSS)
register(_cost_sensitive_ce.LOSS)
register(_sigmoid_focal.LOSS)
register(_softmax_focal.LOSS)
register(_logit_adjusted_ce.LOSS)
register(_ldam_ce.LOSS)
register(_poly1_ce.LOSS)

__all__ = [
    "threads",
    "LOSSES",
    "Builtin",
    "Case",
    "Loss",
    "cost_sensitive_ce",
    "cost_sensitive_ce_grad",
    "get",
    "ldam_ce",
    "ldam_ce_grad",
    "ldam_margins",
    "logit_adjust",
    "logit_adjusted_ce",
    "logit_adjusted_ce_grad",
    "names",
    "poly1_ce",
    "poly1_ce_grad",
    "register",
    "round_to",
    "sigmoid_focal",
    "sigmoid_focal_grad",
    "sigmoid_wce",
    "sigmoid_wce_grad",
    "softmax_focal",
    "softmax_focal_grad",
    "softmax_wce",
    "softmax_wce_grad",
    "unregister",
]
