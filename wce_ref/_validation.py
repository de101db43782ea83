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

    __init__ = Exception.__init__  # AutoGraph (a user's tf.function) then re-raises it with its own type


class WCETypeError(TypeError):
    """Argument of the wrong type or dtype (a :class:`TypeError`)."""

    __init__ = Exception.__init__


class ShapeOnly(np.ndarray):
    """An array standing for a tensor whose values are not available (traced or compiled code).

    Its values are placeholders (1 for floats, 0 for integers) that pass every
    range check, so only shapes and dtypes are checked; value-dependent checks
    (a zero normaliser) skip it.
    """


def shape_only(shape: tuple[int | None, ...], dtype: Any) -> np.ndarray:
    """A :class:`ShapeOnly` array of ``shape`` (unknown dimensions as 1) that costs no memory."""
    one = np.ones((), dtype=dtype) if np.dtype(dtype).kind == "f" else np.zeros((), dtype=dtype)
    return np.broadcast_to(one, tuple(1 if d is None else int(d) for d in shape)).view(ShapeOnly)


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    text = repr(x)
    return f"{type(x).__name__} {text if len(text) <= 80 else text[:77] + '...'}"


def as_array(x: Any, name: str) -> np.ndarray:
    """``np.asarray(x)``, with ragged nested lists and unconvertible objects rejected by name."""
    try:
        return np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise WCEInputError(f"{name} must be a rectangular array; received {_describe(x)} ({exc})") from None


def _no_complex(arr: np.ndarray, name: str, original: Any) -> None:
    if arr.dtype.kind == "c":
        raise WCETypeError(f"{name} must be real; received {_describe(original)}")


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


def as_logits(logits: Any, *, name: str = "logits", min_ndim: int = 0, class_axis: int | None = None) -> np.ndarray:
    """Return ``logits`` as a finite floating array, or raise.

    ``min_ndim`` is the fewest dimensions accepted; with ``class_axis`` given,
    that axis must exist and hold at least one class. An empty batch (a zero
    along any other axis) is accepted.
    """
    arr = as_array(logits, name)
    if not is_float_dtype(arr.dtype):
        raise WCETypeError(
            f"{name} must be a floating-point array; received {_describe(arr)}. "
            f"Cast it first, e.g. np.asarray({name}, dtype=np.float32)."
        )
    if arr.ndim < min_ndim:
        raise WCEInputError(
            f"{name} must have at least {min_ndim} dimension{'s' if min_ndim > 1 else ''} "
            f"({'(C,) for one sample or ' if min_ndim == 1 else ''}(N, C, ...)); received {_describe(arr)}"
        )
    if class_axis is not None and arr.shape[class_axis] == 0:
        raise WCEInputError(f"{name} has no classes (shape {arr.shape}, class_axis={class_axis})")
    check_finite(arr, name)
    return arr


def check_class_axis(class_axis: Any, ndim: int) -> int:
    """Normalise ``class_axis`` (1 = PyTorch's (N, C, ...) layout, -1 = channels last) to a non-negative index."""
    if isinstance(class_axis, bool) or not isinstance(class_axis, (int, np.integer)):
        raise WCETypeError(f"class_axis must be an int; received {_describe(class_axis)}")
    if not -ndim <= class_axis < ndim or class_axis % ndim == 0:
        raise WCEInputError(
            f"class_axis must be an axis of logits other than the batch axis 0 (1 .. {ndim - 1} or -1); "
            f"received {class_axis} for logits with {ndim} dimensions"
        )
    return int(class_axis) % ndim


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
    if not isinstance(reduction, str) or reduction not in allowed:
        raise WCEInputError(f"reduction must be one of {allowed}; received {reduction!r}")
    return str(reduction)


def as_weights(
    weights: Any, *, name: str, length: int | None = None, allow_scalar: bool = True, dtype: np.dtype
) -> np.ndarray:
    """Return non-negative finite weights (a scalar or a vector of ``length``)."""
    arr = as_array(weights, name)
    if not is_numeric_dtype(arr.dtype):
        raise WCETypeError(f"{name} must be a number or an array of numbers; received {_describe(weights)}")
    _no_complex(arr, name, weights)
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
    return fits_dtype(arr, name, dtype)


def fits_dtype(arr: np.ndarray, name: str, dtype: np.dtype) -> np.ndarray:
    """``arr`` cast to the compute ``dtype``, or an error if a finite value overflows it."""
    with np.errstate(over="ignore"):
        out = arr.astype(dtype)
    if not np.isfinite(out).all():
        big = arr[~np.isfinite(out)]
        raise WCEInputError(
            f"{name} holds {big.reshape(-1)[0]!r}, beyond the largest {np.dtype(dtype).name} "
            f"({float(np.finfo(dtype).max):.4g}), the dtype this computation runs in for these logits; "
            f"rescale the weights or pass float64 logits"
        )
    return out


def as_broadcast_weights(weights: Any, *, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Non-negative finite weights broadcastable to ``shape`` (``BCEWithLogitsLoss``'s rule), broadcast."""
    arr = as_array(weights, name)
    if not is_numeric_dtype(arr.dtype):
        raise WCETypeError(f"{name} must be a number or an array of numbers; received {_describe(weights)}")
    _no_complex(arr, name, weights)
    try:
        np.broadcast_shapes(arr.shape, shape)
        if np.broadcast_shapes(arr.shape, shape) != tuple(shape):
            raise ValueError
    except ValueError:
        raise WCEInputError(
            f"{name} must broadcast to the logits' shape {tuple(shape)} (a scalar, one weight per class along "
            f"the last axis, or any broadcastable shape); received shape {arr.shape}"
        ) from None
    w = as_weights(arr.reshape(-1), name=name, allow_scalar=False, dtype=dtype).reshape(arr.shape)
    return np.broadcast_to(w, shape)


def check_number(
    value: Any, name: str, *, low: float | None = None, high: float | None = None, low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A real Python / NumPy number (not a bool, not a string) in the given range, as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise WCETypeError(f"{name} must be a real number; received {_describe(value)}")
    v = float(value)
    bad = v != v or v in (float("inf"), float("-inf"))
    bad = bad or (low is not None and (v < low or (low_open and v == low)))
    bad = bad or (high is not None and (v > high or (high_open and v == high)))
    if bad:
        lo = ("(" if low_open else "[") + ("-inf" if low is None else f"{low:g}")
        hi = ("inf" if high is None else f"{high:g}") + (")" if high_open else "]")
        raise WCEInputError(f"{name} must be a finite number in {lo}, {hi}; received {value!r}")
    return v


def as_positive_vector(values: Any, *, name: str, length: int, dtype: np.dtype) -> np.ndarray:
    """A vector of ``length`` strictly positive finite numbers (class priors, class counts)."""
    w = as_weights(values, name=name, length=length, allow_scalar=False, dtype=np.dtype(np.float64))
    if (w <= 0).any() and not isinstance(values, ShapeOnly):  # a traced tensor: its values are not known
        raise WCEInputError(f"{name} must be strictly positive (one entry per class); received {_short(w)}")
    return fits_dtype(w, name, dtype)


def as_sample_weight(sample_weight: Any, *, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray | None:
    """Per-sample weights of shape (N,) (broadcast over the other axes) or exactly ``shape``, or None."""
    if sample_weight is None:
        return None
    arr = as_array(sample_weight, "sample_weight")
    if arr.shape not in {tuple(shape), tuple(shape[:1])} or arr.ndim == 0:
        raise WCEInputError(
            f"sample_weight must have shape {tuple(shape[:1])} (one weight per sample) or {tuple(shape)}; "
            f"received {_describe(arr)}"
        )
    w = as_weights(arr.reshape(-1), name="sample_weight", allow_scalar=False, dtype=dtype).reshape(arr.shape)
    return np.broadcast_to(w.reshape(w.shape + (1,) * (len(shape) - w.ndim)), shape)


def _short(arr: np.ndarray) -> str:
    text = np.array2string(np.asarray(arr), threshold=8, edgeitems=3)
    return text if arr.ndim == 0 else f"{text} (shape {arr.shape})"


def check_label_smoothing(label_smoothing: Any) -> float:
    if isinstance(label_smoothing, (bool, np.bool_)) or not isinstance(
        label_smoothing, (int, float, np.integer, np.floating)
    ):
        raise WCETypeError(f"label_smoothing must be a number in [0, 1]; received {_describe(label_smoothing)}")
    value = float(label_smoothing)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise WCEInputError(f"label_smoothing must be in [0, 1]; received {label_smoothing!r}")
    return value


def check_ignore_index(ignore_index: Any) -> int | None:
    if ignore_index is None:
        return None
    if isinstance(ignore_index, (bool, np.bool_)) or not isinstance(ignore_index, (int, np.integer)):
        raise WCEInputError(f"ignore_index must be an int or None; received {ignore_index!r}")
    if not -(2**63) <= int(ignore_index) < 2**63:
        raise WCEInputError(f"ignore_index must fit in int64 (labels are compared with it); received {ignore_index!r}")
    return int(ignore_index)


def as_class_labels(
    labels: Any,
    *,
    shape: tuple[int, ...],
    n_classes: int,
    ignore_index: int | None = None,
    name: str = "labels",
    what: str = "",
) -> np.ndarray:
    """Return integer class indices of ``shape`` in ``[0, n_classes)`` as int64.

    ``ignore_index`` is allowed as an extra value. Float arrays holding whole
    numbers are not accepted: labels are indices, and a float there is usually a
    one-hot row passed with the wrong shape.
    """
    arr = as_array(labels, name)
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        raise WCETypeError(f"{name} must be integer class indices; received {_describe(arr)}")
    if arr.shape != tuple(shape):
        raise WCEInputError(
            f"{name} must have shape {tuple(shape)} to match {what or 'the logits'}; received shape {arr.shape}"
        )
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise WCEInputError(f"{name} must lie in [0, {n_classes}); received {int(arr.max())}")
    arr = arr.astype(np.int64, copy=False)
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
    """Return soft targets in ``[0, 1]`` with the given shape (a float array as it is, anything else as float64)."""
    arr = as_array(targets, name)
    if not is_numeric_dtype(arr.dtype):
        raise WCETypeError(f"{name} must be numeric with values in [0, 1]; received {_describe(arr)}")
    _no_complex(arr, name, targets)
    if arr.shape != shape:
        raise WCEInputError(f"{name} must have the logits' shape {shape}; received shape {arr.shape}")
    if arr.dtype.kind == "f" and arr.dtype.name != "bfloat16" and arr.size:
        lo, hi = arr.min(), arr.max()  # two passes, no copy; NaN propagates into both
        if np.isfinite(lo) and np.isfinite(hi) and lo >= 0 and hi <= 1:
            return arr  # the common case: callers cast to their compute dtype
    arr64 = arr.astype(np.float64)
    if not np.isfinite(arr64).all():
        raise WCEInputError(f"{name} must be finite; received non-finite values in {name}")
    if ((arr64 < 0) | (arr64 > 1)).any():
        bad = arr64[(arr64 < 0) | (arr64 > 1)]
        raise WCEInputError(f"{name} must lie in [0, 1]; received {bad.size} value(s) outside it, e.g. {bad[0]!r}")
    return arr64


def as_cost_matrix(cost_matrix: Any, *, n_classes: int, dtype: np.dtype) -> np.ndarray:
    arr = as_array(cost_matrix, "cost_matrix")
    if not is_numeric_dtype(arr.dtype):
        raise WCETypeError(f"cost_matrix must be a numeric (C, C) array; received {_describe(cost_matrix)}")
    if arr.shape != (n_classes, n_classes):
        raise WCEInputError(
            f"cost_matrix must have shape ({n_classes}, {n_classes}) for logits with {n_classes} classes; "
            f"received shape {arr.shape}"
        )
    return as_weights(arr.reshape(-1), name="cost_matrix", allow_scalar=False, dtype=dtype).reshape(arr.shape)
