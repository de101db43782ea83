"""Fuzzing the public API: every rejection is clear, every accepted input gives a number.

For every registered loss (value and gradient), the weight functions and the
framework versions of the losses, hypothesis draws argument values from a pool
of hostile ones (wrong shapes, dtypes, NaN / inf, huge, empty, ragged lists,
strings, booleans, complex numbers, out-of-range labels) mixed with valid ones
of consistent shapes. Each call must either

* raise a ``ValueError`` / ``TypeError`` subclass whose message names one of
  the function's arguments, or
* return values with no NaN, and no infinity unless the exact result is
  beyond the range of the output dtype (the documented case: a half-precision
  result above 65504 rounds to inf, as in every framework).

The default profile runs a few dozen examples per test; ``tox -e fuzz``
selects the ``fuzz`` profile (10,000 examples for the reference, 1,000 per
framework) and writes the counts to ``$WCE_FUZZ_REPORT`` when set.
"""

from __future__ import annotations

import inspect
import json
import os
import warnings
from collections import Counter

import numpy as np
import pytest
from conftest import requested_frameworks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wce_ref
from wce_ref import frameworks, losses

COUNTS: Counter = Counter()
FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
WEIGHT_ARGS = {"class_weights", "pos_weight", "neg_weight", "sample_weight", "cost_matrix", "class_priors",
               "class_counts", "alpha"}  # fmt: skip
NUMBER_ARGS = {"label_smoothing", "gamma", "tau", "epsilon", "max_margin", "scale", "beta", "alpha"}


@st.composite
def _array(draw, shape, kind="f", low=-3.0, high=3.0):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "i":
        dtype = draw(st.sampled_from(["int64", "int32", "uint8", "int8", "uint64"]))
        info = np.iinfo(dtype)
        a = rng.integers(max(int(low), info.min), min(int(high), info.max) + 1, size=shape)
        return a.astype(dtype)
    dtype = draw(st.sampled_from(["float64", "float32", "float16"]))
    a = rng.uniform(low, high, size=shape)
    if draw(st.integers(0, 19)) == 0:  # poison one entry
        a = np.asarray(a, dtype=np.float64)
        if a.size:
            a.reshape(-1)[0] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e39, -1.0, 1e300]))
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(a).astype(dtype)


HOSTILE = st.sampled_from(
    [None, "x", "sum", True, 1.5, -1, 0, 10**12, 2**63, float("nan"), float("inf"), [1, [2, 3]], [], ["a", "b"],
     np.array([1 + 2j, 3]), np.array(["1.5", "2"]), np.array([[1.0], [2.0, 3.0]], dtype=object), {"a": 1}]
)  # fmt: skip


@st.composite
def _value(draw, name, n, c, ndim_extra):
    """A value for argument ``name``: usually consistent with (n, c, extra...), sometimes hostile."""
    if draw(st.integers(0, 11)) == 0:
        return draw(HOSTILE)
    extra = (3,) * ndim_extra
    if name == "logits":
        scale = draw(st.sampled_from([1e-3, 1.0, 30.0, 1e4]))
        return draw(_array((n, c, *extra), "f", -scale, scale))
    if name == "labels":
        if draw(st.integers(0, 4)) == 0:  # probability rows
            return draw(_array((n, c, *extra), "f", 0.0, 1.0))
        bad = draw(st.integers(0, 9)) == 0
        return draw(_array((n, *extra), "i", -1 if bad else 0, c if bad else c - 1))
    if name == "targets":
        return draw(_array((n, c, *extra), "f", 0.0, 1.0 + 0.5 * (draw(st.integers(0, 5)) == 0)))
    if name == "cost_matrix":
        return draw(_array((c, c), "f", 0.0, 5.0))
    if name in WEIGHT_ARGS:
        shape = draw(st.sampled_from([(c,), (c,), (c,), (n,), (), (c + 1,), (n, c)]))
        return draw(_array(shape, "f", 0.0 if draw(st.integers(0, 9)) else -1.0, 5.0))
    if name == "reduction":
        return draw(st.sampled_from(["none", "sum", "mean", "weighted_mean"] * 3 + ["avg", "MEAN"]))
    if name == "ignore_index":
        return draw(st.sampled_from([None, None, -100, -100, -1, 0, 1.5]))
    if name == "class_axis":
        return draw(st.sampled_from([1, 1, 1, -1, -1, 0, 2, 5, 1.0]))
    if name in NUMBER_ARGS:
        return draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0, 0.0, 0.3, 2.0, -0.5, 1.5, 1e6]))
    if name == "scheme":
        return draw(st.sampled_from(list(wce_ref.SCHEMES) + ["magic"]))
    if name == "normalize":
        return draw(st.sampled_from([None, "sum", "classes", "max"]))
    if name == "n_classes":
        return draw(st.sampled_from([None, c, c + 1, 1, 0, -3]))
    return draw(HOSTILE)


def _functions():
    out = []
    for spec in losses.LOSSES.values():
        out += [spec.value, spec.grad]
    out += [wce_ref.class_weights, wce_ref.batch_weights, wce_ref.sample_weights]
    if hasattr(wce_ref, "logit_adjust"):
        out.append(wce_ref.logit_adjust)
    return out


@st.composite
def call(draw, functions):
    fn = draw(st.sampled_from(functions))
    n, c, extra = draw(st.integers(0, 4)), draw(st.integers(1, 4)), draw(st.sampled_from([0, 0, 0, 1]))
    args, kwargs = [], {}
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind is p.POSITIONAL_OR_KEYWORD or draw(st.integers(0, 2)) == 0:
            value = draw(_value(name, n, c, extra))
            if p.kind is p.POSITIONAL_OR_KEYWORD:
                args.append(value)
            else:
                kwargs[name] = value
    if fn in (wce_ref.class_weights, wce_ref.batch_weights) and draw(st.booleans()):
        args[0] = draw(_array((n * 3 + 1,), "i", 0, c - 1))
    return fn, args, kwargs


def _beyond_range(fn, args, kwargs, out) -> bool:
    """True where an infinite result is the correctly rounded exact value (the documented case)."""
    dtype = np.asarray(args[0]).dtype if isinstance(args[0], np.ndarray) else np.asarray(out).dtype
    if dtype.kind != "f" or dtype == np.float64:
        return False
    wide = [np.asarray(a, dtype=np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]
    try:
        exact = np.asarray(fn(*wide, **kwargs), dtype=np.float64)
    except (ValueError, TypeError):
        return False
    overflowed = ~np.isfinite(np.asarray(out, np.float64))
    return bool(np.all(np.isfinite(exact)) and np.all(np.abs(exact[overflowed]) > np.finfo(dtype).max))


def _classify(fn, args, kwargs, run) -> str:
    names = list(inspect.signature(fn).parameters)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = run()
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert any(n in message for n in names), f"{fn.__name__}: message names no argument: {message!r}"
        assert "Traceback" not in message
        return "clear error"
    values = np.asarray(out[0] if isinstance(out, tuple) else out, dtype=np.float64)
    assert not np.isnan(values).any(), f"{fn.__name__} returned NaN for {args!r} {kwargs!r}"
    if np.isinf(values).any():
        assert _beyond_range(fn, args, kwargs, out), f"{fn.__name__} returned inf for {args!r} {kwargs!r}"
        return "accepted (rounded to inf, beyond the dtype)"
    return "accepted"


def _record(key: str) -> None:
    COUNTS[key] += 1
    path = os.environ.get("WCE_FUZZ_REPORT")
    if path and sum(COUNTS.values()) % 500 == 0:
        _dump(path)


def _dump(path: str) -> None:
    with open(path, "w") as fh:
        json.dump(dict(COUNTS), fh, indent=1)


@settings(max_examples=10_000 if FUZZ else 60, suppress_health_check=list(HealthCheck), deadline=None)
@given(call(_functions()))
def test_reference_rejects_clearly_or_returns_numbers(example):
    fn, args, kwargs = example
    _record(f"reference {_classify(fn, args, kwargs, lambda: fn(*args, **kwargs))}")


def _framework_params():
    wanted = requested_frameworks()
    return [
        pytest.param(name, marks=() if name in wanted else pytest.mark.skip(reason=f"{name} not requested"))
        for name in frameworks.names()
        if name != "numpy"
    ]


@pytest.mark.parametrize("name", _framework_params())
def test_framework_versions_reject_clearly_or_return_numbers(name):
    backend = frameworks.get(name)
    backend.load()
    fns = [spec.value for spec in losses.LOSSES.values()]

    @settings(max_examples=1_000 if FUZZ else 25, suppress_health_check=list(HealthCheck), deadline=None)
    @given(call(fns))
    def run(example):
        fn, args, kwargs = example

        def framework_call():
            tensors = [_tensor(backend, a) for a in args]
            return backend.to_numpy(backend.loss(fn.__name__, *tensors, **{k: _tensor(backend, v)
                                                                            for k, v in kwargs.items()}))

        _record(f"{name} {_classify(fn, args, kwargs, framework_call)}")

    run()


def _tensor(backend, value):
    """NumPy arrays of numbers become the framework's tensors (float16 kept); anything else is passed as is."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub" or value.dtype == np.uint64:
        return value
    kind = value.dtype.kind == "f"
    return backend.tensor(value, str(value.dtype) if kind else None, "cpu")


def teardown_module(module):
    path = os.environ.get("WCE_FUZZ_REPORT")
    if path:
        _dump(path)
