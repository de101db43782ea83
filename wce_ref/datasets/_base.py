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


@dataclass
class RawData:
    """What a source returns before encoding: a feature table and a 0/1 target."""

    features: pd.DataFrame
    y: np.ndarray
    origin: str  # where it came from, e.g. the verified file path
    n_raw_features: int | None = None


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

    def availability(self) -> str:
        states = [s.status() for s in self.sources] or ["missing"]
        return min(states, key=AVAILABILITY.index)

    def card(self) -> str:
        """A human-readable description (``wce datasets show NAME``)."""
        lines = [
            f"{self.name} — {self.title}",
            f"  collection     {self.collection}",
            f"  target         {self.target_rule}",
            f"  rows           {self.n_rows:,}",
            f"  features       {self.n_features} ({self.features_counted})",
            f"  minority       {self.n_minority:,}" if self.n_minority is not None else "  minority       -",
            f"  IR (published) {self.imbalance_ratio:.{self.ir_decimals}f}",
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
    """A loaded binary dataset: float64 features ``X`` (n, d), labels ``y`` in {0, 1}, 1 = minority."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    info: DatasetInfo
    origin: str
    n_raw_features: int

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_minority(self) -> int:
        return int(self.y.sum())

    @property
    def imbalance_ratio(self) -> float:
        return (self.n_rows - self.n_minority) / self.n_minority

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.info.name,
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


def finish(info: DatasetInfo, raw: RawData) -> Dataset:
    """Encode, validate and wrap what a source returned."""
    y = np.asarray(raw.y)
    if y.ndim != 1 or len(y) != len(raw.features):
        raise IntegrityError(f"dataset {info.name!r} from {raw.origin}: {len(y)} labels for {len(raw.features)} rows")
    if not np.isin(y, (0, 1)).all():
        raise IntegrityError(f"dataset {info.name!r} from {raw.origin}: labels must be 0/1, got {np.unique(y)[:5]}")
    y = y.astype(np.int64)
    if y.sum() == 0 or y.sum() == len(y):
        raise IntegrityError(f"dataset {info.name!r} from {raw.origin}: only one class present after the target rule")
    X, names = encode_features(raw.features, name=info.name)
    n_raw = raw.n_raw_features if raw.n_raw_features is not None else raw.features.shape[1]
    _check_shape(info, raw.origin, len(y), X.shape[1] if info.features_counted == "encoded" else n_raw)
    return Dataset(X=X, y=y, feature_names=names, info=info, origin=raw.origin, n_raw_features=n_raw)
