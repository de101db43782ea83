"""The argument check of tensors on an accelerator: a sub-batch of witness rows instead of a copy.

No GPU is needed: the tests tell a framework that its CPU tensors live on a device (``on_host`` False) and
the batch-size threshold is lowered, so the device path runs on the CPU, where its outcome can be compared
with the host path's on the same input: the same error message, or the same value.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import requested_frameworks
from hypothesis import HealthCheck, given, settings
from test_fuzz import _tensor, call

from wce_ref import WCEInputError, frameworks, losses
from wce_ref.frameworks import _device_check

DEVICE_FRAMEWORKS = ("torch", "jax")  # the frameworks with a device-side check (TensorFlow copies)


def _params():
    wanted = requested_frameworks()
    return [pytest.param(n, marks=() if n in wanted else pytest.mark.skip(reason=f"{n} not requested"))
            for n in DEVICE_FRAMEWORKS]  # fmt: skip


@pytest.fixture
def on_device(monkeypatch):
    """Return a function that runs a call with every tensor of ``backend`` treated as a device tensor; it records
    the largest number of rows of any tensor read on the host."""

    def run(backend, fn):
        seen = []
        host_view = backend.host_view

        def recording_view(t):
            seen.append(tuple(t.shape))
            return host_view(t)

        with monkeypatch.context() as m:
            m.setattr(_device_check, "MIN_ROWS", 0)
            m.setattr(backend, "on_host", lambda t: False)
            m.setattr(backend, "host_view", recording_view)
            if hasattr(backend, "kernels"):  # torch's CPU kernel would skip the check of a configuration seen before
                m.setattr(backend.kernels()[0], "fast", lambda *a, **k: None)
            return fn(), seen

    return run


def _outcome(fn):
    try:
        return "value", np.asarray(fn(), dtype=np.float64)
    except (ValueError, TypeError) as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("name", _params())
def test_device_path_gives_the_host_path_outcome(name, on_device):
    """Hostile and valid calls of every loss: the same message or the same value through both paths."""
    backend = frameworks.get(name)
    backend.load()

    @settings(max_examples=120, suppress_health_check=list(HealthCheck), deadline=None)
    @given(call([spec.value for spec in losses.LOSSES.values()]))
    def run(example):
        fn, args, kwargs = example

        def framework_call():
            tensors = [_tensor(backend, a) for a in args]
            out = backend.loss(fn.__name__, *tensors, **{k: _tensor(backend, v) for k, v in kwargs.items()})
            return backend.to_numpy(out)

        host = _outcome(framework_call)
        device, _ = on_device(backend, lambda: _outcome(framework_call))
        assert host[0] == device[0], (host, device)
        if host[0] == "value":
            np.testing.assert_array_equal(host[1], device[1])
        else:
            assert host[1] == device[1]

    run()


def _big_batch(rng, n=5000, c=7):
    return rng.normal(size=(n, c)).astype(np.float32), rng.integers(0, c, n)


@pytest.mark.parametrize("name", _params())
def test_a_valid_batch_travels_as_a_few_rows(name, on_device):
    backend = frameworks.get(name)
    backend.load()
    x, y = _big_batch(np.random.default_rng(0))
    w = np.linspace(0.5, 2.0, x.shape[1])
    args = (backend.tensor(x, "float32", "cpu"), backend.tensor(y, None, "cpu"))
    kwargs = {"class_weights": backend.tensor(w, "float32", "cpu")}
    want = backend.to_numpy(backend.loss("softmax_wce", *args, **kwargs))
    got, seen = on_device(backend, lambda: backend.to_numpy(backend.loss("softmax_wce", *args, **kwargs)))
    np.testing.assert_array_equal(got, want)
    assert max(s[0] for s in seen if len(s) == 2) <= 8, seen  # witness rows of logits, never the batch
    assert (x.shape[1],) in seen  # class weights travel whole


@pytest.mark.parametrize("name", _params())
@pytest.mark.parametrize(
    "poison",
    [
        ("logits", 4321, np.nan, "logits must be finite"),
        ("labels", 2500, -5, "must lie in [0, 7) or ignore_index=-100"),
        ("labels", 17, 7, "must lie in [0, 7) or ignore_index=-100"),
    ],
)
def test_a_bad_value_anywhere_gets_the_reference_message(name, poison, on_device):
    """One bad entry among 5,000 rows, beside ignored labels (-100, below every class): the host path's message."""
    backend = frameworks.get(name)
    backend.load()
    x, y = _big_batch(np.random.default_rng(1))
    y[::3] = -100
    which, row, value, needle = poison
    if which == "logits":
        x[row, 3] = value
    else:
        y[row] = value

    def call_it():
        return backend.loss("softmax_wce", backend.tensor(x, "float32", "cpu"), backend.tensor(y, None, "cpu"),
                            ignore_index=-100)  # fmt: skip

    with pytest.raises(WCEInputError) as host:
        call_it()
    with pytest.raises(WCEInputError) as device:
        on_device(backend, call_it)
    assert needle in str(host.value)
    assert str(device.value) == str(host.value)


@pytest.mark.parametrize("name", _params())
def test_a_zero_normaliser_is_caught_on_the_device_too(name, on_device):
    """weighted_mean over a batch whose every class weight is zero divides by zero: an error, never a NaN."""
    backend = frameworks.get(name)
    backend.load()
    x, y = _big_batch(np.random.default_rng(2))
    args = (backend.tensor(x, "float32", "cpu"), backend.tensor(y, None, "cpu"))
    sw = backend.tensor(np.zeros(x.shape[0]), "float32", "cpu")
    with pytest.raises(WCEInputError, match="divides by"):
        on_device(backend, lambda: backend.loss("softmax_wce", *args, sample_weight=sw))


def test_torch_compile_checks_shapes_not_values():
    """Under torch.compile the values are not read in Python (no pass over them, no GPU synchronisation): a shape
    error is still the reference's message; a NaN logit is the caller's where the formula runs, as with the
    built-ins, and the reference's message where the C kernel runs (it checks the values in its own pass)."""
    if "torch" not in requested_frameworks():
        pytest.skip("torch not requested")
    import torch

    from wce_ref.frameworks import _torch_cpu

    backend = frameworks.get("torch")
    backend.load()
    compiled = torch.compile(lambda x, y: backend.loss("poly1_ce", x, y))
    x, y = torch.randn(40, 5), torch.randint(0, 5, (40,))
    torch.testing.assert_close(compiled(x, y), backend.loss("poly1_ce", x, y))
    with pytest.raises(WCEInputError, match="labels must have shape"):
        compiled(x, y[:-1])
    x[3, 2] = float("nan")
    assert torch.isnan(compiled(x, y))
    with pytest.raises(WCEInputError, match="logits must be finite"):
        backend.loss("poly1_ce", x, y)  # eager: checked
    kernel = torch.compile(lambda x, y: backend.loss("softmax_wce", x, y))
    if _torch_cpu.status()[0]:
        with pytest.raises(WCEInputError, match="logits must be finite"):
            kernel(x, y)
    else:
        assert torch.isnan(kernel(x, y))
