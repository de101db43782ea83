"""The loss layer: one module per loss, one registry line each.

To add a loss, write ``wce_ref/losses/_<name>.py`` defining a :class:`Loss`
record and add one ``register`` line below. A softmax-family loss subclasses the
template :class:`~wce_ref.losses._family.SoftmaxFamily` and writes only its own
rows, gradient, framework formula, exact form, parameters and cases (see
``_poly1_ce.py``); an element-wise (sigmoid-family) loss likewise subclasses
:class:`~wce_ref.losses._sigmoid_family.SigmoidFamily` and writes only its
elements (see ``_sigmoid_wce.py``); its ``loss()`` builds the record. Once registered, the
agreement matrix, ``wce check``, the benchmark grid, the training engines, the
strategies, the framework front ends (``wce_ref.torch``, ``wce_ref.keras``,
``wce_ref.jax``, ``wce_ref.tensorflow``) and the exports of this package and of
``wce_ref`` (the loss's value, gradient and helpers, :func:`exports`) pick it up
from :data:`LOSSES`. :func:`register` also works at run time.

The exports are set from the registry; the names under ``TYPE_CHECKING`` and
in ``__all__`` spell them out for readers, type checkers and ruff, and
``tests/test_registries.py`` checks that they match the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

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
from ._base import LOSSES, Builtin, Case, Loss, cases_for, exports, get, names, register, round_to, unregister
from ._common import threads

register(_sigmoid_wce.LOSS)
register(_softmax_wce.LOSS)
register(_cost_sensitive_ce.LOSS)
register(_sigmoid_focal.LOSS)
register(_softmax_focal.LOSS)
register(_logit_adjusted_ce.LOSS)
register(_ldam_ce.LOSS)
register(_poly1_ce.LOSS)

if TYPE_CHECKING:  # what ``exports()`` sets below, spelled out for readers (tests/test_registries.py checks it)
    from ._cost_sensitive_ce import cost_sensitive_ce, cost_sensitive_ce_grad
    from ._ldam_ce import ldam_ce, ldam_ce_grad, ldam_margins
    from ._logit_adjusted_ce import logit_adjust, logit_adjusted_ce, logit_adjusted_ce_grad
    from ._poly1_ce import poly1_ce, poly1_ce_grad
    from ._sigmoid_focal import sigmoid_focal, sigmoid_focal_grad
    from ._sigmoid_wce import sigmoid_wce, sigmoid_wce_grad
    from ._softmax_focal import softmax_focal, softmax_focal_grad
    from ._softmax_wce import softmax_wce, softmax_wce_grad

globals().update(exports())


def registry_getattr(module: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving the public functions of losses registered after ``module`` was imported."""

    def __getattr__(attr: str) -> Any:
        functions = exports()
        if attr in functions:
            return functions[attr]
        raise AttributeError(f"module {module!r} has no attribute {attr!r}")

    return __getattr__


__getattr__ = registry_getattr(__name__)


def __dir__() -> list[str]:
    return sorted({*globals(), *exports()})


__all__ = [  # the library's names, then the registry's exports (see the module docstring)
    "LOSSES",
    "Builtin",
    "Case",
    "Loss",
    "cases_for",
    "exports",
    "get",
    "names",
    "register",
    "registry_getattr",
    "round_to",
    "threads",
    "unregister",
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
