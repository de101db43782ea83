"""TensorFlow: our losses on tf tensors, tf.nn's built-ins and the Keras losses."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import shape_only
from ..losses._generic import Dim, dims, reduce_builtin
from ..losses._ops import Ops
from ._base import Backend, Builtin
from ._engine import Engine, objective


class _TFOps(Ops):
    """The operations table over ``tf.math`` and ``tf``; the fused NLL's hook is ``tf.custom_gradient``."""

    def __init__(self, tf: Any) -> None:
        self.tf = tf
        self.xp = tf.math

    def relu(self, x):
        return self.tf.nn.relu(x)

    def where(self, cond, a, b):
        return self.tf.where(cond, a, b)

    def sum(self, x, axis=None):
        return self.tf.reduce_sum(x, axis=axis)

    def row_max(self, x):
        return self.tf.reduce_max(x, axis=1, keepdims=True)

    def zeros_like(self, x):
        return self.tf.zeros_like(x)

    def index(self, labels):
        return self.tf.cast(labels, self.tf.int64)

    def shape(self, x):
        """Static dimensions as ints; one unknown until the graph runs (a None batch size) as a :class:`Dim`."""
        known = tuple(x.shape)
        if None not in known:
            return known
        dynamic = self.tf.shape(x)
        return tuple(d if d is not None else Dim(dynamic[i], self) for i, d in enumerate(known))

    def reshape(self, x, shape):
        return self.tf.reshape(x, dims(shape))

    def moveaxis(self, x, source, destination):
        nd = len(x.shape)
        perm = [i for i in range(nd) if i != source % nd]
        perm.insert(destination % nd, source % nd)
        return self.tf.transpose(x, perm)

    def take(self, x, idx):
        return self.tf.gather(x, idx, batch_dims=1)

    def zero_at(self, x, idx):
        return x * self.tf.one_hot(idx, x.shape[-1], on_value=0.0, off_value=1.0, dtype=x.dtype)

    def label_mask(self, idx, like):
        return self.tf.one_hot(idx, self.tf.shape(like)[1], on_value=True, off_value=False)

    def gather(self, vec, idx):
        return self.tf.gather(vec, idx)

    def gather2(self, mat, rows, cols):
        return self.tf.gather_nd(
            mat, self.tf.stack([self.tf.cast(rows, self.tf.int64), self.tf.cast(cols, self.tf.int64)], axis=1)
        )

    def stop_gradient(self, x):
        return self.tf.stop_gradient(x)

    def cast(self, x, like):
        if isinstance(x, self.tf.Tensor | self.tf.Variable):
            return self.tf.cast(x, like.dtype)
        return self.tf.constant(x, dtype=like.dtype)  # Python / NumPy values rounded once, to like's dtype

    def compute(self, x):
        return self.tf.cast(x, self.tf.float32) if x.dtype in (self.tf.float16, self.tf.bfloat16) else x

    def restore(self, x, dtype):
        return self.tf.cast(x, dtype)

    def count(self, mask, like):
        return self.tf.reduce_sum(self.tf.cast(mask, like.dtype))

    def softplus(self, x):
        """Fused softplus (``tf.math.softplus``, derivative ``sigmoid(x)``)."""
        return self.tf.math.softplus(x)

    def custom_gradient(self, forward, backward):
        @self.tf.custom_gradient
        def fn(x, y):
            value, residuals = forward(x, y)
            return value, lambda g: (backward(residuals, g), None)

        return fn


def _wce_with_logits(backend, *, logits, targets, pos_weight, neg_weight, reduction):
    tf = backend.load()
    # weights only the positive term; multiplying by w- and dividing pos_weight by it gives the general form
    per = tf.nn.weighted_cross_entropy_with_logits(labels=targets, logits=logits, pos_weight=pos_weight / neg_weight)
    per = per * neg_weight
    return reduce_builtin(backend.ops, per, reduction, int(np.prod(logits.shape)))


def _pos_neg_supports(kw: dict[str, Any], reduction: str) -> bool:
    return bool(np.all(np.asarray(kw["neg_weight"]) > 0))


def _hard_index_supports(kw: dict[str, Any], reduction: str) -> bool:
    return np.ndim(kw["labels"]) == 1 and not kw.get("label_smoothing") and kw.get("ignore_index") is None


def _sparse_softmax(backend, *, logits, labels, class_weights=None, reduction):
    tf = backend.load()
    per = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    w = tf.ones_like(per) if class_weights is None else tf.gather(class_weights, labels)
    norm = logits.shape[0] if reduction == "mean" else tf.reduce_sum(w)
    return reduce_builtin(backend.ops, per * w, reduction, norm)


def _keras_reduction(reduction: str) -> str | None:
    return {"none": None, "sum": "sum"}.get(reduction, "sum_over_batch_size")


def _keras_sparse(backend, *, logits, labels, class_weights=None, reduction):
    import keras

    tf = backend.load()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=_keras_reduction(reduction))
    sw = None if class_weights is None else tf.gather(class_weights, labels)
    return loss(labels, logits, sample_weight=sw)


def _keras_bce_probs(backend, *, logits, targets, pos_weight, neg_weight, reduction):
    import keras

    tf = backend.load()
    loss = keras.losses.BinaryCrossentropy(from_logits=False, reduction=_keras_reduction(reduction))
    sw = targets * pos_weight + (1 - targets) * neg_weight
    out = loss(targets[:, None], tf.math.sigmoid(logits)[:, None], sample_weight=sw)
    return out


def _keras_bce_supports(kw: dict[str, Any], reduction: str) -> bool:
    t = np.asarray(kw["targets"])
    return t.ndim == 1 and bool(np.all((t == 0) | (t == 1)))


class TensorflowEngine(Engine):
    """``tf.function``-compiled step with Keras' Adam (epsilon 1e-8, the torch / optax default)."""

    def setup(self, X, y, Xv, yv, params):
        import tensorflow as tf

        ops, loss, static, l2 = self.backend.ops, self.loss, self.static, self.l2
        self.tf = tf
        self.X, self.Xv = tf.constant(X), tf.constant(Xv)
        self.y, self.yv = tf.constant(y), tf.constant(yv)
        self.p = [tf.Variable(p) for p in params]
        self.opt = tf.keras.optimizers.Adam(learning_rate=self.lr, epsilon=1e-8)

        @tf.function(reduce_retracing=True)
        def step(x, yb, arrays):
            with tf.GradientTape() as tape:
                value = objective(ops, loss, static, self.p, x, yb, arrays, l2)
            self.opt.apply_gradients(zip(tape.gradient(value, self.p), self.p, strict=True))

        self._step = step
        self._val = tf.function(lambda arrays: objective(ops, loss, static, self.p, self.Xv, self.yv, arrays, 0.0))

    def _arrays(self, arrays):
        return {k: self.tf.constant(v) for k, v in arrays.items()}

    def step(self, idx, arrays):
        if idx is None:
            self._step(self.X, self.y, self._arrays(arrays))
        else:
            self._step(self.tf.gather(self.X, idx), self.tf.gather(self.y, idx), self._arrays(arrays))

    def val_loss(self, arrays):
        return float(self._val(self._arrays(arrays)))

    def params(self):
        return [p.numpy().copy() for p in self.p]


#: tf.functions kept for eager calls (then the cache starts again)
GRAPH_CACHE_SIZE = 128
#: the call of a configuration from which eager calls run a tf.function traced for it
HOT_CALLS = 4


class TensorFlowBackend(Backend):
    def __init__(self) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        super().__init__(name="tensorflow", module="tensorflow")
        self._ops: _TFOps | None = None
        self._graphs: dict[tuple, Any] = {}  # eager calls: one tf.function per loss and configuration
        self._calls: dict[tuple, int] = {}  # eager calls of each configuration not traced yet

    def configure(self) -> None:
        self.lib().config.experimental.enable_tensor_float_32_execution(False)

    def set_threads(self, threads: int) -> None:
        tf = self.lib()
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # already initialised: the setting made at start-up stays

    def devices(self) -> list[str]:
        return ["cpu", "gpu"] if self.lib().config.list_physical_devices("GPU") else ["cpu"]

    def _device(self, device: str) -> str:
        return "/GPU:0" if device == "gpu" else "/CPU:0"

    def tensor(self, a: Any, dtype: str | None, device: str) -> Any:
        tf = self.lib()
        with tf.device(self._device(device)):
            if dtype is None:
                return tf.constant(np.asarray(a))
            return tf.cast(tf.constant(np.asarray(a, dtype=np.float64)), getattr(tf, dtype))

    def loss(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """As :meth:`Backend.loss`; inside ``tf.function`` the library's Python runs as written (no autograph).

        Called eagerly, the arguments are checked eagerly (the reference's messages); from the
        :data:`HOT_CALLS`-th call of a configuration on (which tensors are given, their shapes and dtypes, the
        other arguments' values: the formulas use static shapes), the formula runs as one ``tf.function`` traced
        for it, so that a call costs one function call and its gradient another, not the eager dispatch of a few
        dozen operations (at 256 x 10, about 3x ``tf.nn``'s loss). A configuration called fewer times (a check,
        an evaluation) is not traced (a trace costs about a hundred eager calls).
        """
        tf = self.lib()
        if not tf.executing_eagerly():
            return tf.autograph.experimental.do_not_convert(super().loss)(name, *args, **kwargs)
        spec, tensors, rest = self.prepare(name, args, kwargs)
        keys = tuple(k for k, v in tensors.items() if v is not None)
        try:
            shapes = tuple((tuple(t.shape), str(t.dtype)) if hasattr(t, "shape") else (type(t), t)
                           for t in (tensors[k] for k in keys))
            key = (name, keys, shapes, tuple(sorted(rest.items())))
            graph = self._graphs.get(key)
        except TypeError:  # an unhashable option: the eager formula
            return spec.formula(self.ops, **tensors, **rest)
        if graph is None:
            calls = self._calls[key] = self._calls.get(key, 0) + 1
            if calls < HOT_CALLS:
                return spec.formula(self.ops, **tensors, **rest)
            if len(self._graphs) >= GRAPH_CACHE_SIZE:
                self._graphs.clear()
                self._calls.clear()
            graph = self._graphs[key] = self._graph(spec, keys, dict(rest))
        return graph(*(tensors[k] for k in keys))

    def _graph(self, spec: Any, keys: tuple[str, ...], rest: dict[str, Any]) -> Any:
        ops = self.ops

        def formula(*values: Any) -> Any:
            return spec.formula(ops, **dict(zip(keys, values, strict=True)), **rest)

        return self.lib().function(formula, autograph=False)

    def is_tensor(self, value: Any) -> bool:
        tf = self.lib()
        return isinstance(value, tf.Tensor | tf.Variable)

    def shape_view(self, t: Any) -> np.ndarray:
        return shape_only(tuple(t.shape), np.float32 if t.dtype.is_floating else np.int64)

    def host_view(self, t: Any) -> np.ndarray:
        tf = self.lib()
        if not (tf.executing_eagerly() and hasattr(t, "numpy")):  # inside tf.function: shapes and dtypes only
            return self.shape_view(t)
        if t.dtype in (tf.bfloat16, tf.float16):
            t = tf.cast(t, tf.float32)
        return t.numpy()

    def to_numpy(self, t: Any) -> np.ndarray:
        tf = self.lib()
        t = tf.convert_to_tensor(t)
        return tf.cast(t, tf.float64).numpy() if t.dtype.is_floating else t.numpy()

    def value_and_grad(self, fn: Callable[[Any], Any], logits: Any) -> tuple[np.ndarray, np.ndarray]:
        tf = self.lib()
        with tf.GradientTape() as tape:
            tape.watch(logits)
            out = fn(logits)
        grad = tape.gradient(out, logits)
        return self.to_numpy(out), self.to_numpy(grad)

    def grad_fn(self, fn: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, Any]]:
        tf = self.lib()

        def value_and_grad(x, *args):
            with tf.GradientTape() as tape:
                tape.watch(x)
                out = fn(x, *args)
            return out, tape.gradient(out, x)

        return value_and_grad

    def synchronize(self, result: Any) -> Any:
        """Fetching the (first) result waits for the whole computation."""
        first = result[0] if isinstance(result, tuple) else result
        return self.to_numpy(first) if first is not None else result

    def compile(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self.lib().function(fn, jit_compile=True)

    @property
    def ops(self) -> _TFOps:
        if self._ops is None:  # one table: it holds the fused NLL's custom_gradient, created once
            self._ops = _TFOps(self.lib())
        return self._ops

    def engine(self, *args: Any, **kwargs: Any) -> Engine:
        return TensorflowEngine(self, *args, **kwargs)

    def memory(self, device: str) -> dict[str, int] | None:
        tf = self.lib()
        try:
            info = tf.config.experimental.get_memory_info("GPU:0" if device == "gpu" else "CPU:0")
        except (ValueError, RuntimeError):
            return None
        return {"peak_bytes": int(info["peak"])}

    def own_builtins(self) -> list[Builtin]:
        return [
            Builtin(
                "tf.weighted_cross_entropy_with_logits",
                "sigmoid_wce",
                _wce_with_logits,
                _pos_neg_supports,
                note="tf.nn.weighted_cross_entropy_with_logits(pos_weight=w+/w-) * w-, reduced by hand",
                defaults="sigmoid_wce(x, t, pos_weight=p, reduction='none') (the negative term unweighted)",
            ),
            Builtin(
                "tf.sparse_softmax_cross_entropy",
                "softmax_wce",
                _sparse_softmax,
                _hard_index_supports,
                note="tf.nn.sparse_softmax_cross_entropy_with_logits * w[y], reduced by hand",
                defaults="softmax_wce(x, y, reduction='none')",
            ),
            Builtin(
                "keras.SparseCategoricalCrossentropy",
                "softmax_wce",
                _keras_sparse,
                _hard_index_supports,
                note="keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, x, sample_weight=w[y])",
                defaults="softmax_wce(x, y, reduction='mean') (sum_over_batch_size; with sample_weight=w[y] still / N)",
            ),
            Builtin(
                "keras.BinaryCrossentropy_probs",
                "sigmoid_wce",
                _keras_bce_probs,
                _keras_bce_supports,
                note="keras.losses.BinaryCrossentropy(from_logits=False) on sigmoid(x), "
                "sample_weight = t w+ + (1-t) w-",
                defaults="sigmoid_wce(x, t) up to its clipping of probabilities to [1e-7, 1 - 1e-7]",
            ),
        ]
