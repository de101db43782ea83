"""A user's own CSV, TSV or Parquet file: a target column plus a positive label or a target rule.

Everything is checked when the file is read, before any work, and every error
names the file and the column: a missing target column, a target with a single
class, features that cannot be encoded, missing or infinite numeric features.
Non-numeric feature columns are one-hot encoded (a blank is its own ``?``
category); one *cannot be encoded* when it is

- an identifier or free text: at least :data:`MIN_ID_DISTINCT` distinct values
  making up more than :data:`MAX_DISTINCT_SHARE` of the rows, or, in a file of
  any size, more than :data:`MAX_DISTINCT_SHARE` of the rows holding a value no
  other row has (one-hot would give a column per row, nothing to learn from);
  such a column is refused, never encoded: drop it or encode it yourself,
- wider than :data:`MAX_CATEGORIES` categories (one-hot would need more
  columns than any of the registered datasets has in all),
- numbers written as text with some entries that are not numbers (at least
  :data:`NUMERIC_SHARE` of the values parse as numbers and more than
  :data:`MAX_CATEGORIES_NUMERIC_TEXT` differ): a numeric column with stray
  entries such as ``n/a``, which one-hot encoding would silently turn into
  categories,
- holding nested values (lists, arrays or mappings in a Parquet file).

The file itself is refused when its header repeats a column name (pandas would
rename the second ``a`` to ``a.1`` silently) and when a class of the target has
fewer than :data:`MIN_CLASS_ROWS` rows.

The file's SHA-256 is taken from the bytes that are parsed and recorded in the
entry's source (``info.sources[0].sha256``) and notes; a later read of a file
whose content changed is an :class:`IntegrityError`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import operator
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._base import DatasetError, DatasetInfo, IntegrityError, RawData, Source

_OPS = {"<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt}
_RULE = re.compile(r"^\s*(<=|>=|==|!=|<|>|in)\s*(.+?)\s*$")

#: a text column with at least this many distinct values ...
MIN_ID_DISTINCT = 20
#: ... making up more than this share of the rows is an identifier or free text
MAX_DISTINCT_SHARE = 0.5
#: most categories one text column may one-hot encode into
MAX_CATEGORIES = 200
#: a text column in which at least this share of the values are numbers is a numeric column ...
NUMERIC_SHARE = 0.9
#: ... unless it has at most this many distinct values (codes such as '1', '2', '3' are categories)
MAX_CATEGORIES_NUMERIC_TEXT = 20
#: fewest rows of each target class: the fewest that the smallest protocol (2 stratified folds) can split
MIN_CLASS_ROWS = 2


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


def read_table_sha256(path: Path):
    """The file's table and the SHA-256 of the bytes it was parsed from (one read: no change in between)."""
    import pandas as pd

    if not path.exists():
        raise DatasetError(f"path: no such file {str(path)!r}")
    if path.is_dir():
        raise DatasetError(f"path: {str(path)!r} is a directory, not a data file")
    suffixes = "".join(path.suffixes[-2:]).lower()
    if not suffixes.endswith((".parquet", ".pq", ".csv", ".csv.gz", ".txt", ".tsv", ".tsv.gz")):
        raise DatasetError(f"path: expected a .csv, .csv.gz, .tsv or .parquet file, got {str(path)!r}")
    try:
        data = path.read_bytes()
        buffer = io.BytesIO(data)
        parquet = suffixes.endswith((".parquet", ".pq"))
        sep = "\t" if ".tsv" in suffixes else ","
        gz = "gzip" if suffixes.endswith(".gz") else None
        if parquet:
            frame = pd.read_parquet(buffer)
        else:
            frame = pd.read_csv(buffer, sep=sep, skipinitialspace=True, compression=gz)
        names = frame.columns.tolist() if parquet else _header(data, sep=sep, compression=gz)
    except Exception as exc:  # parser errors of any engine, reported with the file's name
        raise IntegrityError(f"cannot read {path}: {type(exc).__name__}: {exc}") from exc
    repeated = sorted({str(n) for n in names if names.count(n) > 1})
    if repeated:
        raise IntegrityError(
            f"columns: the header of {path} repeats the column name(s) {', '.join(map(repr, repeated))}; "
            "give every column its own name (a reader would rename or drop the second one silently)"
        )
    return frame, hashlib.sha256(data).hexdigest()


def _header(data: bytes, *, sep: str, compression: str | None) -> list[str]:
    """The column names exactly as the header line of a CSV / TSV file writes them (no renaming of repeats)."""
    import pandas as pd

    head = pd.read_csv(io.BytesIO(data), sep=sep, skipinitialspace=True, compression=compression, header=None,
                       nrows=1, dtype=str, keep_default_na=False)  # fmt: skip
    return [str(v) for v in head.iloc[0].tolist()] if len(head) else []


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _check_numeric(values: np.ndarray, col: str, where: str) -> None:
    for bad, what in ((np.isnan(values), "missing"), (np.isinf(values), "infinite")):
        if bad.any():
            raise IntegrityError(
                f"feature: {where}: numeric column {col!r} has {int(bad.sum())} {what} values "
                f"(first at row {_first(bad)}); {'impute them or drop the rows' if what == 'missing' else 'fix them'}"
            )


def _check_text(column, col: str, where: str) -> None:
    """Reject a non-numeric column that one-hot encoding cannot represent (see the module docstring)."""
    import pandas as pd

    is_object = pd.api.types.is_object_dtype(column)
    nested = column.map(lambda v: not pd.api.types.is_scalar(v)).to_numpy(dtype=bool) if is_object else None
    if nested is not None and nested.any():
        raise IntegrityError(
            f"feature: {where}: column {col!r} holds {int(nested.sum())} lists, arrays or mappings (first at row "
            f"{_first(nested)}: {column.iloc[_first(nested)]!r}); nested values cannot be encoded"
        )
    text = column.astype("string").str.strip()
    distinct = text.dropna().unique()
    n, k = len(column), len(distinct)
    present = text.dropna()
    numbers = pd.to_numeric(present, errors="coerce")
    share = float(numbers.notna().mean()) if len(present) else 0.0
    if share >= NUMERIC_SHARE and k > MAX_CATEGORIES_NUMERIC_TEXT:
        odd = sorted(set(present[numbers.isna()].tolist()))[:5]
        why = f"with {int(numbers.isna().sum())} entries that are not numbers, e.g. {odd}" if odd else "stored as text"
        raise IntegrityError(
            f"feature: {where}: column {col!r} holds numbers {why}; it cannot be encoded as categories: "
            "store it as a numeric column (a missing numeric value is an error too: impute it) or drop it"
        )
    counts = present.value_counts()
    single = int((counts == 1).sum())  # rows whose value no other row has
    if k > MAX_CATEGORIES or (k >= MIN_ID_DISTINCT and k > MAX_DISTINCT_SHARE * n) or single > MAX_DISTINCT_SHARE * n:
        raise IntegrityError(
            f"feature: {where}: text column {col!r} has {k:,} distinct values in {n:,} rows, {single:,} of them "
            f"found in one row only (e.g. {[str(v) for v in distinct[:3]]}); an identifier or free text is not "
            f"one-hot encoded (limits: {MAX_CATEGORIES} categories, distinct values in at most "
            f"{MAX_DISTINCT_SHARE:.0%} of the rows, values of one row only in at most {MAX_DISTINCT_SHARE:.0%}); "
            "drop the column or encode it yourself"
        )


def check_features(frame, where: str) -> None:
    """Every feature column numeric and finite, or text that one-hot encoding can represent."""
    import pandas as pd

    if frame.shape[1] == 0:
        raise IntegrityError(f"feature: {where} has no feature columns besides the target")
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_bool_dtype(s):
            continue
        if pd.api.types.is_numeric_dtype(s):
            _check_numeric(s.to_numpy(dtype=np.float64, na_value=np.nan), str(col), where)
        else:
            _check_text(s, str(col), where)


@dataclass(frozen=True)
class FileSource(Source):
    path: Path
    target: str
    positive: str | None = None
    rule: str | None = None
    kind: str = "file"
    sha256: str | None = None  # recorded at the first read; a later read of other content is an error

    def status(self) -> str:
        return "offline" if self.path.exists() else "missing"

    def target_text(self) -> str:
        how = f"== {self.positive!r}" if self.positive is not None else (self.rule or "minority value")
        return f"target column {self.target!r} {how}"

    def describe(self) -> str:
        sha = f" (sha256 {self.sha256})" if self.sha256 else ""
        return f"file {self.path}{sha}, {self.target_text()}"

    def read(self) -> tuple[RawData, str]:
        """The checked data and the SHA-256 of the bytes read."""
        frame, sha = read_table_sha256(self.path)
        if self.sha256 is not None and sha != self.sha256:
            raise IntegrityError(
                f"{self.path}: checksum mismatch: sha256 {sha}, but {self.sha256} when it was first read; "
                "the file changed since"
            )
        if self.positive is not None and self.rule is not None:
            raise DatasetError("give either positive or rule, not both")
        if len(frame) == 0:
            raise IntegrityError(f"{self.path}: no data rows (columns {list(map(str, frame.columns))[:20]})")
        if self.target not in frame.columns:
            raise IntegrityError(
                f"target: column {self.target!r} not in {self.path}; columns are {list(map(str, frame.columns))[:20]}"
            )
        column = frame.pop(self.target)
        y = self._labels(column)
        check_features(frame, str(self.path))
        return RawData(frame, y, str(self.path)), sha

    def load(self, *, download: bool, dataset: str) -> RawData:
        return self.read()[0]

    def _labels(self, column) -> np.ndarray:
        where = f"column {self.target!r} of {self.path}"
        if column.isna().any():
            raise IntegrityError(f"target: {where} has {int(column.isna().sum())} blanks")
        text = column.astype("string").str.strip()
        values = sorted(text.unique())
        if len(values) == 1:
            raise IntegrityError(
                f"target: {where} has a single class ({values[0]!r} in all {len(text):,} rows); a classifier needs two"
            )
        if self.rule is not None:
            y = parse_rule(self.rule)(column)
        elif self.positive is None:
            if len(values) != 2:
                raise DatasetError(
                    f"positive: the target column {self.target!r} has {len(values)} values {values[:10]}; "
                    "name the positive label (positive=...) or give a rule"
                )
            y = (text == text.value_counts().idxmin()).to_numpy(dtype=bool)
        else:
            positive = str(self.positive).strip()
            if positive not in values:
                raise DatasetError(
                    f"positive: label {self.positive!r} not found in column {self.target!r}; values are {values[:10]}"
                )
            y = (text == positive).to_numpy(dtype=bool)
        n_pos = int(np.sum(y))
        if n_pos in (0, len(y)):
            raise IntegrityError(
                f"target: the {'rule' if self.rule is not None else 'positive label'} on {where} leaves a single "
                f"class ({n_pos:,} positive of {len(y):,} rows); a classifier needs two"
            )
        if min(n_pos, len(y) - n_pos) < MIN_CLASS_ROWS:
            raise IntegrityError(
                f"target: too few rows: {where} gives {n_pos:,} positive and {len(y) - n_pos:,} negative rows; "
                f"each class needs at least {MIN_CLASS_ROWS} (one per fold of the smallest protocol, 2 folds)"
            )
        return np.asarray(y, dtype=np.int64)


def file_info(path, target: str, *, positive=None, rule: str | None = None, name: str | None = None) -> DatasetInfo:
    """A registry entry for a user file; rows, minority and IR are measured when it is first read."""
    return read_file(path, target, positive=positive, rule=rule, name=name)[0]


def read_file(
    path, target: str, *, positive=None, rule: str | None = None, name: str | None = None
) -> tuple[DatasetInfo, RawData]:
    """Read and check a user file once: its registry entry and the data it was measured on.

    The entry's source records the file's SHA-256 (``info.sources[0].sha256``,
    also in ``info.notes``); loading the entry again checks it.

    Raises
    ------
    DatasetError
        Naming the file and the column: no such file, unreadable, no target
        column, a single class, features that cannot be encoded, missing or
        infinite numeric features (see the module docstring).
    """
    path = Path(path).expanduser()
    source = FileSource(path, target, None if positive is None else str(positive), rule)
    name = name or path.name.split(".")[0]
    raw, sha = source.read()
    source = dataclasses.replace(source, sha256=sha)
    n_min = int(raw.y.sum())
    n = len(raw.y)
    info = DatasetInfo(
        name=name,
        collection="user",
        title=f"user file {path.name}",
        target_rule=source.target_text(),
        n_rows=n,
        n_features=raw.features.shape[1],
        n_minority=n_min,
        imbalance_ratio=(n - n_min) / n_min,
        features_counted="raw",
        notes=f"{path} sha256 {sha}",
        sources=(source,),
    )
    return info, raw
