"""The reference against the mpmath oracle, in ULPs, per function and dtype."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import wce_ref
from wce_ref import losses, oracle
from wce_ref.losses import round_to

# Worst case measured on the fixed cases (see the closing note of issue 2), with a little headroom.
BOUND_ULP = {"float64": 8.0, "float32": 4.0, "float16": 1.0, "bfloat16": 1.0}
DTYPES = ["float64", "float32", "float16", "bfloat16"]


def _np_dtype(name):
    if name == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return np.dtype(name)


def _call(loss, kwargs, dtype, reduction):
    args = dict(kwargs)
    args["logits"] = np.asarray(args["logits"]).astype(_np_dtype(dtype))
    value = getattr(wce_ref, loss)(**args, reduction=reduction)
    grad = getattr(wce_ref, loss + "_grad")(**args, reduction=reduction)
    return value, grad


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", losses.cases_for(), ids=lambda c: c.id)
def test_reference_within_bound_of_oracle(case, dtype):
    kwargs = case.inputs(dtype)
    for reduction in losses.get(case.loss).reductions:
        value, grad = _call(case.loss, kwargs, dtype, reduction)
        assert np.asarray(value).dtype == _np_dtype(dtype)
        assert grad.dtype == _np_dtype(dtype) and grad.shape == np.shape(kwargs["logits"])
        exact_value, exact_grad = getattr(oracle, case.loss)(**kwargs, reduction=reduction)
        ev = oracle.error_stats(value, exact_value, dtype)
        eg = oracle.error_stats(grad, exact_grad, dtype)
        assert ev.max_ulp <= BOUND_ULP[dtype], (reduction, ev)
        assert eg.max_ulp <= BOUND_ULP[dtype], (reduction, eg)


def test_error_stats_detects_a_one_ulp_change():
    exact = oracle.softmax_wce(np.array([[1.0, 2.0, 3.0]]), np.array([0]), reduction="sum")[0]
    x = np.float32(oracle.to_float64(exact))
    assert oracle.error_stats(x, exact, "float32").max_ulp <= 0.5
    assert 0.5 < oracle.error_stats(np.nextafter(x, np.float32(np.inf)), exact, "float32").max_ulp <= 1.5


@st.composite
def softmax_problem(draw, max_n=8, max_c=6, max_scale=50.0):
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(2, max_c))
    scale = draw(st.floats(0.01, max_scale))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c)) * scale
    y = rng.integers(0, c, size=n)
    w = rng.uniform(0.1, 4.0, size=c)
    return x, y, w


@given(softmax_problem(), st.sampled_from(["float64", "float32"]), st.sampled_from(["sum", "mean", "weighted_mean"]))
def test_error_is_bounded_by_logit_scale(problem, dtype, reduction):
    """Backward stability: the error grows at most like |x| ULPs (rounding of x - max)."""
    x, y, w = problem
    x, w = round_to(x, dtype), round_to(w, dtype)
    value = wce_ref.softmax_wce(x.astype(dtype), y, class_weights=w.astype(dtype), reduction=reduction)
    grad = wce_ref.softmax_wce_grad(x.astype(dtype), y, class_weights=w.astype(dtype), reduction=reduction)
    exact_value, exact_grad = oracle.softmax_wce(x, y, class_weights=w, reduction=reduction)
    bound = 4 + 2 * np.abs(x).max()
    assert oracle.error_stats(value, exact_value, dtype).max_ulp <= bound
    assert oracle.error_stats(grad, exact_grad, dtype).max_ulp <= bound


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_logits_1e4_are_finite_and_exact(dtype):
    rng = np.random.default_rng(1)
    x = (rng.choice([-1e4, 1e4], size=(50, 7)) * rng.uniform(0.9, 1, size=(50, 7))).astype(dtype)
    y = rng.integers(0, 7, size=50)
    for reduction in ("none", "sum", "weighted_mean"):
        v = wce_ref.softmax_wce(x, y, reduction=reduction)
        g = wce_ref.softmax_wce_grad(x, y, reduction=reduction)
        assert np.isfinite(v).all() and np.isfinite(g).all()
        ev, eg = oracle.softmax_wce(x.astype(np.float64), y, reduction=reduction)
        assert oracle.error_stats(v, ev, dtype).max_ulp <= 2
        assert oracle.error_stats(g, eg, dtype).max_ulp <= 2
    xs = x[:, 0]
    t = (rng.uniform(size=50) < 0.5).astype(dtype)
    v = wce_ref.sigmoid_wce(xs, t, pos_weight=3.0, reduction="sum")
    ev, _ = oracle.sigmoid_wce(xs.astype(np.float64), t, pos_weight=3.0, reduction="sum")
    assert np.isfinite(v) and oracle.error_stats(v, ev, dtype).max_ulp <= 2
