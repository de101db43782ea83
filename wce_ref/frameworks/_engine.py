"""What a framework's training engine implements, and the model and objective every engine shares.

An engine holds the training data on its framework's device and does one
optimiser step (Adam) on a registered loss (:data:`wce_ref.losses.LOSSES`)
plus L2 on the weight matrices; each framework module defines its engine next
to its tensors and autodiff (``TorchEngine`` in ``_torch.py`` ...). The loss is
the loss module's framework formula, so every framework trains on the
mathematics the agreement matrix checks; the NumPy engine uses the reference's
analytic gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import losses as _losses


def forward(ops: Any, params: list[Any], x: Any) -> Any:
    """An MLP: ``relu`` hidden layers, a linear output; ``params = [W1, b1, ..., Wk, bk]``."""
    h = x
    for i in range(0, len(params) - 2, 2):
        h = ops.relu(h @ params[i] + params[i + 1])
    return h @ params[-2] + params[-1]


def objective(ops: Any, loss: str, static: dict[str, Any], params, x, y, arrays: dict[str, Any], l2: float) -> Any:
    """The registered loss of the model's logits (its framework formula) plus ``l2 * sum ||W||^2``."""
    logits = forward(ops, params, x)
    value = _losses.get(loss).formula(ops, logits, y, **arrays, **static)
    for w in params[0::2]:
        value = value + l2 * ops.sum(w * w)
    return value


class Engine:
    """One framework's training state. Subclasses implement :meth:`setup`, :meth:`step`, :meth:`val_loss`,
    :meth:`params`.

    ``arrays`` (per call) are the loss's array arguments as float32 NumPy arrays (class weights, priors,
    counts, a cost matrix): they may change between steps (per-batch weights, deferred re-weighting).
    """

    def __init__(self, backend, X, y, Xv, yv, loss: str, static: dict[str, Any], params: list[np.ndarray],
                 lr: float, l2: float) -> None:
        self.backend, self.loss, self.static, self.lr, self.l2 = backend, loss, dict(static), lr, l2
        self.setup(X, y, Xv, yv, params)

    def setup(self, X, y, Xv, yv, params) -> None:
        raise NotImplementedError

    def step(self, idx: np.ndarray | None, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def val_loss(self, arrays: dict[str, np.ndarray]) -> float:
        raise NotImplementedError

    def params(self) -> list[np.ndarray]:
        raise NotImplementedError


class AdamState:
    """Adam (Kingma & Ba 2015) on NumPy arrays, torch / optax defaults (eps 1e-8)."""

    def __init__(self, params: list[np.ndarray], lr: float) -> None:
        self.lr, self.t = lr, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        self.t += 1
        b1, b2, eps = 0.9, 0.999, 1e-8
        for k, gk in enumerate(grads):
            self.m[k] = b1 * self.m[k] + (1 - b1) * gk
            self.v[k] = b2 * self.v[k] + (1 - b2) * gk * gk
            mhat = self.m[k] / (1 - b1**self.t)
            vhat = self.v[k] / (1 - b2**self.t)
            params[k] -= (self.lr * mhat / (np.sqrt(vhat) + eps)).astype(np.float32)
