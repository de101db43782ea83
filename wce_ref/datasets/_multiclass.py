"""Multiclass targets of the mirror's files and the long-tailed sets built from them.

Mirror targets (``mc_<name>``): wine quality's grades, the digits' and letters'
classes, abalone's rings with the rare tails merged (:func:`merge_tails`).

Long-tailed sets (``lt_<base>_ir<IR>``) follow CIFAR-10-LT (Cao et al., LDAM,
NeurIPS 2019; Cui et al., class-balanced loss, CVPR 2019): class ``i`` (in
class-index order) keeps

.. math::

    n_i = \\left\\lfloor n_{\\max} \\, \\mathrm{IR}^{-i / (C - 1)} \\right\\rfloor

training rows, drawn with a seed from what is left of the base after a
balanced test part (``n_test`` rows per class, also seeded) is set aside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._base import DatasetInfo, RawData, Source
from ._classes import encode_classes, merge_tails
from ._mirror import MIRROR, MirrorSource, Reader, _read_csv, _split_last

#: every class of ``mc_abalone`` keeps at least this many rows (the rare ring tails are merged)
ABALONE_MIN_COUNT = 25
#: seed of the long-tailed sets' test part and training subsample
LT_SEED = 0


def last_column_classes(n_columns: int) -> Reader:
    """Headerless CSV, ``n_columns`` including the class label in the last column; every label is a class."""

    def read(blobs: Sequence[bytes], dataset: str, origin: str) -> RawData:
        frame = _read_csv(blobs[0], dataset=dataset, origin=origin, header=None, skipinitialspace=True)
        features, label = _split_last(frame, dataset, origin, n_columns)
        y, names = encode_classes(label.to_numpy(dtype=object), dataset=dataset)
        return RawData(features, y, origin, class_names=names)

    return read


def read_abalone_rings(blobs: Sequence[bytes], dataset: str, origin: str) -> RawData:
    """Abalone's rings as classes; the tails below / above the first ring value with 25 rows merged."""
    frame = _read_csv(blobs[0], dataset=dataset, origin=origin, header=None)
    features, rings = _split_last(frame, dataset, origin, 9)
    merged, low, high = merge_tails(rings.to_numpy(dtype=np.int64), ABALONE_MIN_COUNT)
    y, names = encode_classes(merged, dataset=dataset)
    names[0], names[-1] = f"<={int(low)}", f">={int(high)}"
    return RawData(features.rename(columns={"x0": "sex"}), y, origin, n_raw_features=8, class_names=names)


def _like(name: str, reader: Reader) -> MirrorSource:
    """The binary entry's verified mirror files, read with a multiclass reader."""
    return MirrorSource(MIRROR[name].folder, MIRROR[name].files, reader)


#: registry name -> (mirror source, title, target rule, rows, raw features, class counts, reference)
MIRROR_TARGETS: dict[str, tuple[MirrorSource, str, str, int, int, tuple[int, ...], str]] = {
    "mc_wine_quality": (
        _like("wine_quality", last_column_classes(12)),
        "UCI wine quality (white), 7 grades",
        "quality grade 3..9, each grade a class",
        4898,
        11,
        (20, 163, 1457, 2198, 880, 175, 5),
        "Cortez et al., Decision Support Systems 47 (2009); UCI wine quality",
    ),
    "mc_optical_digits": (
        _like("optical_digits", last_column_classes(65)),
        "UCI optical digits (KEEL optdigits), 10 digits",
        "digit 0..9",
        5620,
        64,
        (554, 571, 557, 572, 568, 558, 558, 566, 554, 562),
        "Alpaydin & Kaynak; UCI optical recognition of handwritten digits (KEEL copy)",
    ),
    "mc_pen_digits": (
        _like("pen_digits", last_column_classes(17)),
        "UCI pen-based digits (KEEL penbased), 10 digits",
        "digit 0..9",
        10992,
        16,
        (1143, 1143, 1144, 1055, 1144, 1055, 1056, 1142, 1055, 1055),
        "Alpaydin & Alimoglu; UCI pen-based recognition of handwritten digits (KEEL copy)",
    ),
    "mc_letter": (
        _like("letter_img", last_column_classes(17)),
        "UCI letter recognition (KEEL letter), 26 letters",
        "letter A..Z",
        20000,
        16,
        (789, 766, 736, 805, 768, 775, 773, 734, 755, 747, 739, 761, 792)
        + (783, 753, 803, 783, 758, 748, 796, 813, 764, 752, 787, 786, 734),
        "Frey & Slate, Machine Learning 6 (1991); UCI letter recognition (KEEL copy)",
    ),
    "mc_abalone": (
        _like("abalone", read_abalone_rings),
        "UCI abalone, rings with the rare tails merged (18 classes)",
        f"rings; rings <= 4 and rings >= 21 merged (each tail merged up to the first ring value with at least "
        f"{ABALONE_MIN_COUNT} rows at or beyond it; every ring between has at least {ABALONE_MIN_COUNT})",
        4177,
        8,
        (74, 115, 259, 391, 568, 689, 634, 487, 267, 203, 126, 103, 67, 58, 42, 32, 26, 36),
        "Nash et al., UCI abalone (1994); sex one-hot encoded",
    ),
}


def mirror_entries() -> list[DatasetInfo]:
    out = []
    for name, (source, title, rule, rows, feats, counts, reference) in MIRROR_TARGETS.items():
        out.append(
            DatasetInfo(
                name=name,
                collection="mirror",
                title=title,
                target_rule=rule,
                n_rows=rows,
                n_features=feats,
                imbalance_ratio=round(max(counts) / min(counts), 2),
                ir_decimals=2,
                n_minority=min(counts),
                features_counted="raw",
                reference=reference,
                notes="classes in sorted label order (numbers as numbers)",
                sources=(source,),
                task="multiclass",
                n_classes=len(counts),
                class_counts=counts,
            )
        )
    return out


def longtail_counts(n_max: int, ir: float, n_classes: int) -> list[int]:
    """CIFAR-10-LT training counts: ``floor(n_max * ir ** (-i / (C - 1)))`` for class ``i``.

    >>> longtail_counts(500, 10, 4)
    [500, 232, 107, 50]
    """
    return [int(n_max * ir ** (-i / (n_classes - 1))) for i in range(n_classes)]


def longtail_indices(
    y: np.ndarray, train_counts: Sequence[int], n_test: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a long-tailed training part and a balanced test part, both drawn with ``seed``.

    The test part (``n_test`` per class) is drawn first with imbalanced-learn's
    :class:`~imblearn.under_sampling.RandomUnderSampler`; the training part
    (``train_counts[i]`` of class ``i``) is then drawn the same way from the rest.
    Returns sorted row indices ``(train, test)``.
    """
    from imblearn.under_sampling import RandomUnderSampler

    def draw(rows: np.ndarray, counts: dict[int, int]) -> np.ndarray:
        sampler = RandomUnderSampler(sampling_strategy=counts, random_state=seed)
        sampler.fit_resample(rows.reshape(-1, 1), y[rows])
        return np.sort(rows[sampler.sample_indices_])

    classes = range(len(train_counts))
    test = draw(np.arange(len(y)), {c: n_test for c in classes})
    rest = np.setdiff1d(np.arange(len(y)), test)
    train = draw(rest, {c: int(n) for c, n in zip(classes, train_counts, strict=True)})
    return train, test


@dataclass(frozen=True)
class LongTailSource(Source):
    """A long-tailed training part and a balanced test part drawn from a multiclass base's source."""

    base: str
    base_source: Source
    n_max: int
    ir: float
    n_test: int
    n_classes: int
    seed: int = LT_SEED
    kind: str = "long-tailed"

    def status(self) -> str:
        return self.base_source.status()

    def describe(self) -> str:
        counts = longtail_counts(self.n_max, self.ir, self.n_classes)
        return (
            f"long-tailed from {self.base} (n_i = floor({self.n_max} * {self.ir:g}^(-i/{self.n_classes - 1})) "
            f"training rows of class i: {counts}; balanced test part {self.n_test} per class; "
            f"imblearn RandomUnderSampler(random_state={self.seed}), test part first) <- {self.base_source.describe()}"
        )

    def load(self, *, download: bool, dataset: str) -> RawData:
        raw = self.base_source.load(download=download, dataset=dataset)
        counts = longtail_counts(self.n_max, self.ir, self.n_classes)
        train, test = longtail_indices(np.asarray(raw.y), counts, self.n_test, self.seed)
        rows = np.concatenate([train, test])
        mask = np.zeros(len(rows), dtype=bool)
        mask[len(train) :] = True
        order = np.argsort(rows, kind="stable")
        rows, mask = rows[order], mask[order]
        features = raw.features.iloc[rows].reset_index(drop=True)
        return RawData(
            features,
            np.asarray(raw.y)[rows],
            f"{self.describe()}",
            n_raw_features=raw.n_raw_features,
            class_names=raw.class_names,
            test_mask=mask,
        )


#: base -> (n_max, balanced test rows per class); bases with at least n_max + n_test rows in every class
LT_BASES: dict[str, tuple[int, int]] = {
    "pen_digits": (700, 300),
    "optical_digits": (400, 150),
    "letter": (500, 200),
}
LT_IRS = (10, 100)


def longtail_entries() -> list[DatasetInfo]:
    out = []
    for base, (n_max, n_test) in LT_BASES.items():
        source, title, _, _, feats, base_counts, reference = MIRROR_TARGETS[f"mc_{base}"]
        n_classes = len(base_counts)
        for ir in LT_IRS:
            counts = tuple(longtail_counts(n_max, ir, n_classes))
            lt = LongTailSource(f"mc_{base}", source, n_max, ir, n_test, n_classes)
            out.append(
                DatasetInfo(
                    name=f"lt_{base}_ir{ir}",
                    collection="longtail",
                    title=f"{title}, long-tailed IR {ir} (CIFAR-10-LT construction)",
                    target_rule=f"the classes of mc_{base}",
                    n_rows=sum(counts) + n_test * n_classes,
                    n_features=feats,
                    imbalance_ratio=round(max(counts) / min(counts), 2),
                    ir_decimals=2,
                    n_minority=min(counts),
                    features_counted="raw",
                    reference=f"Cao et al., LDAM, NeurIPS 2019 (CIFAR-10-LT); base: {reference}",
                    notes=(
                        f"training part (test_mask False): the class counts shown (n_max {n_max}, target IR {ir}); "
                        f"test part (test_mask True): {n_test} rows of every class, drawn first; seed {LT_SEED}; "
                        f"rows {sum(counts):,} + {n_test * n_classes:,}"
                    ),
                    sources=(lt,),
                    task="longtail",
                    n_classes=n_classes,
                    class_counts=counts,
                )
            )
    return out
