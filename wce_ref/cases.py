"""The fixed set of named inputs the self-check and the agreement matrix run on.

Each :class:`Case` builds, for a dtype, the keyword arguments of one loss
(``sigmoid_wce``, ``softmax_wce`` or ``cost_sensitive_ce``) with every float
input already rounded to that dtype (held as float64 so that the oracle sees
the exact values the implementation receives). Inputs are seeded, so a case is
the same on every machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Case", "CASES", "LOSSES", "REDUCTIONS", "round_to", "cases_for"]

#: Reductions each loss supports.
REDUCTIONS: dict[str, tuple[str, ...]] = {
    "sigmoid_wce": ("none", "sum", "mean"),
    "softmax_wce": ("none", "sum", "mean", "weighted_mean"),
    "cost_sensitive_ce": ("none", "sum", "mean", "weighted_mean"),
}
LOSSES = tuple(REDUCTIONS)


def round_to(a: Any, dtype: str) -> np.ndarray:
    """Round ``a`` to ``dtype`` and return the exact result as float64."""
    arr = np.asarray(a, dtype=np.float64)
    if dtype == "bfloat16":
        import ml_dtypes

        return arr.astype(ml_dtypes.bfloat16).astype(np.float64)
    return arr.astype(dtype).astype(np.float64)


@dataclass(frozen=True)
class Case:
    """One named input of one loss.

    ``build(rng)`` returns the loss's keyword arguments in float64; the float
    ones named in ``float_args`` are rounded to the cell's dtype by
    :meth:`inputs`.
    """

    name: str
    loss: str
    build: Callable[[np.random.Generator], dict[str, Any]]
    float_args: tuple[str, ...] = ("logits",)
    reductions: tuple[str, ...] | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def inputs(self, dtype: str) -> dict[str, Any]:
        """Keyword arguments (without ``reduction``) for ``dtype``."""
        seed = sum(map(ord, f"{self.loss}/{self.name}"))
        kwargs = self.build(np.random.default_rng(seed))
        for key in self.float_args:
            if kwargs.get(key) is not None:
                kwargs[key] = round_to(kwargs[key], dtype)
        return kwargs

    @property
    def id(self) -> str:
        return f"{self.loss}/{self.name}"


def _logits(rng, n, c, scale):
    return rng.normal(size=(n, c)) * scale


def _labels(rng, n, c):
    return rng.integers(0, c, size=n)


def _softmax(name, n=32, c=5, scale=3.0, *, weights=True, labels=None, soft=False, **extra):
    def build(rng):
        kw = {"logits": _logits(rng, n, c, scale)}
        kw["labels"] = labels(rng, n, c) if labels else _labels(rng, n, c)
        kw["class_weights"] = rng.uniform(0.5, 3.0, size=c) if weights else None
        kw.update({k: (v(rng, n, c) if callable(v) else v) for k, v in extra.items()})
        if kw.get("ignore_index") is not None and np.ndim(kw["labels"]) == 1:
            kw["labels"] = np.where(np.arange(n) % 4 == 1, kw["ignore_index"], kw["labels"])
        return kw

    floats = ("logits", "class_weights", "labels") if soft else ("logits", "class_weights")
    return Case(name, "softmax_wce", build, float_args=floats)


def _soft_labels(rng, n, c):
    q = rng.dirichlet(np.ones(c), size=n)
    return q


def _sigmoid(name, shape=(64,), scale=3.0, *, soft=False, pos=3.0, neg=1.0, per_column=False):
    def build(rng):
        x = rng.normal(size=shape) * scale
        t = rng.uniform(size=shape) if soft else (rng.uniform(size=shape) < 0.3).astype(np.float64)
        pw = rng.uniform(0.5, 5.0, size=shape[-1]) if per_column else pos
        return {"logits": x, "targets": t, "pos_weight": pw, "neg_weight": neg}

    return Case(name, "sigmoid_wce", build, float_args=("logits", "targets", "pos_weight", "neg_weight"))


def _large(rng, n, c):
    return rng.choice([-1e4, 1e4], size=(n, c)) * rng.uniform(0.5, 1.0, size=(n, c))


def _cost(name, n=32, c=4, scale=3.0, *, large=False):
    def build(rng):
        x = _large(rng, n, c) if large else _logits(rng, n, c, scale)
        m = rng.uniform(0.5, 5.0, size=(c, c))
        np.fill_diagonal(m, 1.0)
        return {"logits": x, "labels": _labels(rng, n, c), "cost_matrix": m}

    return Case(name, "cost_sensitive_ce", build, float_args=("logits", "cost_matrix"))


def _large_softmax():
    def build(rng):
        n, c = 6, 4
        return {
            "logits": _large(rng, n, c),
            "labels": _labels(rng, n, c),
            "class_weights": rng.uniform(0.5, 2.0, size=c),
        }

    return Case("logits_1e4", "softmax_wce", build, float_args=("logits", "class_weights"), tags=("large",))


def _large_sigmoid():
    def build(rng):
        x = rng.choice([-1e4, 1e4], size=16) * rng.uniform(0.5, 1.0, size=16)
        t = (rng.uniform(size=16) < 0.5).astype(np.float64)
        t[:2] = (x[:2] < 0).astype(np.float64)  # at least two confidently wrong samples: losses ~1e4
        return {"logits": x, "targets": t, "pos_weight": 2.0, "neg_weight": 0.5}

    return Case(
        "logits_1e4",
        "sigmoid_wce",
        build,
        float_args=("logits", "targets", "pos_weight", "neg_weight"),
        tags=("large",),
    )


def _zero_weights():
    def build(rng):
        n, c = 32, 5
        w = rng.uniform(0.5, 3.0, size=c)
        w[[1, 3]] = 0.0
        return {"logits": _logits(rng, n, c, 2.0), "labels": _labels(rng, n, c), "class_weights": w}

    return Case("zero_class_weights", "softmax_wce", build, float_args=("logits", "class_weights"))


CASES: tuple[Case, ...] = (
    # --- sigmoid
    _sigmoid("random_scale_0.1", scale=0.1),
    _sigmoid("random_scale_3", scale=3.0),
    _sigmoid("random_scale_30", scale=30.0),
    _large_sigmoid(),
    _sigmoid("soft_targets", soft=True),
    _sigmoid("n_1", shape=(1,)),
    _sigmoid("multilabel_per_column_pos_weight", shape=(16, 6), per_column=True, neg=0.7),
    _sigmoid("practitioner_w_1-w", pos=0.9, neg=0.1),
    # --- softmax
    _softmax("random_scale_0.1", scale=0.1),
    _softmax("random_scale_3", scale=3.0),
    _softmax("random_scale_30", scale=30.0),
    _large_softmax(),
    _softmax("n_1", n=1),
    _softmax("c_2", c=2),
    _softmax("c_1000", n=4, c=1000),
    _softmax("one_class_only", labels=lambda rng, n, c: np.full(n, 2)),
    _zero_weights(),
    _softmax("no_weights", weights=False),
    _softmax("ignore_index", ignore_index=-100),
    _softmax("soft_labels", labels=_soft_labels, soft=True),
    _softmax("label_smoothing", label_smoothing=0.1),
    _softmax("label_smoothing_ignore_index", label_smoothing=0.2, ignore_index=-100),
    _softmax("soft_labels_smoothing", labels=_soft_labels, soft=True, label_smoothing=0.1),
    # --- cost matrix
    _cost("random_scale_3"),
    _cost("c_2", c=2),
    _cost("logits_1e4", n=8, large=True),
)


def cases_for(loss: str | None = None) -> list[Case]:
    """The cases of one loss (all when ``loss`` is None)."""
    return [c for c in CASES if loss is None or c.loss == loss]
