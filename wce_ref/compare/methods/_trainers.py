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

from ... import frameworks
from ..._weights import class_weights as _class_weights


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
    """Adam's settings; ``cosine`` (a scale s): the last layer is a cosine classifier (see :func:`logits`)."""

    lr: float = 0.05
    max_epochs: int = 300
    batch_size: int | None = None  # None: full batch
    eval_every: int = 5
    patience: int = 8
    l2: float = 1e-4
    cosine: float | None = None
    no_validation_stop: str = "training_loss"  # or "cap": without validation rows, run to max_epochs


def _unit(a: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    norm = np.maximum(np.linalg.norm(a, axis=axis, keepdims=True), 1e-12)
    return a / norm, norm


def logits(params: list[np.ndarray], X: np.ndarray, cosine: float | None = None) -> np.ndarray:
    """The MLP's outputs (float64): ``relu`` hidden layers, then a linear layer, or with ``cosine`` = s the
    normalised last layer of Cao et al. (2019) and Wang et al. (2018):

    .. math::

        z_j = s \\, \\frac{h}{\\lVert h \\rVert} \\cdot \\frac{w_j}{\\lVert w_j \\rVert}

    (the last bias is unused). Training feeds the cosines (``s = 1``) to a loss with its own scale
    (LDAM's ``scale``); predictions use ``s``.
    """
    h = np.asarray(X, dtype=np.float64)
    for i in range(0, len(params) - 2, 2):
        h = np.maximum(h @ params[i] + params[i + 1], 0)
    if cosine is None:
        return h @ params[-2] + params[-1]
    return cosine * (_unit(h, 1)[0] @ _unit(np.asarray(params[-2], dtype=np.float64), 0)[0])


class CosineEngine:
    """A NumPy MLP with a cosine last layer (:func:`logits`), trained by Adam on the reference's gradient.

    The backward pass through the normalisations: for :math:`\\hat h = h / \\lVert h \\rVert`,
    :math:`\\partial h = (\\partial \\hat h - \\hat h (\\hat h \\cdot \\partial \\hat h)) / \\lVert h \\rVert`,
    and the same per column of the last weight matrix.
    """

    def __init__(self, X, y, loss: str, static: dict[str, Any], params: list[np.ndarray], lr: float, l2: float):
        from ... import losses
        from ...frameworks._engine import AdamState

        self.X, self.y, self.static, self.l2 = X, y, dict(static), l2
        self.p = [q.copy() for q in params]
        self.adam = AdamState(self.p, lr)
        self.spec = losses.get(loss)

    def step(self, idx, arrays) -> None:
        self.adam.update(self.p, [gr.astype(np.float32) for gr in self.gradient(idx, arrays)])

    def gradient(self, idx, arrays) -> list[np.ndarray]:
        """The gradient of the loss plus the L2 penalty with respect to every parameter, on rows ``idx``."""
        x, y = (self.X, self.y) if idx is None else (self.X[idx], self.y[idx])
        acts = [x]
        for i in range(0, len(self.p) - 2, 2):
            acts.append(np.maximum(acts[-1] @ self.p[i] + self.p[i + 1], 0))
        hn, hnorm = _unit(acts[-1], 1)
        wn, wnorm = _unit(self.p[-2], 0)
        g = self.spec.grad(hn @ wn, y, **arrays, **self.static).astype(np.float32)
        dwn, dhn = hn.T @ g, g @ wn.T
        grads: list[Any] = [None] * len(self.p)
        grads[-2] = (dwn - wn * np.sum(wn * dwn, axis=0, keepdims=True)) / wnorm + 2 * self.l2 * self.p[-2]
        grads[-1] = np.zeros_like(self.p[-1])
        g = (dhn - hn * np.sum(hn * dhn, axis=1, keepdims=True)) / hnorm
        for i in range(len(self.p) - 4, -1, -2):
            g = g * (acts[i // 2 + 1] > 0)
            grads[i] = acts[i // 2].T @ g + 2 * self.l2 * self.p[i]
            grads[i + 1] = g.sum(axis=0)
            g = g @ self.p[i].T
        return grads

    def params(self) -> list[np.ndarray]:
        return [q.copy() for q in self.p]


def batches(n: int, batch_size: int | None, rng: np.random.Generator) -> Iterator[np.ndarray | None]:
    if batch_size is None or batch_size >= n:
        yield None
        return
    order = rng.permutation(n)
    for start in range(0, n - batch_size + 1, batch_size):  # drop the remainder: fixed shapes for compilers
        yield np.sort(order[start : start + batch_size])


@dataclass
class TrainResult:
    """Fitted parameters, epochs (Adam) or iterations (L-BFGS) used, and whether the stopping rule was met.

    ``converged`` is False when training ran into its cap (``max_epochs``, ``max_iter``) before its
    criterion held; ``stop`` says which rule ended it.
    """

    params: list[np.ndarray]
    epochs: int
    best_val: float
    history: list[float] = field(default_factory=list)
    converged: bool = True
    stop: str = ""


def validation_ce(params: list[np.ndarray], Xv: np.ndarray, yv: np.ndarray, cosine: float | None = None) -> float:
    """The early-stopping criterion every strategy shares: plain (unweighted) cross entropy on the validation rows.

    .. math::

        \\mathrm{CE}_{val} = -\\frac{1}{n_v} \\sum_{i} \\log \\operatorname{softmax}(f(x_i))_{y_i}

    The validation rows are held out of the training fold before any resampling, and the criterion has no
    class weights, margins or costs, so a strategy's own loss never decides when its training stops.
    """
    from ... import losses

    return float(losses.softmax_wce(logits(params, Xv, cosine), yv))


def train(framework: str, X, y, Xv, yv, spec: LossSpec, params: list[np.ndarray], hp: HyperParams, seed: int) -> Any:
    """Adam on ``spec``'s loss with early stopping on :func:`validation_ce` (best parameters restored).

    Every ``eval_every`` epochs the plain cross entropy of the validation rows is computed; training
    stops after ``patience`` evaluations without a relative improvement of 1e-5 (``converged``), or at
    ``max_epochs`` (not converged). Without validation rows (a class too small to hold any out) the
    criterion is the training objective instead (:func:`training_objective`; stop ``training_loss``,
    converged), scikit-learn's convergence test for ``MLPClassifier`` without early stopping; with
    ``hp.no_validation_stop="cap"`` such a model runs to ``max_epochs`` (not converged). With
    deferred re-weighting, early stopping starts at the switch epoch, so the re-weighted phase always runs.
    """
    n_classes = params[-1].shape[0]
    if hp.cosine is not None:  # the cosine classifier is NumPy's own
        engine = CosineEngine(X, y, spec.loss, dict(spec.static), params, hp.lr, hp.l2)
    else:
        engine = frameworks.get(framework).engine(X, y, Xv, yv, spec.loss, dict(spec.static), params, hp.lr, hp.l2)
    rng = np.random.default_rng(seed)
    start = spec.drw_start or 0
    best, best_val, bad, history, epoch, stop = engine.params(), math.inf, 0, [], 0, "max_epochs"
    for epoch in range(1, hp.max_epochs + 1):
        for idx in batches(len(y), hp.batch_size, rng):
            engine.step(idx, spec.arrays_for(y if idx is None else y[idx], epoch, n_classes))
        if epoch % hp.eval_every or epoch < start or (not len(yv) and hp.no_validation_stop == "cap"):
            continue
        current = engine.params()
        v = (validation_ce(current, Xv, yv, hp.cosine) if len(yv)
             else training_objective(current, X, y, spec, hp, epoch))  # fmt: skip
        history.append(v)
        if not math.isfinite(v):
            stop = "diverged"
            break
        if not math.isfinite(best_val) or v < best_val - 1e-5 * abs(best_val):
            best, best_val, bad = current, v, 0
        else:
            bad += 1
            if bad >= hp.patience:
                stop = "early_stopping" if len(yv) else "training_loss"
                break
    if not history:
        best = engine.params()
    return TrainResult(best, epoch, best_val, history, converged=stop in ("early_stopping", "training_loss"),
                       stop=stop)  # fmt: skip


def training_objective(params: list[np.ndarray], X: np.ndarray, y: np.ndarray, spec: LossSpec, hp: HyperParams,
                       epoch: int) -> float:  # fmt: skip
    """The stopping criterion without validation rows: the strategy's own loss on all its training rows
    (class weights of ``epoch``; per-batch weights computed on the whole set) plus the L2 penalty,

    .. math::

        J = L(f(X), y) + \\lambda \\sum_l \\lVert W_l \\rVert_F^2 .
    """
    from ... import losses

    z = logits(params, X, hp.cosine)
    arrays = {k: v.astype(np.float64) for k, v in spec.arrays_for(y, epoch, int(params[-1].shape[0])).items()}
    value = float(losses.get(spec.loss).value(z, y, **arrays, **dict(spec.static)))
    return value + hp.l2 * sum(float(np.sum(np.square(w, dtype=np.float64))) for w in params[0::2])


def lbfgs(X: np.ndarray, y: np.ndarray, spec: LossSpec, l2: float, *, tol: float = 1e-6, max_iter: int = 1000,
          init: list[np.ndarray] | None = None) -> TrainResult:
    """A linear softmax model trained to its optimum: L-BFGS on the reference's exact loss value and gradient.

    Minimises, in float64,

    .. math::

        J(W, b) = L(XW + b, y) + \\lambda \\lVert W \\rVert_F^2

    with :math:`L` the registered loss (its own reduction: the weighted mean for weighted cross entropy)
    and its analytic gradient :math:`\\partial L / \\partial z`, so that
    :math:`\\nabla_W J = X^\\top \\partial L / \\partial z + 2 \\lambda W`. SciPy's L-BFGS-B stops when
    the largest gradient component is below ``tol`` or the relative decrease of :math:`J` falls below
    machine precision scale (``converged``), or at ``max_iter`` (not converged). For a two-class problem
    this is scikit-learn's ``LogisticRegression(C=1 / (lambda * S))`` with :math:`S` the sum of the
    sample weights (the two weight columns converge to :math:`\\pm w / 2`). With deferred re-weighting the
    unweighted optimum is found first and the weighted one from there.

    References
    ----------
    Liu & Nocedal, "On the limited memory BFGS method for large scale optimization", Mathematical
    Programming 45, 1989.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> r = lbfgs(X, y, LossSpec(), l2=0.01)
    >>> r.converged, [int(v) for v in (X @ r.params[0] + r.params[1]).argmax(1)]
    (True, [0, 0, 1, 1])
    """
    from scipy.optimize import minimize

    from ... import losses

    X = np.asarray(X, dtype=np.float64)
    n_classes = int(init[-1].shape[0]) if init is not None else int(y.max()) + 1
    d = X.shape[1]
    loss = losses.get(spec.loss)
    static = dict(spec.static)

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return theta[: d * n_classes].reshape(d, n_classes), theta[d * n_classes :]

    def solve(theta: np.ndarray, arrays: dict[str, np.ndarray]):
        arrays = {k: v.astype(np.float64) for k, v in arrays.items()}

        def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
            W, b = unpack(theta)
            z = X @ W + b
            value = float(loss.value(z, y, **arrays, **static)) + l2 * float(np.sum(W * W))
            g = np.asarray(loss.grad(z, y, **arrays, **static), dtype=np.float64)
            return value, np.concatenate([(X.T @ g + 2 * l2 * W).ravel(), g.sum(axis=0)])

        return minimize(fun, theta, jac=True, method="L-BFGS-B",
                        options={"maxiter": max_iter, "gtol": tol, "ftol": 1e-12})  # fmt: skip

    theta = (np.zeros(d * n_classes + n_classes) if init is None
             else np.concatenate([init[0].astype(np.float64).ravel(), init[1].astype(np.float64)]))  # fmt: skip
    iterations = 0
    if spec.drw_weights is not None:  # deferred re-weighting: the plain optimum first
        first = solve(theta, spec.arrays_for(y, 1, n_classes))
        theta, iterations = first.x, int(first.nit)
    res = solve(theta, spec.arrays_for(y, 1 << 30, n_classes))
    W, b = unpack(res.x)
    stop = "converged" if res.success else ("max_iter" if res.status == 1 else f"failed: {res.message}")
    return TrainResult([W.astype(np.float32), b.astype(np.float32)], iterations + int(res.nit), float(res.fun),
                       converged=bool(res.success), stop=stop)  # fmt: skip
