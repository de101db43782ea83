"""The Keras front end (``wce_ref.keras``) equals the reference, validates like it, serialises and trains.

Every test runs here on the backend Keras was imported with (TensorFlow unless
``KERAS_BACKEND`` says otherwise) and, through :func:`test_other_backend`, on
the other one (TensorFlow <-> JAX) in a subprocess started with this file's
first test, so that the two overlap: Keras fixes its backend at import. The JAX
run enables 64-bit mode (float64 cases) and checks the 32-bit default
separately; on JAX the value checks run under ``jax.jit`` (one compilation per
call instead of one per operation and shape); on PyTorch they run eagerly. Keras
not installed: skipped with the reason, unless this backend's Keras framework
(``keras-tensorflow`` ...) is in ``WCE_FRAMEWORKS`` (then it fails); the other
backend not installed: skipped, unless requested.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import keras_framework, requested_frameworks
from runtime_losses import GCE

from wce_ref import losses
from wce_ref._validation import WCEInputError

if keras_framework() is not None:
    import keras  # requested: a broken install fails here
else:
    keras = pytest.importorskip("keras", reason="keras not installed (pip install 'wce-ref[tensorflow]')")

import wce_ref.keras as wk  # noqa: E402

BACKEND = keras.backend.backend()
OTHER = {"tensorflow": "jax", "jax": "tensorflow"}.get(BACKEND)
IN_SUBPROCESS = os.environ.get("WCE_KERAS_SUBPROCESS") == "1"
RTOL = {"float64": 1e-12, "float32": 1e-6}

if BACKEND == "jax":
    import jax

    X64 = bool(jax.config.jax_enable_x64)
else:
    X64 = True
DTYPES = ["float64", "float32"] if X64 else ["float32"]


# --------------------------------------------------------------------------- helpers


def _features(spec, case):
    """What a case exercises in a front end: its arguments (negative numbers apart), the logits' rank, soft
    labels. (Its numbers, large logits and the like, are the formula's business: the agreement matrix.)"""
    kw = case.inputs("float64")
    out = {k for k, v in kw.items() if v is not None and k not in spec.arrays[:2]}
    out |= {f"{k}<0" for k, v in kw.items() if isinstance(v, int | float) and not isinstance(v, bool) and v < 0}
    out.add(f"ndim{np.ndim(kw[spec.arrays[0]])}")
    if spec.family == "softmax" and np.asarray(kw[spec.arrays[1]]).dtype.kind == "f":
        out.add("soft_labels")
    return out


def _covering_cases(spec):
    """The fewest agreement cases (greedy) that together exercise every argument, rank and tag of the loss.

    The front end adds no arithmetic of its own (its formula is the one the agreement matrix checks on every
    case, for every framework); these cases check the plumbing: arguments, shapes, reductions, dtypes.
    """
    need = set().union(*(_features(spec, c) for c in spec.cases))
    chosen, covered = [], set()
    while covered != need:
        best = max(spec.cases, key=lambda c: len(_features(spec, c) - covered))
        chosen.append(best)
        covered |= _features(spec, best)
    return chosen


def _cases():
    return [pytest.param(spec, case, id=case.id) for spec in losses.LOSSES.values() for case in _covering_cases(spec)]


def _tensor(value, dtype=None):
    arr = np.asarray(value)
    if dtype is not None and arr.dtype.kind == "f":
        arr = arr.astype(dtype)
    return keras.ops.convert_to_tensor(arr)


def _np(t):
    return np.asarray(keras.ops.convert_to_numpy(t))


def _split(spec, kwargs, dtype):
    """Case keyword arguments -> (logits, labels, sample_weight, constructor config, reference kwargs)."""
    x_name, y_name = spec.arrays[:2]
    ref = {}
    for key, value in kwargs.items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            value = value.astype(dtype)
        ref[key] = value
    config = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in ref.items()
              if k not in (x_name, y_name, "sample_weight")}
    if "class_axis" in wk._config_params(spec) and "class_axis" not in config:
        config["class_axis"] = 1  # the reference's default (the Keras classes default to channels last)
    return ref[x_name], ref[y_name], ref.get("sample_weight"), config, ref


def _reductions(spec, case):
    return case.reductions or spec.reductions


def _outcome(fn):
    try:
        return "ok", fn()
    except Exception as exc:  # noqa: BLE001 - the exception itself is compared
        return "error", (type(exc), str(exc))


def _traced(fn, *args):
    """``fn(*args)`` under the backend's compiler, with the batch dimension unknown where TF can say so."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        specs = [tf.TensorSpec((None,) + tuple(a.shape[1:]), a.dtype) for a in args]
        return tf.function(fn, input_signature=specs, autograph=False)(*args)
    return jax.jit(fn)(*args) if BACKEND == "jax" else fn(*args)  # Keras' torch trainer: eager


def _run(fn, *args):
    """``fn(*args)``: eagerly on TF, under ``jax.jit`` on JAX (JAX compiles every eager operation anew for each
    shape: one compilation per call is several times cheaper)."""
    return jax.jit(fn)(*args) if BACKEND == "jax" else fn(*args)


def _grad(fn, x):
    """The gradient of ``fn`` at ``x``, in code that runs under :func:`_traced` or eagerly."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            out = fn(x)
        return tape.gradient(out, x)
    if BACKEND == "torch":
        import torch

        x = x.detach().requires_grad_(True)
        return torch.autograd.grad(fn(x), x)[0]
    return jax.grad(fn)(x)


# --------------------------------------------------------------------------- classes and docs


def test_every_registered_loss_has_a_serializable_class():
    for name, spec in losses.LOSSES.items():
        cls = wk.loss_class(name)
        assert cls.__name__ == spec.front_name
        assert getattr(wk, cls.__name__) is cls
        assert issubclass(cls, keras.losses.Loss)
        assert keras.saving.get_registered_object(f"wce_ref>{cls.__name__}") is cls
        assert "logits" in cls.__doc__ and "sum_over_batch_size" in cls.__doc__
        assert f"wce_ref.{name}" in cls.__doc__
        assert callable(getattr(wk, name))


def test_torch_front_end_class_names():
    expected = {
        "softmax_wce": "WeightedCrossEntropyLoss", "sigmoid_wce": "WeightedBCEWithLogitsLoss",
        "cost_sensitive_ce": "CostSensitiveCrossEntropyLoss", "softmax_focal": "FocalLoss",
        "sigmoid_focal": "SigmoidFocalLoss", "logit_adjusted_ce": "LogitAdjustedLoss", "ldam_ce": "LDAMLoss",
        "poly1_ce": "Poly1Loss",
    }
    got = {name: wk.loss_class(name).__name__ for name in expected if name in losses.LOSSES}
    assert got == {name: expected[name] for name in got}


def test_constructor_takes_the_reference_keywords():
    with pytest.raises(TypeError, match="unexpected keyword"):
        wk.WeightedCrossEntropyLoss(from_logits=True)
    with pytest.raises(TypeError, match="cost_matrix"):
        wk.CostSensitiveCrossEntropyLoss()
    loss = wk.CostSensitiveCrossEntropyLoss(cost_matrix=[[1.0, 2.0], [3.0, 1.0]])
    assert loss.reduction == losses.get("cost_sensitive_ce").default_reduction


def test_a_loss_registered_at_run_time_gets_a_class():
    """A genuinely new loss (generalized cross entropy, written through the softmax-family template in
    ``tests/runtime_losses.py``) registered at run time gets a Keras class that equals its reference."""
    losses.register(GCE)
    try:
        cls = wk.GeneralizedCeLoss
        assert cls is wk.loss_class("generalized_ce")
        x, y = np.array([[1.0, 2.0], [0.0, -1.0]]), np.array([1, 0])
        np.testing.assert_allclose(_np(cls(q=0.5)(y, x)), GCE.value(x, y, q=0.5), rtol=RTOL[DTYPES[0]])
    finally:
        losses.unregister(GCE.name)


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(("spec", "case"), _cases())
def test_equals_reference(spec, case):
    """Every reduction, float64 and float32, sample weights included: the Keras class equals the NumPy reference.

    The cases: the fewest agreement cases that exercise every argument of the loss (:func:`_covering_cases`).
    """
    cls = wk.loss_class(spec.name)
    for dtype in DTYPES:
        x, y, sw, config, ref = _split(spec, case.inputs(dtype), dtype)
        objs = [cls(**config, reduction=r) for r in _reductions(spec, case)]
        swt = None if sw is None else _tensor(sw, dtype)
        got = _run(lambda xt, yt: [o(yt, xt, sample_weight=swt) for o in objs], _tensor(x, dtype),  # noqa: B023
                   _tensor(y, dtype))
        for obj, value in zip(objs, got, strict=True):
            want = np.asarray(spec.value(**ref, reduction=obj.reduction))
            value = _np(value)
            assert value.dtype == want.dtype == np.dtype(dtype), (dtype, obj.reduction)
            assert value.shape == want.shape, (dtype, obj.reduction)
            # "none": element-wise, to the largest element (tiny elements carry the formula's few ULPs; TF
            # flushes subnormals to zero)
            atol = np.finfo(dtype).tiny + (RTOL[dtype] * np.abs(want).max() if want.size and want.ndim else 0.0)
            np.testing.assert_allclose(value, want, rtol=RTOL[dtype], atol=atol, err_msg=f"{dtype} {obj.reduction}")


def _first_case(spec, *, ndim):
    return next(c for c in spec.cases if np.ndim(c.inputs("float64")[spec.arrays[0]]) == ndim)


@pytest.mark.parametrize("spec", list(losses.LOSSES.values()), ids=list(losses.LOSSES))
def test_traced_and_gradient(spec):
    """Under tf.function with an unknown batch size (values unknown to the check) / jax.jit: the values of two
    reductions and the autodiff gradient equal the reference's value and analytic gradient (float64)."""
    cls = wk.loss_class(spec.name)
    dtype = DTYPES[0]
    case = next((c for c in spec.cases if "sample_weight" in c.inputs("float64")), spec.cases[0])
    x, y, sw, config, ref = _split(spec, case.inputs(dtype), dtype)
    args = [_tensor(x, dtype), _tensor(y, dtype)] + ([] if sw is None else [_tensor(sw, dtype)])
    objs = [cls(**config, reduction=r) for r in dict.fromkeys([spec.default_reduction, "none"])]

    def body(xt, yt, *s):
        return [obj(yt, xt, *s) for obj in objs] + [_grad(lambda z: objs[0](yt, z, *s), xt)]

    *values, grad = _traced(body, *args)  # one trace
    for obj, value in zip(objs, values, strict=True):
        want = spec.value(**ref, reduction=obj.reduction)
        np.testing.assert_allclose(_np(value), want, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(want).max(),
                                   err_msg=obj.reduction)
    want = spec.grad(**ref)
    np.testing.assert_allclose(_np(grad), want, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(want).max())


@pytest.mark.parametrize("spec", list(losses.LOSSES.values()), ids=list(losses.LOSSES))
def test_keras_label_shapes(spec):
    """Sparse labels (N, 1) are squeezed; sigmoid targets (N,) meet (N, 1) logits; (N,) sample weights weigh
    whole samples of (N, K) logits."""
    cls = wk.loss_class(spec.name)
    x_name, y_name = spec.arrays[:2]
    dtype = DTYPES[0]
    if spec.family == "softmax":
        case = next(c for c in spec.cases if np.ndim(c.inputs("float64")[y_name]) == 1
                    and np.asarray(c.inputs("float64")[y_name]).dtype.kind in "iu")
        x, y, sw, config, ref = _split(spec, case.inputs(dtype), dtype)
        objs = [cls(**config, reduction=r) for r in spec.reductions]
        got = _run(lambda xt, yt: [o(yt, xt, sample_weight=sw) for o in objs], _tensor(x), _tensor(y[:, None]))
        for obj, value in zip(objs, got, strict=True):
            want = spec.value(**ref, reduction=obj.reduction)
            np.testing.assert_allclose(_np(value), want, rtol=RTOL[dtype], atol=0, err_msg=obj.reduction)
        return
    case = _first_case(spec, ndim=1)
    x, t, _, config, ref = _split(spec, case.inputs(dtype), dtype)
    objs = [cls(**config, reduction=r) for r in spec.reductions]
    # per-sample weights (N,) over (N, K) logits, Keras' meaning: the reference's (N, 1)
    xk = np.stack([x, -x, 0.5 * x], axis=1)
    tk = np.stack([t, 1 - t, t], axis=1)
    s = np.linspace(0.0, 2.0, len(x)).astype(dtype)
    got = _run(lambda x1, t1, x2, t2, s2: [o(t1, x1) for o in objs] + [objs[-1](t2, x2, sample_weight=s2)],
               *map(_tensor, (x[:, None], t, xk, tk, s)))
    for obj, value in zip(objs, got, strict=False):
        want = spec.value(**{**ref, x_name: x[:, None], y_name: t[:, None]}, reduction=obj.reduction)
        np.testing.assert_allclose(_np(value), want, rtol=RTOL[dtype], atol=0, err_msg=obj.reduction)
    want = spec.value(**{**ref, x_name: xk, y_name: tk, "sample_weight": s[:, None]}, reduction=objs[-1].reduction)
    np.testing.assert_allclose(_np(got[-1]), want, rtol=RTOL[dtype], atol=0)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow only: JAX traces with static shapes")
def test_every_dimension_unknown():
    """N-d softmax-family losses with per-sample weights (N,) in a tf.function where only the class count is
    known (a segmentation model's train step): every reduction equals the reference."""
    import tensorflow as tf

    for spec in (s for s in losses.LOSSES.values() if s.family == "softmax"):
        case = next(c for c in spec.cases if np.ndim(c.inputs("float64")[spec.arrays[0]]) == 4)
        x, y, _, config, ref = _split(spec, case.inputs("float64"), "float64")
        sw = np.linspace(0.5, 2.0, x.shape[0])
        objs = [wk.loss_class(spec.name)(**config, reduction=r) for r in spec.reductions]
        axis = config.get("class_axis", 1) % x.ndim
        xspec = [None] * x.ndim
        xspec[axis] = x.shape[axis]
        fn = tf.function(lambda a, b, c: [o(b, a, c) for o in objs], autograph=False,  # noqa: B023
                         input_signature=[tf.TensorSpec(xspec, tf.float64), tf.TensorSpec([None] * y.ndim, y.dtype),
                                          tf.TensorSpec([None], tf.float64)])
        for obj, value in zip(objs, fn(_tensor(x), _tensor(y), _tensor(sw)), strict=True):
            want = spec.value(**{**ref, "sample_weight": sw}, reduction=obj.reduction)
            np.testing.assert_allclose(_np(value), want, rtol=1e-12, atol=1e-300, err_msg=obj.reduction)


# --------------------------------------------------------------------------- bad input


def _bad_variants(spec):
    """Bad inputs built from a loss's first case: (label, logits, labels, sample_weight, config)."""
    kwargs = _first_case(spec, ndim=2).inputs("float64")
    x, y, sw, config, _ = _split(spec, kwargs, "float64")
    n = x.shape[0]
    nan = x.copy()
    nan[0, 0] = np.nan
    bad_y = np.asarray(y).copy()
    if spec.family == "softmax":
        bad_y[0] = x.shape[1]  # past the last class
    else:
        bad_y.flat[0] = 2.0
    out = [
        ("reduction", x, y, sw, {**config, "reduction": "avg"}),
        ("nan_logits", nan, y, sw, config),
        ("label_range", x, bad_y, sw, config),
        ("labels_shape", x, np.concatenate([y, y[:1]]), sw, config),
        ("sample_weight_shape", x, y, np.ones(n + 1), config),
        ("negative_sample_weight", x, y, -np.ones(n if spec.family == "softmax" else x.shape), config),
    ]
    for key, value in config.items():
        if key in spec.arrays and isinstance(value, list):
            neg = np.asarray(value, dtype=np.float64)
            neg.flat[0] = -1.0
            out.append((f"negative_{key}", x, y, sw, {**config, key: neg.tolist()}))
    return out


@pytest.mark.parametrize("spec", list(losses.LOSSES.values()), ids=list(losses.LOSSES))
def test_bad_input_gets_the_reference_message(spec):
    cls = wk.loss_class(spec.name)
    x_name, y_name = spec.arrays[:2]
    raised = 0
    for label, x, y, sw, config in _bad_variants(spec):
        kw = {} if sw is None else {"sample_weight": sw}
        want = _outcome(functools.partial(spec.value, **{x_name: x, y_name: y}, **kw, **config))
        if want[0] == "ok":
            continue
        raised += 1
        tensors = {k: _tensor(v) for k, v in kw.items()}
        got = _outcome(lambda: cls(**config)(_tensor(y), _tensor(x), **tensors))  # noqa: B023
        assert got == want, label
    assert raised >= 4


def test_bad_shape_is_caught_under_tracing():
    spec = losses.get("softmax_wce")
    x, y = np.zeros((4, 3)), np.zeros((4, 2), dtype=np.int64)  # probability rows of the wrong class count
    with pytest.raises(WCEInputError) as want:
        spec.value(x, y)
    with pytest.raises(WCEInputError) as got:
        _traced(lambda xt, yt: wk.WeightedCrossEntropyLoss()(yt, xt), _tensor(x), _tensor(y))
    if BACKEND != "tensorflow":  # static shapes: the very message
        assert str(got.value) == str(want.value)
    else:  # TF's unknown batch size is checked as 1
        assert str(got.value) == str(want.value).replace("(4, ", "(1, ")


# --------------------------------------------------------------------------- serialisation


@pytest.mark.parametrize("spec", list(losses.LOSSES.values()), ids=list(losses.LOSSES))
def test_config_round_trip(spec):
    cls = wk.loss_class(spec.name)
    config = _split(spec, spec.cases[0].inputs("float64"), "float64")[3]
    loss = cls(**{k: (np.asarray(v) if isinstance(v, list) else v) for k, v in config.items()}, name="my_loss")
    cfg = loss.get_config()
    assert json.loads(json.dumps(cfg)) == cfg  # arrays as lists
    assert cfg["name"] == "my_loss"
    again = cls.from_config(cfg)
    assert again.get_config() == cfg
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is cls and restored.get_config() == cfg
    # restored objects compute: test_compile_fit_save_load


# --------------------------------------------------------------------------- training


def _dataset(family):
    rng = np.random.default_rng(0)
    counts = [240, 60, 20]
    y = np.repeat(np.arange(3), counts)
    centres = np.array([[0.0, 0.0, 0.0, 0.0], [1.5, 1.0, 0.0, 0.5], [0.0, 1.5, 1.5, 0.0]])
    x = (centres[y] + rng.normal(scale=0.8, size=(len(y), 4))).astype("float32")
    order = rng.permutation(len(y))
    x, y = x[order], y[order]
    target = np.eye(3, dtype="float32")[y] if family == "sigmoid" else y
    return x, y, target


def _train_config(spec, y, c):
    config = {}
    if spec.bench is not None:
        config.update(spec.bench(len(y), c, np.random.default_rng(1)))
    if spec.train is not None:
        try:
            config.update({k: v for k, v in spec.train(y, n_classes=c).items() if v is not None})
        except (TypeError, ValueError):
            pass  # a loss that needs more than the labels (a cost matrix): the benchmark's arguments
    params = wk._config_params(spec)
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in config.items() if k in params}


def test_compile_fit_save_load(tmp_path):
    """model.compile(loss=...) with every registered loss (one head each, on a shared trunk: one compilation)
    trains on a small imbalanced set, each head's loss decreasing, and the model saved to .keras loads with
    the same loss objects and the same loss values."""
    x, y, _ = _dataset("softmax")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    trunk = keras.layers.Dense(16, activation="relu")(inputs)
    outputs = {name: keras.layers.Dense(3, name=name)(trunk) for name in losses.LOSSES}
    model = keras.Model(inputs, outputs)
    loss = {name: wk.loss_class(name)(**_train_config(spec, y, 3)) for name, spec in losses.LOSSES.items()}
    targets = {name: _dataset(spec.family)[2] for name, spec in losses.LOSSES.items()}
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss)
    history = model.fit(x, targets, epochs=3, batch_size=80, verbose=0).history
    for name in losses.LOSSES:
        values = history[f"{name}_loss"]
        assert np.all(np.isfinite(values)) and values[-1] < values[0], (name, values)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    for name, obj in loss.items():
        assert type(loaded.loss[name]) is type(obj) and loaded.loss[name].get_config() == obj.get_config()

    def values(m, xt):
        out = m(xt)
        return [m.loss[name](targets[name], out[name]) for name in losses.LOSSES]

    got = [_np(v) for v in _run(lambda xt: values(loaded, xt) + values(model, xt), x)]
    n = len(losses.LOSSES)
    np.testing.assert_allclose(got[:n], got[n:], rtol=1e-6)


def test_fit_class_weight_is_the_reference_sample_weight():
    """Keras' class_weight in fit arrives as sample_weight: with reduction="weighted_mean" it is softmax_wce's
    class weights (PyTorch's normalisation), with "mean" Keras' sum_over_batch_size."""
    x, y, _ = _dataset("softmax")
    w = np.array([1.0, 4.0, 12.0])
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=wk.WeightedCrossEntropyLoss(reduction="mean"))
    logits = _np(model(x)).astype(np.float64)
    got = model.evaluate(x, y, sample_weight=w[y], batch_size=len(y), verbose=0)
    np.testing.assert_allclose(got, losses.get("softmax_wce").value(logits, y, sample_weight=w[y],
                                                                   reduction="mean"), rtol=1e-5)
    builtin = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    np.testing.assert_allclose(got, _np(builtin(y, logits, sample_weight=w[y])), rtol=1e-5)


# --------------------------------------------------------------------------- JAX 32-bit default, other backend


@pytest.mark.skipif(BACKEND != "jax" or not X64, reason="JAX backend in 64-bit mode only")
def test_jax_without_x64():
    spec = losses.get("softmax_wce")
    case = spec.cases[0]
    x, y, sw, config, ref = _split(spec, case.inputs("float32"), "float32")
    with jax.enable_x64(False):
        got = wk.WeightedCrossEntropyLoss(**config)(_tensor(y), _tensor(x, "float32"))
        assert _np(got).dtype == np.float32
    np.testing.assert_allclose(_np(got), spec.value(**ref), rtol=1e-6)


def _other_backend_available():
    if OTHER is None or IN_SUBPROCESS:
        return False, "no other backend to run"
    module = "jax" if OTHER == "jax" else "tensorflow"
    if importlib.util.find_spec(module) is None:
        if module in requested_frameworks():
            return True, ""  # requested: let the run fail
        return False, f"{module} not installed"
    return True, ""


_OTHER_AVAILABLE, _OTHER_REASON = _other_backend_available()


@pytest.fixture(scope="module", autouse=True)
def other_backend_run(request, tmp_path_factory):
    """The other backend's run, started with the first test of this file so that it overlaps with this one."""
    if not _OTHER_AVAILABLE or not any(item.name == "test_other_backend" for item in request.session.items):
        yield None
        return
    env = {**os.environ, "KERAS_BACKEND": OTHER, "WCE_KERAS_SUBPROCESS": "1", "JAX_ENABLE_X64": "1"}
    cmd = [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider", "-rs",
           "-k", "not test_other_backend and not test_torch_front_end_class_names"]  # that one: no backend
    log = tmp_path_factory.mktemp("keras_other_backend") / "log.txt"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not _OTHER_AVAILABLE, reason=_OTHER_REASON)
def test_other_backend(other_backend_run):
    """This file again with KERAS_BACKEND set to the other backend (JAX in 64-bit mode), in a subprocess."""
    proc, log = other_backend_run
    try:
        proc.wait(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    text = log.read_text()
    assert proc.returncode == 0, f"KERAS_BACKEND={OTHER}:\n{text[-6000:]}"
    assert " passed" in text, text[-6000:]
