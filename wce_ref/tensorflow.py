"""TensorFlow front end: every registered loss as a function of ``tf.Tensor`` values, for plain TF code.

Works eagerly, under ``tf.GradientTape`` and inside ``tf.function``
(``jit_compile=True`` is the recommended mode). Eagerly the reference's
argument check runs on the values; inside ``tf.function`` on shapes and
dtypes. For Keras models use :mod:`wce_ref.keras`.

>>> import tensorflow as tf
>>> from wce_ref.tensorflow import sigmoid_wce
>>> x = tf.constant([2.0, -1.0, 0.5])
>>> t = tf.constant([1.0, 0.0, 1.0])
>>> round(float(sigmoid_wce(x, t, pos_weight=3.0, reduction="sum")), 3)
2.116
"""

from __future__ import annotations

from . import losses as _losses
from ._frontend import loss_function as _loss_function
from ._frontend import module_getattr as _module_getattr

__getattr__ = _module_getattr("tensorflow")


def loss_function(name: str):
    """The registered loss ``name`` as a TensorFlow function."""
    return _loss_function("tensorflow", name)


def __dir__() -> list[str]:
    return sorted(["loss_function", *_losses.LOSSES])
