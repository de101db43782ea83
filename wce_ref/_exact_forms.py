"""The exact forms of the registered losses, by name: a neutral table between the losses and the oracle.

Each loss module writes its exact (mpmath) form with the oracle's tools
(:mod:`wce_ref.oracle`) and :func:`wce_ref.losses.register` records it here;
the oracle serves it as ``oracle.<loss name>``. Through this table neither side
imports the other: the oracle stays independent of the code it checks (it
imports nothing from :mod:`wce_ref.losses`), and a loss imports the oracle (and
mpmath, an optional dependency) only when its exact form is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["EXACT"]

#: loss name -> ``exact(**kwargs, reduction=...) -> (value, grad)``, filled by ``wce_ref.losses.register``
EXACT: dict[str, Callable[..., tuple[Any, Any]]] = {}
