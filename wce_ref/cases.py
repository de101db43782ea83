"""The named inputs the self-check and the agreement matrix run on, gathered from the loss registry.

Each loss module holds its own cases (:class:`~wce_ref.losses.Case`); this
module reads them from :data:`wce_ref.losses.LOSSES` at call time, so a loss
registered at run time brings its cases along. ``CASES``, ``LOSSES`` and
``REDUCTIONS`` are computed on access for the same reason.
"""

from __future__ import annotations

from typing import Any

from .losses import LOSSES as _REGISTRY
from .losses import Case, round_to

__all__ = ["Case", "cases_for", "round_to"]  # and, computed on access: CASES, LOSSES, REDUCTIONS


def cases_for(loss: str | None = None) -> list[Case]:
    """The cases of one loss (all when ``loss`` is None)."""
    return [c for spec in _REGISTRY.values() if loss in (None, spec.name) for c in spec.cases]


def __getattr__(name: str) -> Any:
    if name == "CASES":
        return tuple(cases_for())
    if name == "LOSSES":
        return tuple(_REGISTRY)
    if name == "REDUCTIONS":
        return {n: spec.reductions for n, spec in _REGISTRY.items()}
    raise AttributeError(f"module 'wce_ref.cases' has no attribute {name!r}")
