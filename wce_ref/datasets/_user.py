"""A user's own CSV or Parquet file: a target column plus a positive label or a target rule."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._base import DatasetError, DatasetInfo, IntegrityError, RawData, Source

_OPS = {"<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt}
_RULE = re.compile(r"^\s*(<=|>=|==|!=|<|>|in)\s*(.+?)\s*$")


def parse_rule(rule: str):
    """``'<= 4'``, ``'== Z'``, ``'in a,b'`` -> a function of the target column returning the positive mask."""
    m = _RULE.match(rule)
    if not m:
        raise DatasetError(f"rule must look like '<= 4', '== Z' or 'in a,b', got {rule!r}")
    op, raw = m.groups()

    def apply(column) -> np.ndarray:
        import pandas as pd

        if op == "in":
            wanted = {v.strip() for v in raw.split(",")}
            return column.astype("string").str.strip().isin(wanted).to_numpy(dtype=bool)
        if pd.api.types.is_numeric_dtype(column):
            try:
                value = float(raw)
            except ValueError as exc:
                raise DatasetError(f"rule {rule!r}: the target column is numeric but {raw!r} is not a number") from exc
            return _OPS[op](column.to_numpy(dtype=np.float64), value)
        return _OPS[op](column.astype("string").str.strip().to_numpy(dtype=object), raw)

    return apply


def read_table(path: Path):
    import pandas as pd

    if not path.exists():
        raise DatasetError(f"path: no such file {str(path)!r}")
    suffixes = "".join(path.suffixes[-2:]).lower()
    try:
        if suffixes.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        if suffixes.endswith((".csv", ".csv.gz", ".txt", ".tsv", ".tsv.gz")):
            return pd.read_csv(path, sep="\t" if ".tsv" in suffixes else ",", skipinitialspace=True)
    except Exception as exc:  # parser errors of any engine, reported with the file's name
        raise IntegrityError(f"cannot read {path}: {type(exc).__name__}: {exc}") from exc
    raise DatasetError(f"path: expected a .csv, .csv.gz, .tsv or .parquet file, got {str(path)!r}")


@dataclass(frozen=True)
class FileSource(Source):
    path: Path
    target: str
    positive: str | None = None
    rule: str | None = None
    kind: str = "file"

    def status(self) -> str:
        return "offline" if self.path.exists() else "missing"

    def describe(self) -> str:
        how = f"== {self.positive!r}" if self.positive is not None else (self.rule or "minority value")
        return f"file {self.path}, target column {self.target!r} {how}"

    def load(self, *, download: bool, dataset: str) -> RawData:
        frame = read_table(self.path)
        if self.target not in frame.columns:
            raise IntegrityError(
                f"target: column {self.target!r} not in {self.path}; columns are {list(map(str, frame.columns))[:20]}"
            )
        column = frame.pop(self.target)
        if column.isna().any():
            raise IntegrityError(f"target: column {self.target!r} of {self.path} has {int(column.isna().sum())} blanks")
        if self.positive is not None and self.rule is not None:
            raise DatasetError("give either positive or rule, not both")
        if self.rule is not None:
            y = parse_rule(self.rule)(column)
        else:
            text = column.astype("string").str.strip()
            values = sorted(text.unique())
            if self.positive is None:
                if len(values) != 2:
                    raise DatasetError(
                        f"positive: the target column {self.target!r} has {len(values)} values {values[:10]}; "
                        "name the positive label (positive=...) or give a rule"
                    )
                counts = text.value_counts()
                positive = counts.idxmin()
            else:
                positive = str(self.positive).strip()
                if positive not in values:
                    raise DatasetError(
                        f"positive: label {self.positive!r} not found in column {self.target!r}; "
                        f"values are {values[:10]}"
                    )
            y = (text == positive).to_numpy(dtype=bool)
        return RawData(frame, np.asarray(y, dtype=np.int64), str(self.path))


def file_info(path, target: str, *, positive=None, rule: str | None = None, name: str | None = None) -> DatasetInfo:
    """A registry entry for a user file; rows, minority and IR are measured when it is first read."""
    return read_file(path, target, positive=positive, rule=rule, name=name)[0]


def read_file(
    path, target: str, *, positive=None, rule: str | None = None, name: str | None = None
) -> tuple[DatasetInfo, RawData]:
    """Read a user file once: its registry entry and the data it was measured on."""
    path = Path(path).expanduser()
    source = FileSource(path, target, None if positive is None else str(positive), rule)
    name = name or path.name.split(".")[0]
    raw = source.load(download=False, dataset=name)
    n_min = int(raw.y.sum())
    n = len(raw.y)
    if n_min == 0 or n_min == n:
        raise DatasetError(f"target: the rule on column {target!r} of {path} leaves only one class ({n} rows)")
    info = DatasetInfo(
        name=name,
        collection="user",
        title=f"user file {path.name}",
        target_rule=source.describe().split(", ", 1)[1],
        n_rows=n,
        n_features=raw.features.shape[1],
        n_minority=n_min,
        imbalance_ratio=(n - n_min) / n_min,
        features_counted="raw",
        sources=(source,),
    )
    return info, raw
