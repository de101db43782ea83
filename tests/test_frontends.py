"""The framework front ends train: every registered loss, in PyTorch, JAX and TensorFlow.

A small MLP on a seeded imbalanced synthetic set (5 % minority) is trained a
fixed number of full-batch Adam steps with each registered loss through the
user-facing front end (``wce_ref.torch`` modules, ``wce_ref.jax`` functions
under ``jax.jit``, ``wce_ref.tensorflow`` functions under ``tf.function``):
the loss decreases, the weighted and adjusted losses raise minority recall
over plain cross entropy, and the first-step parameter gradients equal the
NumPy reference's (analytic loss gradient, back-propagated by hand) in float64.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import requested_frameworks

import wce_ref
from wce_ref import losses

STEPS, LR, HIDDEN = 150, 0.02, 16


def _data():
    rng = np.random.default_rng(7)
    n, d = 600, 6
    y = (rng.uniform(size=n) < 0.05).astype(np.int64)
    X = rng.normal(size=(n, d)) + 0.9 * y[:, None] * np.array([1.0, -0.5, 0.8, 0.0, 0.3, -0.7])
    return X, y


X, Y = _data()
COUNTS = np.bincount(Y, minlength=2).astype(np.float64)
BALANCED = wce_ref.class_weights(Y, "balanced", n_classes=2)
IR = COUNTS[0] / COUNTS[1]

#: the arguments each loss trains with; a loss registered without an entry uses its ``train`` hook
KWARGS = {
    "softmax_wce": {"class_weights": BALANCED},
    "cost_sensitive_ce": {"cost_matrix": np.array([[1.0, 1.0], [IR, 1.0]])},
    "softmax_focal": {"class_weights": BALANCED, "gamma": 2.0},
    "logit_adjusted_ce": {"class_priors": COUNTS / COUNTS.sum()},
    "ldam_ce": {"class_counts": COUNTS, "max_margin": 0.5, "scale": 1.0},
    "poly1_ce": {"epsilon": 1.0},
    "sigmoid_wce": {"pos_weight": IR},
    "sigmoid_focal": {"alpha": 0.9, "gamma": 2.0},
}
#: losses that must raise minority recall over plain cross entropy
REBALANCING = {"softmax_wce", "cost_sensitive_ce", "softmax_focal", "logit_adjusted_ce", "sigmoid_wce"}


def _kwargs(name: str) -> dict:
    spec = losses.get(name)
    if name in KWARGS:
        return dict(KWARGS[name])
    return {k: v for k, v in spec.train(Y, n_classes=2).items() if v is not None} if spec.train else {}


def _init(n_out: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    sizes = [X.shape[1], HIDDEN, n_out]
    params = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        params += [rng.uniform(-1, 1, (a, b)) * np.sqrt(6 / (a + b)), np.zeros(b)]
    return params


def _targets(spec):
    return Y.astype(np.float64)[:, None] if spec.family == "sigmoid" else Y


def _reference_grads(name: str) -> list[np.ndarray]:
    """First-step parameter gradients: the reference's d loss / d logits back-propagated through the MLP."""
    spec = losses.get(name)
    w1, b1, w2, b2 = _init(1 if spec.family == "sigmoid" else 2)
    h = np.maximum(X @ w1 + b1, 0)
    g = spec.grad(h @ w2 + b2, _targets(spec), **_kwargs(name))
    gh = (g @ w2.T) * (h > 0)
    return [X.T @ gh, gh.sum(0), h.T @ g, g.sum(0)]


def _recall(logits: np.ndarray) -> float:
    pred = (logits[:, 0] > 0) if logits.shape[1] == 1 else (logits[:, 1] > logits[:, 0])
    return float(pred[Y == 1].mean())


# --------------------------------------------------------------------------- the three training loops


def _train_torch(name: str):
    import torch

    import wce_ref.torch as wt

    spec = losses.get(name)
    params = [torch.tensor(p, requires_grad=True) for p in _init(1 if spec.family == "sigmoid" else 2)]
    kw = {k: (torch.as_tensor(v) if isinstance(v, np.ndarray) else v) for k, v in _kwargs(name).items()}
    module = wt.loss_class(name)(**kw)
    x, y = torch.as_tensor(X), torch.as_tensor(_targets(spec))

    def loss_fn():
        return module(torch.relu(x @ params[0] + params[1]) @ params[2] + params[3], y)

    first = loss_fn()
    grads = [g.numpy() for g in torch.autograd.grad(first, params)]
    opt = torch.optim.Adam(params, lr=LR)
    for _ in range(STEPS):
        opt.zero_grad()
        loss_fn().backward()
        opt.step()
    with torch.no_grad():
        logits = (torch.relu(x @ params[0] + params[1]) @ params[2] + params[3]).numpy()
    return float(first), float(loss_fn()), grads, logits, module


def _train_jax(name: str):
    import jax
    import jax.numpy as jnp
    import optax

    import wce_ref.jax as wj

    spec = losses.get(name)
    fn = getattr(wj, name)
    params = [jnp.asarray(p) for p in _init(1 if spec.family == "sigmoid" else 2)]
    arrays = {k: jnp.asarray(v) for k, v in _kwargs(name).items() if isinstance(v, np.ndarray)}
    static = {k: v for k, v in _kwargs(name).items() if not isinstance(v, np.ndarray)}
    x, y = jnp.asarray(X), jnp.asarray(_targets(spec))

    def loss(p, arr):
        return fn(jax.nn.relu(x @ p[0] + p[1]) @ p[2] + p[3], y, **arr, **static)

    tx = optax.adam(LR)
    state = tx.init(params)

    @jax.jit
    def step(p, s, arr):
        g = jax.grad(loss)(p, arr)
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s

    first, grads = float(loss(params, arrays)), [np.asarray(g) for g in jax.grad(loss)(params, arrays)]
    for _ in range(STEPS):
        params, state = step(params, state, arrays)
    logits = np.asarray(jax.nn.relu(x @ params[0] + params[1]) @ params[2] + params[3])
    return first, float(loss(params, arrays)), grads, logits, None


def _train_tensorflow(name: str):
    import tensorflow as tf

    import wce_ref.tensorflow as wtf

    spec = losses.get(name)
    fn = getattr(wtf, name)
    params = [tf.Variable(p) for p in _init(1 if spec.family == "sigmoid" else 2)]
    kw = {k: (tf.constant(v) if isinstance(v, np.ndarray) else v) for k, v in _kwargs(name).items()}
    x, y = tf.constant(X), tf.constant(_targets(spec))

    def loss():
        return fn(tf.nn.relu(x @ params[0] + params[1]) @ params[2] + params[3], y, **kw)

    opt = tf.keras.optimizers.Adam(learning_rate=LR, epsilon=1e-8)

    @tf.function(jit_compile=True)
    def step():
        with tf.GradientTape() as tape:
            value = loss()
        opt.apply_gradients(zip(tape.gradient(value, params), params, strict=True))

    with tf.GradientTape() as tape:
        first = loss()
    grads = [g.numpy() for g in tape.gradient(first, params)]
    for _ in range(STEPS):
        step()
    logits = (tf.nn.relu(x @ params[0] + params[1]) @ params[2] + params[3]).numpy()
    return float(first), float(loss()), grads, logits, None


TRAINERS = {"torch": _train_torch, "jax": _train_jax, "tensorflow": _train_tensorflow}


def _framework(request_name: str) -> None:
    if request_name not in requested_frameworks():
        pytest.skip(f"{request_name} not requested (WCE_FRAMEWORKS)")
    from wce_ref import frameworks

    frameworks.get(request_name).load()  # the harness's settings: JAX with float64, as this test compares in it


@pytest.mark.parametrize("framework", list(TRAINERS))
def test_every_loss_trains_through_the_front_end(framework):
    _framework(framework)
    recalls = {}
    for name in losses.LOSSES:
        first, last, grads, logits, _ = TRAINERS[framework](name)
        assert last < first, (name, first, last)
        for got, want in zip(grads, _reference_grads(name), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13, err_msg=f"{framework} {name}")
        recalls[name] = _recall(logits)
    plain = _plain_recall(framework)
    for name in REBALANCING & set(recalls):
        assert recalls[name] > plain, (name, recalls[name], plain)


def _plain_recall(framework: str) -> float:
    saved = KWARGS["softmax_wce"]
    KWARGS["softmax_wce"] = {}
    try:
        return _recall(TRAINERS[framework]("softmax_wce")[3])
    finally:
        KWARGS["softmax_wce"] = saved


def test_torch_modules_behave_like_built_in_losses():
    _framework("torch")
    import torch

    import wce_ref.torch as wt

    loss = wt.WeightedCrossEntropyLoss(class_weights=[1.0, 2.0, 3.0], label_smoothing=0.1, ignore_index=-100)
    assert dict(loss.state_dict()).keys() == {"class_weights"}
    clone = copy.deepcopy(loss)
    other = wt.WeightedCrossEntropyLoss(class_weights=[0.0, 0.0, 0.0], label_smoothing=0.1, ignore_index=-100)
    other.load_state_dict(clone.state_dict())
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.tensor([0, 1, 2, -100, 1])
    assert torch.equal(other(x, y), loss(x, y))
    assert loss.half().class_weights.dtype == torch.float16 and loss.double().class_weights.dtype == torch.float64
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['weight'\]"):
        wt.WeightedCrossEntropyLoss(weight=torch.ones(3))
    with pytest.raises(ValueError, match="labels must lie in"):
        loss(x, torch.tensor([0, 1, 2, 3, 1]))
    names = {"WeightedCrossEntropyLoss", "WeightedBCEWithLogitsLoss", "CostSensitiveCrossEntropyLoss"}
    assert names <= set(dir(wt))
    assert {wt.loss_class(n).__name__ for n in losses.LOSSES} == {s.front_name for s in losses.LOSSES.values()}


def test_torch_compile_and_autocast_keep_the_accuracy_contract():
    _framework("torch")
    import torch

    import wce_ref.torch as wt
    from wce_ref import oracle
    from wce_ref.agreement import TOLERANCE_ULP

    rng = np.random.default_rng(3)
    x64, y = rng.normal(size=(64, 5)) * 3, rng.integers(0, 5, 64)
    w = rng.uniform(0.5, 2, 5)
    for name, module in (("softmax_wce", wt.WeightedCrossEntropyLoss(class_weights=w)),):
        compiled = torch.compile(module)
        x32 = torch.tensor(x64, dtype=torch.float32)
        exact, _ = getattr(oracle, name)(x32.double().numpy(), y, class_weights=np.float32(w).astype(float))
        got = compiled(x32, torch.as_tensor(y))
        assert oracle.error_stats(got.detach().numpy(), exact, "float32").max_ulp <= TOLERANCE_ULP["float32"]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            lin = torch.nn.Linear(5, 5)
            logits = lin(torch.as_tensor(x64, dtype=torch.float32))
            assert logits.dtype == torch.bfloat16
            value = module(logits, torch.as_tensor(y))
        assert value.dtype == torch.bfloat16
        exact, _ = getattr(oracle, name)(logits.double().detach().numpy(), y, class_weights=w)
        assert oracle.error_stats(value.detach().float().numpy(), exact, "bfloat16").max_ulp <= 1.0


def test_jax_functions_jit_grad_and_vmap():
    _framework("jax")
    import jax
    import jax.numpy as jnp

    import wce_ref.jax as wj

    rng = np.random.default_rng(4)
    x, y = jnp.asarray(rng.normal(size=(3, 8, 4))), jnp.asarray(rng.integers(0, 4, (3, 8)))
    w = jnp.asarray(rng.uniform(0.5, 2, 4))
    batched = jax.vmap(lambda a, b: wj.softmax_wce(a, b, class_weights=w))(x, y)
    for i in range(3):
        np.testing.assert_allclose(batched[i], wce_ref.softmax_wce(np.asarray(x[i]), np.asarray(y[i]),
                                                                   class_weights=np.asarray(w)), rtol=1e-12)
    g = jax.jit(jax.grad(lambda a: wj.softmax_focal(a, y[0], gamma=0.5)))(x[0])
    np.testing.assert_allclose(g, wce_ref.softmax_focal_grad(np.asarray(x[0]), np.asarray(y[0]), gamma=0.5),
                               rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="labels must lie in"):
        wj.softmax_wce(x[0], y[0] + 4)
    assert set(losses.LOSSES) <= set(dir(wj))


def test_front_ends_leave_the_framework_settings_alone():
    """Using wce_ref.jax must not switch JAX to 64 bits (only the measuring harness does)."""
    _framework("jax")
    import subprocess
    import sys

    code = (
        "import jax, jax.numpy as jnp, wce_ref.jax as wj;"
        "v = wj.softmax_wce(jnp.ones((2, 3)), jnp.array([0, 2]));"
        "print(jax.config.jax_enable_x64, v.dtype)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "float32"]


def test_tensorflow_functions_with_an_unknown_batch_size():
    """Inside tf.function with a None batch dimension (TF's usual training signature), empty batches included."""
    _framework("tensorflow")
    import tensorflow as tf

    import wce_ref.tensorflow as wtf

    spec = [tf.TensorSpec([None, 3], tf.float64), tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.float64)]

    @tf.function(input_signature=spec)
    def losses_of(x, y, s):
        w = tf.constant([1.0, 2.0, 3.0], tf.float64)
        return [wtf.softmax_wce(x, y, class_weights=w, sample_weight=s), wtf.softmax_focal(x, y, class_weights=w),
                wtf.sigmoid_wce(x, tf.zeros_like(x), pos_weight=2.0)]

    rng = np.random.default_rng(9)
    x, y, s = rng.normal(size=(7, 3)), rng.integers(0, 3, 7), rng.uniform(size=7)
    w = np.array([1.0, 2.0, 3.0])
    expected = [
        wce_ref.softmax_wce(x, y, class_weights=w, sample_weight=s),
        wce_ref.softmax_focal(x, y, class_weights=w),
        wce_ref.sigmoid_wce(x, np.zeros_like(x), pos_weight=2.0),
    ]
    np.testing.assert_allclose([float(v) for v in losses_of(x, y, s)], expected, rtol=1e-12)
    empty = losses_of(np.zeros((0, 3)), np.zeros(0, dtype=np.int64), np.zeros(0))
    assert [float(v) for v in empty] == [0.0, 0.0, 0.0]
    with pytest.raises(TypeError, match="labels must be integer class indices"):  # its own type, not StagingError
        tf.function(lambda a, b: wtf.softmax_wce(a, b))(tf.constant(x), tf.constant(x[:, 0]))
