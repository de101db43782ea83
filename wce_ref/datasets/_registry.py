"""The registry: every dataset the project knows, in one table.

To add a dataset, write (or reuse) a :class:`~wce_ref.datasets._base.Source`
and add one :class:`DatasetInfo` line to a collection below (or call
:func:`register` at run time).
"""

from __future__ import annotations

import functools
import threading

from . import _builtin, _keel, _keel_multiclass, _multiclass, _openml
from ._base import DatasetInfo, UnknownDatasetError
from ._mirror import MIRROR
from ._zenodo import ZENODO_TABLE, ZENODO_URL, ZenodoSource

ZENODO_REFERENCE = (
    "Ding, Diversified ensemble classifiers for highly imbalanced data learning (2011); "
    f"imbalanced-learn benchmark, {ZENODO_URL}"
)
#: figures verified on the offline copies (../shared/datasets/README.md): rows, features, minority, IR (2 decimals)
MIRROR_FIGURES = {
    "optical_digits": (5620, 64, 554, 9.14),
    "pen_digits": (10992, 16, 1055, 9.42),
    "abalone": (4177, 10, 391, 9.68),
    "abalone_19": (4177, 10, 32, 129.5),
    "us_crime": (1994, 100, 150, 12.29),
    "yeast_ml8": (2417, 103, 178, 12.58),
    "oil": (937, 49, 41, 21.85),
    "wine_quality": (4898, 11, 183, 25.77),
    "letter_img": (20000, 16, 734, 26.25),
    "mammography": (11183, 6, 260, 42.01),
}


def _zenodo() -> list[DatasetInfo]:
    out = []
    for zid, name, target, ratio, decimals, rows, feats in ZENODO_TABLE:
        sources = (ZenodoSource(zid, name),)
        minority, notes = None, ""
        if name in MIRROR:
            sources = (MIRROR[name], *sources)
            minority = MIRROR_FIGURES[name][2]
            notes = "offline copy in the mirror: an equivalent file (same rows, minority and IR), read first"
        out.append(
            DatasetInfo(
                name=name,
                collection="zenodo",
                title=f"Zenodo #{zid} {name}",
                target_rule=target,
                n_rows=rows,
                n_features=feats,
                imbalance_ratio=float(ratio),
                ir_decimals=decimals,
                n_minority=minority,
                reference=ZENODO_REFERENCE,
                notes=notes,
                sources=sources,
            )
        )
    return out


def _mirror_only() -> list[DatasetInfo]:
    return [
        DatasetInfo(
            "phoneme",
            "mirror",
            "ELENA phoneme (OpenML 1489)",
            "class == 1",
            5404,
            5,
            2.41,
            2,
            1586,
            "raw",
            "ELENA project; OpenML data_id 1489",
            sources=(MIRROR["phoneme"],),
        ),
        DatasetInfo(
            "adult",
            "mirror",
            "UCI Adult (train + test)",
            'income == ">50K"',
            48842,
            14,
            3.18,
            2,
            11687,
            "raw",
            "Kohavi, Scaling up the accuracy of naive-Bayes classifiers (KDD 1996); UCI Adult",
            notes="categorical columns one-hot encoded ('?' = own category): 14 raw columns, 108 encoded",
            sources=(MIRROR["adult"],),
        ),
        DatasetInfo(
            "magic",
            "mirror",
            "UCI MAGIC gamma telescope",
            'class == "h" (hadron)',
            19020,
            10,
            1.84,
            2,
            6688,
            "raw",
            "Bock et al., NIM A 516 (2004); UCI MAGIC gamma telescope",
            sources=(MIRROR["magic"],),
        ),
    ]


_lock = threading.Lock()
_extra: dict[str, DatasetInfo] = {}


@functools.cache
def _static() -> dict[str, DatasetInfo]:
    table: dict[str, DatasetInfo] = {}
    for info in [*_zenodo(), *_mirror_only(), *_openml.entries(), *_builtin.entries()]:
        table[info.name] = info
    for info in _keel.entries(frozenset(table)):
        table[info.name] = info
    for info in [*_multiclass.mirror_entries(), *_multiclass.longtail_entries()]:
        table[info.name] = info
    for info in _keel_multiclass.entries(frozenset(table)):  # KEEL's abalone becomes mc_keel_abalone
        table[info.name] = info
    return table


def registry() -> dict[str, DatasetInfo]:
    """Name -> :class:`DatasetInfo`, static collections first, then run-time registrations."""
    with _lock:
        return {**_static(), **_extra}


def register(info: DatasetInfo, *, replace: bool = False) -> DatasetInfo:
    """Add a dataset at run time (e.g. ``register(file_info("my.csv", target="y"))``)."""
    if not isinstance(info, DatasetInfo):
        raise TypeError(f"info: expected a DatasetInfo, got {type(info).__name__}")
    if info.name in registry() and not replace:
        raise ValueError(f"name: dataset {info.name!r} is already registered (pass replace=True)")
    with _lock:
        _extra[info.name] = info
    return info


def unregister(name: str) -> None:
    """Remove a dataset registered at run time (the static collections cannot be removed)."""
    with _lock:
        if name not in _extra:
            raise KeyError(f"name: {name!r} was not registered at run time")
        del _extra[name]


def get_info(name: str) -> DatasetInfo:
    table = registry()
    if not isinstance(name, str) or name not in table:
        import difflib

        close = difflib.get_close_matches(str(name), list(table), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `wce datasets` lists them"
        raise UnknownDatasetError(f"name: unknown dataset {name!r}{hint}")
    return table[name]
