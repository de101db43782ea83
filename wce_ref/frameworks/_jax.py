"""JAX: our losses on jax arrays, and optax's cross entropies with weights applied by hand."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import shape_only
from ..losses._generic import reduce_builtin
from ..losses._ops import Ops
from ._base import Backend, Builtin
from ._engine import Engine, objective


class _JaxOps(Ops):
    """The operations table over ``jax.numpy``; the fused NLL's hook is ``jax.custom_vjp``."""

    def __init__(self, jax: Any) -> None:
        self.jax = jax
        self.jnp = self.xp = jax.numpy

    def relu(self, x):
        return self.jax.nn.relu(x)

    def index(self, labels):
        return self.jnp.asarray(labels).astype(self.jnp.int64)

    def zero_at(self, x, idx):
        return x.at[self.jnp.arange(x.shape[0]), idx].set(0)

    def label_mask(self, idx, like):
        return self.jnp.arange(like.shape[1])[None, :] == idx[:, None]

    def stop_gradient(self, x):
        return self.jax.lax.stop_gradient(x)

    def cast(self, x, like):
        return self.jnp.asarray(x, dtype=like.dtype)

    def compute(self, x):
        return x.astype(self.jnp.float32) if x.dtype in (self.jnp.float16, self.jnp.bfloat16) else x

    def restore(self, x, dtype):
        return x.astype(dtype)

    def softplus(self, x):
        """Fused softplus (``logaddexp(x, 0)``: exact tail, derivative ``sigmoid(x)``)."""
        return self.jax.nn.softplus(x)

    def custom_gradient(self, forward, backward):
        fn = self.jax.custom_vjp(lambda x, y: forward(x, y)[0])
        fn.defvjp(forward, lambda residuals, g: (backward(residuals, g), None))
        return fn


def _optax_sigmoid(backend, *, logits, targets, pos_weight, neg_weight, reduction):
    import optax

    per = optax.sigmoid_binary_cross_entropy(logits, targets) * (targets * pos_weight + (1 - targets) * neg_weight)
    return reduce_builtin(backend.ops, per, reduction, logits.size)


def _hard_targets(kw: dict[str, Any], reduction: str) -> bool:
    t = np.asarray(kw["targets"])
    return bool(np.all((t == 0) | (t == 1)))


def _optax_softmax(backend, *, logits, labels, class_weights=None, reduction, label_smoothing=0.0, **_):
    import optax

    jnp = backend.load().numpy
    n, c = logits.shape
    if labels.ndim == 2:  # probability rows: weights folded into the label rows, -sum_c w_c q_c log p_c
        q = optax.smooth_labels(labels, label_smoothing) if label_smoothing else labels
        per = optax.softmax_cross_entropy(logits, q if class_weights is None else q * class_weights)
        return reduce_builtin(backend.ops, per, reduction, n)
    per = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    w = jnp.ones_like(per) if class_weights is None else class_weights[labels]
    return reduce_builtin(backend.ops, per * w, reduction, n if reduction == "mean" else jnp.sum(w))


def _optax_softmax_supports(kw: dict[str, Any], reduction: str) -> bool:
    if np.ndim(kw["labels"]) == 2:
        return True
    return not kw.get("label_smoothing") and kw.get("ignore_index") is None


class JaxEngine(Engine):
    """``jax.jit``-compiled step with optax's Adam."""

    def setup(self, X, y, Xv, yv, params):
        import jax
        import jax.numpy as jnp
        import optax

        ops, loss, static, l2 = self.backend.ops, self.loss, self.static, self.l2
        self.jnp = jnp
        self.X, self.y, self.Xv, self.yv = (jnp.asarray(a) for a in (X, y, Xv, yv))
        self.p = [jnp.asarray(p) for p in params]
        self.tx = optax.adam(self.lr)
        self.state = self.tx.init(self.p)

        def value(p, x, yb, arrays):
            return objective(ops, loss, static, p, x, yb, arrays, l2)

        def step(p, state, x, yb, arrays):
            grads = jax.grad(value)(p, x, yb, arrays)
            updates, state = self.tx.update(grads, state, p)
            return optax.apply_updates(p, updates), state

        self._step = jax.jit(step)
        self._val = jax.jit(lambda p, arrays: objective(ops, loss, static, p, self.Xv, self.yv, arrays, 0.0))

    def _arrays(self, arrays):
        return {k: self.jnp.asarray(v) for k, v in arrays.items()}

    def step(self, idx, arrays):
        x, y = (self.X, self.y) if idx is None else (self.X[idx], self.y[idx])
        self.p, self.state = self._step(self.p, self.state, x, y, self._arrays(arrays))

    def val_loss(self, arrays):
        return float(self._val(self.p, self._arrays(arrays)))

    def params(self):
        return [np.asarray(p).copy() for p in self.p]


class JaxBackend(Backend):
    def __init__(self) -> None:
        super().__init__(name="jax", module="jax")
        self._ops: _JaxOps | None = None

    def configure(self) -> None:
        # float64 cells need x64; matmul precision 'highest' is JAX's TF32-off
        self.lib().config.update("jax_enable_x64", True)
        self.lib().config.update("jax_default_matmul_precision", "highest")

    def devices(self) -> list[str]:
        jax = self.lib()
        try:
            return ["cpu", "gpu"] if jax.devices("gpu") else ["cpu"]
        except RuntimeError:
            return ["cpu"]

    def device_name(self, device: str) -> str:
        return self.lib().devices(device)[0].device_kind if device == "gpu" else super().device_name(device)

    def tensor(self, a: Any, dtype: str | None, device: str) -> Any:
        jax = self.lib()
        arr = np.asarray(a) if dtype is None else np.asarray(a, dtype=np.float64)
        out = jax.device_put(arr, jax.devices(device)[0])
        return out if dtype is None else out.astype(getattr(jax.numpy, dtype))

    def is_tensor(self, value: Any) -> bool:
        jax = self.lib()
        return isinstance(value, (jax.Array, jax.core.Tracer))

    def shape_view(self, t: Any) -> np.ndarray:
        kind = np.dtype(t.dtype).kind if t.dtype != self.lib().numpy.bfloat16 else "f"
        return shape_only(tuple(t.shape), np.float32 if kind == "f" else np.dtype(t.dtype))

    def host_view(self, t: Any) -> np.ndarray:
        jax = self.lib()
        if isinstance(t, jax.core.Tracer):  # under jit / grad / vmap: shapes and dtypes only
            return self.shape_view(t)
        return np.asarray(t)

    def on_host(self, t: Any) -> bool:
        jax = self.lib()
        return isinstance(t, jax.core.Tracer) or all(d.platform == "cpu" for d in t.devices())

    def witness_rows(self, t: Any) -> np.ndarray:
        return np.asarray(_witness_rows(self.lib())(t))

    def take_rows(self, t: Any, rows: np.ndarray) -> Any:
        return self.lib().numpy.take(t, rows, axis=0)

    def to_numpy(self, t: Any) -> np.ndarray:
        a = np.asarray(t)
        return a.astype(np.float64) if a.dtype.kind not in "iub" else a

    def value_and_grad(self, fn: Callable[[Any], Any], logits: Any) -> tuple[np.ndarray, np.ndarray]:
        """Value and gradient, op by op: JAX caches each primitive's compilation per shape across cells, while a
        ``jax.jit`` of each case's closure would compile anew every time (measured 12x slower)."""
        jax = self.lib()
        out, vjp = jax.vjp(fn, logits)
        (grad,) = vjp(jax.numpy.ones_like(out))
        return self.to_numpy(out), self.to_numpy(grad)

    def grad_fn(self, fn: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, Any]]:
        return self.lib().value_and_grad(fn)

    def synchronize(self, result: Any) -> Any:
        return self.lib().block_until_ready(result)

    def compile(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self.lib().jit(fn)

    @property
    def ops(self) -> _JaxOps:
        if self._ops is None:  # one table: it holds the fused NLL's custom_vjp, created once
            self._ops = _JaxOps(self.lib())
        return self._ops

    def engine(self, *args: Any, **kwargs: Any) -> Engine:
        return JaxEngine(self, *args, **kwargs)

    def memory(self, device: str) -> dict[str, int] | None:
        stats = self.lib().devices(device)[0].memory_stats()
        return None if not stats else {"peak_bytes": int(stats.get("peak_bytes_in_use", 0))}

    def own_builtins(self) -> list[Builtin]:
        return [
            Builtin(
                "optax.sigmoid_binary_cross_entropy",
                "sigmoid_wce",
                _optax_sigmoid,
                _hard_targets,
                note="optax.sigmoid_binary_cross_entropy * (t w+ + (1-t) w-), reduced by hand",
                defaults="sigmoid_wce(x, t, reduction='none')",
            ),
            Builtin(
                "optax.softmax_cross_entropy",
                "softmax_wce",
                _optax_softmax,
                _optax_softmax_supports,
                note="optax.softmax_cross_entropy_with_integer_labels * w[y]; soft labels: "
                "softmax_cross_entropy(x, smooth_labels(q) * w)",
                defaults="softmax_wce(x, y, reduction='none')",
            ),
        ]


@functools.cache
def _witness_rows(jax: Any) -> Callable[[Any], Any]:
    """The device-side witness rows of :mod:`~wce_ref.frameworks._device_check`, compiled once per shape."""
    jnp = jax.numpy

    def rows(t):
        flat = t.reshape(t.shape[0], -1)
        if flat.dtype == jnp.bool_:
            flat = flat.astype(jnp.uint8)
        lo, hi = flat.min(axis=1), flat.max(axis=1)
        if jnp.issubdtype(flat.dtype, jnp.floating):
            bad = (~jnp.isfinite(flat)).any(axis=1)  # XLA's min and max may skip a NaN: ask for it (fused, one pass)
            spread = hi.astype(jnp.float32) - lo.astype(jnp.float32)
            return jnp.stack([lo.argmin(), hi.argmax(), spread.argmax(), bad.argmax()])
        gmin, gmax = lo.min(), hi.max()
        lo2 = jnp.where(flat > gmin, flat, gmax).min(axis=1)
        hi2 = jnp.where(flat < gmax, flat, gmin).max(axis=1)
        return jnp.stack([lo.argmin(), hi.argmax(), lo2.argmin(), hi2.argmax()])

    return jax.jit(rows)
