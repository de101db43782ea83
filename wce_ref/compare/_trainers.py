"""Training loops: one small engine per framework behind one loop (early stopping, batches, weights).

Each engine holds the training data on the framework's device, does one
optimiser step (Adam) on the loss under comparison, and reports the validation
loss. The loss itself is written once over the framework's ``Ops`` table
(:mod:`wce_ref.frameworks._generic`), so every framework trains on the same
mathematics the agreement matrix checks. The NumPy engine uses the reference
gradients (``softmax_wce_grad``, ``cost_sensitive_ce_grad``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _losses as ref
from .._weights import class_weights as _class_weights
from .. import losses as _losses
from ..losses._generic import SoftmaxRows


@dataclass(frozen=True)
class LossSpec:
    """The training loss: ``kind`` in ce, wce, batch (per-batch balanced weights), cost, focal."""

    kind: str = "ce"
    weights: tuple[float, float] | None = None  # class weights for wce / focal alpha
    cost_matrix: tuple[tuple[float, float], tuple[float, float]] | None = None
    gamma: float = 2.0

    def batch_weights(self, y: np.ndarray) -> np.ndarray | None:
        if self.kind == "batch":
            return _class_weights(y, "balanced", n_classes=2).astype(np.float32)
        return None if self.weights is None else np.asarray(self.weights, dtype=np.float32)


@dataclass(frozen=True)
class HyperParams:
    lr: float = 0.05
    max_epochs: int = 300
    batch_size: int | None = None  # None: full batch
    eval_every: int = 5
    patience: int = 8
    l2: float = 1e-4


def generic_loss(ops, params, x, y, spec: LossSpec, w, l2: float):
    """The loss under comparison over a framework's ops, plus L2 on the weight matrices."""
    logits = forward(ops, params, x)
    if spec.kind == "cost":
        loss = _losses.get("cost_sensitive_ce").formula(ops, logits, y, np.asarray(spec.cost_matrix))
    elif spec.kind == "focal":
        nll = SoftmaxRows(ops, logits, y).nll_of()
        per = (1 - ops.exp(-nll)) ** spec.gamma * nll
        if w is not None:
            per = per * ops.gather(w, y)
        loss = ops.sum(per) / ops.size(per)
    else:
        loss = _losses.get("softmax_wce").formula(ops, logits, y, class_weights=w, reduction="weighted_mean")
    for W in params[0::2]:
        loss = loss + l2 * ops.sum(W * W)
    return loss


def forward(ops, params, x):
    h = x
    for i in range(0, len(params) - 2, 2):
        h = ops.relu(h @ params[i] + params[i + 1])
    return h @ params[-2] + params[-1]


def batches(n: int, batch_size: int | None, rng: np.random.Generator) -> Iterator[np.ndarray | None]:
    if batch_size is None or batch_size >= n:
        yield None
        return
    order = rng.permutation(n)
    for start in range(0, n - batch_size + 1, batch_size):  # drop the remainder: fixed shapes for compilers
        yield np.sort(order[start : start + batch_size])


def _focal_parts(logits: np.ndarray, y: np.ndarray):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    nll = -logp[np.arange(len(y)), y]
    return np.exp(logp), nll


def focal_value(logits: np.ndarray, y: np.ndarray, gamma: float, w: np.ndarray | None) -> float:
    """Mean focal loss :math:`(1 - p_y)^\\gamma (-\\log p_y)`, times ``w[y]`` when given (NumPy)."""
    _, nll = _focal_parts(logits, y)
    per = (-np.expm1(-nll)) ** gamma * nll
    return float(np.mean(per if w is None else per * w[y]))


def focal_grad(logits: np.ndarray, y: np.ndarray, gamma: float, w: np.ndarray | None) -> np.ndarray:
    """d focal / d logits: :math:`[-\\gamma (1-p)^{\\gamma-1} p \\ell - (1-p)^\\gamma] (\\delta_{jy} - p_j) / N`."""
    probs, nll = _focal_parts(logits, y)
    p = np.exp(-nll)
    q = -np.expm1(-nll)  # 1 - p without cancellation
    dfdp_p = -gamma * q ** (gamma - 1) * p * nll - q**gamma
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(y)), y] = 1
    g = dfdp_p[:, None] * (onehot - probs) / len(y)
    return g if w is None else g * w[y][:, None]


class Engine:
    """One framework's training state; subclasses implement the four hooks."""

    def __init__(self, X, y, Xv, yv, spec: LossSpec, params: list[np.ndarray], hp: HyperParams):
        self.spec, self.hp = spec, hp
        self.setup(X, y, Xv, yv, params)

    def setup(self, X, y, Xv, yv, params) -> None:
        raise NotImplementedError

    def step(self, idx: np.ndarray | None, w: np.ndarray | None) -> None:
        raise NotImplementedError

    def val_loss(self, w: np.ndarray | None) -> float:
        raise NotImplementedError

    def params(self) -> list[np.ndarray]:
        raise NotImplementedError


class NumpyEngine(Engine):
    """Reference gradients, hand-written backpropagation through the layers, Adam."""

    def setup(self, X, y, Xv, yv, params):
        self.X, self.y, self.Xv, self.yv = X, y, Xv, yv
        self.p = [p.copy() for p in params]
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def _forward(self, x):
        acts = [x]
        for i in range(0, len(self.p) - 2, 2):
            acts.append(np.maximum(acts[-1] @ self.p[i] + self.p[i + 1], 0))
        return acts, acts[-1] @ self.p[-2] + self.p[-1]

    def _loss_grad(self, logits, y, w):
        s = self.spec
        if s.kind == "cost":
            return ref.cost_sensitive_ce_grad(logits, y, np.asarray(s.cost_matrix, dtype=logits.dtype))
        if s.kind == "focal":
            return focal_grad(logits, y, s.gamma, w)
        return ref.softmax_wce_grad(logits, y, class_weights=w, reduction="weighted_mean")

    def step(self, idx, w):
        x, y = (self.X, self.y) if idx is None else (self.X[idx], self.y[idx])
        acts, logits = self._forward(x)
        g = self._loss_grad(logits, y, w).astype(np.float32)
        grads = [None] * len(self.p)
        for i in range(len(self.p) - 2, -1, -2):
            grads[i] = acts[i // 2].T @ g + 2 * self.hp.l2 * self.p[i]
            grads[i + 1] = g.sum(axis=0)
            if i:
                g = (g @ self.p[i].T) * (acts[i // 2] > 0)
        self.t += 1
        b1, b2, eps = 0.9, 0.999, 1e-8
        for k, gk in enumerate(grads):
            self.m[k] = b1 * self.m[k] + (1 - b1) * gk
            self.v[k] = b2 * self.v[k] + (1 - b2) * gk * gk
            mhat = self.m[k] / (1 - b1**self.t)
            vhat = self.v[k] / (1 - b2**self.t)
            self.p[k] -= (self.hp.lr * mhat / (np.sqrt(vhat) + eps)).astype(np.float32)

    def val_loss(self, w):
        _, logits = self._forward(self.Xv)
        if self.spec.kind == "cost":
            return float(ref.cost_sensitive_ce(logits, self.yv, np.asarray(self.spec.cost_matrix)))
        if self.spec.kind == "focal":
            return focal_value(logits, self.yv, self.spec.gamma, w)
        return float(ref.softmax_wce(logits, self.yv, class_weights=w, reduction="weighted_mean"))

    def params(self):
        return [p.copy() for p in self.p]


class TorchEngine(Engine):
    def setup(self, X, y, Xv, yv, params):
        import torch

        from ..frameworks import get

        self.torch = torch
        self.ops = get("torch").ops
        self.X, self.Xv = torch.from_numpy(X), torch.from_numpy(Xv)
        self.y, self.yv = torch.from_numpy(y), torch.from_numpy(yv)
        self.p = [torch.tensor(p, requires_grad=True) for p in params]
        self.opt = torch.optim.Adam(self.p, lr=self.hp.lr)

    def _w(self, w):
        return None if w is None else self.torch.from_numpy(w)

    def step(self, idx, w):
        x, y = (self.X, self.y) if idx is None else (self.X[idx], self.y[idx])
        self.opt.zero_grad(set_to_none=True)
        generic_loss(self.ops, self.p, x, y, self.spec, self._w(w), self.hp.l2).backward()
        self.opt.step()

    def val_loss(self, w):
        with self.torch.no_grad():
            return float(generic_loss(self.ops, self.p, self.Xv, self.yv, self.spec, self._w(w), 0.0))

    def params(self):
        return [p.detach().numpy().copy() for p in self.p]


class JaxEngine(Engine):
    """``jax.jit``-compiled step with optax's Adam."""

    def setup(self, X, y, Xv, yv, params):
        import jax
        import jax.numpy as jnp
        import optax

        from ..frameworks import get

        ops, spec, l2 = get("jax").ops, self.spec, self.hp.l2
        self.jnp = jnp
        self.X, self.y, self.Xv, self.yv = (jnp.asarray(a) for a in (X, y, Xv, yv))
        self.p = [jnp.asarray(p) for p in params]
        self.tx = optax.adam(self.hp.lr)
        self.state = self.tx.init(self.p)

        def loss(p, x, yb, w):
            return generic_loss(ops, p, x, yb, spec, w, l2)

        def step(p, state, x, yb, w):
            grads = jax.grad(loss)(p, x, yb, w)
            updates, state = self.tx.update(grads, state, p)
            return optax.apply_updates(p, updates), state

        self._step = jax.jit(step)
        self._val = jax.jit(lambda p, w: generic_loss(ops, p, self.Xv, self.yv, spec, w, 0.0))

    def _w(self, w):
        return None if w is None else self.jnp.asarray(w)

    def step(self, idx, w):
        x, y = (self.X, self.y) if idx is None else (self.X[idx], self.y[idx])
        self.p, self.state = self._step(self.p, self.state, x, y, self._w(w))

    def val_loss(self, w):
        return float(self._val(self.p, self._w(w)))

    def params(self):
        return [np.asarray(p).copy() for p in self.p]


class TensorflowEngine(Engine):
    """``tf.function``-compiled step with Keras' Adam."""

    def setup(self, X, y, Xv, yv, params):
        import tensorflow as tf

        from ..frameworks import get

        ops, spec, l2 = get("tensorflow").ops, self.spec, self.hp.l2
        self.tf = tf
        self.X, self.Xv = tf.constant(X), tf.constant(Xv)
        self.y, self.yv = tf.constant(y), tf.constant(yv)
        self.p = [tf.Variable(p) for p in params]
        self.opt = tf.keras.optimizers.Adam(learning_rate=self.hp.lr, epsilon=1e-8)  # torch/optax default
        ones = tf.ones(2, dtype=tf.float32)
        self.has_w = spec.kind in ("wce", "batch") or (spec.kind == "focal" and spec.weights is not None)

        @tf.function(reduce_retracing=True)
        def step(x, yb, w):
            with tf.GradientTape() as tape:
                loss = generic_loss(ops, self.p, x, yb, spec, w if self.has_w else None, l2)
            self.opt.apply_gradients(zip(tape.gradient(loss, self.p), self.p, strict=True))

        self._step = step
        self._val = tf.function(
            lambda w: generic_loss(ops, self.p, self.Xv, self.yv, spec, w if self.has_w else None, 0.0)
        )
        self._ones = ones

    def _w(self, w):
        return self._ones if w is None else self.tf.constant(w)

    def step(self, idx, w):
        if idx is None:
            self._step(self.X, self.y, self._w(w))
        else:
            self._step(self.tf.gather(self.X, idx), self.tf.gather(self.y, idx), self._w(w))

    def val_loss(self, w):
        return float(self._val(self._w(w)))

    def params(self):
        return [p.numpy().copy() for p in self.p]


ENGINES: dict[str, type[Engine]] = {
    "numpy": NumpyEngine,
    "torch": TorchEngine,
    "jax": JaxEngine,
    "tensorflow": TensorflowEngine,
}


@dataclass
class TrainResult:
    params: list[np.ndarray]
    epochs: int
    best_val: float
    history: list[float] = field(default_factory=list)


def train(framework: str, X, y, Xv, yv, spec: LossSpec, params: list[np.ndarray], hp: HyperParams, seed: int) -> Any:
    """Adam on ``spec``'s loss with early stopping on the validation loss (best parameters restored)."""
    engine = ENGINES[framework](X, y, Xv, yv, spec, params, hp)
    rng = np.random.default_rng(seed)
    w_val = spec.batch_weights(yv) if len(yv) else None
    best, best_val, bad, history, epoch = engine.params(), math.inf, 0, [], 0
    for epoch in range(1, hp.max_epochs + 1):
        for idx in batches(len(y), hp.batch_size, rng):
            engine.step(idx, spec.batch_weights(y if idx is None else y[idx]))
        if len(yv) and epoch % hp.eval_every == 0:
            v = engine.val_loss(w_val)
            history.append(v)
            if not math.isfinite(v):
                break
            if not math.isfinite(best_val) or v < best_val - 1e-5 * abs(best_val):
                best, best_val, bad = engine.params(), v, 0
            else:
                bad += 1
                if bad >= hp.patience:
                    break
    if not len(yv):
        best = engine.params()
    return TrainResult(best, epoch, best_val, history)
