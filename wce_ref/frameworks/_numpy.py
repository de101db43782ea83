"""NumPy: the reference itself (gradients from its analytic formulas) and scikit-learn's log_loss."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import losses
from ._base import Backend, Builtin
from ._engine import AdamState, Engine


def _to_dtype(a: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "bfloat16":
        import ml_dtypes

        return a.astype(ml_dtypes.bfloat16)
    return a.astype(dtype)


def _sk_log_loss(backend, *, logits, labels, class_weights=None, reduction, **_):
    from sklearn.metrics import log_loss

    x = np.asarray(logits, dtype=np.float64)
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.asarray(labels)
    sw = None if class_weights is None else np.asarray(class_weights, dtype=np.float64)[y]
    # normalize=True divides by the sum of the sample weights: the weighted_mean convention
    value = log_loss(y, p, sample_weight=sw, labels=np.arange(x.shape[1]), normalize=reduction != "sum")
    return np.asarray(value, dtype=logits.dtype)


def _sk_supports(kw: dict[str, Any], reduction: str) -> bool:
    return (
        np.ndim(kw["labels"]) == 1
        and not kw.get("label_smoothing")
        and kw.get("ignore_index") is None
        and reduction in ("sum", "weighted_mean")
        and np.asarray(kw["logits"]).shape[1] >= 2
    )


class NumpyBackend(Backend):
    """The NumPy reference, run as a framework like any other."""

    reference = True
    has_compiler = False

    def __init__(self) -> None:
        super().__init__(name="numpy", module="numpy")

    def dtypes(self, device: str) -> list[str]:
        try:
            import ml_dtypes  # noqa: F401
        except ImportError:
            return ["float64", "float32", "float16"]
        return ["float64", "float32", "float16", "bfloat16"]

    def tensor(self, a: Any, dtype: str | None, device: str) -> np.ndarray:
        return np.asarray(a) if dtype is None else _to_dtype(np.asarray(a), dtype)

    def to_numpy(self, t: Any) -> np.ndarray:
        a = np.asarray(t)
        return a.astype(np.float64) if a.dtype.kind not in "iub" else a

    def value_and_grad(self, fn: Callable[[Any], Any], logits: Any) -> tuple[np.ndarray, np.ndarray]:
        value, grad = fn(logits)
        return self.to_numpy(value), self.to_numpy(grad)

    def loss(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, np.ndarray]:
        """The reference itself: ``(value, analytic gradient)`` (what :meth:`value_and_grad` expects)."""
        spec = losses.get(name)
        return spec.value(*args, **kwargs), spec.grad(*args, **kwargs)

    def engine(self, *args: Any, **kwargs: Any) -> Engine:
        return NumpyEngine(self, *args, **kwargs)

    def own_builtins(self) -> list[Builtin]:
        import importlib.util

        if importlib.util.find_spec("sklearn") is None:  # scikit-learn is optional (extras test, suites)
            return []
        return [
            Builtin(
                "sklearn.log_loss",
                "softmax_wce",
                _sk_log_loss,
                _sk_supports,
                grad=False,
                note="log_loss(y, softmax(x), sample_weight=w[y]); softmax computed in float64 by hand",
                defaults="softmax_wce(x, y) on softmax(x), up to its clipping of probabilities",
            )
        ]


class NumpyEngine(Engine):
    """The reference's analytic gradient, hand-written backpropagation through the layers, Adam."""

    def setup(self, X, y, Xv, yv, params):
        self.X, self.y, self.Xv, self.yv = X, y, Xv, yv
        self.p = [p.copy() for p in params]
        self.adam = AdamState(self.p, self.lr)
        self.spec = losses.get(self.loss)

    def _forward(self, x):
        acts = [x]
        for i in range(0, len(self.p) - 2, 2):
            acts.append(np.maximum(acts[-1] @ self.p[i] + self.p[i + 1], 0))
        return acts, acts[-1] @ self.p[-2] + self.p[-1]

    def step(self, idx, arrays):
        x, y = (self.X, self.y) if idx is None else (self.X[idx], self.y[idx])
        acts, logits = self._forward(x)
        g = self.spec.grad(logits, y, **arrays, **self.static).astype(np.float32)
        grads = [None] * len(self.p)
        for i in range(len(self.p) - 2, -1, -2):
            grads[i] = acts[i // 2].T @ g + 2 * self.l2 * self.p[i]
            grads[i + 1] = g.sum(axis=0)
            if i:
                g = (g @ self.p[i].T) * (acts[i // 2] > 0)
        self.adam.update(self.p, grads)

    def val_loss(self, arrays):
        _, logits = self._forward(self.Xv)
        return float(self.spec.value(logits, self.yv, **arrays, **self.static))

    def params(self):
        return [p.copy() for p in self.p]
