"""What the function front ends (``wce_ref.jax``, ``wce_ref.tensorflow``) share: one function per registered loss."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from . import frameworks as _frameworks
from . import losses as _losses


def loss_function(framework: str, name: str, note: str = "") -> Callable[..., Any]:
    """The registered loss ``name`` as a function of ``framework``'s arrays (arguments as for the reference)."""
    spec = _losses.get(name)

    @functools.wraps(spec.value)
    def fn(*args: Any, **kwargs: Any) -> Any:
        return _frameworks.get(framework).loss(name, *args, **kwargs)

    fn.__doc__ = f"{framework} version of :func:`wce_ref.{name}` (same arguments).{note}\n\n" + (
        spec.value.__doc__ or ""
    )
    fn.__module__ = f"wce_ref.{framework}"
    return fn


def module_getattr(framework: str, note: str = "") -> Callable[[str], Any]:
    """A module ``__getattr__`` that serves every registered loss, including ones registered later."""

    def __getattr__(attr: str) -> Any:
        if attr in _losses.LOSSES:
            return loss_function(framework, attr, note)
        raise AttributeError(f"module 'wce_ref.{framework}' has no attribute {attr!r}")

    return __getattr__
