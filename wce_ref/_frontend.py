"""What the front ends (``wce_ref.torch``, ``wce_ref.keras``, ``wce_ref.jax``, ``wce_ref.tensorflow``) share.

:func:`loss_function` is the one place a registered loss becomes a function of
a framework's tensors; :func:`module_getattr` serves every registered loss as a
module attribute, including losses registered after the front end's import.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from . import frameworks as _frameworks
from . import losses as _losses


def loss_function(
    framework: str,
    name: str,
    note: str = "",
    *,
    label: str | None = None,
    backend: Callable[[], Any] | None = None,
) -> Callable[..., Any]:
    """The registered loss ``name`` as a function of ``framework``'s tensors (arguments as for the reference).

    Parameters
    ----------
    framework : str
        The front end ``wce_ref.<framework>`` the function belongs to (its ``__module__``) and, unless
        ``backend`` is given, the registered framework whose backend computes it.
    name : str
        A registered loss (:data:`wce_ref.losses.LOSSES`).
    note : str
        A sentence appended to the first line of the docstring.
    label : str, optional
        How the docstring names the framework (default: ``framework``).
    backend : callable, optional
        Returns the backend that computes the loss (default: ``wce_ref.frameworks.get(framework)``), called on
        every call so that the backend is loaded lazily.

    Returns
    -------
    callable
        ``fn(*args, **kwargs)`` with the reference's signature, name and docstring (under a first line that
        names the framework).
    """
    spec = _losses.get(name)
    get_backend = backend if backend is not None else functools.partial(_frameworks.get, framework)

    @functools.wraps(spec.value)
    def fn(*args: Any, **kwargs: Any) -> Any:
        return get_backend().loss(name, *args, **kwargs)

    fn.__doc__ = f"{label or framework} version of :func:`wce_ref.{name}` (same arguments).{note}\n\n" + (
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
