"""The operations table's base and the fused softmax NLL written once over it (``wce_ref.losses._ops``).

The kernel is checked against the mpmath oracle on rows whose maximum is
tied (the label on a tie or not, every entry equal), where a wrong count of
the removed max term or a wrong ``r_y`` shows at once: first over a NumPy
table (every environment), then through each requested framework's
custom-gradient hook, eagerly and compiled.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from conftest import requested_frameworks

import wce_ref
from wce_ref import frameworks, oracle
from wce_ref.agreement import TOLERANCE_ULP
from wce_ref.losses._ops import Ops


class NumpyOps(Ops):
    """The base's defaults over NumPy, plus the few primitives NumPy spells its own way."""

    xp = np

    def zero_at(self, x, idx):
        out = x.copy()
        out[np.arange(x.shape[0]), idx] = 0
        return out

    def label_mask(self, idx, like):
        return np.arange(like.shape[1])[None, :] == idx[:, None]

    def cast(self, x, like):
        return np.asarray(x, dtype=like.dtype)

    def custom_gradient(self, forward, backward):
        """NumPy has no autodiff: ``f(x, y)`` returns the value and its vector-Jacobian product."""

        def fn(x, y):
            value, residuals = forward(x, y)
            return value, functools.partial(backward, residuals)

        return fn


def _problem(c: int = 6, scale: float = 3.0):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(40, c)) * scale
    y = rng.integers(0, c, 40)
    x[:6, 1] = x[:6, 3] = x[:6].max(1) + 0.5  # a tie at the max ...
    y[:3], y[3:6] = 1, 3  # ... with the label on it
    x[6:9, 0] = x[6:9, 4] = x[6:9].max(1) + 0.25  # a tie, the label elsewhere
    y[6:9] = 2
    x[9:11] = 1.5  # every entry equal
    g = rng.uniform(0.5, 2.0, 40)
    return x, y, g


def _exact(x, y, g):
    """Per-row ``-log p_y`` and the gradient ``g (p - onehot(y))``, exactly (mpmath)."""
    rows = oracle.mp_array(x)
    value = np.empty(len(y), dtype=object)
    grad = np.empty(x.shape, dtype=object)
    for i, row in enumerate(rows):
        nll, p = oracle.row_softmax(row)
        value[i] = nll[y[i]]
        for j in range(x.shape[1]):
            grad[i, j] = oracle.MP.mpf(float(g[i])) * (p[j] - (1 if j == y[i] else 0))
    return value, grad


def _check(value, grad, x, y, g, dtype, bound):
    exact_value, exact_grad = _exact(x, y, g)
    ev, eg = oracle.error_stats(value, exact_value, dtype), oracle.error_stats(grad, exact_grad, dtype)
    assert ev.max_ulp <= bound and eg.max_ulp <= bound, (ev, eg)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_kernel_over_the_base_table_matches_the_oracle(dtype):
    x, y, g = _problem()
    x, g = x.astype(dtype), g.astype(dtype)
    value, vjp = NumpyOps().softmax_nll(x, y)
    _check(value, vjp(g), x.astype(np.float64), y, g.astype(np.float64), dtype, bound=4.0)


def test_a_table_without_a_hook_has_no_fused_kernel():
    class NoHook(NumpyOps):
        custom_gradient = Ops.custom_gradient

    x, y, _ = _problem()
    assert NoHook().softmax_nll(x, y) is None  # the formulas then differentiate SoftmaxRows.nll_of


def test_a_wrong_tie_count_would_be_caught():
    """The oracle check is sharp: a tied maximum counted twice in ``s`` shifts those rows' loss and gradient."""

    class DoubleCount(NumpyOps):
        def nll_max_pass(self, x):
            m, s, saved = super().nll_max_pass(x)
            return m, s + self.sum(self.cast(x == m, x), axis=1) - 1, saved

    x, y, g = _problem()
    value, vjp = DoubleCount().softmax_nll(x, y)
    with pytest.raises(AssertionError):
        _check(value, vjp(g), x, y, g, "float64", bound=4.0)


_MODES = {"torch": ("eager", "compiled"), "jax": ("eager", "compiled"), "tensorflow": ("eager", "compiled")}


@pytest.mark.parametrize(("framework", "mode"), [(f, m) for f, modes in _MODES.items() for m in modes])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_each_frameworks_hook_runs_the_kernel(framework, mode, dtype):
    if framework not in requested_frameworks():
        pytest.skip(f"{framework} not requested (WCE_FRAMEWORKS)")
    backend = frameworks.get(framework)
    backend.load()
    x, y, g = _problem()
    data = backend.inputs({"x": x, "y": y, "g": g}, ("x", "g"), dtype, "cpu")
    ops = backend.ops

    def fn(logits):
        return ops.softmax_nll(logits, data["y"]) * data["g"]

    value, grad = backend.value_and_grad(backend.compile(fn) if mode == "compiled" else fn, data["x"])
    xd, gd = backend.to_numpy(data["x"]), backend.to_numpy(data["g"])  # the inputs as rounded to dtype
    exact_nll, exact_grad = _exact(xd, y, gd)
    ev = oracle.error_stats(value, exact_nll * oracle.mp_array(gd), dtype)
    eg = oracle.error_stats(grad, exact_grad, dtype)
    assert ev.max_ulp <= TOLERANCE_ULP[dtype] and eg.max_ulp <= TOLERANCE_ULP[dtype], (ev, eg)


@pytest.mark.parametrize("weighted", [True, False])
def test_the_fused_weighted_sum_is_bit_identical_to_weighing_the_rows(weighted):
    """``Ops.softmax_nll_sum`` (one custom-gradient node) equals ``sum(w * softmax_nll)`` and its gradient."""

    class Constants(NumpyOps):
        hook_takes_constants = True

        def custom_gradient(self, forward, backward):
            def fn(x, *consts):
                value, residuals = forward(x, *consts)
                return value, functools.partial(backward, residuals)

            return fn

    x, y, g = _problem()
    w = g if weighted else None
    ops = Constants()
    total, vjp = ops.softmax_nll_sum(x, y, w)
    rows, row_vjp = ops.softmax_nll(x, y)
    assert total == np.sum(rows if w is None else w * rows)
    cotangent = np.float64(1.75)
    np.testing.assert_array_equal(vjp(cotangent), row_vjp(cotangent * (np.ones(len(y)) if w is None else w)))
    assert NumpyOps().softmax_nll_sum(x, y, w) is None  # a hook without constants: the formulas weigh the rows


@pytest.mark.parametrize("reduction", ["weighted_mean", "mean", "sum"])
def test_torch_eager_fused_sum_matches_the_weighted_rows(reduction, monkeypatch):
    """The operations-table formula's fused weighted sum (the C kernel, which eager CPU calls take, set aside)."""
    if "torch" not in requested_frameworks():
        pytest.skip("torch not requested (WCE_FRAMEWORKS)")
    import torch

    from wce_ref.frameworks import _torch_cpu
    from wce_ref.torch import softmax_wce

    monkeypatch.setattr(_torch_cpu, "fast", lambda *a, **k: None)
    monkeypatch.setattr(_torch_cpu, "dispatch", lambda *a, **k: None)

    x, y, g = _problem()
    w = torch.tensor(np.linspace(0.5, 2.0, x.shape[1]), dtype=torch.float32)
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    value = softmax_wce(xt, torch.tensor(y), class_weights=w, reduction=reduction, ignore_index=2)
    assert value.grad_fn.name() in ("DivBackward0", "FusedBackward")  # one node for the weighted sum
    (grad,) = torch.autograd.grad(value, xt)
    ref = wce_ref.softmax_wce_grad(x.astype(np.float32), y, class_weights=w.numpy(), reduction=reduction,
                                   ignore_index=2)
    np.testing.assert_allclose(grad.numpy(), ref, rtol=2e-6, atol=1e-7)


def test_torch_compiled_loss_compiles_once():
    """The fused NLL's autograd.Function exists before any trace: a compiled training step with the front end
    inside compiles once and never again for the same shapes (it used to recompile on every call up to dynamo's
    limit, then run the frame eagerly)."""
    if "torch" not in requested_frameworks():
        pytest.skip("torch not requested (WCE_FRAMEWORKS)")
    import subprocess
    import sys

    code = (
        "import torch\n"
        "from wce_ref.torch import softmax_wce\n"
        "f = torch.compile(lambda x, y, w: softmax_wce(x, y, class_weights=w), dynamic=False)\n"
        "x, y, w = torch.randn(64, 5), torch.randint(0, 5, (64,)), torch.rand(5) + 0.5\n"
        "f(x, y, w)\n"
        "with torch._dynamo.config.patch(error_on_recompile=True):\n"
        "    for _ in range(3):\n"
        "        f(torch.randn(64, 5), y, w)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
