"""Input validation shared by every loss and weight function.

Every check raises :class:`WCEInputError` (a :class:`ValueError`; a
:class:`TypeError` subclass for wrong dtypes) whose message names the argument
and says what was received, so that bad input never turns into a silent NaN or
a traceback from deep inside NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

REDUCTIONS_SIGMOID = ("none", "sum", "mean")
REDUCTIONS_SOFTMAX = ("none", "sum", "mean", "weighted_mean")


class WCEInputError(ValueError):
    """Bad argument to a ``wce_ref`` function (a :class:`ValueError`)."""


class WCETypeError(TypeError):
    """Argument of the wrong type or dtype (a :class:`TypeError`)."""


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"


def is_float_dtype(dtype: np.dtype) -> bool:
    """True for NumPy floating dtypes and ml_dtypes' ``bfloat16``."""
    if np.issubdtype(dtype, np.floating):
        return True
    return dtype.name == "bfloat16"


def is_numeric_dtype(dtype: np.dtype) -> bool:
    """True for numbers and booleans (including bfloat16), False for objects and strings."""
    if dtype.kind in "OUSV" and not is_float_dtype(dtype):
        return False
    return np.issubdtype(dtype, np.number) or dtype.kind == "b" or is_float_dtype(dtype)


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype a reference computation runs in for inputs of ``dtype``.

    float32 and float64 (and wider) compute natively; float16 and bfloat16 are
    upcast to float32, as every framework does internally for reductions.
    """
    if dtype.name in ("float16", "bfloat16"):
        return np.dtype(np.float32)
    return np.dtype(dtype)


def as_logits(logits: Any, *, name: str = "logits", ndim: tuple[int, ...] = (1, 2)) -> np.ndarray:
    """Return ``logits`` as a finite floating array, or raise."""
    arr = np.asarray(logits)
    if not is_float_dtype(arr.dtype):
        raise WCETypeError(
            f"{name} must be a floating-point array; received {_describe(arr)}. "
            f"Cast it first, e.g. np.asarray({name}, dtype=np.float32)."
        )
    if arr.ndim not in ndim:
        raise WCEInputError(f"{name} must have {' or '.join(map(str, ndim))} dimensions; received {_describe(arr)}")
    if arr.shape[0] == 0:
        raise WCEInputError(f"{name} is an empty batch (shape {arr.shape}); at least one sample is needed")
    if arr.size == 0:
        raise WCEInputError(f"{name} has no classes (shape {arr.shape})")
    check_finite(arr, name)
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise if ``arr`` holds NaN or infinity, naming the first bad position."""
    if arr.dtype.name != "bfloat16" and np.isfinite(np.sum(arr)):
        return  # a NaN or infinity anywhere makes the sum non-finite; a finite sum proves there is none
    finite = np.isfinite(arr.astype(np.float64) if arr.dtype.name == "bfloat16" else arr)
    if not finite.all():
        bad = np.argwhere(~finite)
        first = tuple(int(i) for i in bad[0])
        value = arr[first] if arr.ndim else arr
        raise WCEInputError(
            f"{name} must be finite; received {bad.shape[0]} non-finite value(s) in an array of shape "
            f"{arr.shape}, the first {value!r} at index {first}"
        )


def check_reduction(reduction: Any, allowed: tuple[str, ...]) -> str:
    if reduction not in allowed:
        raise WCEInputError(f"reduction must be one of {allowed}; received {reduction!r}")
    return str(reduction)


def as_weights(
    weights: Any, *, name: str, length: int | None = None, allow_scalar: bool = True, dtype: np.dtype
) -> np.ndarray:
    """Return non-negative finite weights (a scalar or a vector of ``length``)."""
    arr = np.asarray(weights)
    if not is_numeric_dtype(arr.dtype):
        raise WCETypeError(f"{name} must be a number or an array of numbers; received {_describe(weights)}")
    if arr.ndim == 0:
        if not allow_scalar:
            raise WCEInputError(f"{name} must be a vector of length {length}; received the scalar {arr.item()!r}")
    elif arr.ndim != 1 or (length is not None and arr.shape[0] != length):
        expected = f"a vector of length {length}" if length is not None else "a vector"
        if allow_scalar:
            expected = "a scalar or " + expected
        raise WCEInputError(f"{name} must be {expected}; received {_describe(arr)}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise WCEInputError(f"{name} must be finite; received {_short(arr)}")
    if (arr < 0).any():
        raise WCEInputError(f"{name} must be non-negative; received {_short(arr)}")
    return arr.astype(dtype)


def _short(arr: np.ndarray) -> str:
    text = np.array2string(np.asarray(arr), threshold=8, edgeitems=3)
    return text if arr.ndim == 0 else f"{text} (shape {arr.shape})"


def check_label_smoothing(label_smoothing: Any) -> float:
    try:
        value = float(label_smoothing)
    except (TypeError, ValueError):
        raise WCETypeError(f"label_smoothing must be a number in [0, 1]; received {label_smoothing!r}") from None
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise WCEInputError(f"label_smoothing must be in [0, 1]; received {label_smoothing!r}")
    return value


def as_class_labels(
    labels: Any, *, n_samples: int, n_classes: int, ignore_index: int | None = None, name: str = "labels"
) -> np.ndarray:
    """Return integer class indices of shape ``(n_samples,)`` in ``[0, n_classes)``.

    ``ignore_index`` is allowed as an extra value. Float arrays holding whole
    numbers are not accepted: labels are indices, and a float there is usually a
    one-hot row passed with the wrong shape.
    """
    arr = np.asarray(labels)
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        raise WCETypeError(f"{name} must be integer class indices; received {_describe(arr)}")
    if arr.shape != (n_samples,):
        raise WCEInputError(
            f"{name} must have shape ({n_samples},) to match logits with {n_samples} rows; received shape {arr.shape}"
        )
    arr = arr.astype(np.int64)
    valid = (arr >= 0) & (arr < n_classes)
    if ignore_index is not None:
        valid |= arr == ignore_index
    if not valid.all():
        bad = arr[~valid]
        extra = f" or ignore_index={ignore_index}" if ignore_index is not None else ""
        raise WCEInputError(
            f"{name} must lie in [0, {n_classes}){extra} for logits with {n_classes} classes; "
            f"received {bad.size} label(s) out of range, e.g. {int(bad[0])}"
        )
    return arr


def as_probabilities(targets: Any, *, shape: tuple[int, ...], name: str) -> np.ndarray:
    """Return soft targets in ``[0, 1]`` with the given shape (as float64)."""
    arr = np.asarray(targets)
    if not is_numeric_dtype(arr.dtype):
        raise WCETypeError(f"{name} must be numeric with values in [0, 1]; received {_describe(arr)}")
    if arr.shape != shape:
        raise WCEInputError(f"{name} must have the logits' shape {shape}; received shape {arr.shape}")
    arr64 = arr.astype(np.float64)
    if not np.isfinite(arr64).all():
        raise WCEInputError(f"{name} must be finite; received non-finite values in {name}")
    if ((arr64 < 0) | (arr64 > 1)).any():
        bad = arr64[(arr64 < 0) | (arr64 > 1)]
        raise WCEInputError(f"{name} must lie in [0, 1]; received {bad.size} value(s) outside it, e.g. {bad[0]!r}")
    return arr64


def as_cost_matrix(cost_matrix: Any, *, n_classes: int, dtype: np.dtype) -> np.ndarray:
    arr = np.asarray(cost_matrix)
    if not is_numeric_dtype(arr.dtype):
        raise WCETypeError(f"cost_matrix must be a numeric (C, C) array; received {_describe(cost_matrix)}")
    if arr.shape != (n_classes, n_classes):
        raise WCEInputError(
            f"cost_matrix must have shape ({n_classes}, {n_classes}) for logits with {n_classes} classes; "
            f"received shape {arr.shape}"
        )
    return as_weights(arr.reshape(-1), name="cost_matrix", allow_scalar=False, dtype=dtype).reshape(arr.shape)
