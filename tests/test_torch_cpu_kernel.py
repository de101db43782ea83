"""The fused C kernel of ``softmax_wce`` on CPU tensors (``wce_ref/frameworks/_torch_cpu.py``, ``_cpu_kernel.c``).

Values and gradients against the mpmath oracle and the NumPy reference for every option and reduction, ties,
extreme logits, threads, the backward's scaling; the eager front end's fast path (a configuration that passed
the reference's check once is checked by the kernel) still raising the reference's messages for every bad
value; the fallbacks. The agreement matrix's ``torch-cpu-kernel`` rows run in ``test_agreement.py``.

Skipped, with the reason, where torch is absent or no C compiler is found; where a compiler is found the kernel
must build (a broken build is a failure, not a skip).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed")

from wce_ref import WCEInputError, losses, oracle, sigmoid_wce, sigmoid_wce_grad, softmax_wce, softmax_wce_grad  # noqa: E402, E501
from wce_ref.agreement import TOLERANCE_ULP  # noqa: E402
from wce_ref.frameworks import _torch_cpu as kc  # noqa: E402
from wce_ref.losses._base import round_to  # noqa: E402

_OK, _WHY = kc.status()
if not _OK and kc._compiler() is None:
    pytest.skip(f"C kernel not available: {_WHY}", allow_module_level=True)

_DTYPES = {"float64": torch.float64, "float32": torch.float32}
REDUCTIONS = ("none", "sum", "mean", "weighted_mean")
OPTIONS = ("plain", "w", "w+eps", "sw+ignore", "w+eps+sw+ignore", "eps+ignore")


def test_a_found_compiler_builds_the_kernel():
    """Requested (a compiler is there) but broken is an error, not a silent fallback to the formula."""
    assert _OK, _WHY
    assert "built with" in _WHY and kc.unavailable() == []


def _inputs(options: str, rng: np.random.Generator, n: int = 9, c: int = 11) -> dict:
    opts = options.split("+")
    kw: dict = {"logits": rng.normal(size=(n, c)) * 4.0, "labels": rng.integers(0, c, n)}
    if "w" in opts:
        kw["class_weights"] = rng.uniform(0.3, 3.0, c)
    if "eps" in opts:
        kw["label_smoothing"] = 0.15
    if "sw" in opts:
        kw["sample_weight"] = rng.uniform(0.0, 2.0, n)
    if "ignore" in opts:
        kw["ignore_index"] = -100
        kw["labels"] = np.where(np.arange(n) % 3 == 1, -100, kw["labels"])
    return kw


def _rounded(kw: dict, dtype: str) -> dict:
    floats = ("logits", "class_weights", "sample_weight")
    return {k: (round_to(v, dtype) if k in floats else v) for k, v in kw.items()}


def _run(kw: dict, dtype: str, reduction: str, *, upstream=None):
    """The kernel's value and gradient (float64 NumPy) on the dtype-rounded inputs."""
    t = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    x = t.pop("logits").to(_DTYPES[dtype]).requires_grad_(True)
    for k in ("class_weights", "sample_weight"):
        if k in t:
            t[k] = t[k].to(x.dtype)
    value = kc.softmax_wce(x, **t, reduction=reduction)
    assert value.dtype == x.dtype
    g = torch.ones_like(value) if upstream is None else upstream
    (grad,) = torch.autograd.grad(value, x, grad_outputs=g)
    return value.detach().double().numpy(), grad.double().numpy()


def _ulps(kw: dict, dtype: str, reduction: str) -> tuple[float, float]:
    exact_value, exact_grad = losses.get("softmax_wce").exact(**kw, reduction=reduction)
    value, grad = _run(kw, dtype, reduction)
    return (oracle.error_stats(value, exact_value, dtype).max_ulp,
            oracle.error_stats(grad, exact_grad, dtype).max_ulp)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", OPTIONS)
def test_value_and_gradient_match_the_oracle(options, reduction):
    """float32 within the agreement matrix's tolerance of the oracle (a few ULP in fact); float64 against the
    NumPy reference to 1e-13."""
    rng = np.random.default_rng(sum(map(ord, options + reduction)))
    kw = _inputs(options, rng)
    v_ulp, g_ulp = _ulps(_rounded(kw, "float32"), "float32", reduction)
    assert v_ulp <= 4 and g_ulp <= 4 <= TOLERANCE_ULP["float32"], (v_ulp, g_ulp)
    value, grad = _run(kw, "float64", reduction)
    np.testing.assert_allclose(value, softmax_wce(**kw, reduction=reduction), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(grad, softmax_wce_grad(**kw, reduction=reduction), rtol=1e-12, atol=1e-15)


def test_ties_and_labels_on_a_tied_maximum():
    x = np.full((6, 11), -3.0)
    x[:, [1, 6, 9]] = 2.5
    x[3] = 0.0
    x[4, 0] = 7.0
    kw = {"logits": x, "labels": np.array([1, 6, 0, 5, 0, 9]), "class_weights": np.linspace(0.5, 2.0, 11)}
    for dtype in _DTYPES:
        for reduction in ("none", "weighted_mean"):
            v_ulp, g_ulp = _ulps(_rounded(kw, dtype), dtype, reduction)
            assert v_ulp <= 2.0 and g_ulp <= 2.0, (dtype, reduction, v_ulp, g_ulp)


def test_extreme_logits_and_tiny_losses():
    """Logits of +-1e4, differences past exp's underflow and losses near 1e-13: relative precision kept."""
    x = np.array([[1e4, -1e4, 0.0, 5e3, -2e3, 1e4 - 30.0],
                  [30.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                  [-1e4, -1e4, -1e4, -1e4, -1e4, -1e4 + 1.0],
                  [0.0, -87.0, -100.0, -104.0, -120.0, -150.0]])
    kw = {"logits": x, "labels": np.array([0, 0, 2, 0])}
    for dtype in _DTYPES:
        exact_value, _ = losses.get("softmax_wce").exact(**kw, reduction="none")
        value, grad = _run(kw, dtype, "none")
        rel = np.abs(value - oracle.to_float64(exact_value)) / np.abs(oracle.to_float64(exact_value))
        assert rel.max() < 8 * np.finfo(dtype).eps, (dtype, rel)
        assert np.isfinite(grad).all()
        v_ulp, g_ulp = _ulps(kw, dtype, "sum")
        assert v_ulp <= 4 and g_ulp <= 4, (dtype, v_ulp, g_ulp)


@pytest.fixture
def both_paths():
    """Run a test body on the AVX2 rows and on the portable rows (the same where the machine has no AVX2)."""
    before = kc.simd()
    yield (True, False) if before else (False,)
    kc.simd(before)


@pytest.mark.parametrize("c", [1, 2, 3, 7, 8, 9, 10, 16, 17, 32, 33, 100])
@pytest.mark.parametrize("n", [5, 14])
def test_the_simd_rows_match_the_oracle_and_the_portable_rows(both_paths, c, n):
    """Every column count around the 8-lane blocks; rows run in pairs within groups of 8, so odd and even numbers
    of non-ignored rows per group, ignored rows between others (two adjacent), ties at the max, a label on a tied
    max and differences past exp's underflow: float32 within 4 ULP of the oracle on each path, and the two paths
    within 4 ULP of each other."""
    rng = np.random.default_rng(c + 1000 * n)
    x = rng.normal(size=(n, c)) * 4.0
    x[2] = 1.5  # a row of ties
    x[4, : (c + 1) // 2] = x[4].max() + 1.0  # several maxima, the label on one
    x[1] = np.linspace(0.0, -150.0, c)  # terms below exp's underflow
    labels = rng.integers(0, c, n)
    labels[4] = 0
    labels[[r for r in (0, 3, 11) if r < n]] = -100  # ignored; with n = 14: 3 and 11 live rows in the two groups
    if n > 12:
        labels[12] = -100  # two adjacent
    kw = _rounded({"logits": x, "labels": labels, "class_weights": rng.uniform(0.3, 3.0, c),
                   "sample_weight": rng.uniform(0.0, 2.0, n), "ignore_index": -100}, "float32")
    runs = {}
    for on in both_paths:
        kc.simd(on)
        for reduction in ("none", "weighted_mean"):
            v_ulp, g_ulp = _ulps(kw, "float32", reduction)
            assert v_ulp <= 4 and g_ulp <= 4, (on, c, reduction, v_ulp, g_ulp)
            runs[on, reduction] = _run(kw, "float32", reduction)
    if len(both_paths) == 2:
        for reduction in ("none", "weighted_mean"):
            for a, b in zip(runs[True, reduction], runs[False, reduction], strict=True):
                np.testing.assert_allclose(a, b, rtol=0, atol=4 * np.spacing(np.float32(np.abs(b).max())))


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_the_simd_rows_reject_non_finite_logits_anywhere(both_paths, where, bad):
    """A NaN or an infinity in any column (the blocks' tails included) of either row of a pair, or of an ignored
    row (the reference's check rejects those too), is rejected; two classes (four rows a step) included."""
    for on in both_paths:
        kc.simd(on)
        for c in (2, 3, 8, 11):
            ignoring = torch.tensor([0, 1, 0, 1, 1, 0, -100, 0, 1])
            for row, labels in ((3, torch.zeros(9, dtype=torch.int64)), (6, ignoring)):
                x = torch.randn(9, c)
                x[row, {"first": 0, "middle": c // 2, "last": c - 1}[where]] = bad
                with pytest.raises(kc._Rejected):
                    kc.softmax_wce(x, labels, ignore_index=-100)


def test_threads_split_rows_and_agree():
    """Above THREAD_MIN elements the rows are split over torch's threads; the result is the same to an ULP."""
    rng = np.random.default_rng(11)
    n, c = kc.THREAD_MIN // 8 + 3, 8
    kw = _inputs("w+eps+sw+ignore", rng, n=n, c=c)
    before = torch.get_num_threads()
    try:
        out = {}
        for threads in (1, 3):
            torch.set_num_threads(threads)
            out[threads] = _run(kw, "float64", "weighted_mean")
    finally:
        torch.set_num_threads(before)
    np.testing.assert_allclose(out[1][0], out[3][0], rtol=4e-16)
    np.testing.assert_array_equal(out[1][1], out[3][1])
    np.testing.assert_allclose(out[1][0], softmax_wce(**kw), rtol=1e-13)


def _pool_call(n: int = 4 * kc.THREAD_MIN // 32, c: int = 32, seed: int = 0) -> tuple[float, np.ndarray]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, generator=g, requires_grad=True)
    y = torch.randint(0, c, (n,), generator=g)
    value = kc.softmax_wce(x, y)
    (grad,) = torch.autograd.grad(value, x)
    return float(value.detach()), grad.numpy()


def _in_forked_child(queue):
    queue.put(_pool_call(seed=3)[0])


def test_the_thread_pool_survives_a_fork_and_concurrent_callers():
    """The kernel's workers are kept between calls: a forked child (a DataLoader worker) starts with none and
    computes the same value; Python threads calling at once (ctypes releases the GIL) get what one caller gets."""
    import multiprocessing
    import threading

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        expected = {seed: _pool_call(seed=seed) for seed in range(4)}  # the pool starts here
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=_in_forked_child, args=(queue,))
        child.start()
        child.join(timeout=60)
        assert child.exitcode == 0, "the forked child hung or failed"
        assert queue.get(timeout=5) == expected[3][0]
        got: dict = {}
        threads = [threading.Thread(target=lambda s=s: got.__setitem__(s, _pool_call(seed=s))) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        for seed, (value, grad) in expected.items():
            assert got[seed][0] == value
            np.testing.assert_array_equal(got[seed][1], grad)
    finally:
        torch.set_num_threads(before)


def test_backward_scales_by_the_incoming_gradient():
    rng = np.random.default_rng(5)
    kw = _inputs("w+eps+sw+ignore", rng)
    ref = softmax_wce_grad(**kw, reduction="weighted_mean")
    _, grad = _run(kw, "float64", "weighted_mean", upstream=torch.tensor(3.0, dtype=torch.float64))
    np.testing.assert_allclose(grad, 3.0 * ref, rtol=1e-12, atol=1e-15)
    up = torch.tensor(rng.uniform(-2, 2, 9))
    _, grad = _run(kw, "float64", "none", upstream=up)
    np.testing.assert_allclose(grad, softmax_wce_grad(**kw, reduction="sum") * up.numpy()[:, None], rtol=1e-12,
                               atol=1e-15)


def test_a_second_backward_recomputes_and_an_in_place_change_is_refused():
    x = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 5, (6,))
    loss = kc.softmax_wce(x, y, reduction="sum")
    (first,) = torch.autograd.grad(2.0 * loss, x, retain_graph=True)
    (second,) = torch.autograd.grad(loss, x, retain_graph=True)
    torch.testing.assert_close(first, 2.0 * second, rtol=1e-14, atol=0)
    with torch.no_grad():
        x.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        torch.autograd.grad(loss, x)


# ------------------------------------------------------------------------------------- the eager front end


def _front_and_count(monkeypatch):
    """``wce_ref.torch.softmax_wce`` and a list that records every full check the backend runs."""
    from wce_ref import frameworks
    from wce_ref.torch import softmax_wce as front

    backend = frameworks.get("torch")
    calls: list[str] = []
    prepare = backend.prepare

    def counting(name, *a, **k):
        calls.append(name)
        return prepare(name, *a, **k)

    monkeypatch.setattr(backend, "prepare", counting)
    kc._PASSED.clear()
    return front, calls


def test_the_front_end_runs_the_kernel_and_skips_the_python_check_once_a_configuration_passed(monkeypatch):
    front, calls = _front_and_count(monkeypatch)
    rng = np.random.default_rng(2)
    w = torch.tensor(rng.uniform(0.5, 2.0, 10), dtype=torch.float32)
    for _ in range(3):
        x = torch.tensor(rng.normal(size=(256, 10)), dtype=torch.float32, requires_grad=True)
        y = torch.tensor(rng.integers(0, 10, 256))
        loss = front(x, y, class_weights=w)
        loss.backward()
        expected = softmax_wce_grad(x.detach().double().numpy(), y.numpy(), class_weights=w.double().numpy())
        np.testing.assert_allclose(x.grad.numpy(), expected, rtol=2e-6, atol=1e-9)
        assert type(loss.grad_fn).__name__ == "_CKernelBackward"  # the kernel's node, not the formula's
    assert calls == ["softmax_wce"]  # the full check ran once: the two later calls took the fast path


def _bad_calls():
    """(description, call of the front end) pairs the reference's check rejects, each after a good call with
    the same configuration."""
    c = 4

    def x():
        return torch.randn(5, c)

    y = torch.tensor([0, 1, 2, 3, 0])
    w = torch.ones(c)
    neg_w = w.clone()
    neg_w[2] = -1.0
    return [
        ("NaN logits", lambda f: f(x().index_fill_(1, torch.tensor([2]), float("nan")), y), "finite"),
        ("a NaN as the first logit", lambda f: f(x().index_fill_(1, torch.tensor([0]), float("nan")), y), "finite"),
        ("+inf logits", lambda f: f(x().index_fill_(1, torch.tensor([1]), float("inf")), y), "finite"),
        ("-inf logits", lambda f: f(x().index_fill_(1, torch.tensor([3]), float("-inf")), y), "finite"),
        ("a label out of range", lambda f: f(x(), torch.tensor([0, 1, 2, 3, 4])), r"\[0, 4\)"),
        ("a negative label", lambda f: f(x(), torch.tensor([0, -1, 2, 3, 0])), "lie in"),
        ("a negative class weight", lambda f: f(x(), y, class_weights=neg_w), "non-negative"),
        ("a NaN class weight", lambda f: f(x(), y, class_weights=torch.tensor([1.0, float("nan"), 1.0, 1.0])),
         "finite"),
        ("a negative sample weight", lambda f: f(x(), y, sample_weight=torch.tensor([1.0, 1.0, -2.0, 1.0, 1.0])),
         "non-negative"),
        ("zero target weights", lambda f: f(x(), y, class_weights=torch.tensor([0.0, 0.0, 0.0, 0.0])), "is 0"),
        ("every row ignored", lambda f: f(x(), torch.full((5,), -100), ignore_index=-100, reduction="mean"), "is 0"),
    ]


@pytest.mark.parametrize("what, bad, match", _bad_calls(), ids=[d for d, _, _ in _bad_calls()])
def test_the_fast_path_still_raises_the_references_message(monkeypatch, what, bad, match):
    """The kernel finds the bad value and the reference's check names it, exactly as on the first call."""
    front, _ = _front_and_count(monkeypatch)
    good = torch.randn(5, 4)
    kwargs = {"ignore_index": -100, "reduction": "mean"} if "ignored" in what else {}
    if "weight" in what:
        key = "class_weights" if "class" in what or "target" in what else "sample_weight"
        kwargs[key] = torch.ones(4 if key == "class_weights" else 5)
    front(good, torch.tensor([0, 1, 2, 3, 0]), **kwargs)  # the configuration passes once
    assert kc._PASSED, "the good call did not take the kernel"
    with pytest.raises(WCEInputError, match=match):
        bad(front)


def test_a_class_weight_buffer_changed_in_place_is_checked_again():
    """A module's weights mutated between steps are checked by the kernel (not remembered by value)."""
    from wce_ref.torch import WeightedCrossEntropyLoss

    loss = WeightedCrossEntropyLoss(class_weights=[1.0, 2.0, 3.0])
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    loss(x, y)
    with torch.no_grad():
        loss.class_weights[1] = -5.0
    with pytest.raises(WCEInputError, match="class_weights must be non-negative"):
        loss(x, y)


def test_what_the_kernel_does_not_take_keeps_the_formula(monkeypatch):
    """Probability labels, (N, C, H) logits, weights that want a gradient, compiled code: the formula runs."""
    from wce_ref.torch import softmax_wce as front

    def boom(*args, **kwargs):
        raise AssertionError("the C kernel was called")

    monkeypatch.setattr(kc._CKernel, "apply", boom)
    kc._PASSED.clear()
    q = torch.softmax(torch.randn(3, 4), 1)
    front(torch.randn(3, 4), q)
    front(torch.randn(2, 4, 3), torch.randint(0, 4, (2, 3)))
    w = torch.ones(4, requires_grad=True)
    value = front(torch.randn(3, 4), torch.tensor([0, 1, 2]), class_weights=w)
    value.backward()
    assert w.grad is not None
    empty = {"logits": torch.randn(0, 4), "labels": torch.zeros(0, dtype=torch.long)}
    assert kc.dispatch("softmax_wce", empty, {}) is None


def test_disabled_by_the_environment(monkeypatch):
    monkeypatch.setenv("WCE_CPU_KERNEL", "0")
    kc._load.cache_clear()
    try:
        assert kc.status() == (False, "WCE_CPU_KERNEL=0 is set")
        assert kc.unavailable() == [(kc.IMPL, "WCE_CPU_KERNEL=0 is set")]
        with pytest.raises(RuntimeError, match="not available"):
            kc.softmax_wce(torch.randn(2, 3), torch.tensor([0, 1]))
        from wce_ref.torch import softmax_wce as front

        x, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
        np.testing.assert_allclose(float(front(x, y)), softmax_wce(x.numpy(), y.numpy()), rtol=1e-6)
    finally:
        monkeypatch.delenv("WCE_CPU_KERNEL")
        kc._load.cache_clear()
    assert kc.status()[0]


def test_a_failed_build_gives_the_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("WCE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kc, "_FLAGS", (*kc._FLAGS, "-fno-such-flag-for-wce"))
    kc._load.cache_clear()
    try:
        ok, why = kc.status()
        assert not ok and "could not be built" in why
    finally:
        kc._load.cache_clear()


@pytest.mark.parametrize("call, error, match", [
    (lambda: kc.softmax_wce(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, dtype=torch.long)),
     TypeError, "logits must be an"),
    (lambda: kc.softmax_wce(torch.zeros(2, 3), torch.full((2, 3), 1 / 3)), TypeError, "labels must be"),
    (lambda: kc.softmax_wce(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), reduction="avg"),
     ValueError, "reduction must be one of"),
    (lambda: kc.softmax_wce(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), class_weights=torch.ones(4)),
     TypeError, "class_weights and sample_weight"),
    (lambda: kc.softmax_wce(torch.zeros(2, 3), torch.tensor([0, 7])), ValueError, "rejects"),
])
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_the_matrix_rows():
    """One torch-cpu-kernel row per loss; the benchmarks leave them out (they are what "ours" runs)."""
    rows = {row.loss: row for row in kc.builtins()}
    assert set(rows) == {"softmax_wce", "sigmoid_wce"} and {r.name for r in rows.values()} == {kc.IMPL}
    soft = rows["softmax_wce"]
    assert soft.supports({"labels": np.array([0, 1]), "logits": np.zeros((2, 3))}, "sum")
    assert not soft.supports({"labels": np.full((2, 3), 1 / 3), "logits": np.zeros((2, 3))}, "sum")
    sig = rows["sigmoid_wce"]
    assert sig.supports({"logits": np.zeros((2, 3)), "targets": np.zeros((2, 3)), "pos_weight": np.ones(3)}, "mean")
    assert not sig.supports({"logits": np.zeros((2, 3)), "targets": np.zeros((2, 3)), "pos_weight": np.ones((2, 1))},
                            "mean")
    assert soft.runs_on("cpu") and not soft.runs_on("cuda")
    from wce_ref import agreement, bench

    cells = [c for c in agreement.enumerate_cells(["torch"], losses=["softmax_wce", "sigmoid_wce"])
             if c.impl == kc.IMPL]
    assert {c.loss for c in cells} == {"softmax_wce", "sigmoid_wce"} and {c.device for c in cells} == {"cpu"}
    assert all(c.builtin.loss == c.loss for c in cells)
    assert not [c for c in bench.enumerate_cases(["torch"], profile="full") if c.impl == kc.IMPL]


# ---------------------------------------------------------------------------------------------- sigmoid_wce


def _sigmoid_inputs(options: str, rng: np.random.Generator, shape=(16, 5)) -> dict:
    opts = options.split("+")
    x = rng.normal(size=shape) * (30.0 if "large" in opts else 3.0)
    t = rng.uniform(size=shape) if "soft" in opts else (rng.uniform(size=shape) < 0.3).astype(np.float64)
    kw: dict = {"logits": x, "targets": t, "pos_weight": 3.0, "neg_weight": 0.5}
    if "vec" in opts:
        kw["pos_weight"] = rng.uniform(0.5, 5.0, shape[-1])
    if "sw" in opts:
        kw["sample_weight"] = rng.uniform(0.0, 2.0, shape)
    return kw


def _sigmoid_run(kw: dict, dtype: str, reduction: str):
    t = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    x = t.pop("logits").to(_DTYPES[dtype]).requires_grad_(True)
    args = kc._sigmoid_args({"logits": x, **t}, {"reduction": reduction})
    assert args is not None
    value = kc._sigmoid_apply(**args)
    assert value.dtype == x.dtype and value.shape == (x.shape if reduction == "none" else ())
    (grad,) = torch.autograd.grad(value, x, grad_outputs=torch.ones_like(value))
    return value.detach().double().numpy(), grad.double().numpy()


@pytest.mark.parametrize("reduction", ("none", "sum", "mean"))
@pytest.mark.parametrize("options", ("plain", "vec", "soft+sw", "vec+soft+sw", "large", "large+vec+sw"))
def test_sigmoid_value_and_gradient_match_the_oracle(options, reduction):
    rng = np.random.default_rng(sum(map(ord, options + reduction)))
    for shape in ((40,), (16, 5), (3, 4, 5)):
        kw = _sigmoid_inputs(options, rng, shape)
        for dtype in _DTYPES:
            rounded = {k: (round_to(v, dtype) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
            exact_value, exact_grad = losses.get("sigmoid_wce").exact(**rounded, reduction=reduction)
            value, grad = _sigmoid_run(rounded, dtype, reduction)
            v_ulp = oracle.error_stats(value, exact_value, dtype).max_ulp
            g_ulp = oracle.error_stats(grad, exact_grad, dtype).max_ulp
            assert v_ulp <= 4 and g_ulp <= 4, (shape, dtype, v_ulp, g_ulp)


@pytest.mark.parametrize("shape", [(300,), (7, 37), (5, 70), (130, 3)])
def test_sigmoid_simd_rows_match_the_oracle_and_the_portable_rows(both_paths, shape):
    """Blocks of 64 elements and 8 lanes, their tails, chunks of narrow rows: float32 within 4 ULP of the oracle
    on each path, and the two paths within 4 ULP of each other; a bad value anywhere is rejected on each."""
    rng = np.random.default_rng(sum(shape))
    kw = _sigmoid_inputs("vec+soft+sw", rng, shape)
    kw["logits"].flat[::7] *= 12.0  # large |x|: exp(-|x|) near or below float32's underflow
    rounded = {k: (round_to(v, "float32") if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    runs = {}
    for on in both_paths:
        kc.simd(on)
        for reduction in ("none", "sum"):
            exact_value, exact_grad = losses.get("sigmoid_wce").exact(**rounded, reduction=reduction)
            runs[on, reduction] = value, grad = _sigmoid_run(rounded, "float32", reduction)
            v_ulp = oracle.error_stats(value, exact_value, "float32").max_ulp
            g_ulp = oracle.error_stats(grad, exact_grad, "float32").max_ulp
            assert v_ulp <= 4 and g_ulp <= 4, (on, shape, reduction, v_ulp, g_ulp)
        n = int(np.prod(shape))
        for where in (0, n // 2, n - 1):
            for key, bad in (("logits", np.nan), ("logits", -np.inf), ("targets", 1.5), ("sample_weight", -1.0)):
                broken = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in rounded.items()}
                broken[key].flat[where] = bad
                t = {k: (torch.tensor(v, dtype=torch.float32) if isinstance(v, np.ndarray) else v)
                     for k, v in broken.items()}
                args = kc._sigmoid_args(t, {"reduction": "sum"})
                with pytest.raises(kc._Rejected):
                    kc._sigmoid_apply(**args)
    if len(both_paths) == 2:
        for reduction in ("none", "sum"):
            for a, b in zip(runs[True, reduction], runs[False, reduction], strict=True):
                np.testing.assert_allclose(a, b, rtol=0, atol=4 * np.spacing(np.float32(np.abs(b).max())))


@pytest.mark.parametrize("what, bad, match", [
    ("NaN logits", lambda f, x, t: f(x.index_fill(1, torch.tensor([1]), float("nan")), t), "finite"),
    ("targets above 1", lambda f, x, t: f(x, t.index_fill(1, torch.tensor([2]), 1.5)), r"\[0, 1\]"),
    ("a negative pos_weight", lambda f, x, t: f(x, t, pos_weight=torch.tensor([1.0, -1.0, 1.0])), "non-negative"),
    ("a negative sample weight", lambda f, x, t: f(x, t, sample_weight=-torch.ones(4, 3)), "non-negative"),
])
def test_sigmoid_fast_path_still_raises_the_references_message(monkeypatch, what, bad, match):
    from wce_ref.torch import sigmoid_wce as front

    kc._PASSED.clear()
    x, t = torch.randn(4, 3), (torch.rand(4, 3) < 0.5).float()
    kwargs = {}
    if "pos_weight" in what:
        kwargs["pos_weight"] = torch.ones(3)
    if "sample" in what:
        kwargs["sample_weight"] = torch.ones(4, 3)
    good = front(x, t, **kwargs)
    np.testing.assert_allclose(float(good), float(front.__wrapped__(x.numpy(), t.numpy(), **{
        k: v.numpy() for k, v in kwargs.items()})), rtol=1e-6)
    assert kc._PASSED, "the good call did not take the kernel"
    with pytest.raises(WCEInputError, match=match):
        bad(front, x, t)


def test_sigmoid_broadcasts_the_kernel_does_not_take_keep_the_formula(monkeypatch):
    from wce_ref.torch import sigmoid_wce as front

    def boom(*args, **kwargs):
        raise AssertionError("the C kernel was called")

    monkeypatch.setattr(kc._CKernel, "apply", boom)
    kc._PASSED.clear()
    x, t = torch.randn(4, 3), (torch.rand(4, 3) < 0.5).float()
    front(x, t, pos_weight=torch.full((4, 1), 2.0))  # per row: a broadcast the kernel does not take
    front(x, t, sample_weight=torch.ones(4, 1))
    front(torch.tensor(0.5), torch.tensor(1.0))  # 0-d


def test_sigmoid_narrow_rows_in_chunks_over_threads():
    """Two columns: the kernel takes chunks of whole rows with the weights repeated; over threads, the last chunk
    partial; the same as the reference."""
    rng = np.random.default_rng(9)
    kw = _sigmoid_inputs("vec+soft+sw", rng, shape=(kc.THREAD_MIN // 2 + 37, 2))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        for reduction in ("none", "mean"):
            value, grad = _sigmoid_run(kw, "float64", reduction)
            np.testing.assert_allclose(value, sigmoid_wce(**kw, reduction=reduction), rtol=1e-13, atol=1e-300)
            np.testing.assert_allclose(grad, sigmoid_wce_grad(**kw, reduction=reduction), rtol=1e-11, atol=1e-16)
    finally:
        torch.set_num_threads(before)


def test_the_fast_path_takes_labels_by_keyword(monkeypatch):
    """``loss(x, labels=y)`` and ``loss(logits=x, labels=y)`` (the benchmarks call it so) skip the check too."""
    front, calls = _front_and_count(monkeypatch)
    x, y = torch.randn(8, 3), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    values = [front(x, y), front(x, labels=y), front(logits=x, labels=y)]
    assert calls == ["softmax_wce"] and len(set(float(v) for v in values)) == 1
    with pytest.raises(WCEInputError, match="lie in"):
        front(x, labels=torch.full((8,), 5))


# ---------------------------------------------------------------------------------------------- torch.compile


def _counting(monkeypatch, name: str) -> list:
    calls: list = []
    run = getattr(kc, name)
    monkeypatch.setattr(kc, name, lambda *a: calls.append(a[-1]) or run(*a))
    return calls


@pytest.mark.parametrize("reduction", ["none", "weighted_mean"])
def test_compiled_softmax_runs_the_kernel_as_a_custom_operator(monkeypatch, reduction):
    """Inside torch.compile (AOTAutograd, the custom operator's fake implementation and autograd) the kernel runs
    once per call, value and gradient from one call, and gives the eager kernel's value and gradient, the
    incoming gradient of reduction 'none' applied per row; a bad value raises the reference's message."""
    from wce_ref.torch import softmax_wce as front

    torch._dynamo.reset()
    calls = _counting(monkeypatch, "_softmax_run")
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(37, 11, generator=g), torch.randint(0, 11, (37,), generator=g)
    y[::5] = -100
    kw = {"class_weights": torch.rand(11, generator=g) + 0.5, "sample_weight": torch.rand(37, generator=g),
          "ignore_index": -100, "reduction": reduction}
    up = torch.rand(37, generator=g) if reduction == "none" else torch.tensor(2.0)

    def step(x, y):
        x = x.detach().requires_grad_(True)
        value = front(x, y, **kw)
        (grad,) = torch.autograd.grad(value, x, grad_outputs=up)
        return value.detach(), grad

    compiled = torch.compile(step, backend="aot_eager", dynamic=False)
    value, grad = compiled(x, y)
    assert calls == [True], calls  # one kernel call, the gradient computed in it
    eager_value, eager_grad = step(x, y)
    torch.testing.assert_close(value, eager_value, rtol=0, atol=0)
    torch.testing.assert_close(grad, eager_grad, rtol=1e-6, atol=0)
    with pytest.raises(WCEInputError, match="logits must be finite"):  # the reference's message
        compiled(x.index_fill(0, torch.tensor([3]), float("nan")), y)


def test_compiled_sigmoid_runs_the_kernel_and_keeps_the_formula_without_it(monkeypatch):
    from wce_ref.torch import sigmoid_wce as front

    torch._dynamo.reset()
    calls = _counting(monkeypatch, "_sigmoid_run")
    g = torch.Generator().manual_seed(1)
    x, t = torch.randn(6, 9, generator=g), (torch.rand(6, 9, generator=g) < 0.3).float()
    kw = {"pos_weight": torch.rand(9, generator=g) + 1.0, "sample_weight": torch.rand(6, 9, generator=g)}

    def step(x, t):
        x = x.detach().requires_grad_(True)
        value = front(x, t, **kw)
        return value.detach(), torch.autograd.grad(value, x)[0]

    value, grad = torch.compile(step, backend="aot_eager", dynamic=False)(x, t)
    assert calls == [True]
    eager = step(x, t)
    torch.testing.assert_close(value, eager[0], rtol=0, atol=0)
    torch.testing.assert_close(grad, eager[1], rtol=0, atol=0)
    torch._dynamo.reset()
    monkeypatch.setattr(kc, "_load", lambda: (None, "no kernel"))  # the compiled formula, the same loss
    before = len(calls)
    value, grad = torch.compile(step, backend="aot_eager", dynamic=False)(x, t)
    assert len(calls) == before and not kc.AVAILABLE
    torch.testing.assert_close(value, eager[0], rtol=1e-6, atol=0)
    torch.testing.assert_close(grad, eager[1], rtol=1e-5, atol=1e-7)
    torch._dynamo.reset()
