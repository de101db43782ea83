"""The reference's argument check for tensors that live on an accelerator, without copying them to the host.

The framework versions run the reference's own check (:meth:`Backend.prepare`) so that bad input gets the
reference's message. On the host that check reads the tensors in place. A tensor on a GPU would have to be
copied to the host first, on every call: on an H100 that copy made PyTorch's eager softmax WCE 47 times slower
than ``torch.nn.functional.cross_entropy`` (``reports/speed-gpu.md``, measured before this module existed).

Instead, the device reduces each batch-shaped tensor to a handful of *witness rows* and only those rows travel:

* floating-point tensors: the rows holding the smallest and the largest value, the row with the widest range
  (largest minus smallest value) and the first row with a NaN or an infinity;
* integer tensors (labels): the rows holding the two smallest and the two largest distinct values, so that a
  label out of range is seen even next to an ``ignore_index`` that lies outside ``[0, C)``.

The same rows are taken from every batch-shaped argument (a genuine sub-batch), the other tensors (class
weights, cost matrices, priors: ``C`` values) travel whole, and the reference's check runs on that sub-batch.

* Every element-wise check (finite values, labels in range, probabilities in ``[0, 1]``, weights positive) sees
  the extreme values of every argument, so it passes on the sub-batch exactly when it passes on the batch.
* A reduction's normaliser (sum of weights, count of non-ignored rows) is zero on the batch only if it is zero on
  every sub-batch, so a batch that would divide by zero is caught too.
* Where the sub-batch fails, the full tensors are copied and checked, so a rejection carries the reference's
  exact message, and a sub-batch that fails where the batch would not (a normaliser of zero on those rows
  alone) costs one copy and no false error.
* Row-wise overflow checks (LDAM's ``scale * (logits - margins)``, logit adjustment near the float maximum) see
  the rows with the extreme values and the widest row, not every row: the one place where the device check is
  weaker than the host one, for logits within a factor of a few of the dtype's largest value.

Batches of at most :data:`MIN_ROWS` rows, arguments that are not all this framework's tensors on the device, and
frameworks whose :meth:`Backend.on_host` is always True (TensorFlow: it has no :meth:`Backend.witness_rows`) take
the host path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import WCEInputError, WCETypeError

#: batches this small are copied and checked whole: the copy costs less than the reductions
MIN_ROWS = 64
#: arguments that always have the batch's leading axis (others have it when their shape says so)
BATCH_ARGS = ("logits", "labels", "targets", "sample_weight")


def batch_keys(backend: Any, arrays: dict[str, Any]) -> list[str] | None:
    """The batch-shaped arguments, or None where the device path does not apply (the host path then runs)."""
    logits = arrays.get("logits")
    if not backend.is_tensor(logits) or backend.on_host(logits) or len(logits.shape) < 1:
        return None
    n = logits.shape[0]
    if n is None or n <= MIN_ROWS:
        return None
    keys = []
    for key, value in arrays.items():
        shape = getattr(value, "shape", None)
        if key in BATCH_ARGS or (shape is not None and len(shape) == len(logits.shape) and shape[0] == n):
            if value is None:
                continue
            if (not backend.is_tensor(value) or backend.on_host(value) or len(value.shape) < 1 or value.shape[0] != n
                    or 0 in tuple(value.shape)):
                return None  # mixed host and device batch arguments, or a wrong batch size: the host check says
            keys.append(key)
        elif not backend.is_tensor(value) and _leading(value) == n:
            return None
    return keys


def _leading(value: Any) -> int | None:
    """The leading dimension of a host array or list (None for numbers, ragged lists and anything else)."""
    try:
        shape = np.shape(value)
    except (ValueError, TypeError):
        return None
    return shape[0] if shape else None


def check(backend: Any, spec: Any, tensors: dict[str, Any], others: dict[str, Any], keys: list[str]) -> dict:
    """Run ``spec.check`` on a sub-batch of witness rows; on failure, on the full tensors (exact message)."""
    rows = np.unique(np.concatenate([backend.witness_rows(tensors[k]) for k in keys]))
    sub = {}
    for key, value in tensors.items():
        if not backend.is_tensor(value):
            sub[key] = value
        elif key in keys:
            sub[key] = backend.host_view(backend.take_rows(value, rows))
        else:
            sub[key] = backend.host_view(value)
    try:
        return spec.check(**sub, **others)
    except (WCEInputError, WCETypeError):
        full = {k: backend.host_view(v) if backend.is_tensor(v) else v for k, v in tensors.items()}
        return spec.check(**full, **others)  # raises the reference's message, or passes: those rows alone failed
