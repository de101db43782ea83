"""The long-tail losses: logit adjustment (and its post-hoc form), LDAM, Poly-1.

Equivalences with softmax_wce (exact where the issue says exact), the post-hoc
adjustment's numbers, LDAM against the authors' published PyTorch code, and
bad arguments rejected with the argument's name by the reference and by every
installed framework (the gradients against finite differences: tests/test_contracts.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import requested_frameworks
from hypothesis import given
from hypothesis import strategies as st

import wce_ref
from wce_ref import WCEInputError, WCETypeError, frameworks
from wce_ref.losses import LOSSES, ldam_margins

REDUCTIONS = ("none", "sum", "mean", "weighted_mean")


def _dtype(name):
    if name == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return np.dtype(name)


@st.composite
def softmax_problem(draw, soft=True):
    """Random softmax-family arguments: (N, C) or 4-d, class axis 1 or -1, optional weights / ignore_index /
    sample weights / label smoothing / probability labels."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    nd = draw(st.booleans())
    n, c = draw(st.integers(1, 6)), draw(st.integers(2, 6))
    positions = (n, 2, 3) if nd else (n,)
    scale = draw(st.sampled_from([0.1, 1.0, 5.0, 30.0]))
    x = rng.normal(size=positions + (c,)) * scale  # channels last, moved below
    kw = {}
    if draw(st.booleans()):
        kw["class_weights"] = rng.uniform(0.2, 3.0, size=c)
    if draw(st.booleans()):
        kw["sample_weight"] = rng.uniform(0.0, 2.0, size=positions if draw(st.booleans()) else (n,))
    probs = soft and draw(st.integers(0, 3)) == 0
    if probs:
        y = rng.dirichlet(np.ones(c), size=positions)
    else:
        y = rng.integers(0, c, size=positions)
        if draw(st.booleans()):
            kw["ignore_index"] = -100
            y = np.where(rng.uniform(size=positions) < 0.3, -100, y)
            y.reshape(-1)[0] = rng.integers(0, c)  # at least one sample counts
    if soft and draw(st.booleans()):
        kw["label_smoothing"] = draw(st.sampled_from([0.05, 0.3]))
    if draw(st.booleans()):
        x = np.moveaxis(x, -1, 1)
        if probs:
            y = np.moveaxis(y, -1, 1)
    else:
        kw["class_axis"] = -1
    return x, y, kw, rng


def _both(fn, x, y, kw, reduction):
    value = getattr(wce_ref, fn)(x, y, **kw, reduction=reduction)
    grad = getattr(wce_ref, fn + "_grad")(x, y, **kw, reduction=reduction)
    return np.asarray(value), grad


def _identical(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[0].dtype == b[0].dtype and a[1].dtype == b[1].dtype


# --------------------------------------------------------------------------- exact equivalences


@given(softmax_problem(), st.sampled_from(["float64", "float32", "float16"]), st.sampled_from(REDUCTIONS))
def test_tau_0_is_softmax_wce_exactly(problem, dtype, reduction):
    x, y, kw, rng = problem
    x = x.astype(dtype)
    priors = rng.uniform(0.01, 1.0, size=x.shape[kw.get("class_axis", 1)])
    la = _both("logit_adjusted_ce", x, y, {**kw, "class_priors": priors, "tau": 0.0}, reduction)
    _identical(la, _both("softmax_wce", x, y, kw, reduction))


@given(softmax_problem(), st.floats(1e-3, 50.0), st.floats(0.0, 3.0), st.sampled_from(REDUCTIONS))
def test_uniform_priors_are_softmax_wce_exactly(problem, prior, tau, reduction):
    """A constant prior (summing to 1 or not) shifts every logit of a row alike: no change at all."""
    x, y, kw, _ = problem
    priors = np.full(x.shape[kw.get("class_axis", 1)], prior)
    la = _both("logit_adjusted_ce", x, y, {**kw, "class_priors": priors, "tau": tau}, reduction)
    _identical(la, _both("softmax_wce", x, y, kw, reduction))


@given(softmax_problem(soft=False), st.sampled_from(["float64", "float32", "float16"]), st.sampled_from(REDUCTIONS))
def test_poly1_epsilon_0_is_softmax_wce_exactly(problem, dtype, reduction):
    x, y, kw, _ = problem
    x = x.astype(dtype)
    _identical(_both("poly1_ce", x, y, {**kw, "epsilon": 0.0}, reduction), _both("softmax_wce", x, y, kw, reduction))


@given(softmax_problem(soft=False), st.sampled_from(REDUCTIONS))
def test_ldam_without_margin_or_scale_is_softmax_wce_exactly(problem, reduction):
    x, y, kw, rng = problem
    counts = rng.integers(1, 1000, size=x.shape[kw.get("class_axis", 1)])
    ldam = _both("ldam_ce", x, y, {**kw, "class_counts": counts, "max_margin": 0.0, "scale": 1.0}, reduction)
    _identical(ldam, _both("softmax_wce", x, y, kw, reduction))


# --------------------------------------------------------------------------- the definitions, to rounding


@given(softmax_problem(), st.floats(0.0, 3.0), st.sampled_from(REDUCTIONS))
def test_logit_adjusted_is_softmax_wce_of_the_adjusted_logits(problem, tau, reduction):
    x, y, kw, rng = problem
    axis = kw.get("class_axis", 1) % x.ndim
    priors = rng.dirichlet(np.ones(x.shape[axis]))
    priors = np.maximum(priors, 1e-6)
    shape = [1] * x.ndim
    shape[axis] = -1
    z = x + tau * np.log(priors).reshape(shape)
    got = _both("logit_adjusted_ce", x, y, {**kw, "class_priors": priors, "tau": tau}, reduction)
    want = _both("softmax_wce", z, y, kw, reduction)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-9, atol=1e-13)
    scaled = _both("logit_adjusted_ce", x, y, {**kw, "class_priors": 7.5 * priors, "tau": tau}, reduction)
    np.testing.assert_allclose(scaled[0], got[0], rtol=1e-12, atol=1e-14)  # priors need not sum to 1


@given(softmax_problem(soft=False), st.floats(0.0, 1.0), st.floats(0.5, 40.0), st.sampled_from(REDUCTIONS))
def test_ldam_is_scaled_softmax_wce_of_the_margined_logits(problem, max_margin, scale, reduction):
    x, y, kw, rng = problem
    axis = kw.get("class_axis", 1) % x.ndim
    c = x.shape[axis]
    counts = rng.integers(1, 5000, size=c)
    m = ldam_margins(counts, max_margin)
    onehot = np.moveaxis(np.eye(c)[np.where(y < 0, 0, y)], -1, axis)
    m_y = np.expand_dims(m[np.where(y < 0, 0, y)], axis)
    z = scale * (x - m_y * onehot)
    got = _both("ldam_ce", x, y, {**kw, "class_counts": counts, "max_margin": max_margin, "scale": scale}, reduction)
    value, grad = _both("softmax_wce", z, y, kw, reduction)
    np.testing.assert_allclose(got[0], value, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[1], scale * grad, rtol=1e-8, atol=1e-12)


@given(softmax_problem(soft=False), st.floats(-1.0, 5.0), st.sampled_from(REDUCTIONS))
def test_poly1_is_cross_entropy_plus_epsilon_one_minus_p(problem, epsilon, reduction):
    x, y, kw, _ = problem
    axis = kw.get("class_axis", 1) % x.ndim
    xl = np.moveaxis(x, axis, -1)
    p = np.exp(xl - xl.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    yy = np.where(y < 0, 0, y)
    p_y = np.take_along_axis(p, yy[..., None], -1)[..., 0]
    ce = wce_ref.softmax_wce(x, y, **kw, reduction="none")
    w = np.ones(xl.shape[-1]) if kw.get("class_weights") is None else kw["class_weights"]
    valid = y != kw.get("ignore_index", -1)
    want = ce + np.where(valid, epsilon * w[yy] * (1 - p_y), 0)
    if kw.get("sample_weight") is not None:
        sw = kw["sample_weight"]  # (N,) or the labels' shape: broadcast over the positions it leaves out
        sw = np.broadcast_to(sw.reshape(sw.shape + (1,) * (y.ndim - sw.ndim)), y.shape)
        want = ce + np.where(valid, sw * epsilon * w[yy] * (1 - p_y), 0)
    got = wce_ref.poly1_ce(x, y, **kw, epsilon=epsilon, reduction="none")
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_poly1_epsilon_minus_1_is_accurate_for_confident_predictions():
    """-log p - (1 - p) ~ (1 - p)^2 / 2: the direct formula would lose every digit here."""
    x = np.array([[30.0, 0.0, -1.0], [12.0, 1.0, 0.5]])
    y = np.array([0, 0])
    got = wce_ref.poly1_ce(x, y, epsilon=-1.0, reduction="none")
    u = np.array([np.exp(-30.0) + np.exp(-31.0), (np.exp(-11.0) + np.exp(-11.5)) / (1 + np.exp(-11.0) + np.exp(-11.5))])
    u[0] /= 1 + u[0]
    want = u**2 / 2 + u**3 / 3 + u**4 / 4
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert got[0] > 0


def test_ldam_margins_follow_n_to_the_minus_quarter():
    m = ldam_margins([10000, 625, 16, 1], max_margin=0.8)
    np.testing.assert_allclose(m, 0.8 * np.array([0.1, 0.2, 0.5, 1.0]), rtol=1e-15)
    np.testing.assert_allclose(ldam_margins([5, 5, 5]), [0.5, 0.5, 0.5])


# --------------------------------------------------------------------------- the post-hoc adjustment


def test_logit_adjust_numbers():
    x = np.array([[1.0, 0.5], [2.0, 0.0]])
    got = wce_ref.logit_adjust(x, [0.8, 0.2])
    want = np.array([[1.0 - np.log(0.8), 0.5 - np.log(0.2)], [2.0 - np.log(0.8), -np.log(0.2)]])
    np.testing.assert_allclose(got, want, rtol=1e-15)
    np.testing.assert_allclose(got, [[1.2231435513142097, 2.1094379124341003],
                                     [2.2231435513142097, 1.6094379124341003]])
    half = wce_ref.logit_adjust(x, [0.8, 0.2], tau=0.5)
    np.testing.assert_allclose(half, x - 0.5 * np.log([0.8, 0.2]), rtol=1e-15)
    np.testing.assert_array_equal(wce_ref.logit_adjust(x, [0.8, 0.2], tau=0.0), x)
    # priors need not sum to 1: every logit of a row moves by the same amount
    shifted = wce_ref.logit_adjust(x, [8.0, 2.0])
    np.testing.assert_allclose(shifted - got, np.full_like(x, -np.log(10.0)), rtol=1e-14)


def test_logit_adjust_recovers_the_class_conditional_likelihood():
    """A calibrated model's logits are log p(x|y) + log prior + const: the adjustment leaves log p(x|y)."""
    rng = np.random.default_rng(3)
    mu, prior = np.array([-1.0, 0.0, 1.5]), np.array([0.9, 0.08, 0.02])
    t = rng.normal(size=200)
    loglik = -0.5 * (t[:, None] - mu) ** 2
    logits = loglik + np.log(prior) + 3.0
    adjusted = wce_ref.logit_adjust(logits, prior)
    np.testing.assert_allclose(adjusted, loglik + 3.0, rtol=1e-12, atol=1e-12)
    assert (adjusted.argmax(1) != logits.argmax(1)).any()  # rare classes get predicted


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_logit_adjust_layouts_and_dtypes(dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, 5)).astype(_dtype(dtype))
    priors = np.array([0.6, 0.3, 0.1])
    got = wce_ref.logit_adjust(x, priors)
    assert got.dtype == x.dtype and got.shape == x.shape
    want = x.astype(np.float64) - np.log(priors)[:, None, None]
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=2.0 ** -7, atol=2.0 ** -6)
    last = wce_ref.logit_adjust(np.moveaxis(x, 1, -1), priors, class_axis=-1)
    np.testing.assert_array_equal(np.moveaxis(last, -1, 1), got)


# --------------------------------------------------------------------------- LDAM against the authors' code


def _authors_ldam(torch, x, target, cls_num_list, max_m, s, weight):
    """The steps of ``LDAMLoss`` in github.com/kaidic/LDAM-DRW (losses.py), on the CPU in float64.

    Margins ``1 / n^(1/4)`` rescaled so the largest is ``max_m``; the batch's margins gathered through a
    one-hot ``matmul``; the target logit replaced by ``x - margin``; ``F.cross_entropy(s * output, target,
    weight)``. (Their ``torch.cuda.FloatTensor`` casts become float64 CPU tensors, and the uint8 one-hot
    mask a bool one, which current PyTorch's ``torch.where`` requires.)
    """
    import torch.nn.functional as F

    margins = 1.0 / np.sqrt(np.sqrt(cls_num_list))
    margins = torch.tensor(margins * (max_m / np.max(margins)), dtype=torch.float64)
    mask = torch.zeros_like(x, dtype=torch.uint8).scatter_(1, target.view(-1, 1), 1)
    batch_margin = torch.matmul(margins[None, :], mask.to(torch.float64).transpose(0, 1)).view((-1, 1))
    output = torch.where(mask.bool(), x - batch_margin, x)
    return F.cross_entropy(s * output, target, weight=weight)


@pytest.mark.parametrize("seed", range(6))
def test_ldam_matches_the_authors_pytorch_code(seed):
    torch = pytest.importorskip("torch", reason="the authors' LDAM code is PyTorch; torch is not installed")
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(1, 40)), int(rng.integers(2, 12))
    x = rng.normal(size=(n, c)) * (0.2 if seed % 2 else 3.0)
    y = rng.integers(0, c, size=n)
    counts = rng.integers(1, 5000, size=c)
    max_m, s = [(0.5, 30.0), (1.0, 10.0), (0.2, 1.0)][seed % 3]
    w = rng.uniform(0.3, 3.0, size=c) if seed % 2 else None
    xt = torch.tensor(x, requires_grad=True)
    loss = _authors_ldam(torch, xt, torch.tensor(y), counts, max_m, s, None if w is None else torch.tensor(w))
    loss.backward()
    kw = {"class_counts": counts, "max_margin": max_m, "scale": s, "class_weights": w}
    ref = wce_ref.ldam_ce(x, y, **kw)  # weighted_mean: F.cross_entropy(weight=)'s mean
    np.testing.assert_allclose(ref, loss.item(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(wce_ref.ldam_ce_grad(x, y, **kw), xt.grad.numpy(), rtol=1e-9, atol=1e-14)
    margins_authors = 1.0 / np.sqrt(np.sqrt(counts))
    np.testing.assert_allclose(ldam_margins(counts, max_m), margins_authors * (max_m / margins_authors.max()),
                               rtol=1e-15)


# --------------------------------------------------------------------------- gradients


# --------------------------------------------------------------------------- training arguments


def test_train_arguments_from_the_labels():
    y = np.array([0, 0, 0, 1, 3, 3])  # class 2 absent
    la = LOSSES["logit_adjusted_ce"].train(y, n_classes=4, tau=0.5)
    np.testing.assert_allclose(la["class_priors"], np.array([3, 1, 1, 2]) / 7)
    assert la["tau"] == 0.5 and la["class_weights"] is None
    ldam = LOSSES["ldam_ce"].train(y, n_classes=4, max_margin=0.3)
    np.testing.assert_array_equal(ldam["class_counts"], [3, 1, 1, 2])
    assert ldam["max_margin"] == 0.3 and ldam["scale"] == 30.0
    poly = LOSSES["poly1_ce"].train(y, n_classes=4, epsilon=2.0, class_weights=[1.0, 2.0, 3.0, 4.0])
    assert poly == {"epsilon": 2.0, "class_weights": [1.0, 2.0, 3.0, 4.0]}
    x = np.zeros((6, 4))
    for name, args in (("logit_adjusted_ce", la), ("ldam_ce", ldam), ("poly1_ce", poly)):
        assert np.isfinite(getattr(wce_ref, name)(x, y, **args))
    with pytest.raises(WCEInputError, match="tau"):
        LOSSES["logit_adjusted_ce"].train(y, n_classes=4, tau=-1.0)
    with pytest.raises(WCEInputError, match="scale"):
        LOSSES["ldam_ce"].train(y, n_classes=4, scale=0.0)
    with pytest.raises(WCEInputError, match="labels"):
        LOSSES["ldam_ce"].train(np.array([0, 5]), n_classes=4)


# --------------------------------------------------------------------------- bad arguments, everywhere

X = np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 2.0]])
Y = np.array([0, 2])
PRIORS = np.array([0.5, 0.3, 0.2])
COUNTS = np.array([100, 10, 1])

BAD = [
    ("logit_adjusted_ce", {"class_priors": PRIORS, "tau": -1.0}, WCEInputError, ["tau", "-1"]),
    ("logit_adjusted_ce", {"class_priors": PRIORS, "tau": float("nan")}, WCEInputError, ["tau", "nan"]),
    ("logit_adjusted_ce", {"class_priors": PRIORS, "tau": "1"}, WCETypeError, ["tau", "str"]),
    ("logit_adjusted_ce", {"class_priors": np.array([0.5, 0.5, 1e-300]), "tau": 1e307}, WCEInputError,
     ["tau", "overflows"]),
    ("logit_adjusted_ce", {"class_priors": np.array([0.5, 0.0, 0.5])}, WCEInputError,
     ["class_priors", "strictly positive"]),
    ("logit_adjusted_ce", {"class_priors": np.array([0.5, -0.3, 0.8])}, WCEInputError, ["class_priors", "-0.3"]),
    ("logit_adjusted_ce", {"class_priors": np.array([0.5, 0.5])}, WCEInputError, ["class_priors", "length 3"]),
    ("logit_adjusted_ce", {"class_priors": np.array([0.5, np.inf, 0.5])}, WCEInputError, ["class_priors", "finite"]),
    ("ldam_ce", {"class_counts": COUNTS, "max_margin": -0.1}, WCEInputError, ["max_margin", "-0.1"]),
    ("ldam_ce", {"class_counts": COUNTS, "scale": 0.0}, WCEInputError, ["scale", "0.0"]),
    ("ldam_ce", {"class_counts": COUNTS, "scale": float("inf")}, WCEInputError, ["scale", "inf"]),
    ("ldam_ce", {"class_counts": COUNTS, "scale": True}, WCETypeError, ["scale", "bool"]),
    ("ldam_ce", {"class_counts": COUNTS, "scale": 1e308}, WCEInputError, ["scale", "overflows"]),
    ("ldam_ce", {"class_counts": np.array([100, 0, 1])}, WCEInputError, ["class_counts", "strictly positive"]),
    ("ldam_ce", {"class_counts": np.array([100, 10])}, WCEInputError, ["class_counts", "length 3"]),
    ("ldam_ce", {"class_counts": COUNTS, "reduction": "avg"}, WCEInputError, ["reduction", "avg"]),
    ("poly1_ce", {"epsilon": -1.5}, WCEInputError, ["epsilon", "-1.5"]),
    ("poly1_ce", {"epsilon": float("nan")}, WCEInputError, ["epsilon", "nan"]),
    ("poly1_ce", {"epsilon": "2"}, WCETypeError, ["epsilon", "str"]),
    ("poly1_ce", {"ignore_index": 1.5}, WCEInputError, ["ignore_index", "1.5"]),
]


def _ids(case):
    loss, kw, _, needles = case
    return f"{loss}-{needles[0]}-{needles[-1]}"


@pytest.mark.parametrize("case", BAD, ids=_ids)
def test_reference_rejects_bad_arguments(case):
    loss, kw, exc, needles = case
    for fn in (getattr(wce_ref, loss), getattr(wce_ref, loss + "_grad")):
        with pytest.raises(exc) as info:
            fn(X, Y, **kw)
        for needle in needles:
            assert needle in str(info.value), (needle, str(info.value))


def test_probability_labels_are_rejected_where_a_target_class_is_needed():
    q = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    for loss, kw in (("ldam_ce", {"class_counts": COUNTS}), ("poly1_ce", {})):
        with pytest.raises(WCETypeError, match="labels"):
            getattr(wce_ref, loss)(X, q, **kw)


@pytest.mark.parametrize(
    ("kw", "exc", "needles"),
    [
        ({"class_priors": PRIORS, "tau": -0.5}, WCEInputError, ["tau", "-0.5"]),
        ({"class_priors": np.array([0.2, 0.0, 0.8])}, WCEInputError, ["class_priors", "strictly positive"]),
        ({"class_priors": np.array([0.2, 0.8])}, WCEInputError, ["class_priors", "length 3"]),
        ({"class_priors": PRIORS, "class_axis": 0}, WCEInputError, ["class_axis"]),
        ({"class_priors": np.array([0.5, 0.5, 1e-300]), "tau": 1e307}, WCEInputError, ["tau", "overflows"]),
    ],
)
def test_logit_adjust_rejects_bad_arguments(kw, exc, needles):
    with pytest.raises(exc) as info:
        wce_ref.logit_adjust(X, **kw)
    for needle in needles:
        assert needle in str(info.value)
    with pytest.raises(WCEInputError, match="class_priors"):
        wce_ref.logit_adjust(X.astype(np.float32), np.array([1e-50, 0.5, 0.5]))  # zero in float32


def _backend(name):
    backend = frameworks.get(name)
    if not backend.available():
        if name in requested_frameworks():
            pytest.fail(f"requested framework {name} cannot be imported")
        pytest.skip(f"{name} is not installed")
    return backend


@pytest.mark.parametrize("name", frameworks.names())
@pytest.mark.parametrize("case", BAD, ids=_ids)
def test_frameworks_reject_bad_arguments_with_the_reference_message(name, case):
    loss, kw, exc, needles = case
    backend = _backend(name)
    with pytest.raises(exc) as ref:
        getattr(wce_ref, loss)(X, Y, **kw)
    x = backend.tensor(X, "float64", "cpu")
    y = backend.tensor(Y, None, "cpu")
    args = {k: backend.tensor(v, None if v.dtype.kind in "iu" else "float64", "cpu") if isinstance(v, np.ndarray)
            else v for k, v in kw.items()}
    with pytest.raises(exc) as got:
        backend.loss(loss, x, y, **args)
    assert str(got.value) == str(ref.value)


@pytest.mark.parametrize("name", frameworks.names())
@pytest.mark.parametrize("loss", ["logit_adjusted_ce", "ldam_ce", "poly1_ce"])
def test_frameworks_agree_on_the_defaults_and_n_d_input(name, loss):
    """Framework versions on plain calls (defaults, integer counts, 4-d channels-first) match the reference,
    value and autodiff gradient."""
    backend = _backend(name)
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 4, 3, 2))
    y = rng.integers(0, 4, size=(2, 3, 2))
    kw = {"logit_adjusted_ce": {"class_priors": np.array([0.6, 0.25, 0.1, 0.05])},
          "ldam_ce": {"class_counts": np.array([600, 250, 10, 5])}, "poly1_ce": {}}[loss]
    args = {k: backend.tensor(v, None if v.dtype.kind in "iu" else "float64", "cpu") for k, v in kw.items()}
    yt = backend.tensor(y, None, "cpu")
    xt = backend.tensor(x, "float64", "cpu")
    value, grad = backend.value_and_grad(lambda t: backend.loss(loss, t, yt, **args), xt)
    np.testing.assert_allclose(value, getattr(wce_ref, loss)(x, y, **kw), rtol=1e-12)
    np.testing.assert_allclose(grad, getattr(wce_ref, loss + "_grad")(x, y, **kw), rtol=1e-10, atol=1e-15)


def test_jax_traced_arguments_are_checked_by_shape_only():
    """Under jax.jit the priors and counts are tracers (values unknown): the check must not reject them."""
    backend = _backend("jax")
    jax = backend.load()
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    xt, yt = backend.tensor(x, "float64", "cpu"), backend.tensor(y, None, "cpu")
    for loss, key, value in (("logit_adjusted_ce", "class_priors", PRIORS), ("ldam_ce", "class_counts", COUNTS)):
        arg = backend.tensor(value, None if value.dtype.kind in "iu" else "float64", "cpu")
        fn = jax.jit(lambda a, b, v, loss=loss, key=key: backend.loss(loss, a, b, **{key: v}))
        np.testing.assert_allclose(float(fn(xt, yt, arg)), getattr(wce_ref, loss)(x, y, **{key: value}), rtol=1e-12)


def test_optax_default_epsilon_is_poly1_with_epsilon_2():
    """optax.losses.poly_loss_cross_entropy defaults to epsilon=2.0; poly1_ce defaults to 1.0."""
    backend = _backend("jax")
    jax = backend.load()
    optax = pytest.importorskip("optax")
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(8, 5)) * 2, rng.integers(0, 5, size=8)
    got = optax.losses.poly_loss_cross_entropy(jax.numpy.asarray(x), jax.nn.one_hot(y, 5, dtype=jax.numpy.float64))
    np.testing.assert_allclose(np.asarray(got), wce_ref.poly1_ce(x, y, epsilon=2.0, reduction="none"), rtol=1e-12)
