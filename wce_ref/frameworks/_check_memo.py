"""The reference's argument check once per configuration and shape, and a few reductions per call.

:meth:`Backend.prepare` runs the loss's own check (``spec.check``) so that bad input gets the reference's
message. That check is a few dozen small NumPy calls: on a 256 x 10 batch it cost more than the loss. A
training loop calls a loss with the same configuration and shapes again and again, so :class:`CheckMemo`
keeps, per *signature*, what the full check concluded and, per call, only proves that the new values pass too.

The signature (the memo's key) is the loss, the shape and dtype of every batch argument (``logits``,
``labels``, ``targets``, ``sample_weight``), the *values* of every other array (class weights, priors, cost
matrices, ``pos_weight``: at most :data:`MAX_KEY_ELEMENTS` entries each) and every non-array argument
(``reduction``, ``ignore_index``, ``gamma`` ...). A call whose signature has passed the full check passes
without it when its batch values lie where passing values lay:

* ``logits``: every value finite (one summation: a NaN or an infinity makes the sum non-finite);
* other floating batch arguments (probability labels, targets, sample weights): their smallest and largest
  value lie in the hull of those of the calls that passed the full check. Their checks are per-element
  intervals (``[0, 1]``, ``>= 0`` and finite), so a value inside that hull passes them;
* integer labels: the smallest and the largest label other than ``ignore_index`` lie in the hull of those that
  passed (labels must lie in ``[0, C)``, an interval; ``ignore_index`` itself is always allowed);
* a reduction with a normaliser (``mean``, ``weighted_mean``) on class-index labels: some label is not
  ``ignore_index`` and, for ``weighted_mean``, the smallest class weight times the smallest sample weight is
  far from underflow, so the normaliser (a sum of such products over the non-ignored rows) is not zero.

Anything else (a value outside the hull, a NaN, a possible zero normaliser, a new signature) runs the full
check: a rejection carries the reference's exact message, and a call that passes widens the hull. Losses whose
check reads more than per-element intervals of the batch (LDAM's and logit adjustment's row-wise overflow
tests) set ``Loss.memo_check = False`` and are checked in full on every call; so are arguments the memo cannot
key (Python lists, arrays of more than :data:`MAX_KEY_ELEMENTS` entries, unhashable options, bfloat16 views).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["BATCH_ARGS", "MAX_ENTRIES", "MAX_KEY_ELEMENTS", "CheckMemo"]

#: the arguments that carry the batch (their values change per call; everything else is configuration)
BATCH_ARGS = ("logits", "labels", "targets", "sample_weight")
#: configuration arrays up to this many entries are part of the signature by value
MAX_KEY_ELEMENTS = 1 << 16
#: signatures kept per backend (least recently used dropped first)
MAX_ENTRIES = 64
#: a product of a class weight and a sample weight at least this large is not zero in any compute dtype
_NO_UNDERFLOW = 2.0 * float(np.finfo(np.float32).tiny)
_NORMALISED = ("mean", "weighted_mean")


@dataclass
class _Entry:
    """What the full check concluded for one signature: its result and the hull of the passing batch values."""

    static: dict[str, Any]
    min_class_weight: float
    hulls: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def admits(self, summary: dict[str, tuple[Any, Any] | None]) -> bool:
        for key, rng in summary.items():
            hull = self.hulls.get(key)
            if rng is None:
                continue  # empty: nothing to check
            if hull is None or not (rng[0] >= hull[0] and rng[1] <= hull[1]):
                return False
        return True

    def widen(self, summary: dict[str, tuple[Any, Any] | None]) -> None:
        for key, rng in summary.items():
            if rng is None:
                continue
            hull = self.hulls.get(key)
            self.hulls[key] = rng if hull is None else (min(hull[0], rng[0]), max(hull[1], rng[1]))


class CheckMemo:
    """Per-signature memo of a loss's argument check (see the module docstring); one per backend."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def check(self, spec: Any, views: dict[str, Any], others: dict[str, Any]) -> dict[str, Any]:
        """``spec.check(**views, **others)``, skipped where the memo proves the call passes.

        Parameters
        ----------
        spec : Loss
            The registered loss.
        views : dict
            Its array arguments as the full check takes them (host views of tensors, NumPy arrays, numbers).
        others : dict
            Its other arguments.

        Returns
        -------
        dict
            The normalised non-array arguments (a fresh dict on every call).

        Raises
        ------
        WCEInputError, WCETypeError
            The reference's message, from the full check.
        """
        key = _signature(spec, views, others) if getattr(spec, "memo_check", True) else None
        if key is None:
            return spec.check(**views, **others)
        summary = _summary(views, others)
        entry = self._entries.get(key)
        if entry is not None and summary is not None and entry.admits(summary) and _normaliser_ok(
            entry, summary, views, others
        ):
            self._entries.move_to_end(key)
            return dict(entry.static)
        static = spec.check(**views, **others)  # raises the reference's message
        if summary is not None:
            if entry is None:
                entry = _Entry(dict(static), _min_class_weight(views))
                self._entries[key] = entry
                if len(self._entries) > MAX_ENTRIES:
                    self._entries.popitem(last=False)
            entry.widen(summary)
        return static


def _signature(spec: Any, views: dict[str, Any], others: dict[str, Any]) -> tuple[Any, ...] | None:
    """The memo's key, or None where an argument cannot be keyed (the full check then runs)."""
    parts: list[Any] = [spec.name, id(spec)]
    for name, value in views.items():
        if value is None or type(value) in (bool, int, float):
            parts.append((name, type(value), value))
        elif type(value) is np.ndarray and value.dtype.kind in "biuf":
            if name in BATCH_ARGS:
                parts.append((name, value.shape, value.dtype.str))
            elif value.size <= MAX_KEY_ELEMENTS:
                parts.append((name, value.shape, value.dtype.str, value.tobytes()))
            else:
                return None
        else:  # lists, ShapeOnly stand-ins (traced code), bfloat16, objects: the full check
            return None
    for name, value in others.items():
        parts.append((name, type(value), value))
    key = tuple(parts)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _summary(views: dict[str, Any], others: dict[str, Any]) -> dict[str, tuple[Any, Any] | None] | None:
    """Per batch argument, the range the memo compares (None: empty); None where a value rules the memo out."""
    out: dict[str, tuple[Any, Any] | None] = {}
    ignore = others.get("ignore_index")
    for name in BATCH_ARGS:
        v = views.get(name)
        if type(v) is not np.ndarray:
            continue
        if name == "logits":
            if v.dtype.kind != "f" or not math.isfinite(v.sum()):
                return None  # a NaN, an infinity, or a sum that overflows: the full check decides
            continue
        if v.dtype.kind in "iub" and ignore is not None:
            v = v[v != ignore]
        if v.size == 0:
            out[name] = None
            continue
        lo, hi = v.min().item(), v.max().item()
        if v.dtype.kind == "f" and not (math.isfinite(lo) and math.isfinite(hi)):
            return None
        out[name] = (lo, hi)
    return out


def _min_class_weight(views: dict[str, Any]) -> float:
    w = views.get("class_weights")
    if w is None:
        return 1.0
    arr = np.asarray(w, dtype=np.float64)
    return float(arr.min()) if arr.size else 0.0


def _normaliser_ok(entry: _Entry, summary: dict[str, Any], views: dict[str, Any], others: dict[str, Any]) -> bool:
    """Whether a ``mean`` / ``weighted_mean`` normaliser is provably non-zero (else the full check decides)."""
    labels = views.get("labels")
    if others.get("reduction") not in _NORMALISED or type(labels) is not np.ndarray or labels.dtype.kind == "f":
        return True  # no normaliser, or probability labels / element-wise losses: divided by a count
    if labels.size == 0:
        return True  # an empty batch: 0, never 0 / 0
    if summary.get("labels") is None:
        return False  # every label ignored
    if others.get("reduction") == "mean":
        return True
    sw = summary.get("sample_weight")
    low_sw = 1.0 if "sample_weight" not in summary else (0.0 if sw is None else float(sw[0]))
    return entry.min_class_weight * low_sw >= _NO_UNDERFLOW
