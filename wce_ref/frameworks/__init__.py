"""The framework registry: one module per framework, one line each here.

To add a framework, write a module with a :class:`Backend` subclass (see
``_torch.py``) and add one line to :data:`REGISTRY`; the agreement matrix, the
``wce check`` command and the benchmarks pick it up from here. Nothing is
imported until a framework is asked for.
"""

from __future__ import annotations

import importlib

from ._base import Backend, Builtin, FrameworkUnavailable, NotSupported

__all__ = [
    "ALIASES",
    "REGISTRY",
    "Backend",
    "Builtin",
    "FrameworkUnavailable",
    "NotSupported",
    "get",
    "names",
    "register",
    "resolve",
    "unregister",
]

#: framework name -> "module:Backend class" (imported lazily) or a Backend subclass
REGISTRY: dict[str, str | type[Backend]] = {
    "numpy": "wce_ref.frameworks._numpy:NumpyBackend",
    "torch": "wce_ref.frameworks._torch:TorchBackend",
    "tensorflow": "wce_ref.frameworks._tensorflow:TensorFlowBackend",
    "jax": "wce_ref.frameworks._jax:JaxBackend",
    "keras-tensorflow": "wce_ref.frameworks._keras:KerasTensorFlow",
    "keras-jax": "wce_ref.frameworks._keras:KerasJax",
    "keras-torch": "wce_ref.frameworks._keras:KerasTorch",
}
ALIASES = {"tf": "tensorflow", "pytorch": "torch", "np": "numpy"}

_INSTANCES: dict[str, Backend] = {}


def names() -> list[str]:
    """Registered framework names."""
    return list(REGISTRY)


def resolve(name: str) -> str:
    """Canonical name of a framework (aliases allowed), or a clear error."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in REGISTRY:
        raise ValueError(f"framework must be one of {names()} (or an alias {sorted(ALIASES)}); received {name!r}")
    return key


def get(name: str) -> Backend:
    """The backend of a framework. Its framework is imported on first use, not here."""
    key = resolve(name)
    if key not in _INSTANCES:
        entry = REGISTRY[key]
        if isinstance(entry, str):
            module, cls = entry.split(":")
            entry = getattr(importlib.import_module(module), cls)
        _INSTANCES[key] = entry()
    return _INSTANCES[key]


def register(name: str, backend: str | type[Backend]) -> None:
    """Add a framework (a ``"module:Class"`` path or a :class:`Backend` subclass) under ``name``."""
    REGISTRY[name] = backend
    _INSTANCES.pop(name, None)


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)
    _INSTANCES.pop(name, None)
