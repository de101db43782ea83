"""The fused Triton kernel of ``softmax_wce`` (``wce_ref/frameworks/_torch_triton.py``) on the CPU.

The kernels run through Triton's interpreter (``TRITON_INTERPRET=1``, set by tox's torch environment, and
here before the kernels are first imported): values and gradients against the mpmath oracle and the NumPy
reference for every option (class weights, label smoothing, ``ignore_index``, sample weights, each
reduction, N-d layouts), both kernels (one tile per row block, and the two-pass looped kernel for wide rows,
reached here with a small ``max_tile``), ties, extreme logits, all-ignored batches, half precisions, the
backward's scaling and bad input. The agreement matrix's ``torch-triton`` rows run in ``test_agreement.py``.

Skipped, with the reason, where torch or triton is absent, unless ``WCE_REQUIRE_TRITON=1`` (tox's torch
environment sets it): then they fail.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TRITON_INTERPRET", "1")  # before the kernels are imported (tox sets it for the run)

torch = pytest.importorskip("torch", reason="torch is not installed")

from wce_ref import losses, oracle, softmax_wce, softmax_wce_grad  # noqa: E402
from wce_ref.agreement import TOLERANCE_ULP  # noqa: E402
from wce_ref.frameworks import _torch_triton as tt  # noqa: E402
from wce_ref.losses._base import round_to  # noqa: E402

_OK, _WHY = tt.status()
if not (_OK and tt.interpreting()):
    _REASON = _WHY if not _OK else "the kernels were imported without TRITON_INTERPRET=1 (they need it on CPU)"
    if os.environ.get("WCE_REQUIRE_TRITON") == "1":
        raise RuntimeError(f"WCE_REQUIRE_TRITON=1 but the Triton kernel cannot run on CPU here: {_REASON}")
    pytest.skip(f"Triton kernel not runnable on CPU: {_REASON}", allow_module_level=True)

_DTYPES = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16,
           "float16": torch.float16}
REDUCTIONS = ("none", "sum", "mean", "weighted_mean")


def _inputs(options: str, rng: np.random.Generator, n: int = 9, c: int = 11) -> dict:
    """NumPy keyword arguments of one option set (labels include ignored rows where it names ignore_index)."""
    kw: dict = {"logits": rng.normal(size=(n, c)) * 4.0, "labels": rng.integers(0, c, n)}
    if "w" in options.split("+"):
        kw["class_weights"] = rng.uniform(0.3, 3.0, c)
    if "eps" in options.split("+"):
        kw["label_smoothing"] = 0.15
    if "sw" in options.split("+"):
        kw["sample_weight"] = rng.uniform(0.0, 2.0, n)
    if "ignore" in options.split("+"):
        kw["ignore_index"] = -100
        kw["labels"] = np.where(np.arange(n) % 3 == 1, -100, kw["labels"])
    if "nd" in options.split("+"):  # (N, C, H, W), classes on axis 1
        kw["logits"] = rng.normal(size=(2, c, 3, 2)) * 4.0
        kw["labels"] = np.where(rng.uniform(size=(2, 3, 2)) < 0.2, -100, rng.integers(0, c, (2, 3, 2)))
        kw["ignore_index"] = -100
    if "last" in options.split("+"):  # (N, H, C), channels last
        kw["logits"] = rng.normal(size=(3, 2, c)) * 4.0
        kw["labels"] = rng.integers(0, c, (3, 2))
        kw["class_axis"] = -1
    return kw


def _rounded(kw: dict, dtype: str) -> dict:
    floats = ("logits", "class_weights", "sample_weight")
    return {k: (round_to(v, dtype) if k in floats else v) for k, v in kw.items()}


def _run(kw: dict, dtype: str, reduction: str, *, max_tile: int = tt.MAX_TILE, upstream=None):
    """The kernel's value and gradient (float64 NumPy) on the dtype-rounded inputs."""
    t = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    x = t.pop("logits").to(_DTYPES[dtype]).requires_grad_(True)
    value = tt.softmax_wce(x, **t, reduction=reduction, max_tile=max_tile)
    assert value.dtype == x.dtype
    g = torch.ones_like(value) if upstream is None else upstream
    (grad,) = torch.autograd.grad(value, x, grad_outputs=g)
    return value.detach().double().numpy(), grad.double().numpy()


def _ulps(kw: dict, dtype: str, reduction: str, exact=None, **run) -> tuple[float, float]:
    exact_value, exact_grad = exact or losses.get("softmax_wce").exact(**kw, reduction=reduction)
    value, grad = _run(kw, dtype, reduction, **run)
    return (oracle.error_stats(value, exact_value, dtype).max_ulp,
            oracle.error_stats(grad, exact_grad, dtype).max_ulp)


OPTIONS = ("plain", "w", "w+eps", "sw+ignore", "w+eps+sw+ignore", "eps+ignore", "nd+w+eps", "last+w")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", OPTIONS)
def test_value_and_gradient_match_the_oracle(options, reduction):
    """Every option and reduction, float32 and bfloat16, the one-tile and the looped kernel, within the
    agreement matrix's tolerance of the oracle; float64 against the NumPy reference to 1e-13."""
    rng = np.random.default_rng(sum(map(ord, options + reduction)))
    kw = _inputs(options, rng)
    for dtype in ("float32", "bfloat16"):
        rounded = _rounded(kw, dtype)
        exact = losses.get("softmax_wce").exact(**rounded, reduction=reduction)  # once for both kernels
        for tile in (tt.MAX_TILE, 4):  # 11 classes in tiles of 4: three tiles, the online normaliser
            v_ulp, g_ulp = _ulps(rounded, dtype, reduction, exact, max_tile=tile)
            assert v_ulp <= TOLERANCE_ULP[dtype] and g_ulp <= TOLERANCE_ULP[dtype], (dtype, tile, v_ulp, g_ulp)
    value, grad = _run(kw, "float64", reduction)
    np.testing.assert_allclose(value, softmax_wce(**kw, reduction=reduction), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(grad, softmax_wce_grad(**kw, reduction=reduction), rtol=1e-12, atol=1e-15)


def test_half_precision_rounds_once():
    """float32 accumulation: bfloat16 and float16 results are within one ULP of the oracle (rounded once)."""
    rng = np.random.default_rng(3)
    kw = _inputs("w+eps+sw+ignore", rng, n=16, c=40)
    for dtype in ("bfloat16", "float16"):
        for reduction in REDUCTIONS:
            v_ulp, g_ulp = _ulps(_rounded(kw, dtype), dtype, reduction)
            assert v_ulp <= 1.0 and g_ulp <= 1.0, (dtype, reduction, v_ulp, g_ulp)


@pytest.mark.parametrize("tile", [tt.MAX_TILE, 4])
def test_ties_and_labels_on_a_tied_maximum(tile):
    """Tied maxima (in one tile and across tiles): one of them leaves the sum, the value and the label's
    gradient keep full precision whether the label holds a maximum or not."""
    x = np.full((6, 11), -3.0)
    x[:, [1, 6, 9]] = 2.5  # three tied maxima, in different tiles of 4
    x[3] = 0.0  # a row of equal logits
    x[4, 0] = 7.0
    kw = {"logits": x, "labels": np.array([1, 6, 0, 5, 0, 9]), "class_weights": np.linspace(0.5, 2.0, 11)}
    for dtype in ("float64", "float32", "bfloat16"):
        for reduction in ("none", "weighted_mean"):
            v_ulp, g_ulp = _ulps(_rounded(kw, dtype), dtype, reduction, max_tile=tile)
            assert v_ulp <= 2.0 and g_ulp <= 2.0, (dtype, reduction, v_ulp, g_ulp)


@pytest.mark.parametrize("tile", [tt.MAX_TILE, 4])
def test_extreme_logits_and_tiny_losses(tile):
    """Logits of +-1e4 and losses near 1e-13: relative precision kept (no 1 - p cancellation)."""
    x = np.array([[1e4, -1e4, 0.0, 5e3, -2e3, 1e4 - 30.0],
                  [30.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                  [-1e4, -1e4, -1e4, -1e4, -1e4, -1e4 + 1.0]])
    kw = {"logits": x, "labels": np.array([0, 0, 2])}
    for dtype in ("float64", "float32"):
        exact_value, _ = losses.get("softmax_wce").exact(**kw, reduction="none")
        value, grad = _run(kw, dtype, "none", max_tile=tile)
        rel = np.abs(value - oracle.to_float64(exact_value)) / np.abs(oracle.to_float64(exact_value))
        assert rel.max() < 8 * np.finfo(dtype).eps, (dtype, rel)
        assert np.isfinite(grad).all()
        v_ulp, g_ulp = _ulps(kw, dtype, "sum", max_tile=tile)
        assert v_ulp <= 4 and g_ulp <= 4, (dtype, v_ulp, g_ulp)


def test_all_ignored_and_empty_batches():
    """Every row ignored: 0 and a zero gradient for sum and none; an empty batch: 0 for every reduction."""
    x = torch.randn(5, 4, requires_grad=True)
    y = torch.full((5,), -1)
    for reduction in ("sum", "none"):
        value = tt.softmax_wce(x, y, ignore_index=-1, reduction=reduction)
        (grad,) = torch.autograd.grad(value.sum(), x)
        assert float(value.detach().abs().sum()) == 0.0 and float(grad.abs().sum()) == 0.0
    empty = torch.zeros(0, 4, requires_grad=True)
    for reduction in REDUCTIONS:
        value = tt.softmax_wce(empty, torch.zeros(0, dtype=torch.long), reduction=reduction)
        assert value.shape == ((0,) if reduction == "none" else ()) and float(value.detach().sum()) == 0.0


def test_the_front_end_rejects_an_all_ignored_mean_before_the_kernel():
    """The reference's check names the problem (the kernel alone would give NaN)."""
    from wce_ref import WCEInputError
    from wce_ref.torch import softmax_wce as front

    with pytest.raises(WCEInputError, match="ignore"):
        front(torch.randn(3, 4), torch.full((3,), -100), ignore_index=-100, reduction="mean")


def test_backward_scales_by_the_incoming_gradient():
    """``(3 * loss).backward()`` and per-row cotangents: the saved gradient times the factor; rows whose
    factor is 1 are left as computed."""
    rng = np.random.default_rng(5)
    kw = _inputs("w+eps+sw+ignore", rng)
    ref = softmax_wce_grad(**kw, reduction="weighted_mean")
    _, grad = _run(kw, "float64", "weighted_mean", upstream=torch.tensor(3.0, dtype=torch.float64))
    np.testing.assert_allclose(grad, 3.0 * ref, rtol=1e-12, atol=1e-15)
    up = torch.tensor(rng.uniform(-2, 2, 9))
    up[::2] = 1.0
    _, grad = _run(kw, "float64", "none", upstream=up)
    expected = softmax_wce_grad(**kw, reduction="sum") * up.numpy()[:, None]
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-15)


def test_a_second_backward_recomputes_and_an_in_place_change_is_refused():
    x = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 5, (6,))
    loss = tt.softmax_wce(x, y, reduction="sum")
    (first,) = torch.autograd.grad(2.0 * loss, x, retain_graph=True)
    (second,) = torch.autograd.grad(loss, x, retain_graph=True)
    torch.testing.assert_close(first, 2.0 * second, rtol=1e-14, atol=0)
    np.testing.assert_allclose(second.numpy(), softmax_wce_grad(x.detach().numpy(), y.numpy(), reduction="sum"),
                               rtol=1e-12)
    with torch.no_grad():
        x.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        torch.autograd.grad(loss, x)


def test_no_gradient_wanted_computes_the_value_only():
    x = torch.randn(7, 5)
    y = torch.randint(0, 5, (7,))
    with torch.no_grad():
        value = tt.softmax_wce(x, y, class_weights=torch.rand(5) + 0.5)
    assert not value.requires_grad and value.shape == ()


@pytest.mark.parametrize("call, error, match", [
    (lambda: tt.softmax_wce(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, dtype=torch.long)),
     TypeError, "logits must be a float16"),
    (lambda: tt.softmax_wce(torch.zeros(2, 3), torch.full((2, 3), 1 / 3)), TypeError, "labels must be"),
    (lambda: tt.softmax_wce(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), reduction="avg"),
     ValueError, "reduction must be one of"),
    (lambda: tt.softmax_wce(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), max_tile=6),
     ValueError, "max_tile must be a power of 2"),
])
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_cpu_tensors_keep_the_formula_path(monkeypatch):
    """The front end sends only CUDA tensors to the Triton kernel; on CPU it runs the C kernel or the formula."""
    from wce_ref.torch import softmax_wce as front

    def boom(*args, **kwargs):
        raise AssertionError("the Triton kernel was called for CPU tensors")

    monkeypatch.setattr(tt, "softmax_wce", boom)
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    assert tt.dispatch({"logits": x, "labels": y}, {}) is None
    value = front(x, y)
    np.testing.assert_allclose(float(value), softmax_wce(x.numpy(), y.numpy()), rtol=1e-6)


def test_status_and_the_matrix_row():
    """The interpreter is reported; the matrix has a torch-triton built-in row for class-index labels only;
    CUDA tensors cannot use interpreted kernels (a reason, not a crash)."""
    assert "interpreter" in tt.status()[1]
    (row,) = tt.builtins()
    assert row.name == tt.IMPL == "torch-triton" and row.loss == "softmax_wce"
    assert row.supports({"labels": np.array([0, 1])}, "sum")
    assert not row.supports({"labels": np.full((2, 3), 1 / 3)}, "sum")
    assert "TRITON_INTERPRET" in tt.runs_on("cuda")
    assert row.runs_on("cpu") and not row.runs_on("cuda")
    assert tt.unavailable() == []
    from wce_ref import agreement

    cells = [c for c in agreement.enumerate_cells(["torch"], losses=["softmax_wce"]) if c.impl == tt.IMPL]
    assert {c.device for c in cells} == {"cpu"} and {c.dtype for c in cells} == set(_DTYPES)
    assert {c.reduction for c in cells} == set(REDUCTIONS)


def test_the_matrix_report_says_the_cpu_rows_are_interpreted():
    from wce_ref import agreement, check

    (cell,) = [c for c in agreement.enumerate_cells(["torch"], dtypes=["bfloat16"], losses=["softmax_wce"])
               if c.impl == tt.IMPL and c.reduction == "weighted_mean"]
    result = agreement.run_cell(cell)
    assert result.status == "pass" and len(result.cases) == 16  # every case but the two with probability labels
    md = check.render_markdown([result], agreement.runtime_info(["torch"]))
    assert "its `cpu` rows run the kernel through Triton's interpreter" in md
    assert "| torch-triton | cpu | softmax_wce |" in md


def _python(code: str, **env: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env})


def test_triton_is_not_imported_after_tensorflow():
    """Importing Triton after TensorFlow aborts the process (LLVM options registered twice): with TensorFlow
    loaded (a stand-in module here) the kernel is reported unavailable, with the reason, and Triton stays out."""
    code = ("import sys, types; sys.modules['tensorflow'] = types.ModuleType('tensorflow')\n"
            "from wce_ref.frameworks import _torch_triton as tt\n"
            "ok, why = tt.status(); print(ok, 'triton' in sys.modules); print(why); print(tt.unavailable())")
    run = _python(code)
    assert run.returncode == 0, run.stderr[-2000:]
    first, why, unavailable = run.stdout.splitlines()[:3]
    assert first == "False False"
    assert "TensorFlow is loaded" in why and "torch-triton" in unavailable


def test_no_triton_import_where_the_kernel_cannot_run():
    """Without CUDA and without the interpreter, asking what is unavailable imports no Triton."""
    code = ("import sys\nfrom wce_ref.frameworks import _torch_triton as tt\n"
            "print(tt.unavailable()); print('triton' in sys.modules)")
    run = _python(code, TRITON_INTERPRET="0")
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines()[-1] == "False" and "interpreter is off" in run.stdout


@pytest.mark.skipif(__import__("importlib.util").util.find_spec("tensorflow") is None,
                    reason="tensorflow is not installed: the real import order cannot be tried")
def test_torch_then_tensorflow_keeps_the_kernel():
    """The torch backend imports Triton with torch where it could run, so TensorFlow loaded next is safe and the
    kernel is still measured (the agreement matrix of torch and tensorflow in one process)."""
    code = ("from wce_ref import frameworks\nfrom wce_ref.frameworks import _torch_triton as tt\n"
            "frameworks.get('torch').lib(); import tensorflow  # noqa\nprint(tt.status()[0])")
    run = _python(code, TRITON_INTERPRET="1")
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines()[-1] == "True"
