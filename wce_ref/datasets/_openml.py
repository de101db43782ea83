"""Datasets fetched from OpenML with scikit-learn's ``fetch_openml`` (which checks the file's MD5 itself)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._base import DatasetInfo, DatasetUnavailableError, RawData, Source
from ._paths import data_home


@dataclass(frozen=True)
class OpenMLSource(Source):
    data_id: int
    target: str
    positive: str
    kind: str = "openml"

    def cache(self):
        return data_home() / "openml" / "openml.org" / "api" / "v1" / "json" / "data"

    def status(self) -> str:
        return "cached" if any(self.cache().glob(f"{self.data_id}*")) else "needs download"

    def describe(self) -> str:
        return f"OpenML data_id {self.data_id} via sklearn.datasets.fetch_openml, cached in {data_home() / 'openml'}"

    def load(self, *, download: bool, dataset: str) -> RawData:
        from sklearn.datasets import fetch_openml

        if not download and self.status() != "cached":
            raise DatasetUnavailableError(
                f"dataset {dataset!r} needs a download from OpenML (data_id {self.data_id}) and downloads are "
                f"disabled; run `wce datasets fetch {dataset}` where the network is reachable"
            )
        try:
            bunch = fetch_openml(
                data_id=self.data_id, data_home=str(data_home()), as_frame=True, parser="auto", n_retries=1, delay=0.1
            )
        except OSError as exc:  # URLError, HTTPError, socket errors
            raise DatasetUnavailableError(
                f"dataset {dataset!r} is not available offline: the download from OpenML (data_id {self.data_id}) "
                f"failed ({exc}). It is skipped, never replaced by other data; run where openml.org is reachable"
            ) from exc
        frame = bunch.frame
        y = (frame[self.target].astype("string").str.strip("'\" ") == self.positive).to_numpy(dtype=np.int64)
        return RawData(frame.drop(columns=[self.target]), y, self.describe())


def entries() -> tuple[DatasetInfo, ...]:
    return (
        DatasetInfo(
            name="creditcard",
            collection="openml",
            title="Credit card fraud detection (ULB, Worldline), September 2013",
            target_rule="Class == 1 (fraud)",
            n_rows=284_807,
            n_features=30,
            n_minority=492,
            imbalance_ratio=577.88,
            ir_decimals=2,
            features_counted="raw",
            reference="Dal Pozzolo et al., Calibrating probability with undersampling for unbalanced classification, "
            "IEEE SSCI 2015; OpenML data_id 1597",
            notes="Needs network access (about 150 MB); offline it is skipped with this message, never faked.",
            sources=(OpenMLSource(1597, "Class", "1"),),
        ),
    )
