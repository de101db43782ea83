"""The focal losses: gamma = 0 is weighted cross entropy exactly, gradients finite where p -> 1, validation.

Framework tests run in every installed framework; a framework that is not
installed is skipped with that reason, one requested through
``WCE_FRAMEWORKS`` must import (see ``conftest.py``).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from conftest import requested_frameworks
from hypothesis import given
from hypothesis import strategies as st

import wce_ref
from wce_ref import WCEInputError, WCETypeError, frameworks, oracle
from wce_ref.losses import get


def _installed():
    wanted = requested_frameworks()
    out = []
    for name in frameworks.names():
        backend = frameworks.get(name)
        if name not in wanted and importlib.util.find_spec(backend.module) is None:
            out.append(pytest.param(name, marks=pytest.mark.skip(reason=f"{name} is not installed")))
        elif name not in wanted and backend.isolation() is not None:  # Keras on another backend
            out.append(pytest.param(name, marks=pytest.mark.skip(reason=f"{name} runs in a process of its own")))
        else:
            out.append(pytest.param(name))
    return out


@pytest.fixture(params=_installed())
def backend(request):
    b = frameworks.get(request.param)
    b.load()  # installed (or requested) but broken: FrameworkUnavailable fails the test
    return b


def _run(backend, loss, x, *args, dtype="float64", **kwargs):
    """``(value, grad)`` of a registered loss in a framework, the logits in ``dtype``, via its autodiff."""
    logits = backend.tensor(x, dtype, "cpu")
    tensors = [backend.tensor(a, "float64" if a.dtype.kind == "f" else None, "cpu") for a in args]

    def fn(z):
        return backend.loss(loss, z, *tensors, **kwargs)

    return backend.value_and_grad(fn, logits)


# --------------------------------------------------------------------------- gamma = 0 is WCE, bit for bit


@st.composite
def softmax_problem(draw):
    n = draw(st.integers(0, 7))
    c = draw(st.integers(1, 6))
    extra = draw(st.sampled_from([(), (3,), (2, 2)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from(["float64", "float32", "float16"]))
    x = (rng.normal(size=(n, c, *extra)) * draw(st.sampled_from([0.1, 3.0, 40.0]))).astype(dtype)
    y = rng.integers(0, c, size=(n, *extra))
    kw = {"reduction": draw(st.sampled_from(["none", "sum", "mean", "weighted_mean"]))}
    if draw(st.booleans()):
        kw["class_weights"] = rng.uniform(0.1, 3.0, size=c)
    if draw(st.booleans()):
        kw["sample_weight"] = rng.uniform(0.0, 2.0, size=(n,))
    if draw(st.booleans()) and n:
        kw["ignore_index"] = -100
        y = np.where(rng.uniform(size=y.shape) < 0.3, -100, y)
        y.flat[0] = 0  # at least one counted position: the means are defined
    if draw(st.booleans()):
        x, kw["class_axis"] = np.moveaxis(x, 1, -1), -1
    return x, y, kw


@given(softmax_problem())
def test_softmax_focal_with_gamma_0_is_softmax_wce_exactly(problem):
    x, y, kw = problem
    for focal, wce in ((wce_ref.softmax_focal, wce_ref.softmax_wce),
                       (wce_ref.softmax_focal_grad, wce_ref.softmax_wce_grad)):
        got, want = np.asarray(focal(x, y, gamma=0.0, **kw)), np.asarray(wce(x, y, **kw))
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want), (focal.__name__, got, want)


@st.composite
def sigmoid_problem(draw):
    shape = draw(st.sampled_from([(), (0,), (1,), (7,), (4, 3), (2, 3, 2)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from(["float64", "float32", "float16"]))
    x = np.asarray(rng.normal(size=shape) * draw(st.sampled_from([0.1, 3.0, 40.0]))).astype(dtype)
    t = rng.uniform(size=shape) if draw(st.booleans()) else (rng.uniform(size=shape) < 0.4).astype(np.float64)
    kw = {"reduction": draw(st.sampled_from(["none", "sum", "mean"]))}
    if draw(st.booleans()):
        kw["sample_weight"] = rng.uniform(0.0, 2.0, size=shape)
    return x, np.asarray(t), kw


@given(sigmoid_problem())
def test_sigmoid_focal_with_gamma_0_is_sigmoid_wce_exactly(problem):
    x, t, kw = problem
    for focal, wce in ((wce_ref.sigmoid_focal, wce_ref.sigmoid_wce),
                       (wce_ref.sigmoid_focal_grad, wce_ref.sigmoid_wce_grad)):
        got, want = np.asarray(focal(x, t, gamma=0.0, **kw)), np.asarray(wce(x, t, **kw))
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want), (focal.__name__, got, want)


@given(sigmoid_problem(), st.sampled_from([0.0, 0.25, 0.5, 1.0]))
def test_sigmoid_focal_alpha_with_gamma_0_is_pos_neg_weighted_bce(problem, alpha):
    """For hard targets alpha_t * ce is alpha t softplus(-x) + (1 - alpha)(1 - t) softplus(x)."""
    x, t, kw = problem
    x, t = x.astype(np.float64), np.round(t)
    got = wce_ref.sigmoid_focal(x, t, gamma=0.0, alpha=alpha, **kw)
    want = wce_ref.sigmoid_wce(x, t, pos_weight=alpha, neg_weight=1 - alpha, **kw)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-300)


# --------------------------------------------------------------------------- gradients finite as p -> 1


def _confident_softmax(scale):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 4))
    y = rng.integers(0, 4, size=6)
    x[np.arange(6), y] += scale  # p_y -> 1: 1 - p_y underflows for scale 1e4
    return np.round(x * 8) / 8, y  # x - max exact: the error measured is the loss's, not log-sum-exp's conditioning


def _confident_sigmoid(scale):
    t = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    return np.where(t > 0, scale, -scale) * np.linspace(1.0, 2.0, 6), t


@pytest.mark.parametrize("gamma", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("scale", [20.0, 60.0, 1e4])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_reference_gradients_are_finite_and_exact_as_p_goes_to_1(gamma, scale, dtype):
    x, y = _confident_softmax(scale)
    g = wce_ref.softmax_focal_grad(x.astype(dtype), y, gamma=gamma, reduction="sum")
    assert np.isfinite(g).all()
    assert oracle.error_stats(g, oracle.softmax_focal(x.astype(dtype), y, gamma=gamma, reduction="sum")[1],
                              dtype).max_ulp <= 8
    xs, t = _confident_sigmoid(scale)
    g = wce_ref.sigmoid_focal_grad(xs.astype(dtype), t, gamma=gamma, alpha=0.25, reduction="sum")
    assert np.isfinite(g).all()
    exact = oracle.sigmoid_focal(xs.astype(dtype), t, gamma=gamma, alpha=0.25, reduction="sum")[1]
    assert oracle.error_stats(g, exact, dtype).max_ulp <= 8


@pytest.mark.parametrize("gamma", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_framework_gradients_are_finite_as_p_goes_to_1(backend, gamma, dtype):
    """optax and kornia shipped NaN gradients here: (1 - p) ** gamma has an infinite derivative at p = 1."""
    for scale in (20.0, 60.0, 1e4):
        x, y = _confident_softmax(scale if dtype != "float16" else min(scale, 6e4))
        value, grad = _run(backend, "softmax_focal", x, y, dtype=dtype, gamma=gamma, reduction="sum")
        assert np.isfinite(value).all() and np.isfinite(grad).all(), ("softmax_focal", scale)
        ref = wce_ref.softmax_focal_grad(x.astype(dtype), y, gamma=gamma, reduction="sum").astype(np.float64)
        np.testing.assert_allclose(grad, ref, rtol=1e-2 if dtype == "float16" else 1e-4, atol=1e-6)
        xs, t = _confident_sigmoid(scale)
        value, grad = _run(backend, "sigmoid_focal", xs, t, dtype=dtype, gamma=gamma, alpha=0.25, reduction="sum")
        assert np.isfinite(value).all() and np.isfinite(grad).all(), ("sigmoid_focal", scale)
        ref = wce_ref.sigmoid_focal_grad(xs.astype(dtype), t, gamma=gamma, alpha=0.25, reduction="sum")
        np.testing.assert_allclose(grad, ref.astype(np.float64), rtol=1e-2 if dtype == "float16" else 1e-4, atol=1e-6)


def test_framework_focal_losses_agree_with_the_reference_at_a_logit_of_0(backend):
    x = np.zeros((3, 2))
    y = np.array([0, 1, 1])
    _, grad = _run(backend, "softmax_focal", x, y, gamma=1.5, reduction="sum")
    np.testing.assert_allclose(grad, wce_ref.softmax_focal_grad(x, y, gamma=1.5, reduction="sum"), rtol=1e-12)
    t = np.array([[1.0, 0.0], [0.3, 1.0], [0.0, 0.5]])
    _, grad = _run(backend, "sigmoid_focal", x, t, gamma=0.5, alpha=0.75, reduction="sum")
    want = wce_ref.sigmoid_focal_grad(x, t, gamma=0.5, alpha=0.75, reduction="sum")
    np.testing.assert_allclose(grad, want, rtol=1e-12)


# --------------------------------------------------------------------------- validation

BAD = [
    ({"gamma": -0.5}, WCEInputError, r"gamma must be a finite number in \[0, inf\]; received -0.5"),
    ({"gamma": float("nan")}, WCEInputError, "gamma must be a finite number"),
    ({"gamma": float("inf")}, WCEInputError, "gamma must be a finite number"),
    ({"gamma": "2"}, WCETypeError, "gamma must be a real number; received str"),
    ({"gamma": True}, WCETypeError, "gamma must be a real number"),
    ({"gamma": None}, WCETypeError, "gamma must be a real number"),
]
BAD_ALPHA = [
    ({"alpha": 1.5}, WCEInputError, r"alpha must be a finite number in \[0, 1\]; received 1.5"),
    ({"alpha": -0.1}, WCEInputError, r"alpha must be a finite number in \[0, 1\]"),
    ({"alpha": float("nan")}, WCEInputError, "alpha must be a finite number"),
    ({"alpha": "0.25"}, WCETypeError, "alpha must be a real number; received str"),
    ({"alpha": [0.25]}, WCETypeError, "alpha must be a real number"),
]
X2 = np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 2.0]])
Y2 = np.array([0, 2])
T2 = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 1.0]])


def _bad_cases():
    for kw, exc, msg in BAD:
        yield "softmax_focal", kw, exc, msg
        yield "sigmoid_focal", kw, exc, msg
    for kw, exc, msg in BAD_ALPHA:
        yield "sigmoid_focal", kw, exc, msg


@pytest.mark.parametrize(("loss", "kwargs", "exc", "msg"), list(_bad_cases()))
def test_reference_rejects_bad_gamma_and_alpha_by_name(loss, kwargs, exc, msg):
    target = Y2 if loss == "softmax_focal" else T2
    for fn in (getattr(wce_ref, loss), getattr(wce_ref, loss + "_grad")):
        with pytest.raises(exc, match=msg):
            fn(X2, target, **kwargs)


@pytest.mark.parametrize(("loss", "kwargs", "exc", "msg"), list(_bad_cases()))
def test_frameworks_reject_bad_gamma_and_alpha_with_the_reference_message(backend, loss, kwargs, exc, msg):
    target = Y2 if loss == "softmax_focal" else T2
    with pytest.raises(exc, match=msg):
        _run(backend, loss, X2, target, **kwargs)


def test_softmax_focal_takes_class_index_labels_only():
    with pytest.raises(WCETypeError, match="labels must be integer class indices"):
        wce_ref.softmax_focal(X2, np.full((2, 3), 1 / 3))


# --------------------------------------------------------------------------- the built-ins' defaults


def test_optax_default_is_sigmoid_focal_with_alpha_none():
    pytest.importorskip("optax", reason="optax is not installed")
    import optax

    frameworks.get("jax").load()  # x64 on
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(6, 3)) * 3, rng.uniform(size=(6, 3))
    got = np.asarray(optax.sigmoid_focal_loss(x, t))
    np.testing.assert_allclose(got, wce_ref.sigmoid_focal(x, t, reduction="none"), rtol=1e-12)


def test_keras_defaults():
    pytest.importorskip("keras", reason="keras is not installed")
    frameworks.get("tensorflow").load()
    import keras

    rng = np.random.default_rng(1)
    x, t = rng.normal(size=(6, 3)) * 3, (rng.uniform(size=(6, 3)) < 0.5).astype(np.float64)
    # alpha=0.25 is inert without apply_class_balancing: the reference's alpha=None; Keras computes in float32
    got = float(keras.losses.BinaryFocalCrossentropy(from_logits=True)(t, x))
    assert got == pytest.approx(float(wce_ref.sigmoid_focal(x, t)), rel=1e-5)
    got = float(keras.losses.BinaryFocalCrossentropy(from_logits=True, apply_class_balancing=True)(t, x))
    assert got == pytest.approx(float(wce_ref.sigmoid_focal(x, t, alpha=0.25)), rel=1e-5)
    # CategoricalFocalCrossentropy's default alpha=0.25 scales every class: class_weights=[0.25] * C
    y = rng.integers(0, 3, size=6)
    got = float(keras.losses.CategoricalFocalCrossentropy(from_logits=True)(np.eye(3)[y], x))
    assert got == pytest.approx(float(wce_ref.softmax_focal(x, y, class_weights=[0.25] * 3)), rel=1e-5)


def test_registered_with_their_builtins():
    assert {b.name for b in get("sigmoid_focal").builtins} == {"keras.BinaryFocalCrossentropy",
                                                               "optax.sigmoid_focal_loss"}
    assert {b.name for b in get("softmax_focal").builtins} == {"keras.CategoricalFocalCrossentropy"}
    assert get("softmax_focal").train(np.array([0, 1]), n_classes=2, class_weights=[1.0, 3.0], gamma=0.5) == {
        "class_weights": [1.0, 3.0], "gamma": 0.5}
