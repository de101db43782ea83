"""Small datasets built from scikit-learn's bundled data, made imbalanced in a documented, seeded way.

They need no file and no network: the embedded default of ``wce run`` and the fast tests use them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._base import DatasetInfo, RawData, Source

SEED = 0


def _breast_cancer() -> tuple[np.ndarray, np.ndarray, list[str]]:
    from sklearn.datasets import load_breast_cancer

    b = load_breast_cancer()
    malignant = b.target == 0
    rng = np.random.default_rng(SEED)
    keep_malignant = rng.choice(np.flatnonzero(malignant), size=36, replace=False)
    keep = np.sort(np.concatenate([np.flatnonzero(~malignant), keep_malignant]))
    return b.data[keep], malignant[keep].astype(np.int64), list(b.feature_names)


def _digits_0() -> tuple[np.ndarray, np.ndarray, list[str]]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data, (d.target == 0).astype(np.int64), [f"pixel{i}" for i in range(d.data.shape[1])]


def _synthetic(n: int, weight: float, n_features: int) -> Callable[[], tuple[np.ndarray, np.ndarray, list[str]]]:
    def make():
        from sklearn.datasets import make_classification

        X, y = make_classification(
            n_samples=n,
            n_features=n_features,
            n_informative=max(2, n_features // 3),
            n_redundant=2,
            weights=[weight],
            flip_y=0.0,
            class_sep=1.0,
            random_state=SEED,
        )
        return X, y.astype(np.int64), [f"x{i}" for i in range(n_features)]

    return make


#: the four class counts of the seed question (docs/recipes.md, recipe 1)
SEED4_COUNTS = (198, 436, 710, 272)


def _seed4() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Four classes with the seed question's counts: a balanced ``make_classification``, subsampled per class."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=4000,
        n_features=10,
        n_informative=5,
        n_redundant=2,
        n_classes=4,
        n_clusters_per_class=1,
        flip_y=0.0,
        class_sep=1.0,
        random_state=SEED,
    )
    rng = np.random.default_rng(SEED)
    keep = np.sort(
        np.concatenate([rng.choice(np.flatnonzero(y == c), size=n, replace=False) for c, n in enumerate(SEED4_COUNTS)])
    )
    return X[keep], y[keep].astype(np.int64), [f"x{i}" for i in range(X.shape[1])]


@dataclass(frozen=True)
class BuiltinSource(Source):
    make: Callable[[], tuple[np.ndarray, np.ndarray, list[str]]]
    recipe: str
    kind: str = "built-in"

    def status(self) -> str:
        try:
            import sklearn  # noqa: F401
        except ImportError:
            return "missing"
        return "offline"

    def describe(self) -> str:
        return f"built-in: {self.recipe}"

    def load(self, *, download: bool, dataset: str) -> RawData:
        import pandas as pd

        X, y, names = self.make()
        return RawData(pd.DataFrame(X, columns=names), y, self.describe())


def _entry(name, title, rule, rows, feats, minority, recipe, make) -> DatasetInfo:
    return DatasetInfo(
        name=name,
        collection="builtin",
        title=title,
        target_rule=rule,
        n_rows=rows,
        n_features=feats,
        n_minority=minority,
        imbalance_ratio=round((rows - minority) / minority, 2),
        ir_decimals=2,
        features_counted="raw",
        sources=(BuiltinSource(make, recipe),),
    )


def _seed4_entry() -> DatasetInfo:
    counts = SEED4_COUNTS
    return DatasetInfo(
        name="seed4",
        collection="builtin",
        title="Four classes with the seed question's counts 198 / 436 / 710 / 272",
        target_rule="class index 0..3 of make_classification",
        n_rows=sum(counts),
        n_features=10,
        n_minority=min(counts),
        imbalance_ratio=round(max(counts) / min(counts), 2),
        ir_decimals=2,
        features_counted="raw",
        notes="docs/recipes.md recipe 1: the class counts whose weighted cross entropy the seed question asks about",
        sources=(
            BuiltinSource(
                _seed4,
                f"make_classification(n_samples=4000, n_features=10, n_informative=5, n_redundant=2, n_classes=4, "
                f"n_clusters_per_class=1, flip_y=0, random_state={SEED}); per class, {list(counts)} rows drawn "
                f"without replacement with numpy default_rng({SEED}).choice (class 0 first)",
            ),
        ),
        task="multiclass",
        n_classes=4,
        class_counts=counts,
    )


def entries() -> tuple[DatasetInfo, ...]:
    return (
        _seed4_entry(),
        _entry(
            "breast_cancer_imb",
            "Wisconsin breast cancer, malignant subsampled",
            "malignant (sklearn target 0)",
            393,
            30,
            36,
            f"sklearn load_breast_cancer; all 357 benign + 36 malignant drawn with numpy default_rng({SEED}).choice",
            _breast_cancer,
        ),
        _entry(
            "digits_0",
            "Handwritten digits, 0 vs rest",
            "digit == 0",
            1797,
            64,
            178,
            "sklearn load_digits; digit 0 positive",
            _digits_0,
        ),
        _entry(
            "synthetic",
            "Synthetic, IR 19",
            "class 1 of make_classification",
            4000,
            20,
            200,
            f"make_classification(n_samples=4000, n_features=20, n_informative=6, n_redundant=2, weights=[0.95], "
            f"flip_y=0, random_state={SEED})",
            _synthetic(4000, 0.95, 20),
        ),
        _entry(
            "synthetic_small",
            "Synthetic, small, IR 9 (for smoke tests)",
            "class 1 of make_classification",
            600,
            8,
            59,
            f"make_classification(n_samples=600, n_features=8, n_informative=2, n_redundant=2, "
            f"weights=[0.9], flip_y=0, random_state={SEED})",
            _synthetic(600, 0.9, 8),
        ),
    )
