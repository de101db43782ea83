"""Eager TensorFlow calls of a configuration called often run one traced ``tf.function`` (``TensorFlowBackend.loss``).

The argument check still runs eagerly on every call (the reference's messages); from the ``HOT_CALLS``-th call of
a configuration the formula runs as a function traced for it, with the eager formula's value and gradient; a
configuration called fewer times is not traced.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import requested_frameworks

from wce_ref import WCEInputError

if "tensorflow" not in requested_frameworks():
    pytest.skip("tensorflow not requested (WCE_FRAMEWORKS)", allow_module_level=True)

tf = pytest.importorskip("tensorflow", reason="tensorflow is not installed")

from wce_ref.frameworks import _tensorflow  # noqa: E402
from wce_ref.frameworks import get as get_backend  # noqa: E402


def _value_and_grad(backend, x, y, **kw):
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = backend.loss("softmax_wce", x, y, **kw)
    return float(value.numpy()), tape.gradient(value, x).numpy()


def test_a_hot_configuration_runs_a_traced_function_with_the_formulas_results():
    backend = get_backend("tensorflow")
    backend.load()
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(33, 7)), dtype=tf.float32)
    y = tf.constant(rng.integers(0, 7, 33))
    kw = {"class_weights": tf.constant(rng.uniform(0.5, 2.0, 7), dtype=tf.float32), "label_smoothing": 0.1}
    before = len(backend._graphs)
    eager = [_value_and_grad(backend, x, y, **kw) for _ in range(_tensorflow.HOT_CALLS - 1)]
    assert len(backend._graphs) == before  # not traced yet
    traced = _value_and_grad(backend, x, y, **kw)
    assert len(backend._graphs) == before + 1
    assert traced[0] == pytest.approx(eager[0][0], rel=1e-6)
    np.testing.assert_allclose(traced[1], eager[0][1], rtol=1e-5, atol=1e-8)
    _value_and_grad(backend, x[:20], y[:20], **kw)  # another shape: eager again until it is hot
    assert len(backend._graphs) == before + 1
    bad = tf.tensor_scatter_nd_update(x, [[3, 2]], [float("nan")])
    with pytest.raises(WCEInputError, match="finite"):  # checked eagerly before the traced function
        _value_and_grad(backend, bad, y, **kw)
    with pytest.raises(WCEInputError, match="label"):
        _value_and_grad(backend, x, tf.tensor_scatter_nd_update(y, [[0]], [9]), **kw)
