"""A user's own data file in a suite: ``--dataset-file PATH --target COLUMN`` or ``[[dataset_files]]`` entries.

The file is read and checked with :func:`wce_ref.datasets._user.read_file`
(the validation of ``wce datasets load``: every error names the file and the
column) when the suite is loaded, before any work, and registered as a
dataset of the ``user`` collection. Its SHA-256 goes into the suite's config
hash (a changed file never resumes old results) and into the report; worker
processes register it again from the cell and refuse a file whose content
changed since.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the keys of one ``[[dataset_files]]`` entry (``path`` and ``target`` are required)
FILE_KEYS = ("path", "target", "positive", "rule", "name")


@dataclass(frozen=True)
class DatasetFile:
    """A user file as a suite dataset: its registry ``name``, where it is, how its target is read, its SHA-256."""

    name: str
    path: str
    target: str
    positive: str | None
    rule: str | None
    sha256: str

    def describe(self) -> str:
        how = f"positive label {self.positive!r}" if self.positive is not None else (self.rule or "rarer value")
        return f"`{self.name}`: file `{self.path}`, SHA-256 `{self.sha256}`, target column `{self.target}` ({how})"


def _text(entry: dict[str, Any], key: str, where: str, *, required: bool) -> str | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float) or not str(value).strip():
        raise ValueError(f"{where}.{key}: expected {'a non-empty text' if required else 'text'}; received {value!r}")
    return str(value)


def _name(stem: str, asked: str | None, where: str) -> str:
    """The registry name: ``name`` if given (must not be a registered dataset), else the file's stem."""
    from ... import datasets

    taken = {n for n, i in datasets.registry().items() if i.collection != "user"}
    if asked is not None:
        if asked in taken:
            raise ValueError(f"{where}.name: {asked!r} is a registered dataset; choose another name")
        return asked
    return f"{stem}_file" if stem in taken else stem


def read_dataset_file(entry: Any, where: str, base: Path | None = None) -> DatasetFile:
    """Check one file entry, read and validate the file, register it; errors name ``where`` and the file.

    Parameters
    ----------
    entry : dict
        ``path``, ``target`` and optionally ``positive``, ``rule``, ``name``.
    where : str
        What to call the entry in errors (``--dataset-file``, ``dataset_files[0]``).
    base : Path, optional
        Directory a relative ``path`` is resolved against (the suite file's).
    """
    from ... import datasets
    from ...datasets._user import read_file

    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a table with path and target; received {entry!r}")
    unknown = sorted(set(entry) - set(FILE_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {', '.join(FILE_KEYS)}")
    path = Path(str(_text(entry, "path", where, required=True))).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise ValueError(f"{where}.path: no such file {str(path)!r}")
    target = str(_text(entry, "target", where, required=True))
    positive, rule = _text(entry, "positive", where, required=False), _text(entry, "rule", where, required=False)
    name = _name(path.name.split(".")[0], _text(entry, "name", where, required=False), where)
    try:
        info, _ = read_file(path, target, positive=positive, rule=rule, name=name)
    except (datasets.DatasetError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None
    datasets.register(info, replace=True)
    return DatasetFile(name, str(path.resolve()), target, positive, rule, info.sources[0].sha256)


def ensure_registered(f: DatasetFile) -> None:
    """Register the file in this process (a worker) unless it is; a file whose content changed is refused."""
    from ... import datasets
    from ...datasets._user import read_file

    have = datasets.registry().get(f.name)
    if have is not None and have.collection == "user" and getattr(have.sources[0], "sha256", None) == f.sha256:
        return
    info, _ = read_file(f.path, f.target, positive=f.positive, rule=f.rule, name=f.name)
    if info.sources[0].sha256 != f.sha256:
        raise datasets.IntegrityError(
            f"{f.path}: sha256 {info.sources[0].sha256}, but {f.sha256} when the suite was loaded; the file changed"
        )
    datasets.register(info, replace=True)
