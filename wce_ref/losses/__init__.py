"""The loss layer: one module per loss, one registry line each.

To add a loss, write ``wce_ref/losses/<name>.py`` defining a :class:`Loss`
record (see ``softmax_wce.py``) and add one ``register`` line below: the
agreement matrix, ``wce check``, the benchmark grid, the training engines, the
strategies and the framework front ends pick it up from :data:`LOSSES`.
"""

from __future__ import annotations

from . import cost_sensitive_ce as _cost_sensitive_ce
from . import ldam_ce as _ldam_ce
from . import logit_adjusted_ce as _logit_adjusted_ce
from . import poly1_ce as _poly1_ce
from . import sigmoid_focal as _sigmoid_focal
from . import sigmoid_wce as _sigmoid_wce
from . import softmax_focal as _softmax_focal
from . import softmax_wce as _softmax_wce
from ._base import LOSSES, Builtin, Case, Loss, get, names, register, round_to, unregister
from .cost_sensitive_ce import cost_sensitive_ce, cost_sensitive_ce_grad
from .ldam_ce import ldam_ce, ldam_ce_grad
from .logit_adjusted_ce import logit_adjust, logit_adjusted_ce, logit_adjusted_ce_grad
from .poly1_ce import poly1_ce, poly1_ce_grad
from .sigmoid_focal import sigmoid_focal, sigmoid_focal_grad
from .sigmoid_wce import sigmoid_wce, sigmoid_wce_grad
from .softmax_focal import softmax_focal, softmax_focal_grad
from .softmax_wce import softmax_wce, softmax_wce_grad

register(_sigmoid_wce.LOSS)
register(_softmax_wce.LOSS)
register(_cost_sensitive_ce.LOSS)
register(_logit_adjusted_ce.LOSS)
register(_ldam_ce.LOSS)
register(_poly1_ce.LOSS)
register(_sigmoid_focal.LOSS)
register(_softmax_focal.LOSS)

__all__ = [
    "LOSSES",
    "Builtin",
    "Case",
    "Loss",
    "cost_sensitive_ce",
    "cost_sensitive_ce_grad",
    "get",
    "ldam_ce",
    "ldam_ce_grad",
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
