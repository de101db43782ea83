"""Equivalences the reference must satisfy (hypothesis-generated inputs)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import log_expit, log_softmax

import wce_ref


@st.composite
def problem(draw, max_n=12, max_c=6, max_scale=20.0, min_c=2):
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(min_c, max_c))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    x = rng.normal(size=(n, c)) * draw(st.floats(0.01, max_scale))
    y = rng.integers(0, c, size=n)
    return x, y


@given(problem())
def test_all_ones_weights_equal_plain_cross_entropy(p):
    x, y = p
    plain = -log_softmax(x, axis=1)[np.arange(len(y)), y]
    ones = np.ones(x.shape[1])
    # scipy computes x - logsumexp(x): its absolute error is a few eps * |x|
    atol = 8 * np.finfo(float).eps * np.abs(x).max()
    np.testing.assert_allclose(
        wce_ref.softmax_wce(x, y, class_weights=ones, reduction="none"), plain, rtol=1e-12, atol=atol
    )
    for reduction in ("mean", "weighted_mean"):
        got = wce_ref.softmax_wce(x, y, class_weights=ones, reduction=reduction)
        np.testing.assert_allclose(got, plain.mean(), rtol=1e-12, atol=atol)
    np.testing.assert_array_equal(
        wce_ref.softmax_wce(x, y, reduction="none"), wce_ref.softmax_wce(x, y, class_weights=ones, reduction="none")
    )
    t = (y % 2).astype(float)
    xs = x[:, 0]
    plain_bce = -(t * log_expit(xs) + (1 - t) * log_expit(-xs))
    np.testing.assert_allclose(wce_ref.sigmoid_wce(xs, t, reduction="none"), plain_bce, rtol=1e-10)


@given(problem(), st.data())
def test_integer_class_weight_equals_repeating_samples(p, data):
    """w_c = k is the same as repeating each sample of class c k times: the WCE / oversampling identity."""
    x, y = p
    c = x.shape[1]
    k = np.array(data.draw(st.lists(st.integers(1, 4), min_size=c, max_size=c)))
    reps = k[y]
    x_rep, y_rep = np.repeat(x, reps, axis=0), np.repeat(y, reps)
    np.testing.assert_allclose(
        wce_ref.softmax_wce(x, y, class_weights=k, reduction="sum"),
        wce_ref.softmax_wce(x_rep, y_rep, reduction="sum"),
        rtol=1e-12,
    )
    # PyTorch's weighted mean divides by sum_i w_{y_i} = the repeated data's size
    np.testing.assert_allclose(
        wce_ref.softmax_wce(x, y, class_weights=k, reduction="weighted_mean"),
        wce_ref.softmax_wce(x_rep, y_rep, reduction="mean"),
        rtol=1e-12,
    )
    t = (y == 0).astype(float)
    kp = int(k[0])
    xs = x[:, 0]
    rep = np.where(t == 1, kp, 1)
    np.testing.assert_allclose(
        wce_ref.sigmoid_wce(xs, t, pos_weight=kp, reduction="sum"),
        wce_ref.sigmoid_wce(np.repeat(xs, rep), np.repeat(t, rep), reduction="sum"),
        rtol=1e-12,
    )


def _finite_difference(f, x, h=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        g[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@given(problem(max_n=5, max_c=5, max_scale=4.0), st.floats(0.0, 0.5), st.sampled_from(["sum", "mean", "weighted_mean"]))
def test_softmax_gradient_matches_finite_differences(p, eps, reduction):
    x, y = p
    w = np.linspace(0.5, 2.0, x.shape[1])
    kw = {"class_weights": w, "label_smoothing": eps, "reduction": reduction}
    fd = _finite_difference(lambda z: wce_ref.softmax_wce(z, y, **kw), x)
    np.testing.assert_allclose(wce_ref.softmax_wce_grad(x, y, **kw), fd, rtol=1e-5, atol=1e-7)


@given(problem(max_n=5, max_c=4, max_scale=4.0))
def test_soft_label_and_cost_and_sigmoid_gradients_match_finite_differences(p):
    x, y = p
    rng = np.random.default_rng(0)
    q = rng.dirichlet(np.ones(x.shape[1]), size=x.shape[0])
    fd = _finite_difference(lambda z: wce_ref.softmax_wce(z, q, label_smoothing=0.1, reduction="sum"), x)
    np.testing.assert_allclose(
        wce_ref.softmax_wce_grad(x, q, label_smoothing=0.1, reduction="sum"), fd, rtol=1e-5, atol=1e-7
    )
    cost = rng.uniform(0.5, 3, size=(x.shape[1],) * 2)
    # the cost weight is piecewise constant: away from argmax ties the finite difference sees only the CE part
    fd = _finite_difference(lambda z: wce_ref.cost_sensitive_ce(z, y, cost, reduction="mean"), x)
    np.testing.assert_allclose(wce_ref.cost_sensitive_ce_grad(x, y, cost, reduction="mean"), fd, rtol=1e-4, atol=1e-6)
    t = rng.uniform(size=x.shape)
    fd = _finite_difference(lambda z: wce_ref.sigmoid_wce(z, t, pos_weight=2.0, neg_weight=0.5), x)
    np.testing.assert_allclose(wce_ref.sigmoid_wce_grad(x, t, pos_weight=2.0, neg_weight=0.5), fd, rtol=1e-5, atol=1e-8)


@given(problem(max_scale=100.0), st.floats(-1e3, 1e3))
def test_softmax_is_invariant_to_adding_a_constant_to_a_row(p, shift):
    x, y = p
    shifted = x + shift
    a = wce_ref.softmax_wce(x, y, reduction="none")
    b = wce_ref.softmax_wce(shifted, y, reduction="none")
    # the shift itself is rounded: allow |shift| * eps on each logit difference
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=8 * np.finfo(float).eps * (abs(shift) + np.abs(x).max()))


def test_pos_weight_alone_is_tensorflow_convention():
    # tf.nn.weighted_cross_entropy_with_logits: (1 - t) x + (1 + (pw - 1) t) log(1 + exp(-x))
    x = np.array([-3.0, -0.5, 0.0, 2.0, 7.0])
    t = np.array([1.0, 0.0, 0.3, 1.0, 0.0])
    pw = 2.5
    tf_formula = (1 - t) * x + (1 + (pw - 1) * t) * np.log1p(np.exp(-x))
    np.testing.assert_allclose(wce_ref.sigmoid_wce(x, t, pos_weight=pw, reduction="none"), tf_formula, rtol=1e-12)


def test_label_smoothing_matches_pytorch_definition():
    """PyTorch: (1 - eps) * nll_loss(weight) + eps / C * sum_i sum_c w_c (-log p_ic) / sum_i w_{y_i}."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(9, 4)), rng.integers(0, 4, size=9)
    y[2] = -100
    w = np.array([0.5, 1.0, 2.0, 3.0])
    valid = y != -100
    lp = log_softmax(x, axis=1)
    nll = -(w[y[valid]] * lp[valid, y[valid]]).sum()
    smooth = -(lp[valid] * w).sum()
    expected = ((1 - 0.2) * nll + 0.2 / 4 * smooth) / w[y[valid]].sum()
    got = wce_ref.softmax_wce(x, y, class_weights=w, label_smoothing=0.2, ignore_index=-100)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # probability targets divide by N, not by the weights
    q = np.eye(4)[np.where(valid, y, 0)]
    got = wce_ref.softmax_wce(x, q, class_weights=w, reduction="weighted_mean")
    np.testing.assert_allclose(got, -(q * w * lp).sum() / len(q), rtol=1e-12)


def test_ignored_samples_have_zero_loss_and_gradient():
    x = np.array([[1.0, 2.0], [3.0, -1.0], [0.0, 0.5]])
    y = np.array([0, -1, 1])
    assert wce_ref.softmax_wce(x, y, ignore_index=-1, reduction="none")[1] == 0
    assert (wce_ref.softmax_wce_grad(x, y, ignore_index=-1)[1] == 0).all()
    np.testing.assert_allclose(
        wce_ref.softmax_wce(x, y, ignore_index=-1, reduction="mean"),
        wce_ref.softmax_wce(x[[0, 2]], y[[0, 2]], reduction="mean"),
    )


def test_cost_weight_follows_the_predicted_class():
    x = np.array([[0.0, 3.0], [3.0, 0.0]])
    y = np.array([0, 0])
    m = np.array([[1.0, 10.0], [1.0, 1.0]])
    per = wce_ref.cost_sensitive_ce(x, y, m, reduction="none")
    plain = wce_ref.softmax_wce(x, y, reduction="none")
    np.testing.assert_allclose(per, [10 * plain[0], plain[1]])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_result_has_the_input_dtype(dtype):
    x = np.zeros((3, 2), dtype=dtype)
    assert wce_ref.softmax_wce(x, np.array([0, 1, 0])).dtype == dtype
    assert wce_ref.sigmoid_wce(x, np.ones((3, 2))).dtype == dtype
    assert wce_ref.cost_sensitive_ce_grad(x, np.array([0, 1, 0]), np.ones((2, 2))).dtype == dtype


def test_single_sample_nd_input_found_by_hypothesis():
    """The example hypothesis found against torch: a (1, 2, 2) input whose rows are an F-ordered view."""
    x = np.array([[[0.12573022, -0.13210486], [0.64042265, 0.10490012]]])
    y = np.array([[0, 1]])
    rows = np.ascontiguousarray(np.moveaxis(x, 1, -1).reshape(-1, 2))
    np.testing.assert_array_equal(
        wce_ref.softmax_wce(x, y, reduction="none").reshape(-1),
        wce_ref.softmax_wce(rows, y.reshape(-1), reduction="none"),
    )
    np.testing.assert_allclose(wce_ref.softmax_wce(x, y, reduction="none"), [[0.98324776, 0.58164974]], rtol=1e-7)
