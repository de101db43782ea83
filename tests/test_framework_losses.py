"""The framework versions validate like the reference and are right where the frameworks' own tests probe.

One test id per (framework, case); frameworks come from ``WCE_FRAMEWORKS``
(a framework not requested is skipped with that reason; a requested one that
fails to import fails). Every case here failed before the loss layer was
opened: no validation in the framework versions, a wrong gradient at a logit
of 0, int32 labels in TF, uint8 labels in torch, Python-float weights rounded
to float32 by TF, no broadcasting, no empty batches.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import requested_frameworks
from hypothesis import given
from hypothesis import strategies as st

import wce_ref
from wce_ref import frameworks

X = np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 2.0]])
Y = np.array([0, 2])
T = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 1.0]])


def _params():
    wanted = requested_frameworks()
    out = []
    for name in frameworks.names():
        if name not in wanted:
            out.append(pytest.param(name, marks=pytest.mark.skip(reason=f"{name} not requested (WCE_FRAMEWORKS)")))
        else:
            out.append(pytest.param(name))
    return out


@pytest.fixture(params=_params())
def backend(request):
    b = frameworks.get(request.param)
    b.load()  # requested but broken: FrameworkUnavailable fails the test
    return b


def _tensors(backend, kwargs):
    """NumPy keyword arguments as the framework's tensors (floats in float64, integers kept)."""
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
            out[key] = backend.tensor(value, "float64" if value.dtype.kind == "f" else None, "cpu")
        else:
            out[key] = value
    return out


def _value(backend, loss, kwargs):
    result = backend.loss(loss, **_tensors(backend, kwargs))
    return np.asarray(result[0] if backend.reference else backend.to_numpy(result), dtype=np.float64)


BAD = [
    ("reduction_avg", "softmax_wce", {"logits": X, "labels": Y, "reduction": "avg"}),
    ("reduction_array", "softmax_wce", {"logits": X, "labels": Y, "reduction": np.array(["sum"])}),
    ("label_smoothing_1.5", "softmax_wce", {"logits": X, "labels": Y, "label_smoothing": 1.5}),
    ("label_smoothing_bool", "softmax_wce", {"logits": X, "labels": Y, "label_smoothing": True}),
    ("label_minus_1", "softmax_wce", {"logits": X, "labels": np.array([-1, 0])}),
    ("label_past_last_class", "softmax_wce", {"logits": X, "labels": np.array([0, 3])}),
    ("nan_logits", "softmax_wce", {"logits": np.array([[np.nan, 1.0]]), "labels": np.array([0])}),
    ("int_logits", "softmax_wce", {"logits": np.array([[1, 2]]), "labels": np.array([0])}),
    ("class_weights_length", "softmax_wce", {"logits": X, "labels": Y, "class_weights": np.array([1.0, 2.0])}),
    ("negative_class_weight", "softmax_wce", {"logits": X, "labels": Y, "class_weights": np.array([1.0, -1, 1])}),
    ("ignore_index_float", "softmax_wce", {"logits": X, "labels": Y, "ignore_index": 1.5}),
    ("class_axis_0", "softmax_wce", {"logits": X, "labels": Y, "class_axis": 0}),
    ("labels_shape", "softmax_wce", {"logits": X, "labels": np.array([0, 1, 2])}),
    ("sample_weight_shape", "softmax_wce", {"logits": X, "labels": Y, "sample_weight": np.ones(3)}),
    ("all_ignored", "softmax_wce", {"logits": X, "labels": np.array([-100, -100]), "ignore_index": -100}),
    # found by the fuzz test: every softmax-family loss's check raises on a zero divisor, not only softmax_wce's
    ("focal_all_ignored", "softmax_focal", {"logits": X, "labels": np.array([0, 0]), "ignore_index": 0}),
    ("poly1_all_ignored", "poly1_ce", {"logits": X, "labels": np.array([1, 1]), "ignore_index": 1}),
    ("sigmoid_weighted_mean", "sigmoid_wce", {"logits": X, "targets": T, "reduction": "weighted_mean"}),
    ("sigmoid_targets_range", "sigmoid_wce", {"logits": X, "targets": 2 * T}),
    ("sigmoid_pos_weight_shape", "sigmoid_wce", {"logits": X, "targets": T, "pos_weight": np.ones(2)}),
    ("sigmoid_neg_weight_nan", "sigmoid_wce", {"logits": X, "targets": T, "neg_weight": np.nan}),
    ("cost_matrix_shape", "cost_sensitive_ce", {"logits": X, "labels": Y, "cost_matrix": np.ones((2, 2))}),
    ("cost_matrix_negative", "cost_sensitive_ce", {"logits": X, "labels": Y, "cost_matrix": -np.ones((3, 3))}),
]


@pytest.mark.parametrize(("loss", "kwargs"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_gets_the_reference_message(backend, loss, kwargs):
    with pytest.raises((ValueError, TypeError)) as ref:
        getattr(wce_ref, loss)(**kwargs)
    with pytest.raises(type(ref.value)) as got:
        backend.loss(loss, **_tensors(backend, kwargs))
    assert str(got.value) == str(ref.value)


def _int_dtypes(backend) -> list[str]:
    return ["uint8", "int8", "int16", "int32", "int64"] + (["uint16", "uint32"] if backend.reference else [])


def test_every_integer_label_dtype(backend):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 4))
    y = rng.integers(0, 4, 12)
    w = rng.uniform(0.5, 2, 4)
    expected = wce_ref.softmax_wce(x, y, class_weights=w)
    for dtype in _int_dtypes(backend):
        if backend.name == "tensorflow" and dtype in ("uint16", "uint32"):
            continue
        got = _value(backend, "softmax_wce", {"logits": x, "labels": y.astype(dtype), "class_weights": w})
        np.testing.assert_allclose(got, expected, rtol=1e-13, err_msg=dtype)
        got = _value(backend, "cost_sensitive_ce", {"logits": x, "labels": y.astype(dtype),
                                                    "cost_matrix": np.ones((4, 4)) + np.eye(4)})
        assert np.isfinite(got), dtype


def test_sigmoid_gradient_at_exactly_zero(backend):
    t = np.array([1.0, 0.0, 0.3, 1.0])
    pw, nw = 2.0, 0.5
    expected = nw * (1 - t) / 2 - pw * t / 2  # d/dx of the summed loss at x = 0
    x = backend.tensor(np.zeros(4), "float64", "cpu")
    tensors = _tensors(backend, {"targets": t})

    def fn(logits):
        return backend.loss("sigmoid_wce", logits, pos_weight=pw, neg_weight=nw, reduction="sum", **tensors)

    _, grad = backend.value_and_grad(fn, x)
    np.testing.assert_allclose(grad, expected, rtol=1e-15)


def test_python_float_weights_are_not_rounded_to_float32(backend):
    rng = np.random.default_rng(1)
    x, t = rng.normal(size=(6, 3)), (rng.uniform(size=(6, 3)) < 0.4).astype(float)
    expected = wce_ref.sigmoid_wce(x, t, pos_weight=0.1, neg_weight=1 / 3)
    got = _value(backend, "sigmoid_wce", {"logits": x, "targets": t, "pos_weight": 0.1, "neg_weight": 1 / 3})
    np.testing.assert_allclose(got, expected, rtol=4e-16)


@pytest.mark.parametrize("shape", [(1, 3), (4, 3), (1,), (3,)])
def test_pos_weight_broadcasts_like_bce_with_logits(backend, shape):
    rng = np.random.default_rng(2)
    x, t = rng.normal(size=(4, 3)), (rng.uniform(size=(4, 3)) < 0.4).astype(float)
    pw = rng.uniform(0.5, 3, size=shape)
    expected = np.mean(pw * t * np.logaddexp(0, -x) + (1 - t) * np.logaddexp(0, x))
    got = _value(backend, "sigmoid_wce", {"logits": x, "targets": t, "pos_weight": pw})
    np.testing.assert_allclose(got, expected, rtol=1e-13)


@pytest.mark.parametrize("shape", [(), (2, 3, 4)])
def test_sigmoid_on_0d_and_3d_inputs(backend, shape):
    rng = np.random.default_rng(3)
    x, t = rng.normal(size=shape), rng.uniform(size=shape)
    sw = rng.uniform(size=shape)
    for reduction in ("none", "sum", "mean"):
        kw = {"logits": x, "targets": t, "pos_weight": 2.0, "sample_weight": sw, "reduction": reduction}
        got = _value(backend, "sigmoid_wce", kw)
        np.testing.assert_allclose(got, wce_ref.sigmoid_wce(**kw), rtol=1e-13)
        assert got.shape == (shape if reduction == "none" else ())


def test_sample_weight_with_class_weights(backend):
    rng = np.random.default_rng(4)
    x, y, w, s = rng.normal(size=(8, 3)), rng.integers(0, 3, 8), rng.uniform(0.5, 2, 3), rng.uniform(0, 2, 8)
    for reduction in ("none", "sum", "mean", "weighted_mean"):
        kw = {"logits": x, "labels": y, "class_weights": w, "sample_weight": s, "reduction": reduction}
        got = _value(backend, "softmax_wce", kw)
        np.testing.assert_allclose(got, wce_ref.softmax_wce(**kw), rtol=1e-13)
    per = wce_ref.softmax_wce(x, y, class_weights=w, reduction="none")
    np.testing.assert_allclose(wce_ref.softmax_wce(x, y, class_weights=w, sample_weight=s, reduction="sum"),
                               (per * s).sum(), rtol=1e-14)


@pytest.mark.parametrize("loss", ["softmax_wce", "sigmoid_wce", "cost_sensitive_ce"])
def test_empty_batch(backend, loss):
    kw = {"logits": np.zeros((0, 3))}
    if loss == "sigmoid_wce":
        kw["targets"] = np.zeros((0, 3))
    else:
        kw["labels"] = np.zeros(0, dtype=np.int64)
    if loss == "cost_sensitive_ce":
        kw["cost_matrix"] = np.ones((3, 3))
    reductions = ("none", "sum", "mean") + (("weighted_mean",) if loss != "sigmoid_wce" else ())
    for reduction in reductions:
        got = _value(backend, loss, {**kw, "reduction": reduction})
        if reduction == "none":
            assert got.size == 0
        else:
            assert got == 0.0, reduction


def test_four_d_segmentation_case_agrees_with_the_reference(backend):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 4, 3, 5)) * 3
    y = np.where(rng.uniform(size=(2, 3, 5)) < 0.2, -100, rng.integers(0, 4, (2, 3, 5)))
    w = rng.uniform(0.5, 2, 4)
    for reduction in ("none", "sum", "mean", "weighted_mean"):
        kw = {"logits": x, "labels": y, "class_weights": w, "ignore_index": -100, "label_smoothing": 0.1,
              "reduction": reduction}
        np.testing.assert_allclose(_value(backend, "softmax_wce", kw), wce_ref.softmax_wce(**kw), rtol=1e-12)
        last = {**kw, "logits": np.moveaxis(x, 1, -1), "class_axis": -1}
        np.testing.assert_allclose(_value(backend, "softmax_wce", last), wce_ref.softmax_wce(**kw), rtol=1e-12)


@st.composite
def nd_problem(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    n = draw(st.integers(1, 3))
    c = draw(st.integers(2, 5))
    extra = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    x = rng.normal(size=(n, c, *extra)) * draw(st.floats(0.1, 20))
    y = rng.integers(0, c, size=(n, *extra))
    ignore = draw(st.sampled_from([None, -100, 0]))
    if ignore is not None:
        y = np.where(rng.uniform(size=y.shape) < 0.3, ignore, y)
        y.reshape(-1)[0] = 1  # at least one position counts
    w = rng.uniform(0.1, 3, size=c) if draw(st.booleans()) else None
    eps = draw(st.sampled_from([0.0, 0.1, 0.5]))
    return x, y, w, ignore, eps


@given(nd_problem())
def test_nd_softmax_wce_equals_torch_cross_entropy(problem):
    if "torch" not in requested_frameworks():
        pytest.skip("torch not requested (WCE_FRAMEWORKS)")
    import torch

    x, y, w, ignore, eps = problem
    tw = None if w is None else torch.as_tensor(w)
    for ours, theirs in (("none", "none"), ("sum", "sum"), ("weighted_mean", "mean")):
        kw = {"weight": tw, "label_smoothing": eps, "reduction": theirs}
        if ignore is not None:
            kw["ignore_index"] = ignore
        expected = torch.nn.functional.cross_entropy(torch.as_tensor(x), torch.as_tensor(y), **kw).numpy()
        got = wce_ref.softmax_wce(x, y, class_weights=w, ignore_index=ignore, label_smoothing=eps, reduction=ours)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(x).max()))


def _one_sample(loss: str) -> tuple[dict, dict]:
    """A 2-d class-index agreement case of ``loss`` cut to one non-ignored sample: its (1, C) and its (C,) form."""
    from wce_ref.losses import LOSSES

    for case in LOSSES[loss].cases:
        kw = case.inputs("float64")
        x, y = kw["logits"], np.asarray(kw["labels"])
        if x.ndim == 2 and y.ndim == 1 and y.dtype.kind in "iu" and kw.get("class_axis", 1) == 1 and len(y):
            i = int(np.flatnonzero(y != kw.get("ignore_index", -1))[0])
            rows = {k: kw[k][i : i + 1] for k in ("logits", "labels", "sample_weight") if kw.get(k) is not None}
            rest = {k: v for k, v in kw.items() if k not in ("logits", "labels", "sample_weight")}
            return {**rest, **rows}, {**rest, **{k: v[0] for k, v in rows.items()}}
    raise AssertionError(f"{loss}: no 2-d class-index case")


@pytest.mark.parametrize("loss", [n for n, s in wce_ref.losses.LOSSES.items() if s.family == "softmax"])
def test_one_unbatched_sample_as_torch_cross_entropy_takes_it(backend, loss):
    """(C,) logits and a 0-d label: one sample, the value of its (1, C) batch, a 0-d result and a (C,) gradient."""
    batched, single = _one_sample(loss)
    assert single["logits"].shape == batched["logits"].shape[1:] and np.ndim(single["labels"]) == 0
    for reduction in wce_ref.losses.LOSSES[loss].reductions:
        values, grads = [], []
        for kw in (batched, single):
            arrays = {k: np.asarray(v) if k in ("labels", "sample_weight") else v for k, v in kw.items()}
            tensors = _tensors(backend, arrays)
            x = tensors.pop("logits")
            value, grad = backend.value_and_grad(
                lambda t, tensors=tensors, reduction=reduction: backend.loss(loss, t, reduction=reduction, **tensors),
                x,
            )
            values.append(np.asarray(value, dtype=np.float64))
            grads.append(np.asarray(grad, dtype=np.float64))
        assert values[1].shape == () and grads[1].shape == single["logits"].shape, reduction
        np.testing.assert_allclose(values[1], values[0].reshape(()), rtol=1e-13, err_msg=reduction)
        np.testing.assert_allclose(grads[1], grads[0][0], rtol=1e-13, atol=1e-300, err_msg=reduction)


def test_unbatched_softmax_wce_is_torch_cross_entropy():
    torch = pytest.importorskip("torch")
    x, w = np.array([0.3, -1.2, 2.0, 0.1]), np.array([1.0, 3.0, 0.5, 2.0])
    for y, smoothing in ((1, 0.0), (3, 0.1)):
        expected = torch.nn.functional.cross_entropy(
            torch.tensor(x), torch.tensor(y), weight=torch.tensor(w), label_smoothing=smoothing
        )
        got = wce_ref.softmax_wce(x, np.array(y), class_weights=w, label_smoothing=smoothing)
        np.testing.assert_allclose(got, expected.item(), rtol=1e-14)
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    expected = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(probs), reduction="none")
    np.testing.assert_allclose(wce_ref.softmax_wce(x, probs, reduction="none"), expected.numpy(), rtol=1e-14)
    with pytest.raises(wce_ref.WCEInputError, match=r"class_axis must be 1, -1 or 0 for 1-d logits \(C,\)"):
        wce_ref.softmax_wce(x, np.array(1), class_axis=2)
