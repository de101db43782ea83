"""Class labels -> class indices for the multiclass datasets (sorted label order, numbers sorted as numbers)."""

from __future__ import annotations

import numpy as np

from ._base import IntegrityError


def _as_numbers(labels: np.ndarray) -> np.ndarray | None:
    try:
        return labels.astype(np.float64)
    except (TypeError, ValueError):
        return None


def _label_text(value: float | str) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def encode_classes(labels, *, dataset: str) -> tuple[np.ndarray, list[str]]:
    """Class indices ``0..C-1`` in sorted label order and the original labels as text.

    Labels that all read as numbers are sorted as numbers (``2 < 10``), others
    as text; surrounding whitespace and quotes are ignored.

    Raises
    ------
    IntegrityError
        A label is missing, or fewer than two classes are present.

    Examples
    --------
    >>> encode_classes(["10", "2", "2", "1"], dataset="demo")
    (array([2, 1, 1, 0]), ['1', '2', '10'])
    """
    text = np.array([str(v).strip().strip("'\"") for v in np.asarray(labels, dtype=object)], dtype=object)
    if any(t in ("", "?", "nan", "None", "<NA>") for t in text):
        raise IntegrityError(f"dataset {dataset!r}: the class column has missing labels")
    numbers = _as_numbers(text)
    keys = numbers if numbers is not None else text.astype(str)
    values, y = np.unique(keys, return_inverse=True)
    if len(values) < 2:
        raise IntegrityError(f"dataset {dataset!r}: only one class present ({values[:1].tolist()})")
    names = [_label_text(v.item() if hasattr(v, "item") else v) for v in values]
    return y.astype(np.int64), names


def merge_tails(values: np.ndarray, min_count: int) -> tuple[np.ndarray, float, float]:
    """Clip ordinal ``values`` to ``[low, high]`` so that each merged tail has at least ``min_count`` rows.

    ``low`` is the smallest value with at least ``min_count`` rows at or below
    it, ``high`` the largest with at least ``min_count`` rows at or above it.

    Raises
    ------
    ValueError
        A value between ``low`` and ``high`` has fewer than ``min_count`` rows
        (the rule would leave a rare class in the middle).

    Examples
    --------
    >>> merge_tails(np.array([1, 2, 3, 3, 3, 4, 4, 5, 5, 6]), 2)
    (array([2, 2, 3, 3, 3, 4, 4, 5, 5, 5]), 2.0, 5.0)
    """
    original = np.asarray(values)
    values = original.astype(np.float64)
    distinct, counts = np.unique(values, return_counts=True)
    low = distinct[np.argmax(np.cumsum(counts) >= min_count)]
    high = distinct[len(distinct) - 1 - np.argmax(np.cumsum(counts[::-1]) >= min_count)]
    middle = (distinct > low) & (distinct < high)
    if (counts[middle] < min_count).any():
        rare = distinct[middle][counts[middle] < min_count].tolist()
        raise ValueError(f"min_count: values {rare} between the merged tails have fewer than {min_count} rows")
    return np.clip(original, low, high).astype(original.dtype), float(low), float(high)
