"""The dataset record, the loaded dataset and the errors of ``wce_ref.datasets``."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import WCEInputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: availability states, best first
AVAILABILITY = ("offline", "cached", "needs download", "broken", "missing")


class DatasetError(WCEInputError):
    """A dataset cannot be found, read or trusted; the message names it and says why."""


class UnknownDatasetError(DatasetError, KeyError):
    """The name is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class IntegrityError(DatasetError):
    """A file's content differs from what was recorded (checksum, truncation, missing column)."""


class DatasetUnavailableError(DatasetError):
    """The dataset needs a download that is not possible here (offline, or downloads disabled)."""


#: dataset tasks: two classes (1 = minority), several classes, several classes with a long-tailed training part
TASKS = ("binary", "multiclass", "longtail")


@dataclass
class RawData:
    """What a source returns before encoding: a feature table and the target.

    Binary targets are 0/1 (1 = minority); multiclass targets are int64 class
    indices ``0..C-1`` in sorted label order, ``class_names`` the original
    labels; ``test_mask`` marks a fixed test part (the long-tailed sets).
    """

    features: pd.DataFrame
    y: np.ndarray
    origin: str  # where it came from, e.g. the verified file path
    n_raw_features: int | None = None
    class_names: list[str] | None = None
    test_mask: np.ndarray | None = None


class Source(abc.ABC):
    """One way of obtaining a dataset (a mirror file, a package, a download)."""

    kind: str = "source"

    @abc.abstractmethod
    def status(self) -> str:
        """One of :data:`AVAILABILITY`, without touching the network."""

    @abc.abstractmethod
    def load(self, *, download: bool, dataset: str) -> RawData:
        """Read the data for registry entry ``dataset``; ``download=False`` forbids network access."""

    def describe(self) -> str:
        return self.kind


@dataclass(frozen=True)
class DatasetInfo:
    """A registry entry: what the dataset is, as published, and where to get it.

    ``imbalance_ratio`` is the published majority/minority ratio, given to
    ``ir_decimals`` decimals; ``n_minority`` is ``None`` where the source
    publishes no count. ``features_counted`` says whether ``n_features`` counts
    the raw columns or the columns after one-hot encoding.

    ``family`` is the original data set the entry was cut from (default: derived from the name by
    :func:`~._families.family_of`); ``duplicate_of`` names the entry of another collection that publishes
    the same task, which the suites' statistics count in its place.

    ``task`` is one of :data:`TASKS`. For ``multiclass`` and ``longtail``
    entries ``n_classes`` is C, ``class_counts`` the published per-class counts
    in class-index order (where known), ``imbalance_ratio`` the largest over the
    smallest class count and ``n_minority`` the smallest class count. For
    ``longtail`` entries these describe the long-tailed training part (the
    rows outside the loaded dataset's ``test_mask``).
    """

    name: str
    collection: str
    title: str
    target_rule: str
    n_rows: int
    n_features: int
    imbalance_ratio: float
    ir_decimals: int = 2
    n_minority: int | None = None
    features_counted: str = "encoded"
    reference: str = ""
    notes: str = ""
    sources: tuple[Source, ...] = field(default=(), compare=False, repr=False)
    task: str = "binary"
    n_classes: int = 2
    class_counts: tuple[int, ...] | None = None
    family: str = ""
    duplicate_of: str = ""

    def __post_init__(self) -> None:
        from ._families import DUPLICATES, family_of

        if not self.family:  # frozen: set once, from the name's family (``_families``)
            object.__setattr__(self, "family", family_of(self.name))
        if not self.duplicate_of and self.name in DUPLICATES:
            object.__setattr__(self, "duplicate_of", DUPLICATES[self.name])
        if self.task not in TASKS:
            raise ValueError(f"task: dataset {self.name!r} has task {self.task!r}; expected one of {TASKS}")
        if self.class_counts is not None and len(self.class_counts) != self.n_classes:
            raise ValueError(
                f"class_counts: dataset {self.name!r} gives {len(self.class_counts)} counts for "
                f"n_classes={self.n_classes}"
            )

    def availability(self) -> str:
        states = [s.status() for s in self.sources] or ["missing"]
        return min(states, key=AVAILABILITY.index)

    def counts_text(self) -> str:
        """The class counts as ``a / b / c``, ``-`` where unknown."""
        return "-" if self.class_counts is None else " / ".join(f"{c:,}" for c in self.class_counts)

    def card(self) -> str:
        """A human-readable description (``wce datasets show NAME``)."""
        lines = [
            f"{self.name} — {self.title}",
            f"  collection     {self.collection}",
            f"  task           {self.task}",
            f"  target         {self.target_rule}",
            f"  rows           {self.n_rows:,}",
            f"  features       {self.n_features} ({self.features_counted})",
        ]
        if self.task == "binary":
            lines.append(
                f"  minority       {self.n_minority:,}" if self.n_minority is not None else "  minority       -"
            )
        else:
            lines.append(f"  classes        {self.n_classes}")
            part = " (training part)" if self.task == "longtail" else ""
            lines.append(f"  class counts   {self.counts_text()}{part}")
        lines += [
            f"  IR (published) {self.imbalance_ratio:.{self.ir_decimals}f}"
            + ("" if self.task == "binary" else " (largest / smallest class)"),
            f"  availability   {self.availability()}",
        ]
        for i, s in enumerate(self.sources, 1):
            lines.append(f"  source {i}       {s.describe()} [{s.status()}]")
        if self.reference:
            lines.append(f"  reference      {self.reference}")
        if self.notes:
            lines.append(f"  notes          {self.notes}")
        return "\n".join(lines)


@dataclass
class Dataset:
    """A loaded dataset: float64 features ``X`` (n, d) and int64 labels ``y``.

    Binary: ``y`` in {0, 1}, 1 = minority. Multiclass / long-tailed: ``y`` in
    ``0..C-1`` (classes in sorted label order), ``class_names`` the original
    labels. ``test_mask`` (long-tailed sets) marks the fixed, balanced test
    part: ``X[~test_mask]`` is the long-tailed training part.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    info: DatasetInfo
    origin: str
    n_raw_features: int
    class_names: list[str] = field(default_factory=list)
    test_mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not self.class_names:
            self.class_names = [str(i) for i in range(self.info.n_classes)]

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def class_counts(self) -> np.ndarray:
        """Rows per class, in class-index order (``np.bincount(y)``, length ``n_classes``)."""
        return np.bincount(self.y, minlength=self.n_classes)

    @property
    def train_class_counts(self) -> np.ndarray:
        """Rows per class outside ``test_mask`` (all rows when there is no fixed test part)."""
        y = self.y if self.test_mask is None else self.y[~self.test_mask]
        return np.bincount(y, minlength=self.n_classes)

    @property
    def n_minority(self) -> int:
        """Binary: the positive (minority) rows; multiclass: the smallest class count (of the training part)."""
        return int(self.y.sum()) if self.info.task == "binary" else int(self.train_class_counts.min())

    @property
    def imbalance_ratio(self) -> float:
        """Binary: majority / minority rows; multiclass: largest / smallest class count.

        For a long-tailed set (``test_mask`` set) the ratio of its training part.
        """
        if self.info.task == "binary":
            return (self.n_rows - self.n_minority) / self.n_minority
        counts = self.train_class_counts
        return float(counts.max() / counts.min())

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.info.name,
            "task": self.info.task,
            "classes": self.n_classes,
            "class_counts": self.class_counts.tolist(),
            "rows": self.n_rows,
            "features": int(self.X.shape[1]),
            "minority": self.n_minority,
            "IR": round(self.imbalance_ratio, 2),
            "origin": self.origin,
        }


def encode_features(frame: pd.DataFrame, *, name: str) -> tuple[np.ndarray, list[str]]:
    """Numeric columns as float64; categorical (object/string/category/bool) columns one-hot encoded.

    One-hot columns are named ``column=value``, values sorted; a missing
    categorical value (NaN, or ``?`` in UCI files) becomes its own ``column=?``
    category. Missing numeric values are an error: imputation is a modelling
    choice left to the pipeline.
    """
    import pandas as pd

    parts, names = [], []
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            s = s.astype("string").str.strip().fillna("?")
            for value in sorted(s.unique()):
                parts.append((s == value).to_numpy(dtype=np.float64))
                names.append(f"{col}={value}")
        else:
            values = s.to_numpy(dtype=np.float64)
            if np.isnan(values).any():
                raise DatasetError(
                    f"dataset {name!r}: numeric column {col!r} has {int(np.isnan(values).sum())} missing values"
                )
            if np.isinf(values).any():
                raise DatasetError(
                    f"dataset {name!r}: numeric column {col!r} has {int(np.isinf(values).sum())} infinite values "
                    f"(first at row {int(np.flatnonzero(np.isinf(values))[0])})"
                )
            parts.append(values)
            names.append(str(col))
    X = np.column_stack(parts) if parts else np.empty((len(frame), 0))
    return X, names


def _check_shape(info: DatasetInfo, origin: str, n_rows: int, n_features: int) -> None:
    """Rows and columns as the registry records them: a file re-recorded after tampering still fails here."""
    if (n_rows, n_features) != (info.n_rows, info.n_features):
        raise IntegrityError(
            f"dataset {info.name!r} from {origin}: {n_rows:,} rows x {n_features} features "
            f"({info.features_counted}), but the registry records {info.n_rows:,} x {info.n_features}; "
            "the file is truncated, modified or a different version"
        )


def _check_labels(info: DatasetInfo, raw: RawData) -> np.ndarray:
    """The target as int64: 0/1 with both present (binary), or ``0..C-1`` with every class present."""
    y = np.asarray(raw.y)
    where = f"dataset {info.name!r} from {raw.origin}"
    if y.ndim != 1 or len(y) != len(raw.features):
        raise IntegrityError(f"{where}: {len(y)} labels for {len(raw.features)} rows")
    classes = np.arange(info.n_classes)
    if not np.isin(y, classes).all():
        expected = "0/1" if info.task == "binary" else f"class indices 0..{info.n_classes - 1}"
        raise IntegrityError(f"{where}: labels must be {expected}, got {np.unique(y)[:5]}")
    y = y.astype(np.int64)
    counts = np.bincount(y, minlength=info.n_classes)
    if info.task == "binary" and (y.sum() == 0 or y.sum() == len(y)):
        raise IntegrityError(f"{where}: only one class present after the target rule")
    if (counts == 0).any():
        raise IntegrityError(f"{where}: classes {np.flatnonzero(counts == 0).tolist()} have no rows")
    if raw.test_mask is not None:
        if np.shape(raw.test_mask) != y.shape:
            raise IntegrityError(f"{where}: test_mask of shape {np.shape(raw.test_mask)} for {len(y)} rows")
        counts = np.bincount(y[~np.asarray(raw.test_mask, dtype=bool)], minlength=info.n_classes)
    if info.class_counts is not None and tuple(counts.tolist()) != tuple(info.class_counts):
        raise IntegrityError(
            f"{where}: class counts {counts.tolist()}, but the registry records {list(info.class_counts)}; "
            "the file is modified or a different version"
        )
    if raw.class_names is not None and len(raw.class_names) != info.n_classes:
        raise IntegrityError(f"{where}: {len(raw.class_names)} class names for {info.n_classes} classes")
    return y


def finish(info: DatasetInfo, raw: RawData) -> Dataset:
    """Encode, validate and wrap what a source returned."""
    y = _check_labels(info, raw)
    X, names = encode_features(raw.features, name=info.name)
    n_raw = raw.n_raw_features if raw.n_raw_features is not None else raw.features.shape[1]
    _check_shape(info, raw.origin, len(y), X.shape[1] if info.features_counted == "encoded" else n_raw)
    mask = None if raw.test_mask is None else np.asarray(raw.test_mask, dtype=bool)
    return Dataset(
        X=X,
        y=y,
        feature_names=names,
        info=info,
        origin=raw.origin,
        n_raw_features=n_raw,
        class_names=[str(c) for c in raw.class_names] if raw.class_names is not None else [],
        test_mask=mask,
    )
