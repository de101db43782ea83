"""JAX front end: every registered loss as a pure function of JAX arrays, in the style of optax's losses.

Usable under ``jax.jit``, ``jax.grad`` and ``jax.vmap``: weights, priors,
counts and cost matrices are arrays (traced like the data, never branched on
in Python); the non-array arguments (``reduction``, ``gamma``, ``tau`` ...)
are static. Eagerly, the reference's argument check runs on the values (the
NumPy reference's messages); under tracing it checks shapes and dtypes, since
values are not known then (label ranges cannot be checked inside ``jit``:
check the data once outside, or call eagerly). The functions compute the
loss modules' framework formulas, the code the agreement matrix checks.

>>> import jax, jax.numpy as jnp
>>> from wce_ref.jax import softmax_wce
>>> x = jnp.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
>>> y = jnp.array([0, 2])
>>> w = jnp.array([1.0, 1.0, 4.0])
>>> round(float(jax.jit(softmax_wce)(x, y, class_weights=w)), 4)
0.1556
>>> jax.grad(softmax_wce)(x, y, class_weights=w).shape
(2, 3)

Every registered loss is an attribute: ``sigmoid_wce``, ``softmax_wce``,
``cost_sensitive_ce``, ``sigmoid_focal``, ``softmax_focal``,
``logit_adjusted_ce``, ``ldam_ce``, ``poly1_ce`` (``dir(wce_ref.jax)``).
"""

from __future__ import annotations

from . import losses as _losses
from ._frontend import loss_function as _loss_function
from ._frontend import module_getattr as _module_getattr

__getattr__ = _module_getattr("jax", " Pure: usable under jax.jit, jax.grad and jax.vmap.")


def loss_function(name: str):
    """The registered loss ``name`` as a JAX function."""
    return _loss_function("jax", name)


def __dir__() -> list[str]:
    return sorted(["loss_function", *_losses.LOSSES])
