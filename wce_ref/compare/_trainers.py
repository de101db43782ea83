"""The training loop: early stopping, mini-batches, per-batch and deferred class weights, over any engine.

Each framework module defines its engine (``frameworks/_torch.py`` ...,
interface in :mod:`wce_ref.frameworks._engine`); the loss is any registered
loss (:data:`wce_ref.losses.LOSSES`). This module only decides what the loss's
array arguments are at each step and when to stop.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import frameworks
from .._weights import class_weights as _class_weights


@dataclass(frozen=True)
class LossSpec:
    """The training loss: a registered loss, its non-array arguments and how its arrays are made.

    ``arrays`` are fixed arrays (class weights, priors, counts, a cost matrix);
    ``batch_weights`` recomputes balanced class weights on every mini-batch;
    with ``drw_weights`` the class weights are all ones before epoch
    ``drw_start`` and ``drw_weights`` from it on (deferred re-weighting, Cao et
    al. 2019).
    """

    loss: str = "softmax_wce"
    static: tuple[tuple[str, Any], ...] = ()
    arrays: tuple[tuple[str, Any], ...] = ()
    batch_weights: bool = False
    drw_start: int | None = None
    drw_weights: tuple[float, ...] | None = None

    def arrays_for(self, y: np.ndarray, epoch: int, n_classes: int) -> dict[str, np.ndarray]:
        """The loss's array arguments for a step on labels ``y`` in ``epoch`` (1-based)."""
        out = {k: np.asarray(v, dtype=np.float32) for k, v in self.arrays}
        if self.batch_weights:
            out["class_weights"] = _class_weights(y, "balanced", n_classes=n_classes).astype(np.float32)
        if self.drw_weights is not None:
            late = self.drw_start is not None and epoch >= self.drw_start
            out["class_weights"] = np.asarray(self.drw_weights if late else np.ones(n_classes), dtype=np.float32)
        return out


@dataclass(frozen=True)
class HyperParams:
    lr: float = 0.05
    max_epochs: int = 300
    batch_size: int | None = None  # None: full batch
    eval_every: int = 5
    patience: int = 8
    l2: float = 1e-4


def batches(n: int, batch_size: int | None, rng: np.random.Generator) -> Iterator[np.ndarray | None]:
    if batch_size is None or batch_size >= n:
        yield None
        return
    order = rng.permutation(n)
    for start in range(0, n - batch_size + 1, batch_size):  # drop the remainder: fixed shapes for compilers
        yield np.sort(order[start : start + batch_size])


@dataclass
class TrainResult:
    params: list[np.ndarray]
    epochs: int
    best_val: float
    history: list[float] = field(default_factory=list)


def train(framework: str, X, y, Xv, yv, spec: LossSpec, params: list[np.ndarray], hp: HyperParams, seed: int) -> Any:
    """Adam on ``spec``'s loss with early stopping on the validation loss (best parameters restored).

    With deferred re-weighting, early stopping starts at the switch epoch
    (the validation loss changes definition there), so the re-weighted phase
    always runs.
    """
    n_classes = params[-1].shape[0]
    engine = frameworks.get(framework).engine(X, y, Xv, yv, spec.loss, dict(spec.static), params, hp.lr, hp.l2)
    rng = np.random.default_rng(seed)
    start = spec.drw_start or 0
    best, best_val, bad, history, epoch = engine.params(), math.inf, 0, [], 0
    for epoch in range(1, hp.max_epochs + 1):
        for idx in batches(len(y), hp.batch_size, rng):
            engine.step(idx, spec.arrays_for(y if idx is None else y[idx], epoch, n_classes))
        if not len(yv) or epoch % hp.eval_every or epoch < start:
            continue
        v = engine.val_loss(spec.arrays_for(yv, epoch, n_classes))
        history.append(v)
        if not math.isfinite(v):
            break
        if not math.isfinite(best_val) or v < best_val - 1e-5 * abs(best_val):
            best, best_val, bad = engine.params(), v, 0
        else:
            bad += 1
            if bad >= hp.patience:
                break
    if not len(yv) or not history:
        best = engine.params()
    return TrainResult(best, epoch, best_val, history)
